#pragma once
// OCI image-spec 1.1 and Docker image manifest v2 schema 2 as plain C++ types, with strict parsing and
// canonical serialisation.
//   https://github.com/opencontainers/image-spec/blob/v1.1.0/{descriptor,manifest,image-index,config}.md
//   https://github.com/distribution/distribution/blob/main/docs/spec/manifest-v2-2.md
//
// Parsing (parse_*) is the single entry point for untrusted JSON. It never throws. Wrong types, missing
// required fields, malformed digests, negative sizes and unsupported schema versions fail with
// Errc::InvalidArgument and a message naming the field, e.g. `manifests[1].digest: digest "sha256:zz": ...`.
// Unknown fields are ignored, as the spec requires. Docker schema 1 manifests are refused with
// Errc::Unimplemented and a message that says so.
//
// Both families share one set of types: a Docker manifest list parses into an Index and a Docker manifest
// into a Manifest, with media_type telling them apart. Serialisation (to_json) writes the same field order
// every time so that the digest of a document we produce is stable.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/error.h"
#include "oci/digest.h"

namespace berth::oci {

namespace media {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayout = "application/vnd.oci.layout.header.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNdGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciLayerNd = "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNdZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerForeignGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
}  // namespace media

enum class Compression { None, Gzip, Zstd };
// Layer media type -> compression. Unknown layer types fail with Unimplemented naming the type.
Result<Compression> layer_compression(std::string_view media_type);
bool is_index_media_type(std::string_view mt);
bool is_manifest_media_type(std::string_view mt);

struct Platform {
  std::string architecture;  // GOARCH spelling: amd64, arm64, arm, 386, ppc64le, s390x, riscv64
  std::string os;            // linux, windows
  std::string os_version;
  std::vector<std::string> os_features;
  std::string variant;  // v7, v8
  std::vector<std::string> features;

  // "linux/amd64", "linux/arm/v7", "linux/arm64/v8". Normalises aliases (x86_64 -> amd64, aarch64 -> arm64).
  static Result<Platform> parse(std::string_view s);
  // The platform this binary runs on (linux/amd64 on this project's targets).
  static Platform host();
  std::string str() const;  // "os/arch[/variant]"
};

// True if `have` (from an index entry or config) satisfies `want`: same os and normalised architecture; a
// variant in `want` must match exactly (arm64 treats "" and "v8" alike).
bool platform_matches(const Platform& want, const Platform& have);

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;  // only in index entries
  std::string artifact_type;
  std::optional<std::string> data;  // base64 as on the wire; not decoded here
};

struct Index {
  int schema_version = 2;
  std::string media_type;  // OCI index (may be empty in old OCI docs) or Docker manifest list
  std::string artifact_type;
  std::vector<Descriptor> manifests;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;
};

struct Manifest {
  int schema_version = 2;
  std::string media_type;  // OCI manifest (may be empty) or Docker manifest v2
  std::string artifact_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;
};

struct Healthcheck {
  std::vector<std::string> test;  // ["NONE"] | ["CMD", args...] | ["CMD-SHELL", cmd]
  int64_t interval_ns = 0;
  int64_t timeout_ns = 0;
  int64_t start_period_ns = 0;
  int64_t start_interval_ns = 0;
  int retries = 0;
};

// The "config" object of an image configuration (what a container inherits).
struct ContainerConfig {
  std::string user;
  std::set<std::string> exposed_ports;  // "80/tcp"
  std::vector<std::string> env;         // "K=V"
  std::optional<std::vector<std::string>> entrypoint;  // absent vs [] matter to docker's merge rules
  std::optional<std::vector<std::string>> cmd;
  std::set<std::string> volumes;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::optional<Healthcheck> healthcheck;
  bool args_escaped = false;
  std::vector<std::string> on_build;
  std::vector<std::string> shell;
};

struct History {
  std::string created;  // RFC 3339, kept as text
  std::string created_by;
  std::string author;
  std::string comment;
  bool empty_layer = false;
};

struct ImageConfig {
  std::string created;
  std::string author;
  std::string architecture;
  std::string os;
  std::string os_version;
  std::string variant;
  ContainerConfig config;
  std::string rootfs_type = "layers";
  std::vector<Digest> diff_ids;
  std::vector<History> history;
};

// Parses a manifest or index document. media_type_hint is the Content-Type or descriptor mediaType when known
// (may be empty); the document's own mediaType wins when present, and the two must not contradict.
using ManifestOrIndex = std::variant<Manifest, Index>;
Result<ManifestOrIndex> parse_manifest_or_index(std::string_view json, std::string_view media_type_hint = {});
Result<Manifest> parse_manifest(std::string_view json);
Result<Index> parse_index(std::string_view json);
Result<ImageConfig> parse_image_config(std::string_view json);
Result<Descriptor> parse_descriptor(std::string_view json);

std::string to_json(const Manifest& m);
std::string to_json(const Index& i);
std::string to_json(const ImageConfig& c);
std::string to_json(const Descriptor& d);

// Picks the manifest for `want` from an index. Entries without a platform are skipped; attestation
// manifests (vnd.docker.reference.type annotation) are ignored. With several matches the first wins. No
// match fails with NotFound listing the platforms available.
Result<Descriptor> select_platform(const Index& index, const Platform& want);

// Cross-checks a manifest against its parsed config: the number of non-empty layers equals
// rootfs.diff_ids (InvalidArgument otherwise) and the config's media type is an image config.
Status validate_image(const Manifest& m, const ImageConfig& c);

}  // namespace berth::oci
