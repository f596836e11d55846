#pragma once
// ImageStore: the local image service on one --root, without a daemon (the CLI uses it directly, the engine
// will wrap it). It joins the content store, the metadata database and a snapshotter.
//
// Layout under root (default /var/lib/berth):
//   content/        image/content LocalStore (blobs/sha256, ingest)
//   metadata.db     image/metadata SqliteMetadata (images, leases, content_refs)
//   snapshots/      image/snapshot (overlay, or native where overlayfs is missing): committed layers keyed by
//                   chain ID, shared by every image that has them
//
// Names are normalised docker-style ("busybox" -> "docker.io/library/busybox:latest").
// Writes that introduce blobs hold a lease until the image record points at them, so a concurrent prune never
// collects a half-imported image. Thread-safety: one ImageStore per process; methods are not reentrant.

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "image/content/local/local_store.h"
#include "image/metadata/gc.h"
#include "image/metadata/sqlite_metadata.h"
#include "image/progress.h"
#include "image/registry/auth.h"
#include "image/snapshot/snapshotter.h"
#include "oci/image_spec.h"

namespace berth::image {

namespace unpack {
class Source;
}

struct ImageStoreOptions {
  std::string root = "/var/lib/berth";
  std::string snapshotter;  // "overlay", "native", or "" = overlay when the kernel has it
};

// A resolved image for one platform.
struct ResolvedImage {
  metadata::ImageRecord record;
  oci::Descriptor manifest_desc;
  oci::Manifest manifest;
  oci::ImageConfig config;
  oci::Digest config_digest;
};

// docker-style normalisation: "busybox" -> "docker.io/library/busybox:latest".
Result<std::string> normalize_name(std::string_view name);

// chain IDs per the image-spec: chain[0] = diff_ids[0], chain[n] = sha256(chain[n-1] + " " + diff_ids[n]).
std::vector<oci::Digest> chain_ids(const std::vector<oci::Digest>& diff_ids);

// How to reach registries: credentials, TLS exceptions, concurrency.
struct RegistryAccess {
  // Explicit credentials by registry host[:port] (registry::normalize_registry_key), e.g. from the engine's
  // X-Registry-Auth header; they win over docker_config.
  std::map<std::string, registry::Credentials> credentials;
  std::string docker_config;  // a docker config.json whose `auths` are used ("" = none); see default_docker_config
  std::vector<std::string> insecure_registries;  // host[:port]: plain HTTP or unverified TLS allowed
  std::string ca_file;                           // extra trusted CA (PEM)
  int max_concurrent = 3;                        // parallel blob downloads / uploads
};
// $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json, else "" (what `berth login` writes).
std::string default_docker_config();

struct PullOptions {
  oci::Platform platform = oci::Platform::host();
  RegistryAccess access;
  ProgressSink progress;  // called from worker threads, never concurrently
  bool unpack = true;     // extract the layers into the snapshotter after the download
  // The caller's lock around its other ImageStore calls (the engine's), taken only for the short final steps
  // (the image record written, the extracted layers committed; the whole unpack when the snapshotter cannot
  // extract layers apart). Manifest, config and layer downloads and their extraction run without it: blobs
  // are leased and extractions use private snapshot keys, so a concurrent prune or another pull is safe.
  // nullptr: nothing to take.
  std::mutex* commit_lock = nullptr;
};

struct PullResult {
  std::string name;          // normalised ("127.0.0.1:5000/team/app:v1")
  oci::Digest repo_digest;   // what the tag named on the registry (an index or a manifest)
  oci::Descriptor target;    // the image manifest stored under name (the platform's, when the tag is an index)
  std::string chain_id;      // top layer's chain ID when unpacked
  int layers_downloaded = 0;
  int layers_present = 0;
  int64_t bytes_downloaded = 0;
  bool up_to_date = false;   // name already pointed at this manifest
};

struct PushOptions {
  RegistryAccess access;
  ProgressSink progress;
  int64_t chunk_size = 0;               // 0: monolithic uploads; else PATCH chunks of this size
  // Repositories on the destination registry to mount blobs from. Empty: the other local images on that
  // registry that share a layer with this one.
  std::vector<std::string> mount_from;
  // The caller's lock around its other ImageStore calls (the engine's), held only while the image is looked up
  // and its blobs are leased; the upload runs without it (a concurrent rmi + prune cannot take leased blobs).
  // nullptr: nothing to take.
  std::mutex* store_lock = nullptr;
};

struct PushResult {
  std::string name;
  oci::Descriptor target;  // what was pushed (manifest or index)
  int blobs_uploaded = 0;
  int blobs_existing = 0;
  int blobs_mounted = 0;
};

class ImageStore {
 public:
  static Result<std::unique_ptr<ImageStore>> open(const ImageStoreOptions& opts);

  content::LocalStore& content() { return *content_; }
  metadata::Metadata& metadata() { return *meta_; }
  snapshot::Snapshotter& snapshotter() { return *snaps_; }

