#pragma once
// OCI runtime-spec 1.1 configuration (config.json), Linux subset, as plain C++ types.
// https://github.com/opencontainers/runtime-spec/blob/v1.1.0/config.md and config-linux.md
//
// parse_runtime_spec() is the single entry point for untrusted config.json text. It never throws; wrong
// types, unknown enum values (namespace types, seccomp actions, ...), relative paths where absolute ones are
// required and contradictory settings fail with Errc::InvalidArgument and a message that names the field
// in JSON-pointer-ish form, e.g. `linux.namespaces[2].type: unknown namespace type "foo"`.
// Optional fields use std::optional so "absent" is distinguishable from zero.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

// GNU mode (-std=gnu++20) predefines `linux` as 1, which would clobber Spec::linux.
#ifdef linux
#undef linux
#endif

namespace berth::oci {

struct Root {
  std::string path;  // relative to the bundle, or absolute
  bool readonly = false;
};

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct Mount {
  std::string destination;  // absolute path inside the container
  std::string type;         // "proc", "sysfs", "tmpfs", "bind", "cgroup", ... ("" + bind option = bind)
  std::string source;
  std::vector<std::string> options;
  std::vector<IdMapping> uid_mappings;  // idmapped mounts (parsed, optional)
  std::vector<IdMapping> gid_mappings;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"
  uint64_t hard = 0;
  uint64_t soft = 0;
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;  // "CAP_CHOWN"
};

struct ConsoleSize {
  uint32_t height = 0;
  uint32_t width = 0;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
  std::string username;  // only used by exec --user name lookups; config.json uses ids
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::optional<std::string> command_line;  // Windows only; refused on Linux
  std::vector<std::string> env;
  std::string cwd = "/";  // must be absolute
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::string apparmor_profile;
  std::optional<int> oom_score_adj;
  std::string selinux_label;
};

struct Hook {
  std::string path;  // absolute
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds, > 0
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
};

enum class NamespaceType { Pid, Network, Mount, Ipc, Uts, User, Cgroup, Time };
std::string_view namespace_type_name(NamespaceType t);  // "pid", "network", ...

struct Namespace {
  NamespaceType type;
  std::string path;  // empty: create a new one; otherwise join (setns) the namespace at path
};

struct DeviceCgroupRule {
  bool allow = false;
  std::string type;  // "a", "c", "b" ("" = all)
  std::optional<int64_t> major, minor;
  std::string access;  // subset of "rwm" ("" = rwm)
};

struct MemoryResources {
  std::optional<int64_t> limit, reservation, swap, kernel, kernel_tcp;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer, use_hierarchy, check_before_update;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> burst;
  std::optional<uint64_t> period;
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::string cpus;  // cpuset "0-1"
  std::string mems;
  std::optional<int64_t> idle;
};

struct PidsResources {
  int64_t limit = 0;  // <= 0: unlimited
};

struct WeightDevice {
  int64_t major = 0, minor = 0;
  std::optional<uint16_t> weight, leaf_weight;
};
struct ThrottleDevice {
  int64_t major = 0, minor = 0;
  uint64_t rate = 0;
};

struct BlockIoResources {
  std::optional<uint16_t> weight, leaf_weight;
  std::vector<WeightDevice> weight_device;
  std::vector<ThrottleDevice> throttle_read_bps_device, throttle_write_bps_device, throttle_read_iops_device,
      throttle_write_iops_device;
};

struct HugepageLimit {
  std::string page_size;  // "2MB"
  uint64_t limit = 0;
};

struct Resources {
  std::vector<DeviceCgroupRule> devices;
  std::optional<MemoryResources> memory;
  std::optional<CpuResources> cpu;
  std::optional<PidsResources> pids;
  std::optional<BlockIoResources> block_io;
  std::vector<HugepageLimit> hugepage_limits;
  std::map<std::string, std::string> unified;  // cgroup v2 raw key/values
};

struct Device {
  std::string type;  // "c", "b", "u", "p"
  std::string path;  // absolute inside the container
  int64_t major = 0, minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid, gid;
};

struct SeccompArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP,
                       // SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // SCMP_ARCH_X86_64, ...
  std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_LOG, ..._SPEC_ALLOW, ..._WAIT_KILLABLE_RECV
  std::string listener_path;
  std::string listener_metadata;
  std::vector<SeccompSyscall> syscalls;
};

