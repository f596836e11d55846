#pragma once
// The Docker Engine API's container configuration (API 1.41) as C++ types: `Config`, `HostConfig` and
// `NetworkingConfig`, the three parts of a `POST /containers/create` body.
//
//   parse_create_request(body)  the single entry point for untrusted create bodies. Never throws. Wrong JSON
//                               types, out-of-range numbers and invalid values (negative Memory, restart policy
//                               "on-failure:x", a relative container path in a mount, ...) fail with
//                               Errc::InvalidArgument and a message naming the field, using dockerd's wording
//                               where it has one, e.g. `HostConfig.Memory: invalid value -1: must be >= 0`.
//                               Unknown fields are ignored (the docker CLI sends fields of newer APIs).
//   to_json(Config|HostConfig)  dockerd 20.10's inspect shapes (every field dockerd prints, defaults filled),
//                               what the engine stores and returns from `GET /containers/{id}/json`.
//   parse_config / parse_host_config  read back what to_json wrote (the engine's stored JSON).
//   merge_image_config          docker's create-time merge of the image's config into the request's.
//   mount_requests              Binds + Mounts + Tmpfs + Config.Volumes, normalised into one list the engine
//                               resolves (volume names -> host paths) before build_spec.
//
// Durations in HealthConfig are nanoseconds as on the wire. Byte sizes are bytes.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "oci/image_spec.h"

