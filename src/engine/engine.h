#pragma once
// The daemon core behind `berth daemon`: it owns the daemon configuration and joins the image service
// (image/ImageStore) and, later, the runtime (per-container monitors). It speaks in domain types; the HTTP
// mapping to the Docker Engine API lives in api/server, which sees the engine only through this interface
// (so its routing can be tested against a fake).
//
// Image references are resolved docker-style: a name ("busybox", "busybox:1", "host:5000/a/b:t"), a
// name@digest, a full image ID ("sha256:<hex>") or a unique prefix of its hex.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::engine {

struct DaemonConfig {
  std::string data_root = "/var/lib/berth";
  std::string exec_root = "/run/berth";
  std::string snapshotter;  // "" = overlay when the kernel has it
};

inline constexpr const char* kApiVersion = "1.41";
inline constexpr const char* kMinApiVersion = "1.24";
inline constexpr const char* kEngineVersion = "0.1.0-berth";

struct VersionInfo {
  std::string version = kEngineVersion;
  std::string api_version = kApiVersion;
  std::string min_api_version = kMinApiVersion;
  std::string git_commit;
  std::string os = "linux";
  std::string arch;            // GOARCH spelling: amd64, arm64
  std::string kernel_version;  // uname -r
  std::string build_time;
};

struct SystemInfo {
  std::string id;  // stable per data root
  std::string name;  // host name
  int64_t containers = 0, containers_running = 0, containers_paused = 0, containers_stopped = 0;
  int64_t images = 0;
  std::string driver;  // storage driver: overlay2 | native
  std::vector<std::pair<std::string, std::string>> driver_status;
  std::string data_root, exec_root;
  std::string kernel_version, operating_system, os_version, architecture;  // architecture: uname -m
  int64_t ncpu = 0, mem_total = 0;
  std::string cgroup_driver = "cgroupfs", cgroup_version;  // "1" | "2"
  std::map<std::string, std::string> runtimes;             // name -> path
  std::string default_runtime = "berth";
  std::string logging_driver = "json-file";
  std::vector<std::string> security_options;
  bool live_restore = true;
  std::string server_version = kEngineVersion;
  std::string system_time;  // RFC 3339, UTC
};

struct ImageSummary {
  std::string id;  // "sha256:<config digest hex>"
  std::vector<std::string> repo_tags;     // familiar names: "busybox:latest", "127.0.0.1:5000/bb:v1"
  std::vector<std::string> repo_digests;  // "busybox@sha256:..." (manifest digests)
  int64_t created = 0;                    // unix seconds, from the config's `created`
  int64_t size = 0;                       // bytes of the layers as stored
  std::map<std::string, std::string> labels;
};

struct ImageDetail {
  ImageSummary summary;
  std::string created_text;  // RFC 3339 as in the config
  std::string config_json;   // the OCI image config, verbatim
  std::vector<std::string> diff_ids;
};

struct HistoryEntry {
  std::string id;  // image ID for the top entry, "<missing>" otherwise
  int64_t created = 0;
  std::string created_by, comment;
  int64_t size = 0;
  std::vector<std::string> tags;  // on the top entry
};

// One line of an image delete / prune report: exactly one of the two is set.
struct DeleteItem {
  std::string untagged;
  std::string deleted;
};

struct PruneReport {
  std::vector<DeleteItem> images_deleted;
  uint64_t space_reclaimed = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual VersionInfo version() = 0;
  virtual Result<SystemInfo> info() = 0;

  virtual Result<std::vector<ImageSummary>> images() = 0;
  virtual Result<ImageDetail> image_inspect(const std::string& ref) = 0;
  virtual Result<std::vector<HistoryEntry>> image_history(const std::string& ref) = 0;
  // repo may carry no tag; tag "" = "latest". InvalidArgument for bad names.
  virtual Status image_tag(const std::string& ref, const std::string& repo, const std::string& tag) = 0;
  // `docker rmi`: a name untags it (and deletes the image when it was its last name); an ID or prefix deletes
  // the image, which needs `force` when it has several names (Conflict otherwise).
  virtual Result<std::vector<DeleteItem>> image_remove(const std::string& ref, bool force) = 0;
  // Untagged images only (dangling = true) are removed by docker's default prune; with dangling = false
  // every image is (no containers exist yet to keep one in use). Then content GC.
  virtual Result<PruneReport> image_prune(bool dangling_only) = 0;

  // New operations are virtual with a default body that fails with Unimplemented (in engine.cc), so test fakes
  // override only what they exercise. Two blocks, one per owner, to keep parallel edits apart.

  // ---- containers and exec (routes: api/server/containers_routes.cc) ----

  // ---- volumes, networks, events, system df, image transfer (routes: api/server/objects_routes.cc) ----
};

// The real engine on config.data_root (created if missing).
Result<std::unique_ptr<Engine>> open_engine(const DaemonConfig& config);

// "docker.io/library/busybox:latest" -> "busybox:latest"; "docker.io/a/b:t" -> "a/b:t"; others unchanged.
std::string familiar_name(std::string_view normalized);
// RFC 3339 ("2026-11-25T07:56:46.00862668Z", offsets allowed) -> unix seconds; 0 when unparsable/empty.
int64_t parse_rfc3339(std::string_view s);

}  // namespace berth::engine