struct TimeOffset {
  int64_t secs = 0;
  uint32_t nanosecs = 0;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::vector<Device> devices;
  std::string cgroups_path;  // "" -> default "/<id>" relative to the cgroup root; "slice:prefix:name" for systemd
  std::optional<Resources> resources;
  std::map<std::string, std::string> sysctl;
  std::optional<Seccomp> seccomp;
  std::string rootfs_propagation;  // "", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string mount_label;
  // Offsets for a new time namespace, keyed "monotonic" / "boottime" (written to /proc/self/timens_offsets).
  std::map<std::string, TimeOffset> time_offsets;
};

struct Spec {
  std::string oci_version;
  Root root;
  std::optional<Process> process;  // required by create/run
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;

  bool has_namespace(NamespaceType t) const;
  const Namespace* find_namespace(NamespaceType t) const;
};

// Parses and validates config.json text. See the header comment for the error contract.
Result<Spec> parse_runtime_spec(std::string_view json_text);
// Parses only a "process" object (berth-runtime exec --process FILE).
Result<Process> parse_process(std::string_view json_text);
// Serialises back to config.json (round-trips everything parse_runtime_spec understands).
std::string to_json(const Spec& spec, int indent = 2);
std::string to_json(const Process& process, int indent = 2);

// The default spec printed by `berth-runtime spec`: field for field what `runc spec` prints (sh in a
// terminal, rootfs "rootfs" read-only, hostname "runc", the default mounts, masked and readonly paths, caps
// AUDIT_WRITE/KILL/NET_BIND_SERVICE, RLIMIT_NOFILE 1024, namespaces pid/network/ipc/uts/mount, a deny-all
// device rule) except ociVersion, which is kOciVersion. rootless mirrors `runc spec --rootless`: a user
// namespace mapping the caller's euid/egid to 0, no network namespace, /sys bound from the host, no devpts
// gid=5, no device rule. Always passes parse_runtime_spec(to_json(...)).
Spec default_spec(bool rootless = false);

// The runtime-spec version this implementation follows (state, features, default_spec).
inline constexpr std::string_view kOciVersion = "1.1.0";

// Known values, one table each. The parser validates against these and `berth-runtime features` prints
// them, so they are the single source of truth.
std::span<const std::string_view> known_capabilities();          // index = number: CAP_CHOWN=0 .. CAP_CHECKPOINT_RESTORE=40
std::span<const std::string_view> known_rlimits();               // index = RLIMIT_* number: RLIMIT_CPU=0 .. RLIMIT_RTTIME=15
std::span<const std::string_view> known_namespace_types();       // "pid", "network", ... in NamespaceType order
std::span<const std::string_view> known_seccomp_actions();       // "SCMP_ACT_KILL", ...
std::span<const std::string_view> known_seccomp_operators();     // "SCMP_CMP_NE", ...
std::span<const std::string_view> known_seccomp_archs();         // "SCMP_ARCH_X86_64", ...
std::span<const std::string_view> known_seccomp_flags();         // "SECCOMP_FILTER_FLAG_LOG", ...
std::span<const std::string_view> known_rootfs_propagations();   // "private", "rprivate", ... ("" also accepted)
std::span<const std::string_view> known_hooks();                 // "prestart", "createRuntime", ...
// Mount option names the runtime interprets as flags (runc's set); other options go to the filesystem as data.
std::span<const std::string_view> known_mount_options();         // "acl", "async", ..., "unbindable" (sorted)
std::optional<NamespaceType> namespace_type_from_name(std::string_view name);
std::optional<int> capability_number(std::string_view name);     // "CAP_KILL" -> 5
std::optional<int> rlimit_number(std::string_view name);         // "RLIMIT_NOFILE" -> 7

}  // namespace berth::oci