namespace berth::engine::spec {

// Body limits: the API server caps the body size; these cap what one field may hold.
inline constexpr size_t kMaxListEntries = 4096;  // Env, Cmd, Binds, Mounts, Ulimits, ... entries each

struct HealthConfig {
  std::vector<std::string> test;  // [] inherit | ["NONE"] | ["CMD", args...] | ["CMD-SHELL", command]
  int64_t interval = 0;           // ns; 0 = inherit / default 30 s
  int64_t timeout = 0;            // ns; 0 = inherit / default 30 s
  int64_t start_period = 0;       // ns; 0 = inherit / default 0
  int retries = 0;                // 0 = inherit / default 3
};

struct Config {
  std::string hostname;
  std::string domainname;
  std::string user;
  bool attach_stdin = false, attach_stdout = false, attach_stderr = false;
  std::set<std::string> exposed_ports;  // "80/tcp" (a bare "80" is normalised to "80/tcp")
  bool tty = false, open_stdin = false, stdin_once = false;
  std::optional<std::vector<std::string>> env;  // nullopt prints as null
  std::optional<std::vector<std::string>> cmd;  // the wire accepts a string or an array (StrSlice)
  std::optional<HealthConfig> healthcheck;
  bool args_escaped = false;
  std::string image;
  std::optional<std::set<std::string>> volumes;  // container paths; printed {"/data":{}} or null
  std::string working_dir;
  std::optional<std::vector<std::string>> entrypoint;  // [""] on the wire (--entrypoint "") reads as []
  bool network_disabled = false;
  std::string mac_address;
  std::optional<std::vector<std::string>> on_build;
  std::map<std::string, std::string> labels;
  std::string stop_signal;          // "" = SIGTERM
  std::optional<int> stop_timeout;  // seconds
  std::vector<std::string> shell;
};

struct RestartPolicy {
  std::string name = "no";  // "no" ("" reads as "no"), "always", "on-failure", "unless-stopped"
  int maximum_retry_count = 0;  // only with on-failure
};

struct LogConfig {
  std::string type;  // "" = daemon default (json-file); "json-file", "none" (others are refused)
  std::map<std::string, std::string> config;  // json-file: max-size ("10m"), max-file ("3"), ...
};

struct Ulimit {
  std::string name;  // "nofile" (docker spelling, without RLIMIT_)
  int64_t soft = 0;
  int64_t hard = 0;
};

struct DeviceMapping {
  std::string path_on_host;
  std::string path_in_container;  // "" = same as on the host
  std::string cgroup_permissions = "rwm";
};

struct PortBinding {
  std::string host_ip;
  std::string host_port;
};

// HostConfig.Mounts[] (the --mount syntax on the wire).
struct MountSpec {
  std::string type;  // "bind", "volume", "tmpfs"
  std::string source;
  std::string target;
  bool read_only = false;
  std::string consistency;
  // BindOptions
  std::string bind_propagation;  // "" | private | rprivate | shared | rshared | slave | rslave
  bool bind_non_recursive = false;
  // VolumeOptions
  bool volume_no_copy = false;
  std::map<std::string, std::string> volume_labels;
  std::string volume_driver;  // "" or "local"
  std::map<std::string, std::string> volume_driver_options;
  // TmpfsOptions
  int64_t tmpfs_size_bytes = 0;   // 0 = unlimited (kernel default: half of RAM)
  uint32_t tmpfs_mode = 0;        // 0 = 01777
};

struct HostConfig {
  std::optional<std::vector<std::string>> binds;  // "src:dst[:opts]"
  std::string container_id_file;
  LogConfig log_config;
  std::string network_mode = "default";  // default|bridge|none|host|container:<id>|<network name>
  std::map<std::string, std::vector<PortBinding>> port_bindings;  // "80/tcp" -> bindings
  RestartPolicy restart_policy;
  bool auto_remove = false;
  std::string volume_driver;
  std::optional<std::vector<std::string>> volumes_from;
  std::vector<uint32_t> console_size = {0, 0};  // [height, width]
  std::optional<std::vector<std::string>> cap_add, cap_drop;
  std::string cgroupns_mode;  // "" | "private" | "host" (inspect prints what was chosen)
  std::vector<std::string> dns, dns_options, dns_search;
  std::optional<std::vector<std::string>> extra_hosts;  // "name:ip"
  std::optional<std::vector<std::string>> group_add;    // group names or gids
  std::string ipc_mode;   // "" | "private" | "shareable" | "host" | "none"
  std::string cgroup;
  std::optional<std::vector<std::string>> links;
  int oom_score_adj = 0;  // -1000..1000
  std::string pid_mode;   // "" | "host"
  bool privileged = false;
  bool publish_all_ports = false;
  bool readonly_rootfs = false;
  std::optional<std::vector<std::string>> security_opt;  // "seccomp=unconfined|<profile JSON>", "no-new-privileges[:true|false]", "label=...", "apparmor=..."
  std::map<std::string, std::string> storage_opt;
  std::map<std::string, std::string> tmpfs;  // container path -> options ("size=64m,mode=1777")
  std::string uts_mode;     // "" | "host"
  std::string userns_mode;  // "" | "host"
  int64_t shm_size = 0;     // bytes; 0 = default 64 MiB
  std::map<std::string, std::string> sysctls;
  std::string runtime;      // "" (inspect prints "runc"-like name of the engine's runtime)
  std::string isolation;
  // Resources
  int64_t cpu_shares = 0;
  int64_t memory = 0;
  int64_t nano_cpus = 0;
  std::string cgroup_parent;
  uint16_t blkio_weight = 0;  // 0 or 10..1000
  nlohmann::json blkio_weight_device = nlohmann::json::array();  // kept verbatim (not applied)
  nlohmann::json blkio_device_read_bps = nlohmann::json::array();
  nlohmann::json blkio_device_write_bps = nlohmann::json::array();
  nlohmann::json blkio_device_read_iops = nlohmann::json::array();
  nlohmann::json blkio_device_write_iops = nlohmann::json::array();
  int64_t cpu_period = 0;
  int64_t cpu_quota = 0;
  int64_t cpu_realtime_period = 0;
  int64_t cpu_realtime_runtime = 0;
  std::string cpuset_cpus;
  std::string cpuset_mems;
  std::vector<DeviceMapping> devices;
  std::optional<std::vector<std::string>> device_cgroup_rules;  // "c 1:3 mr"
  nlohmann::json device_requests;                               // null; non-empty is refused (no GPUs)
  int64_t kernel_memory = 0;
  int64_t kernel_memory_tcp = 0;
  int64_t memory_reservation = 0;
  int64_t memory_swap = 0;                  // -1 = unlimited swap; 0 = default (2 x Memory)
  std::optional<int64_t> memory_swappiness;  // -1 on the wire = unset
  bool oom_kill_disable = false;
  std::optional<int64_t> pids_limit;  // 0 and -1 on the wire = unlimited; inspect prints null then
  std::vector<Ulimit> ulimits;
  int64_t cpu_count = 0, cpu_percent = 0;
  uint64_t io_maximum_iops = 0, io_maximum_bandwidth = 0;
  std::optional<std::vector<std::string>> masked_paths;    // nullopt = docker's defaults (inspect prints them)
  std::optional<std::vector<std::string>> readonly_paths;  // nullopt = docker's defaults
  std::vector<MountSpec> mounts;                           // HostConfig.Mounts; printed only when non-empty
  std::optional<bool> init;                                // --init; printed only when set
};

struct EndpointSettings {
  std::vector<std::string> aliases;
  std::vector<std::string> links;
  std::string ipv4_address;  // IPAMConfig.IPv4Address
  std::string ipv6_address;
  std::string mac_address;
  std::map<std::string, std::string> driver_opts;
};

struct NetworkingConfig {
  std::map<std::string, EndpointSettings> endpoints;  // EndpointsConfig, keyed by network name
};

struct CreateRequest {
  Config config;
  HostConfig host;
  NetworkingConfig net;
};

// Parses a `POST /containers/create` body (Config fields at the top level, plus "HostConfig" and
// "NetworkingConfig" objects). Validates every field it reads; see the header comment.
Result<CreateRequest> parse_create_request(std::string_view json);

// Validates a HostConfig already parsed (parse_create_request calls it; the engine calls it after
// `POST /containers/{id}/update` changes resources).
Status validate_host_config(const HostConfig& host);

// The inspect shapes (dockerd 20.10): Config -> "Config", HostConfig -> "HostConfig".
nlohmann::json to_json(const Config& config);
nlohmann::json to_json(const HostConfig& host);
nlohmann::json to_json(const NetworkingConfig& net);
// Reads back what to_json wrote (or any create-body-shaped object).
Result<Config> parse_config(const nlohmann::json& j);
Result<HostConfig> parse_host_config(const nlohmann::json& j);

// Docker's create-time merge of the image's config into the container's (daemon behaviour):
//  - User, WorkingDir, StopSignal: the image's when the request's is empty.
//  - Env: the request's entries first, then each image entry whose key the request does not set.
//  - Labels, ExposedPorts, Volumes: union (the request wins on a label key).
//  - Entrypoint/Cmd: a request Entrypoint (even an explicit empty one, --entrypoint "") replaces the image's,
//    and then Cmd is the request's only. Without one, Entrypoint is the image's and Cmd the request's if
//    non-empty, else the image's.
//  - Healthcheck: the request's, each zero field filled from the image's.
// Idempotent: merging an already merged config again changes nothing.
void merge_image_config(Config& config, const oci::ContainerConfig& image);

// The process args of a merged config: Entrypoint + Cmd. InvalidArgument "No command specified" when empty.
Result<std::vector<std::string>> process_args(const Config& config);

// ---- mounts -------------------------------------------------------------------------------------------

enum class MountKind { Bind, Volume, Tmpfs };
std::string_view mount_kind_name(MountKind k);  // "bind", "volume", "tmpfs"

// One normalised mount request. The engine resolves Volume requests to a host path (creating named or
// anonymous volumes), checks Bind sources, and hands the result to build_spec as ResolvedMount.
struct MountRequest {
  MountKind kind = MountKind::Bind;
  std::string source;       // Bind: absolute host path (cleaned). Volume: name ("" = anonymous). Tmpfs: "".
  std::string destination;  // absolute container path, cleaned ("/data/" -> "/data")
  bool read_only = false;
  std::string mode;         // as inspect's Mounts[].Mode: the Binds option text ("ro,z"), "" for --mount
  std::string propagation;  // Bind: "rprivate" default; "" for the others
  bool non_recursive = false;      // Bind: plain bind instead of rbind
  bool create_host_path = false;   // Bind from Binds: a missing source dir is created (docker); --mount: error
  bool no_copy = false;            // Volume: do not copy the image's content into an empty volume
  std::string volume_driver;       // Volume: "" or "local"
  std::map<std::string, std::string> volume_labels, volume_driver_options;
  std::vector<std::string> tmpfs_options;  // Tmpfs: mount data options ("size=65536k", "mode=1777", ...)
  bool from_config_volumes = false;        // came from Config.Volumes (image or request), not HostConfig
};

// Binds, then Mounts, then Tmpfs, then Config.Volumes not already covered. Errors (InvalidArgument, docker's
// wording): `invalid mount config for type "bind": field Source must not be empty`, `invalid volume
// specification: 'a:b:c:d'`, `invalid mode: xx`, relative destinations, `Duplicate mount point: /data`.
Result<std::vector<MountRequest>> mount_requests(const Config& config, const HostConfig& host);

// One entry of inspect's top-level "Mounts" array, in dockerd's shape:
//   bind:   {"Type":"bind","Source":"/h","Destination":"/d","Mode":"ro","RW":false,"Propagation":"rprivate"}
//   volume: {"Type":"volume","Name":"v1","Source":"<mountpoint>","Destination":"/d","Driver":"local","Mode":"z",
//            "RW":true,"Propagation":""}
//   tmpfs:  {"Type":"tmpfs","Source":"","Destination":"/d","Mode":"","RW":true,"Propagation":""}
// host_path: the bind source or the volume's mountpoint; volume_name: the (possibly generated) volume name.
// Mounts from HostConfig.Tmpfs are not listed by dockerd; the engine skips them (MountRequest::mode != "" and
// kind Tmpfs) or not, as it likes.
nlohmann::json inspect_mount_json(const MountRequest& m, const std::string& host_path, const std::string& volume_name);

// One entry of HostConfig.Binds: "name:/dst", "/host:/dst", "/host:/dst:ro,z,rslave", "/dst" (anonymous).
Result<MountRequest> parse_bind(std::string_view bind);
// One entry of HostConfig.Tmpfs: destination and "size=64m,mode=1777,noexec" options.
Result<MountRequest> parse_tmpfs(std::string_view destination, std::string_view options);

// "10m", "1g", "512k", "100" (bytes), "1.5g" -> bytes (docker's RAMInBytes: binary units, b/k/m/g/t/p,
// optional trailing "b"/"ib"). InvalidArgument otherwise.
Result<int64_t> parse_size(std::string_view s);

}  // namespace berth::engine::spec