  Result<std::vector<metadata::ImageRecord>> list();
  Result<ResolvedImage> resolve(const std::string& name, const oci::Platform& platform = oci::Platform::host());
  // Full inspect: the record, manifest (or index) and config JSON.
  Result<std::string> inspect_json(const std::string& name);
  Status tag(const std::string& src, const std::string& dst);
  // Removes the name; content goes with the next prune.
  Status remove(const std::string& name);
  // GC of content no image or lease references, then of committed snapshots no image needs.
  struct PruneResult {
    metadata::GcResult content;
    std::vector<std::string> snapshots_removed;
  };
  Result<PruneResult> prune();

  // Extracts every layer of the image into the snapshotter (each layer once, keyed by chain ID; existing
  // ones are reused) and returns the top chain ID — the parent to prepare a container's snapshot from.
  // Each layer's diff_id is verified against the config while unpacking.
  Result<std::string> unpack(const std::string& name, const oci::Platform& platform = oci::Platform::host());

  // Pulls `ref` from its registry: the manifest (an index picks opts.platform), then only the config and layers
  // missing from the content store (parallel, resumable, digest-verified while streaming), all under a lease
  // until the image record points at them; then unpacks. Docker Hub names fail (not reachable here).
  Result<PullResult> pull(const std::string& ref, const PullOptions& opts = {});
  // Pushes the local image `ref` to the registry its name says (blobs HEADed first, mounted when possible).
  Result<PushResult> push(const std::string& ref, const PushOptions& opts = {});

  // Stores an image whose blobs are already in the content store under `name` (manifest or index desc).
  Status put_image(const std::string& name, const oci::Descriptor& target);

  // Archives. save writes both a docker-save archive (manifest.json, repositories) and an OCI image layout
  // (oci-layout, index.json, blobs/sha256) in one tree, so `docker load`, skopeo and umoci all read it;
  // out is a directory when `as_dir`, else a tar file ("-" = stdout). load reads either format, from a tar
  // (plain or gzip) or a directory; returns the names it created. An image without a name (docker save of an
  // ID: RepoTags null or empty; an OCI layout entry without a ref name) is named from name_for_untagged:
  // "repo[:tag]" names it so (an OCI ref name that is a bare tag replaces the tag); "repo@" keeps it under the
  // digest name "repo@<manifest digest>" (untagged, as docker shows such an image); "" refuses it.
  // Records listed in `unnamed` are saved without their name (docker save of an image ID: RepoTags null, no
  // ref name in the index), so loading them gives an untagged image.
  Status save(const std::vector<std::string>& names, const std::string& out, bool as_dir,
              const std::set<std::string>& unnamed = {});
  // store_lock: the caller's lock around its other ImageStore calls, taken only to write each image record
  // (the blobs are ingested under a lease without it).
  Result<std::vector<std::string>> load(const std::string& in, const std::string& name_for_untagged = "",
                                        std::mutex* store_lock = nullptr);

  // `docker export` of an image: its flattened root filesystem (every layer applied, whiteouts resolved, none in
  // the output) as a plain tar written to out ("-" = stdout; a file appears complete or not at all). Unpacks the
  // image first when needed.
  Status export_rootfs(const std::string& name, const std::string& out,
                       const oci::Platform& platform = oci::Platform::host());

  // `docker import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image `name` (the file
  // is stored as the layer blob as-is; its diff_id is computed from the uncompressed stream).
  Result<oci::Descriptor> import_rootfs(const std::string& tarball, const std::string& name);

  // Builds `name` (default docker.io/library/busybox:latest) from the host's static busybox: one layer with
  // /bin/busybox, a symlink per applet, a minimal /etc; Cmd ["sh"], linux/amd64.
  Result<oci::Descriptor> bootstrap_busybox(const std::string& name, const std::string& busybox_path = "/bin/busybox");

 private:
  ImageStore() = default;
  // One layer into a fresh Active snapshot `key` over `parent`, verified against diff_id and (when `sync`)
  // synced to disk; the snapshot is removed again on failure.
  Status extract_layer(const std::string& key, const std::string& parent, const oci::Descriptor& layer,
                       const oci::Digest& diff_id, const ProgressSink& progress, bool sync = true,
                       unpack::Source* src = nullptr);  // src: the layer's bytes (default: its blob file)
  static std::string extract_key(const oci::Digest& chain);
  Result<std::string> unpack_resolved(const std::string& name, const ResolvedImage& r, const ProgressSink& progress);
  // Writes cfg and an OCI manifest over `layers` (blobs already stored), leased, and names the image.
  struct ParallelUnpack;
  Result<oci::Descriptor> put_config_and_manifest(const std::string& name, const oci::ImageConfig& cfg,
                                                  const std::vector<oci::Descriptor>& layers, const std::string& lease);
  Result<oci::Descriptor> write_json_blob(const std::string& json, std::string_view media_type, const std::string& lease);
  std::string root_;
  std::unique_ptr<content::LocalStore> content_;
  std::unique_ptr<metadata::SqliteMetadata> meta_;
  std::unique_ptr<snapshot::Snapshotter> snaps_;
};

}  // namespace berth::image
