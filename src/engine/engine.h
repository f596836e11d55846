#pragma once
// The daemon core behind `berth daemon`: it owns the daemon configuration and joins the image service
// (image/ImageStore) and, later, the runtime (per-container monitors). It speaks in domain types; the HTTP
// mapping to the Docker Engine API lives in api/server, which sees the engine only through this interface
// (so its routing can be tested against a fake).
//
// Image references are resolved docker-style: a name ("busybox", "busybox:1", "host:5000/a/b:t"), a
// name@digest, a full image ID ("sha256:<hex>") or a unique prefix of its hex.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "engine/events.h"
#include "engine/networks.h"
#include "engine/volumes.h"

namespace berth::engine {

struct DaemonConfig {
  std::string data_root = "/var/lib/berth";
  std::string exec_root = "/run/berth";
  std::string snapshotter;  // "" = overlay when the kernel has it
  // Automatic disk GC (objects): when the data root's filesystem is fuller than gc_high_watermark percent,
  // unreferenced images' layers, snapshots and blobs are collected until it is at most gc_low_watermark
  // percent full (or nothing is left to collect). 0 = off. Checked every gc_interval_seconds and after pulls
  // and loads.
  int gc_high_watermark = 90;
  int gc_low_watermark = 80;
  int gc_interval_seconds = 60;
  std::vector<std::string> insecure_registries;  // host[:port] reachable over plain http
  // containers: the per-container monitor and --init binaries ("" = found next to the berth binary).
  std::string shim_path;
  std::string init_path;
  bool live_restore = true;  // reconnect to running containers' shims at start (containers.h)
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


// ---- container and exec domain types (owner: containers) ----

struct ContainerCreateResult {
  std::string id;  // 64 hex
  std::vector<std::string> warnings;
};

// What the API routes need to know about a container before they stream (404 before headers).
struct ContainerRef {
  std::string id;
  std::string name;  // with the leading "/"
  bool tty = false;
  bool open_stdin = false;
  std::string status;  // created | running | paused | restarting | removing | exited | dead
};

enum class WaitCondition { NotRunning, NextExit, Removed };
struct WaitResult {
  int64_t status_code = 0;
  std::string error;  // "" = null; otherwise the body's Error.Message
};

// A registered wait: the condition is evaluated from the moment container_wait returned (so the API can flush
// its headers, then the client starts the container, and the exit is still seen).
class ContainerWaiter {
 public:
  virtual ~ContainerWaiter() = default;
  // Blocks until the condition holds; status_code -1 with an error when it cannot hold any more.
  virtual WaitResult get() = 0;
  // Makes a blocked (or later) get() give up at once with status_code -1 "client went away": the HTTP client
  // went away, as the CLI does with the wait of `run -d`. Thread-safe; callable while get() blocks.
  virtual void cancel() {}
};

struct AttachOptions {
  bool stdin = false;
  bool stdout = true;
  bool stderr = true;
};

// A pending attach. connect() blocks until the container runs (an attach made before start is connected
// before the process starts, so it misses nothing) and returns the monitor's stream: output bytes (stdcopy
// frames unless tty), input bytes go to stdin, shutdown(SHUT_WR) = stdin EOF. Fails (Canceled) when the
// start that was awaited failed or the container went away.
class AttachSession {
 public:
  virtual ~AttachSession() = default;
  virtual bool tty() const = 0;
  virtual Result<UniqueFd> connect() = 0;
};

struct ExecStream {
  UniqueFd fd;  // as AttachSession::connect's stream; empty for a detached start
  bool tty = false;
};

struct LogsOptions {
  bool stdout_stream = false, stderr_stream = false;
  bool follow = false, timestamps = false;
  std::string since, until;  // API spelling: unix seconds[.nanos] ("" = unset)
  std::string tail = "all";  // "all" or N
};

struct ListOptions {
  bool all = false;
  int limit = -1;
  bool size = false;
  std::map<std::string, std::vector<std::string>> filters;
};

struct ContainerPruneReport {
  std::vector<std::string> deleted;
  uint64_t space_reclaimed = 0;
};

// docker cp's stat of a path (X-Docker-Container-Path-Stat, base64 of this as JSON).
struct PathStat {
  std::string name;
  int64_t size = 0;
  uint32_t mode = 0;  // Go os.FileMode bits (dir = 1<<31, symlink = 1<<27)
  std::string mtime;  // RFC 3339
  std::string link_target;
};

using ByteSink = std::function<bool(std::string_view)>;          // false = stop (client gone)
using ByteSource = std::function<Result<size_t>(char*, size_t)>;  // 0 = end

// ---- types of the objects operations ----

// One docker JSON message (jsonmessage.JSONMessage): what pull, push, load and import stream.
struct JsonMessage {
  std::string status, id;
  int64_t current = -1, total = -1;  // progressDetail {current,total} when current >= 0
  bool empty_detail = false;         // "progressDetail":{} (Already exists, Pull complete, ...)
  std::string progress;              // docker's bar text: "[=====>     ]  1.2MB/5.6MB"
  std::string stream;
  std::string aux_json;  // a JSON object, verbatim
  std::string error;     // errorDetail.message and error
};
// Returns an error when nobody is listening any more (the operation may then stop).
using ProgressFn = std::function<Status(const JsonMessage&)>;
// Reads up to n bytes of a request body; 0 = end.
using BodyReader = ByteSource;

// X-Registry-Auth / POST /auth credentials.
struct RegistryAuth {
  std::string username, password, identity_token, registry_token;
  std::string server_address;  // "" = docker.io
};

struct PullRequest {
  std::string from_image;  // "127.0.0.1:5000/bb", "docker.io/library/busybox", may carry :tag or @digest
  std::string tag;         // "" = latest (or the digest in from_image)
  std::string platform;    // "" = host
  RegistryAuth auth;
};

struct ContainerDiskUsage {
  std::string id;
  std::vector<std::string> names;  // "/web"
  std::string image, image_id, command, state, status;
  int64_t created = 0;
  int64_t size_rw = 0, size_root_fs = 0;
  std::map<std::string, std::string> labels;
};

struct ImageDiskUsage {
  ImageSummary summary;
  int64_t shared_size = 0;  // bytes of its layers that other images use too
  int64_t containers = 0;   // containers using it
};

struct VolumeDiskUsage {
  Volume volume;
  int64_t size = 0;
  int64_t ref_count = 0;
};

struct DiskUsage {
  int64_t layers_size = 0;  // every layer blob stored, counted once
  std::vector<ImageDiskUsage> images;
  std::vector<ContainerDiskUsage> containers;
  bool container_sizes_known = false;  // false while the container operations cannot report sizes
  std::vector<VolumeDiskUsage> volumes;
};

struct GcReport {
  bool ran = false;  // false: below the high-water mark
  double used_percent_before = 0, used_percent_after = 0;
  std::vector<std::string> images_removed;
  uint64_t bytes_freed = 0;
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
  // Errors (every op taking `ref`: a name, "/name", full ID or unique ID prefix): NotFound "No such container:
  // <ref>"; Conflict for state conflicts (409); InvalidArgument (400) for bad input.

  // `body`: the create request JSON (Config + HostConfig + NetworkingConfig); `name` "" = generated.
  virtual Result<ContainerCreateResult> container_create(const std::string& name, const std::string& body);
  virtual Result<ContainerRef> container_resolve(const std::string& ref);
  // false = already running (304). Start errors carry the runtime's text (400 when the process cannot be
  // started: "executable file not found", "permission denied", ...).
  virtual Result<bool> container_start(const std::string& ref);
  // timeout nullopt = the container's StopTimeout or 10 s; then SIGKILL. false = not running (304).
  virtual Result<bool> container_stop(const std::string& ref, std::optional<int> timeout_s, const std::string& signal);
  virtual Status container_restart(const std::string& ref, std::optional<int> timeout_s, const std::string& signal);
  // signal "" = SIGKILL; names with or without SIG, or numbers. Conflict when not running.
  virtual Status container_kill(const std::string& ref, const std::string& signal);
  virtual Status container_pause(const std::string& ref);
  virtual Status container_unpause(const std::string& ref);
  virtual Result<std::unique_ptr<ContainerWaiter>> container_wait(const std::string& ref, WaitCondition c);
  virtual Result<std::unique_ptr<AttachSession>> container_attach(const std::string& ref, const AttachOptions& o);
  virtual Status container_resize(const std::string& ref, int height, int width);
  // Streams the json-file log (framed unless tty) to sink; with follow, until the container stops, the sink
  // refuses, or cancel_fd (the client connection) hangs up.
  virtual Status container_logs(const std::string& ref, const LogsOptions& o, int cancel_fd, const ByteSink& sink);
  // docker's inspect JSON (State, Config, HostConfig, Mounts, NetworkSettings, ...).
  virtual Result<std::string> container_inspect(const std::string& ref, bool size);
  // docker's list JSON (array); filters: status, name, id, label, ancestor, exited, before, since, health,
  // volume, network, is-task. InvalidArgument for an unknown filter.
  virtual Result<std::string> container_list(const ListOptions& o);
  virtual Result<std::string> container_top(const std::string& ref, const std::string& ps_args);
  // One stats JSON per second while stream, else one.
  virtual Status container_stats(const std::string& ref, bool stream, const ByteSink& sink);
  virtual Status container_rename(const std::string& ref, const std::string& new_name);
  // body: the update request JSON (resources, RestartPolicy); returns warnings.
  virtual Result<std::vector<std::string>> container_update(const std::string& ref, const std::string& body);
  virtual Result<ContainerPruneReport> container_prune(const std::map<std::string, std::vector<std::string>>& filters);
  // Conflict for a running container without force; remove_volumes removes its anonymous volumes.
  virtual Status container_remove(const std::string& ref, bool force, bool remove_volumes);
  virtual Result<std::string> container_changes(const std::string& ref);  // JSON array [{Path,Kind}]
  virtual Status container_export(const std::string& ref, const ByteSink& sink);  // tar of the rootfs
  // docker cp. Paths are resolved inside the container's root (never escaping it).
  virtual Result<PathStat> container_archive_stat(const std::string& ref, const std::string& path);
  virtual Status container_archive_get(const std::string& ref, const std::string& path, const ByteSink& sink);
  virtual Status container_archive_put(const std::string& ref, const std::string& path, bool no_overwrite_dir_non_dir,
                                       const ByteSource& tar);

  // body: the exec create JSON. Conflict when the container is not running. Returns the exec ID.
  virtual Result<std::string> exec_create(const std::string& ref, const std::string& body);
  // Starts it: with detach the stream is empty and the exec runs on its own. NotFound for an unknown ID,
  // Conflict when already started or the container is not running.
  virtual Result<ExecStream> exec_start(const std::string& exec_id, bool detach);
  virtual Result<std::string> exec_inspect(const std::string& exec_id);  // docker's JSON
  virtual Status exec_resize(const std::string& exec_id, int height, int width);
  // Daemon shutdown: wakes every blocked wait / logs --follow / stats stream (they end) so the API server can
  // stop; running containers keep running (live-restore). Idempotent.
  virtual void shutdown() {}

  // ---- volumes, networks, events, system df, image transfer (routes: api/server/objects_routes.cc) ----
  // The stores behind these are engine/{events,volumes,networks}.h; the real engine owns one of each and hands
  // them to the container code (VolumeStore::acquire/release, NetworkStore::connect, EventBus::publish).

  virtual Result<Volume> volume_create(const VolumeCreateRequest& req);
  virtual Result<std::vector<Volume>> volumes();
  virtual Result<Volume> volume_inspect(const std::string& name);
  virtual Status volume_remove(const std::string& name, bool force);
  virtual Result<VolumePruneReport> volume_prune(bool all, const std::vector<std::string>& label_filters);

  virtual Result<NetworkCreateResult> network_create(const NetworkCreateRequest& req);
  virtual Result<std::vector<Network>> networks();
  virtual Result<Network> network_inspect(const std::string& ref);
  virtual Status network_remove(const std::string& ref);
  // container: name, ID or prefix (resolved by the container operations when they exist).
  virtual Status network_connect(const std::string& ref, const std::string& container, const EndpointRequest& req);
  virtual Status network_disconnect(const std::string& ref, const std::string& container, bool force);
  // until_ns: only networks created before (0 = any age).
  virtual Result<std::vector<std::string>> network_prune(const std::vector<std::string>& label_filters,
                                                         int64_t until_ns = 0);

  // GET /events: replay from the ring (since), then live, until `until_ns` (0 = no end).
  virtual Result<std::unique_ptr<EventSubscription>> events_subscribe(const EventFilter& filter, int64_t since_ns,
                                                                      int64_t until_ns);

  // Per-container sizes for `system df`, supplied by the container operations (SizeRw: bytes in the
  // container's writable layer; SizeRootFs: that plus its image). Unimplemented until they exist.
  virtual Result<std::vector<ContainerDiskUsage>> container_disk_usage();
  virtual Result<DiskUsage> system_df();

  // POST /auth: checks the credentials against the registry (default docker.io). Ok = "Login Succeeded";
  // PermissionDenied when refused.
  virtual Status registry_login(const RegistryAuth& auth);

  // POST /images/create?fromImage=&tag=: pulls and unpacks, reporting docker's JSON progress messages to
  // `progress` (calls are serialised but may come from worker threads). The caller decides which errors are
  // still HTTP errors (nothing but "Pulling from" sent yet: NotFound for a missing manifest) and which go
  // in-stream.
  virtual Status image_pull(const PullRequest& req, const ProgressFn& progress);
  // POST /images/{name}/push?tag=: tag "" pushes every tag of the repository.
  virtual Status image_push(const std::string& name, const std::string& tag, const RegistryAuth& auth,
                            const ProgressFn& progress);
  // POST /images/create?fromSrc=-: a rootfs tarball read from `body` becomes image repo:tag (repo "" =
  // untagged). Returns the image ID.
  virtual Result<std::string> image_import(const BodyReader& body, const std::string& repo, const std::string& tag);
  // GET /images/get: a docker-save tar of the images, as a readable fd positioned at 0 (an unlinked temp file
  // under the data root).
  virtual Result<UniqueFd> image_save(const std::vector<std::string>& names);
  // POST /images/load: the tar read from `body` (streamed to a temp file under the data root); returns the
  // names loaded ("busybox:latest") or image IDs for untagged ones.
  virtual Result<std::vector<std::string>> image_load(const BodyReader& body);
  // One disk GC pass now (as the automatic one): collects when usage is above the high-water mark.
  virtual Result<GcReport> disk_gc(bool force);
};

// The real engine on config.data_root (created if missing).
Result<std::unique_ptr<Engine>> open_engine(const DaemonConfig& config);

// "docker.io/library/busybox:latest" -> "busybox:latest"; "docker.io/a/b:t" -> "a/b:t"; others unchanged.
std::string familiar_name(std::string_view normalized);
// RFC 3339 ("2026-11-25T07:56:46.00862668Z", offsets allowed) -> unix seconds; 0 when unparsable/empty.
int64_t parse_rfc3339(std::string_view s);

}  // namespace berth::engine
