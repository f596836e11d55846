#include "oci/runtime_spec.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "sys/caps.h"

namespace berth::oci {

namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr std::array<std::string_view, 16> kRlimits = {
    "RLIMIT_CPU",   "RLIMIT_FSIZE",   "RLIMIT_DATA",  "RLIMIT_STACK",      "RLIMIT_CORE",     "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE",  "RLIMIT_MEMLOCK", "RLIMIT_AS",       "RLIMIT_LOCKS",    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
};

// Same order as NamespaceType.
constexpr std::array<std::string_view, 8> kNamespaceTypes = {"pid", "network", "mount",  "ipc",
                                                             "uts", "user",    "cgroup", "time"};

constexpr std::array<std::string_view, 9> kSeccompActions = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW",        "SCMP_ACT_LOG",         "SCMP_ACT_NOTIFY",
};

constexpr std::array<std::string_view, 7> kSeccompOperators = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};

// The architectures libseccomp 2.5 knows (runtime-spec config-linux.md lists the same names).
constexpr std::array<std::string_view, 19> kSeccompArchs = {
    "SCMP_ARCH_X86",       "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",      "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",   "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",   "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",    "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",     "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",     "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",    "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
};

constexpr std::array<std::string_view, 4> kSeccompFlags = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

constexpr std::array<std::string_view, 8> kRootfsPropagations = {
    "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable",
};

constexpr std::array<std::string_view, 6> kHooks = {
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

// Sorted, as `features` prints them.
constexpr std::array<std::string_view, 60> kMountOptions = {
    "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion", "lazytime",
    "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime", "nomand",
    "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime",
    "relatime", "remount", "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime",
    "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared",
    "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent", "slave",
    "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable",
};

template <size_t N>
bool contains(const std::array<std::string_view, N>& table, std::string_view v) {
  return std::find(table.begin(), table.end(), v) != table.end();
}

template <size_t N>
std::optional<int> index_of(const std::array<std::string_view, N>& table, std::string_view v) {
  auto it = std::find(table.begin(), table.end(), v);
  if (it == table.end()) return std::nullopt;
  return static_cast<int>(it - table.begin());
}

// ---------------------------------------------------------------------------------------------------------
// Reading. Every reader takes the value and its JSON-pointer-ish path ("linux.namespaces[2].type") so that
// the one error it returns names the field. JSON null counts as absent, as with Go's encoding/json.

std::string join(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return fmt::format("{}.{}", path, key);
}
std::string at(const std::string& path, size_t i) { return fmt::format("{}[{}]", path, i); }

tl::unexpected<Error> bad(const std::string& path, std::string_view what) {
  return fail(Errc::InvalidArgument, "{}: {}", path.empty() ? std::string("config") : path, what);
}
tl::unexpected<Error> wrong_type(const std::string& path, std::string_view want, const json& got) {
  return fail(Errc::InvalidArgument, "{}: expected {}, got {}", path.empty() ? std::string("config") : path, want,
              got.type_name());
}

const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Status expect_object(const json& j, const std::string& path) {
  if (!j.is_object()) return wrong_type(path, "object", j);
  return ok();
}

Status read(const json& j, const std::string& path, std::string& out) {
  if (!j.is_string()) return wrong_type(path, "string", j);
  out = j.get_ref<const std::string&>();
  return ok();
}

Status read(const json& j, const std::string& path, bool& out) {
  if (!j.is_boolean()) return wrong_type(path, "boolean", j);
  out = j.get<bool>();
  return ok();
}

template <class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool>)
Status read(const json& j, const std::string& path, I& out) {
  using L = std::numeric_limits<I>;
  if (j.is_number_unsigned()) {
    uint64_t v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(L::max())) return bad(path, fmt::format("{} is out of range (max {})", v, L::max()));
    out = static_cast<I>(v);
    return ok();
  }
  if (j.is_number_integer()) {
    int64_t v = j.get<int64_t>();
    if constexpr (std::is_unsigned_v<I>) {
      if (v < 0) return bad(path, fmt::format("{} is negative", v));
      if (static_cast<uint64_t>(v) > static_cast<uint64_t>(L::max()))
        return bad(path, fmt::format("{} is out of range (max {})", v, L::max()));
    } else {
      if (v < static_cast<int64_t>(L::min()) || v > static_cast<int64_t>(L::max()))
        return bad(path, fmt::format("{} is out of range", v));
    }
    out = static_cast<I>(v);
    return ok();
  }
  return wrong_type(path, "integer", j);
}

// Struct readers, declared here so the optional/vector templates below find them.
#define BERTH_DECLARE_READER(T) Status read(const json& j, const std::string& path, T& out);
BERTH_DECLARE_READER(IdMapping)
BERTH_DECLARE_READER(Root)
BERTH_DECLARE_READER(Mount)
BERTH_DECLARE_READER(Rlimit)
BERTH_DECLARE_READER(Capabilities)
BERTH_DECLARE_READER(ConsoleSize)
BERTH_DECLARE_READER(User)
BERTH_DECLARE_READER(Process)
BERTH_DECLARE_READER(Hook)
BERTH_DECLARE_READER(Hooks)
BERTH_DECLARE_READER(Namespace)
BERTH_DECLARE_READER(DeviceCgroupRule)
BERTH_DECLARE_READER(MemoryResources)
BERTH_DECLARE_READER(CpuResources)
BERTH_DECLARE_READER(PidsResources)
BERTH_DECLARE_READER(WeightDevice)
BERTH_DECLARE_READER(ThrottleDevice)
BERTH_DECLARE_READER(BlockIoResources)
BERTH_DECLARE_READER(HugepageLimit)
BERTH_DECLARE_READER(Resources)
BERTH_DECLARE_READER(Device)
BERTH_DECLARE_READER(SeccompArg)
BERTH_DECLARE_READER(SeccompSyscall)
BERTH_DECLARE_READER(Seccomp)
BERTH_DECLARE_READER(TimeOffset)
BERTH_DECLARE_READER(Linux)
BERTH_DECLARE_READER(Spec)
#undef BERTH_DECLARE_READER

template <class T>
Status read(const json& j, const std::string& path, std::optional<T>& out) {
  T v{};
  BERTH_TRY(read(j, path, v));
  out = std::move(v);
  return ok();
}

template <class T>
Status read(const json& j, const std::string& path, std::vector<T>& out) {
  if (!j.is_array()) return wrong_type(path, "array", j);
  out.clear();
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    T v{};
    BERTH_TRY(read(j[i], at(path, i), v));
    out.push_back(std::move(v));
  }
  return ok();
}

Status read(const json& j, const std::string& path, std::map<std::string, std::string>& out) {
  BERTH_TRY(expect_object(j, path));
  out.clear();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string()) return wrong_type(join(path, it.key()), "string", it.value());
    out[it.key()] = it.value().get_ref<const std::string&>();
  }
  return ok();
}

template <class T>
Status read(const json& j, const std::string& path, std::map<std::string, T>& out) {
  BERTH_TRY(expect_object(j, path));
  out.clear();
  for (auto it = j.begin(); it != j.end(); ++it) BERTH_TRY(read(it.value(), join(path, it.key()), out[it.key()]));
  return ok();
}

// Reads obj[key] into out when present (and not null); leaves out untouched otherwise.
template <class T>
Status field(const json& obj, const std::string& path, const char* key, T& out) {
  const json* v = member(obj, key);
  if (!v) return ok();
  return read(*v, join(path, key), out);
}

// Like field() but the key must be present.
template <class T>
Status required(const json& obj, const std::string& path, const char* key, T& out) {
  const json* v = member(obj, key);
  if (!v) return bad(join(path, key), "required field is missing");
  return read(*v, join(path, key), out);
}

Status check_absolute(const std::string& path, const std::string& value) {
  if (value.empty() || value[0] != '/') return bad(path, fmt::format("path \"{}\" must be absolute", value));
  if (value.find('\0') != std::string::npos) return bad(path, "path contains a NUL byte");
  return ok();
}

template <size_t N>
Status check_known(const std::string& path, const std::array<std::string_view, N>& table, const std::string& value,
                   std::string_view what) {
  if (!contains(table, value)) return bad(path, fmt::format("unknown {} \"{}\"", what, value));
  return ok();
}

// --- structs ---

Status read(const json& j, const std::string& path, IdMapping& m) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "containerID", m.container_id));
  BERTH_TRY(required(j, path, "hostID", m.host_id));
  BERTH_TRY(required(j, path, "size", m.size));
  if (m.size == 0) return bad(join(path, "size"), "must be greater than 0");
  if (uint64_t(m.container_id) + m.size - 1 > std::numeric_limits<uint32_t>::max())
    return bad(join(path, "size"), "containerID + size overflows 32 bits");
  if (uint64_t(m.host_id) + m.size - 1 > std::numeric_limits<uint32_t>::max())
    return bad(join(path, "size"), "hostID + size overflows 32 bits");
  return ok();
}

// The kernel refuses overlapping ranges on either side (user_namespaces(7)) and more than 340 lines.
Status check_mappings(const std::string& path, const std::vector<IdMapping>& maps) {
  if (maps.size() > 340) return bad(path, fmt::format("{} mappings, the kernel allows at most 340", maps.size()));
  for (size_t i = 0; i < maps.size(); ++i) {
    for (size_t k = 0; k < i; ++k) {
      auto overlap = [](uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return a < b + bn && b < a + an; };
      if (overlap(maps[i].container_id, maps[i].size, maps[k].container_id, maps[k].size))
        return bad(at(path, i), fmt::format("containerID range overlaps {}", at(path, k)));
      if (overlap(maps[i].host_id, maps[i].size, maps[k].host_id, maps[k].size))
        return bad(at(path, i), fmt::format("hostID range overlaps {}", at(path, k)));
    }
  }
  return ok();
}

Status read(const json& j, const std::string& path, Root& r) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "path", r.path));
  if (r.path.empty()) return bad(join(path, "path"), "must not be empty");
  BERTH_TRY(field(j, path, "readonly", r.readonly));
  return ok();
}

Status read(const json& j, const std::string& path, Mount& m) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "destination", m.destination));
  BERTH_TRY(check_absolute(join(path, "destination"), m.destination));
  BERTH_TRY(field(j, path, "type", m.type));
  BERTH_TRY(field(j, path, "source", m.source));
  BERTH_TRY(field(j, path, "options", m.options));
  BERTH_TRY(field(j, path, "uidMappings", m.uid_mappings));
  BERTH_TRY(field(j, path, "gidMappings", m.gid_mappings));
  BERTH_TRY(check_mappings(join(path, "uidMappings"), m.uid_mappings));
  BERTH_TRY(check_mappings(join(path, "gidMappings"), m.gid_mappings));
  return ok();
}

Status read(const json& j, const std::string& path, Rlimit& r) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "type", r.type));
  BERTH_TRY(check_known(join(path, "type"), kRlimits, r.type, "rlimit type"));
  BERTH_TRY(field(j, path, "hard", r.hard));
  BERTH_TRY(field(j, path, "soft", r.soft));
  if (r.soft > r.hard) return bad(join(path, "soft"), fmt::format("soft limit {} exceeds hard limit {}", r.soft, r.hard));
  return ok();
}

Status read_caps(const json& j, const std::string& path, std::vector<std::string>& out) {
  BERTH_TRY(read(j, path, out));
  for (size_t i = 0; i < out.size(); ++i)
    BERTH_TRY(check_known(at(path, i), sys::kCapNames, out[i], "capability"));
  return ok();
}

Status read(const json& j, const std::string& path, Capabilities& c) {
  BERTH_TRY(expect_object(j, path));
  struct {
    const char* key;
    std::vector<std::string>* set;
  } sets[] = {{"bounding", &c.bounding},
              {"effective", &c.effective},
              {"inheritable", &c.inheritable},
              {"permitted", &c.permitted},
              {"ambient", &c.ambient}};
  for (auto& s : sets)
    if (const json* v = member(j, s.key)) BERTH_TRY(read_caps(*v, join(path, s.key), *s.set));
  return ok();
}

Status read(const json& j, const std::string& path, ConsoleSize& c) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "height", c.height));
  BERTH_TRY(required(j, path, "width", c.width));
  return ok();
}

Status read(const json& j, const std::string& path, User& u) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(field(j, path, "uid", u.uid));
  BERTH_TRY(field(j, path, "gid", u.gid));
  BERTH_TRY(field(j, path, "umask", u.umask));
  BERTH_TRY(field(j, path, "additionalGids", u.additional_gids));
  BERTH_TRY(field(j, path, "username", u.username));
  return ok();
}

Status read(const json& j, const std::string& path, Process& p) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(field(j, path, "terminal", p.terminal));
  BERTH_TRY(field(j, path, "consoleSize", p.console_size));
  BERTH_TRY(field(j, path, "user", p.user));
  BERTH_TRY(field(j, path, "args", p.args));
  if (member(j, "commandLine")) return bad(join(path, "commandLine"), "is only supported on Windows");
  for (size_t i = 0; i < p.args.size(); ++i)
    if (p.args[i].find('\0') != std::string::npos) return bad(at(join(path, "args"), i), "contains a NUL byte");
  BERTH_TRY(field(j, path, "env", p.env));
  // execve() takes "NAME=value" strings; a NUL would silently cut the entry.
  for (size_t i = 0; i < p.env.size(); ++i) {
    const std::string& e = p.env[i];
    size_t eq = e.find('=');
    if (eq == std::string::npos) return bad(at(join(path, "env"), i), fmt::format("\"{}\" is not NAME=value", e));
    if (eq == 0) return bad(at(join(path, "env"), i), "empty variable name");
    if (e.find('\0') != std::string::npos) return bad(at(join(path, "env"), i), "contains a NUL byte");
  }
  BERTH_TRY(required(j, path, "cwd", p.cwd));
  BERTH_TRY(check_absolute(join(path, "cwd"), p.cwd));
  BERTH_TRY(field(j, path, "capabilities", p.capabilities));
  BERTH_TRY(field(j, path, "rlimits", p.rlimits));
  std::set<std::string_view> seen;
  for (size_t i = 0; i < p.rlimits.size(); ++i)
    if (!seen.insert(p.rlimits[i].type).second)
      return bad(join(at(join(path, "rlimits"), i), "type"), fmt::format("duplicate rlimit \"{}\"", p.rlimits[i].type));
  BERTH_TRY(field(j, path, "noNewPrivileges", p.no_new_privileges));
  BERTH_TRY(field(j, path, "apparmorProfile", p.apparmor_profile));
  BERTH_TRY(field(j, path, "oomScoreAdj", p.oom_score_adj));
  if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000))
    return bad(join(path, "oomScoreAdj"), fmt::format("{} is outside [-1000, 1000]", *p.oom_score_adj));
  BERTH_TRY(field(j, path, "selinuxLabel", p.selinux_label));
  return ok();
}

Status read(const json& j, const std::string& path, Hook& h) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "path", h.path));
  BERTH_TRY(check_absolute(join(path, "path"), h.path));
  BERTH_TRY(field(j, path, "args", h.args));
  BERTH_TRY(field(j, path, "env", h.env));
  BERTH_TRY(field(j, path, "timeout", h.timeout));
  if (h.timeout && *h.timeout <= 0) return bad(join(path, "timeout"), "must be greater than 0");
  return ok();
}

Status read(const json& j, const std::string& path, Hooks& h) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(field(j, path, "prestart", h.prestart));
  BERTH_TRY(field(j, path, "createRuntime", h.create_runtime));
  BERTH_TRY(field(j, path, "createContainer", h.create_container));
  BERTH_TRY(field(j, path, "startContainer", h.start_container));
  BERTH_TRY(field(j, path, "poststart", h.poststart));
  BERTH_TRY(field(j, path, "poststop", h.poststop));
  return ok();
}

Status read(const json& j, const std::string& path, Namespace& n) {
  BERTH_TRY(expect_object(j, path));
  std::string type;
  BERTH_TRY(required(j, path, "type", type));
  auto t = namespace_type_from_name(type);
  if (!t) return bad(join(path, "type"), fmt::format("unknown namespace type \"{}\"", type));
  n.type = *t;
  BERTH_TRY(field(j, path, "path", n.path));
  if (!n.path.empty()) BERTH_TRY(check_absolute(join(path, "path"), n.path));
  return ok();
}

Status read(const json& j, const std::string& path, DeviceCgroupRule& d) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "allow", d.allow));
  BERTH_TRY(field(j, path, "type", d.type));
  if (!d.type.empty() && d.type != "a" && d.type != "c" && d.type != "b")
    return bad(join(path, "type"), fmt::format("unknown device type \"{}\" (want a, c or b)", d.type));
  BERTH_TRY(field(j, path, "major", d.major));
  BERTH_TRY(field(j, path, "minor", d.minor));
  BERTH_TRY(field(j, path, "access", d.access));
  if (d.access.find_first_not_of("rwm") != std::string::npos)
    return bad(join(path, "access"), fmt::format("\"{}\" is not a subset of \"rwm\"", d.access));
  return ok();
}

Status read(const json& j, const std::string& path, MemoryResources& m) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(field(j, path, "limit", m.limit));
  BERTH_TRY(field(j, path, "reservation", m.reservation));
  BERTH_TRY(field(j, path, "swap", m.swap));
  BERTH_TRY(field(j, path, "kernel", m.kernel));
  BERTH_TRY(field(j, path, "kernelTCP", m.kernel_tcp));
  BERTH_TRY(field(j, path, "swappiness", m.swappiness));
  if (m.swappiness && *m.swappiness > 100) return bad(join(path, "swappiness"), fmt::format("{} exceeds 100", *m.swappiness));
  BERTH_TRY(field(j, path, "disableOOMKiller", m.disable_oom_killer));
  BERTH_TRY(field(j, path, "useHierarchy", m.use_hierarchy));
  BERTH_TRY(field(j, path, "checkBeforeUpdate", m.check_before_update));
  // memory.swap is memory+swap on cgroup v1, so it cannot be below the memory limit.
  if (m.limit && m.swap && *m.limit > 0 && *m.swap > 0 && *m.swap < *m.limit)
    return bad(join(path, "swap"), fmt::format("memory+swap limit {} is lower than memory limit {}", *m.swap, *m.limit));
  return ok();
}

Status read(const json& j, const std::string& path, CpuResources& c) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(field(j, path, "shares", c.shares));
  BERTH_TRY(field(j, path, "quota", c.quota));
  BERTH_TRY(field(j, path, "burst", c.burst));
  BERTH_TRY(field(j, path, "period", c.period));
  BERTH_TRY(field(j, path, "realtimeRuntime", c.realtime_runtime));
  BERTH_TRY(field(j, path, "realtimePeriod", c.realtime_period));
  BERTH_TRY(field(j, path, "cpus", c.cpus));
  BERTH_TRY(field(j, path, "mems", c.mems));
  BERTH_TRY(field(j, path, "idle", c.idle));
  return ok();
}

Status read(const json& j, const std::string& path, PidsResources& p) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(field(j, path, "limit", p.limit));
  return ok();
}

Status read(const json& j, const std::string& path, WeightDevice& d) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "major", d.major));
  BERTH_TRY(required(j, path, "minor", d.minor));
  BERTH_TRY(field(j, path, "weight", d.weight));
  BERTH_TRY(field(j, path, "leafWeight", d.leaf_weight));
  return ok();
}

Status read(const json& j, const std::string& path, ThrottleDevice& d) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "major", d.major));
  BERTH_TRY(required(j, path, "minor", d.minor));
  BERTH_TRY(required(j, path, "rate", d.rate));
  return ok();
}

Status read(const json& j, const std::string& path, BlockIoResources& b) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(field(j, path, "weight", b.weight));
  BERTH_TRY(field(j, path, "leafWeight", b.leaf_weight));
  BERTH_TRY(field(j, path, "weightDevice", b.weight_device));
  BERTH_TRY(field(j, path, "throttleReadBpsDevice", b.throttle_read_bps_device));
  BERTH_TRY(field(j, path, "throttleWriteBpsDevice", b.throttle_write_bps_device));
  BERTH_TRY(field(j, path, "throttleReadIOPSDevice", b.throttle_read_iops_device));
  BERTH_TRY(field(j, path, "throttleWriteIOPSDevice", b.throttle_write_iops_device));
  return ok();
}

Status read(const json& j, const std::string& path, HugepageLimit& h) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "pageSize", h.page_size));
  if (h.page_size.empty() || h.page_size.find_first_of("/.") != std::string::npos)
    return bad(join(path, "pageSize"), fmt::format("invalid page size \"{}\"", h.page_size));
  BERTH_TRY(required(j, path, "limit", h.limit));
  return ok();
}

Status read(const json& j, const std::string& path, Resources& r) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(field(j, path, "devices", r.devices));
  BERTH_TRY(field(j, path, "memory", r.memory));
  BERTH_TRY(field(j, path, "cpu", r.cpu));
  BERTH_TRY(field(j, path, "pids", r.pids));
  BERTH_TRY(field(j, path, "blockIO", r.block_io));
  BERTH_TRY(field(j, path, "hugepageLimits", r.hugepage_limits));
  BERTH_TRY(field(j, path, "unified", r.unified));
  // Unified keys name files in the container's cgroup directory: never a path.
  for (const auto& [key, value] : r.unified) {
    if (key.empty() || key.find('/') != std::string::npos || key.find("..") != std::string::npos ||
        key.find('\0') != std::string::npos)
      return bad(join(join(path, "unified"), key), "invalid cgroup file name");
  }
  return ok();
}

Status read(const json& j, const std::string& path, Device& d) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "type", d.type));
  if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
    return bad(join(path, "type"), fmt::format("unknown device type \"{}\" (want c, b, u or p)", d.type));
  BERTH_TRY(required(j, path, "path", d.path));
  BERTH_TRY(check_absolute(join(path, "path"), d.path));
  // major/minor are required for everything but fifos.
  if (d.type == "p") {
    BERTH_TRY(field(j, path, "major", d.major));
    BERTH_TRY(field(j, path, "minor", d.minor));
  } else {
    BERTH_TRY(required(j, path, "major", d.major));
    BERTH_TRY(required(j, path, "minor", d.minor));
  }
  BERTH_TRY(field(j, path, "fileMode", d.file_mode));
  BERTH_TRY(field(j, path, "uid", d.uid));
  BERTH_TRY(field(j, path, "gid", d.gid));
  return ok();
}

Status read(const json& j, const std::string& path, SeccompArg& a) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "index", a.index));
  if (a.index > 5) return bad(join(path, "index"), fmt::format("{} is not a syscall argument index (0-5)", a.index));
  BERTH_TRY(required(j, path, "value", a.value));
  BERTH_TRY(field(j, path, "valueTwo", a.value_two));
  BERTH_TRY(required(j, path, "op", a.op));
  BERTH_TRY(check_known(join(path, "op"), kSeccompOperators, a.op, "seccomp operator"));
  return ok();
}

Status read(const json& j, const std::string& path, SeccompSyscall& s) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "names", s.names));
  if (s.names.empty()) return bad(join(path, "names"), "must not be empty");
  for (size_t i = 0; i < s.names.size(); ++i)
    if (s.names[i].empty()) return bad(at(join(path, "names"), i), "empty syscall name");
  BERTH_TRY(required(j, path, "action", s.action));
  BERTH_TRY(check_known(join(path, "action"), kSeccompActions, s.action, "seccomp action"));
  BERTH_TRY(field(j, path, "errnoRet", s.errno_ret));
  BERTH_TRY(field(j, path, "args", s.args));
  return ok();
}

Status read(const json& j, const std::string& path, Seccomp& s) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "defaultAction", s.default_action));
  BERTH_TRY(check_known(join(path, "defaultAction"), kSeccompActions, s.default_action, "seccomp action"));
  BERTH_TRY(field(j, path, "defaultErrnoRet", s.default_errno_ret));
  BERTH_TRY(field(j, path, "architectures", s.architectures));
  for (size_t i = 0; i < s.architectures.size(); ++i)
    BERTH_TRY(check_known(at(join(path, "architectures"), i), kSeccompArchs, s.architectures[i], "seccomp architecture"));
  BERTH_TRY(field(j, path, "flags", s.flags));
  for (size_t i = 0; i < s.flags.size(); ++i)
    BERTH_TRY(check_known(at(join(path, "flags"), i), kSeccompFlags, s.flags[i], "seccomp flag"));
  BERTH_TRY(field(j, path, "listenerPath", s.listener_path));
  if (!s.listener_path.empty()) BERTH_TRY(check_absolute(join(path, "listenerPath"), s.listener_path));
  BERTH_TRY(field(j, path, "listenerMetadata", s.listener_metadata));
  BERTH_TRY(field(j, path, "syscalls", s.syscalls));
  // config-linux.md: listenerPath MUST be set when SCMP_ACT_NOTIFY is used.
  if (s.listener_path.empty()) {
    if (s.default_action == "SCMP_ACT_NOTIFY") return bad(join(path, "listenerPath"), "required by SCMP_ACT_NOTIFY");
    for (size_t i = 0; i < s.syscalls.size(); ++i)
      if (s.syscalls[i].action == "SCMP_ACT_NOTIFY")
        return bad(join(path, "listenerPath"), fmt::format("required by {}.action SCMP_ACT_NOTIFY", at(join(path, "syscalls"), i)));
  }
  return ok();
}

Status read(const json& j, const std::string& path, TimeOffset& t) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(field(j, path, "secs", t.secs));
  BERTH_TRY(field(j, path, "nanosecs", t.nanosecs));
  if (t.nanosecs >= 1000000000u) return bad(join(path, "nanosecs"), fmt::format("{} is not below 1e9", t.nanosecs));
  return ok();
}

// Sysctl names become paths under /proc/sys ("net.ipv4.ip_forward", or sysctl(8)'s slash form
// "net/ipv4/conf/eth0.100/forwarding"), so no component may walk out of it.
Status check_sysctl_name(const std::string& path, const std::string& name) {
  if (name.empty() || name.find('\0') != std::string::npos || name[0] == '/' || name[0] == '.')
    return bad(path, "invalid sysctl name");
  const char* seps = name.find('/') != std::string::npos ? "/" : ".";
  size_t start = 0;
  while (true) {
    size_t end = name.find_first_of(seps, start);
    std::string_view part = std::string_view(name).substr(start, end == std::string::npos ? end : end - start);
    if (part.empty() || part == "." || part == "..") return bad(path, "invalid sysctl name");
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return ok();
}

Status read_paths(const json& obj, const std::string& path, const char* key, std::vector<std::string>& out) {
  BERTH_TRY(field(obj, path, key, out));
  for (size_t i = 0; i < out.size(); ++i) BERTH_TRY(check_absolute(at(join(path, key), i), out[i]));
  return ok();
}

Status read(const json& j, const std::string& path, Linux& l) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(field(j, path, "namespaces", l.namespaces));
  for (size_t i = 0; i < l.namespaces.size(); ++i)
    for (size_t k = 0; k < i; ++k)
      if (l.namespaces[i].type == l.namespaces[k].type)
        return bad(join(at(join(path, "namespaces"), i), "type"),
                   fmt::format("duplicate namespace \"{}\"", namespace_type_name(l.namespaces[i].type)));
  BERTH_TRY(field(j, path, "uidMappings", l.uid_mappings));
  BERTH_TRY(field(j, path, "gidMappings", l.gid_mappings));
  BERTH_TRY(check_mappings(join(path, "uidMappings"), l.uid_mappings));
  BERTH_TRY(check_mappings(join(path, "gidMappings"), l.gid_mappings));
  const Namespace* userns = nullptr;
  for (const auto& n : l.namespaces)
    if (n.type == NamespaceType::User) userns = &n;
  for (auto [key, maps] : {std::pair{"uidMappings", &l.uid_mappings}, std::pair{"gidMappings", &l.gid_mappings}}) {
    if (maps->empty()) continue;
    if (!userns) return bad(join(path, key), "mappings require a user namespace in linux.namespaces");
    if (!userns->path.empty())
      return bad(join(path, key), fmt::format("mappings cannot be set when joining the user namespace {}", userns->path));
  }
  // runc refuses a new user namespace without mappings: everything inside would be the overflow id.
  if (userns && userns->path.empty() && (l.uid_mappings.empty() || l.gid_mappings.empty()))
    return bad(join(path, l.uid_mappings.empty() ? "uidMappings" : "gidMappings"),
               "a new user namespace needs both uidMappings and gidMappings");
  BERTH_TRY(field(j, path, "devices", l.devices));
  BERTH_TRY(field(j, path, "cgroupsPath", l.cgroups_path));
  BERTH_TRY(field(j, path, "resources", l.resources));
  BERTH_TRY(field(j, path, "sysctl", l.sysctl));
  for (const auto& [key, value] : l.sysctl) BERTH_TRY(check_sysctl_name(join(join(path, "sysctl"), key), key));
  BERTH_TRY(field(j, path, "seccomp", l.seccomp));
  BERTH_TRY(field(j, path, "rootfsPropagation", l.rootfs_propagation));
  if (!l.rootfs_propagation.empty())
    BERTH_TRY(check_known(join(path, "rootfsPropagation"), kRootfsPropagations, l.rootfs_propagation,
                          "propagation"));
  BERTH_TRY(read_paths(j, path, "maskedPaths", l.masked_paths));
  BERTH_TRY(read_paths(j, path, "readonlyPaths", l.readonly_paths));
  BERTH_TRY(field(j, path, "mountLabel", l.mount_label));
  BERTH_TRY(field(j, path, "timeOffsets", l.time_offsets));
  for (const auto& [clock, offset] : l.time_offsets) {
    if (clock != "monotonic" && clock != "boottime")
      return bad(join(join(path, "timeOffsets"), clock), "unknown clock (want monotonic or boottime)");
  }
  if (!l.time_offsets.empty()) {
    const Namespace* timens = nullptr;
    for (const auto& n : l.namespaces)
      if (n.type == NamespaceType::Time) timens = &n;
    if (!timens || !timens->path.empty())
      return bad(join(path, "timeOffsets"), "requires a new time namespace in linux.namespaces");
  }
  return ok();
}

Status read(const json& j, const std::string& path, Spec& s) {
  BERTH_TRY(expect_object(j, path));
  BERTH_TRY(required(j, path, "ociVersion", s.oci_version));
  if (s.oci_version.empty()) return bad("ociVersion", "must not be empty");
  BERTH_TRY(required(j, path, "root", s.root));
  BERTH_TRY(field(j, path, "process", s.process));
  BERTH_TRY(field(j, path, "hostname", s.hostname));
  BERTH_TRY(field(j, path, "domainname", s.domainname));
  BERTH_TRY(field(j, path, "mounts", s.mounts));
  BERTH_TRY(field(j, path, "hooks", s.hooks));
  BERTH_TRY(field(j, path, "annotations", s.annotations));
  BERTH_TRY(field(j, path, "linux", s.linux));
  // Setting the host's hostname would be a surprise: runc refuses the same.
  if (!s.hostname.empty() && !s.has_namespace(NamespaceType::Uts))
    return bad("hostname", "requires a uts namespace in linux.namespaces");
  if (!s.domainname.empty() && !s.has_namespace(NamespaceType::Uts))
    return bad("domainname", "requires a uts namespace in linux.namespaces");
  return ok();
}

template <class T>
Result<T> parse_document(std::string_view text, const std::string& root_path) {
  try {
    json j = json::parse(text.begin(), text.end());
    T out{};
    BERTH_TRY(read(j, root_path, out));
    return out;
  } catch (const json::exception& e) {
    return fail(Errc::InvalidArgument, "invalid JSON: {}", e.what());
  }
}

// ---------------------------------------------------------------------------------------------------------
// Writing. Field order follows runc's so `berth-runtime spec` output reads the same.

template <class T>
void put_opt(ojson& o, const char* key, const std::optional<T>& v) {
  if (v) o[key] = *v;
}
void put_str(ojson& o, const char* key, const std::string& v) {
  if (!v.empty()) o[key] = v;
}
void put_list(ojson& o, const char* key, const std::vector<std::string>& v) {
  if (!v.empty()) o[key] = v;
}
void put_map(ojson& o, const char* key, const std::map<std::string, std::string>& v) {
  if (!v.empty()) o[key] = v;
}

ojson write(const IdMapping& m) {
  ojson o = ojson::object();
  o["containerID"] = m.container_id;
  o["hostID"] = m.host_id;
  o["size"] = m.size;
  return o;
}

ojson write(const IdMapping& m);
ojson write(const Rlimit& r);
ojson write(const Mount& m);
ojson write(const Hook& h);
ojson write(const Namespace& n);
ojson write(const Device& d);
ojson write(const DeviceCgroupRule& d);
ojson write(const WeightDevice& d);
ojson write(const ThrottleDevice& d);
ojson write(const HugepageLimit& h);
ojson write(const SeccompArg& a);
ojson write(const SeccompSyscall& s);

template <class T>
void put_objs(ojson& o, const char* key, const std::vector<T>& v) {
  if (v.empty()) return;
  ojson a = ojson::array();
  for (const auto& x : v) a.push_back(write(x));
  o[key] = std::move(a);
}

ojson write(const Capabilities& c) {
  ojson o = ojson::object();
  put_list(o, "bounding", c.bounding);
  put_list(o, "effective", c.effective);
  put_list(o, "inheritable", c.inheritable);
  put_list(o, "permitted", c.permitted);
  put_list(o, "ambient", c.ambient);
  return o;
}

ojson write(const Rlimit& r) {
  ojson o = ojson::object();
  o["type"] = r.type;
  o["hard"] = r.hard;
  o["soft"] = r.soft;
  return o;
}

ojson write(const Process& p) {
  ojson o = ojson::object();
  if (p.terminal) o["terminal"] = true;
  if (p.console_size) o["consoleSize"] = ojson{{"height", p.console_size->height}, {"width", p.console_size->width}};
  ojson u = ojson::object();
  u["uid"] = p.user.uid;
  u["gid"] = p.user.gid;
  put_opt(u, "umask", p.user.umask);
  if (!p.user.additional_gids.empty()) u["additionalGids"] = p.user.additional_gids;
  put_str(u, "username", p.user.username);
  o["user"] = std::move(u);
  o["args"] = p.args;
  put_list(o, "env", p.env);
  o["cwd"] = p.cwd;
  if (p.capabilities) o["capabilities"] = write(*p.capabilities);
  put_objs(o, "rlimits", p.rlimits);
  if (p.no_new_privileges) o["noNewPrivileges"] = true;
  put_str(o, "apparmorProfile", p.apparmor_profile);
  put_opt(o, "oomScoreAdj", p.oom_score_adj);
  put_str(o, "selinuxLabel", p.selinux_label);
  return o;
}

ojson write(const Mount& m) {
  ojson o = ojson::object();
  o["destination"] = m.destination;
  put_str(o, "type", m.type);
  put_str(o, "source", m.source);
  put_list(o, "options", m.options);
  put_objs(o, "uidMappings", m.uid_mappings);
  put_objs(o, "gidMappings", m.gid_mappings);
  return o;
}

ojson write(const Hook& h) {
  ojson o = ojson::object();
  o["path"] = h.path;
  put_list(o, "args", h.args);
  put_list(o, "env", h.env);
  put_opt(o, "timeout", h.timeout);
  return o;
}

ojson write(const Namespace& n) {
  ojson o = ojson::object();
  o["type"] = namespace_type_name(n.type);
  put_str(o, "path", n.path);
  return o;
}

ojson write(const Device& d) {
  ojson o = ojson::object();
  o["type"] = d.type;
  o["path"] = d.path;
  // Fifos have no device number.
  if (d.type != "p" || d.major != 0 || d.minor != 0) {
    o["major"] = d.major;
    o["minor"] = d.minor;
  }
  put_opt(o, "fileMode", d.file_mode);
  put_opt(o, "uid", d.uid);
  put_opt(o, "gid", d.gid);
  return o;
}

ojson write(const DeviceCgroupRule& d) {
  ojson o = ojson::object();
  o["allow"] = d.allow;
  put_str(o, "type", d.type);
  put_opt(o, "major", d.major);
  put_opt(o, "minor", d.minor);
  put_str(o, "access", d.access);
  return o;
}

ojson write(const WeightDevice& d) {
  ojson o = ojson::object();
  o["major"] = d.major;
  o["minor"] = d.minor;
  put_opt(o, "weight", d.weight);
  put_opt(o, "leafWeight", d.leaf_weight);
  return o;
}

ojson write(const ThrottleDevice& d) {
  ojson o = ojson::object();
  o["major"] = d.major;
  o["minor"] = d.minor;
  o["rate"] = d.rate;
  return o;
}

ojson write(const HugepageLimit& h) {
  ojson o = ojson::object();
  o["pageSize"] = h.page_size;
  o["limit"] = h.limit;
  return o;
}

ojson write(const Resources& r) {
  ojson o = ojson::object();
  put_objs(o, "devices", r.devices);
  if (r.memory) {
    const auto& m = *r.memory;
    ojson mo = ojson::object();
    put_opt(mo, "limit", m.limit);
    put_opt(mo, "reservation", m.reservation);
    put_opt(mo, "swap", m.swap);
    put_opt(mo, "kernel", m.kernel);
    put_opt(mo, "kernelTCP", m.kernel_tcp);
    put_opt(mo, "swappiness", m.swappiness);
    put_opt(mo, "disableOOMKiller", m.disable_oom_killer);
    put_opt(mo, "useHierarchy", m.use_hierarchy);
    put_opt(mo, "checkBeforeUpdate", m.check_before_update);
    o["memory"] = std::move(mo);
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    ojson co = ojson::object();
    put_opt(co, "shares", c.shares);
    put_opt(co, "quota", c.quota);
    put_opt(co, "burst", c.burst);
    put_opt(co, "period", c.period);
    put_opt(co, "realtimeRuntime", c.realtime_runtime);
    put_opt(co, "realtimePeriod", c.realtime_period);
    put_str(co, "cpus", c.cpus);
    put_str(co, "mems", c.mems);
    put_opt(co, "idle", c.idle);
    o["cpu"] = std::move(co);
  }
  if (r.pids) o["pids"] = ojson{{"limit", r.pids->limit}};
  if (r.block_io) {
    const auto& b = *r.block_io;
    ojson bo = ojson::object();
    put_opt(bo, "weight", b.weight);
    put_opt(bo, "leafWeight", b.leaf_weight);
    put_objs(bo, "weightDevice", b.weight_device);
    put_objs(bo, "throttleReadBpsDevice", b.throttle_read_bps_device);
    put_objs(bo, "throttleWriteBpsDevice", b.throttle_write_bps_device);
    put_objs(bo, "throttleReadIOPSDevice", b.throttle_read_iops_device);
    put_objs(bo, "throttleWriteIOPSDevice", b.throttle_write_iops_device);
    o["blockIO"] = std::move(bo);
  }
  put_objs(o, "hugepageLimits", r.hugepage_limits);
  put_map(o, "unified", r.unified);
  return o;
}

ojson write(const SeccompArg& a) {
  ojson o = ojson::object();
  o["index"] = a.index;
  o["value"] = a.value;
  if (a.value_two) o["valueTwo"] = a.value_two;
  o["op"] = a.op;
  return o;
}

ojson write(const SeccompSyscall& s) {
  ojson o = ojson::object();
  o["names"] = s.names;
  o["action"] = s.action;
  put_opt(o, "errnoRet", s.errno_ret);
  put_objs(o, "args", s.args);
  return o;
}

ojson write(const Seccomp& s) {
  ojson o = ojson::object();
  o["defaultAction"] = s.default_action;
  put_opt(o, "defaultErrnoRet", s.default_errno_ret);
  put_list(o, "architectures", s.architectures);
  put_list(o, "flags", s.flags);
  put_str(o, "listenerPath", s.listener_path);
  put_str(o, "listenerMetadata", s.listener_metadata);
  put_objs(o, "syscalls", s.syscalls);
  return o;
}

ojson write(const Linux& l) {
  ojson o = ojson::object();
  put_objs(o, "uidMappings", l.uid_mappings);
  put_objs(o, "gidMappings", l.gid_mappings);
  put_map(o, "sysctl", l.sysctl);
  if (l.resources) o["resources"] = write(*l.resources);
  put_str(o, "cgroupsPath", l.cgroups_path);
  put_objs(o, "namespaces", l.namespaces);
  put_objs(o, "devices", l.devices);
  if (l.seccomp) o["seccomp"] = write(*l.seccomp);
  put_str(o, "rootfsPropagation", l.rootfs_propagation);
  put_list(o, "maskedPaths", l.masked_paths);
  put_list(o, "readonlyPaths", l.readonly_paths);
  put_str(o, "mountLabel", l.mount_label);
  if (!l.time_offsets.empty()) {
    ojson t = ojson::object();
    for (const auto& [clock, off] : l.time_offsets) t[clock] = ojson{{"secs", off.secs}, {"nanosecs", off.nanosecs}};
    o["timeOffsets"] = std::move(t);
  }
  return o;
}

ojson write(const Spec& s) {
  ojson o = ojson::object();
  o["ociVersion"] = s.oci_version;
  if (s.process) o["process"] = write(*s.process);
  ojson root = ojson::object();
  root["path"] = s.root.path;
  if (s.root.readonly) root["readonly"] = true;
  o["root"] = std::move(root);
  put_str(o, "hostname", s.hostname);
  put_str(o, "domainname", s.domainname);
  put_objs(o, "mounts", s.mounts);
  const Hooks& h = s.hooks;
  if (!h.prestart.empty() || !h.create_runtime.empty() || !h.create_container.empty() ||
      !h.start_container.empty() || !h.poststart.empty() || !h.poststop.empty()) {
    ojson ho = ojson::object();
    put_objs(ho, "prestart", h.prestart);
    put_objs(ho, "createRuntime", h.create_runtime);
    put_objs(ho, "createContainer", h.create_container);
    put_objs(ho, "startContainer", h.start_container);
    put_objs(ho, "poststart", h.poststart);
    put_objs(ho, "poststop", h.poststop);
    o["hooks"] = std::move(ho);
  }
  put_map(o, "annotations", s.annotations);
  if (s.linux) o["linux"] = write(*s.linux);
  return o;
}

std::string dump(const ojson& o, int indent) {
  // Strings built in code may hold invalid UTF-8; replace instead of throwing.
  return o.dump(indent, ' ', false, ojson::error_handler_t::replace);
}

}  // namespace

std::span<const std::string_view> known_capabilities() { return sys::kCapNames; }
std::span<const std::string_view> known_rlimits() { return kRlimits; }
std::span<const std::string_view> known_namespace_types() { return kNamespaceTypes; }
std::span<const std::string_view> known_seccomp_actions() { return kSeccompActions; }
std::span<const std::string_view> known_seccomp_operators() { return kSeccompOperators; }
std::span<const std::string_view> known_seccomp_archs() { return kSeccompArchs; }
std::span<const std::string_view> known_seccomp_flags() { return kSeccompFlags; }
std::span<const std::string_view> known_rootfs_propagations() { return kRootfsPropagations; }
std::span<const std::string_view> known_hooks() { return kHooks; }
std::span<const std::string_view> known_mount_options() { return kMountOptions; }

std::optional<NamespaceType> namespace_type_from_name(std::string_view name) {
  auto i = index_of(kNamespaceTypes, name);
  if (!i) return std::nullopt;
  return static_cast<NamespaceType>(*i);
}
std::optional<int> capability_number(std::string_view name) { return index_of(sys::kCapNames, name); }
std::optional<int> rlimit_number(std::string_view name) { return index_of(kRlimits, name); }

std::string_view namespace_type_name(NamespaceType t) {
  auto i = static_cast<size_t>(t);
  BERTH_CHECK(i < kNamespaceTypes.size(), "bad NamespaceType");
  return kNamespaceTypes[i];
}

bool Spec::has_namespace(NamespaceType t) const { return find_namespace(t) != nullptr; }

const Namespace* Spec::find_namespace(NamespaceType t) const {
  if (!linux) return nullptr;
  for (const auto& n : linux->namespaces)
    if (n.type == t) return &n;
  return nullptr;
}

Result<Spec> parse_runtime_spec(std::string_view json_text) { return parse_document<Spec>(json_text, ""); }

// exec --process errors read "process.cwd", the same names as in config.json.
Result<Process> parse_process(std::string_view json_text) {
  return parse_document<Process>(json_text, "process");
}

std::string to_json(const Spec& spec, int indent) { return dump(write(spec), indent); }
std::string to_json(const Process& process, int indent) { return dump(write(process), indent); }

Spec default_spec(bool rootless) {
  Spec s;
  s.oci_version = std::string(kOciVersion);
  s.root = Root{.path = "rootfs", .readonly = true};
  s.hostname = "runc";

  Process p;
  p.terminal = true;
  p.args = {"sh"};
  p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  p.capabilities = Capabilities{.bounding = caps, .effective = caps, .inheritable = {}, .permitted = caps,
                                .ambient = caps};
  p.rlimits = {Rlimit{.type = "RLIMIT_NOFILE", .hard = 1024, .soft = 1024}};
  p.no_new_privileges = true;
  s.process = std::move(p);

  s.mounts = {
      {.destination = "/proc", .type = "proc", .source = "proc"},
      {.destination = "/dev", .type = "tmpfs", .source = "tmpfs",
       .options = {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {.destination = "/dev/pts", .type = "devpts", .source = "devpts",
       .options = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {.destination = "/dev/shm", .type = "tmpfs", .source = "shm",
       .options = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {.destination = "/dev/mqueue", .type = "mqueue", .source = "mqueue", .options = {"nosuid", "noexec", "nodev"}},
      {.destination = "/sys", .type = "sysfs", .source = "sysfs", .options = {"nosuid", "noexec", "nodev", "ro"}},
      {.destination = "/sys/fs/cgroup", .type = "cgroup", .source = "cgroup",
       .options = {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };

  Linux l;
  l.namespaces = {{NamespaceType::Pid, ""}, {NamespaceType::Network, ""}, {NamespaceType::Ipc, ""},
                  {NamespaceType::Uts, ""}, {NamespaceType::Mount, ""}};
  l.masked_paths = {"/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                    "/sys/firmware",       "/proc/scsi"};
  l.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};

  if (!rootless) {
    Resources r;
    r.devices = {DeviceCgroupRule{.allow = false, .type = "", .major = {}, .minor = {}, .access = "rwm"}};
    l.resources = std::move(r);
  } else {
    // Without privileges: no network namespace (no way to configure one), sysfs bound from the host
    // (mounting a new sysfs needs a network namespace owned by the user namespace), no devpts gid option
    // (gid 5 is unmapped), the caller's ids mapped to root, no device cgroup.
    l.namespaces = {{NamespaceType::Pid, ""}, {NamespaceType::Ipc, ""}, {NamespaceType::Uts, ""},
                    {NamespaceType::Mount, ""}, {NamespaceType::User, ""}};
    l.uid_mappings = {IdMapping{.container_id = 0, .host_id = static_cast<uint32_t>(geteuid()), .size = 1}};
    l.gid_mappings = {IdMapping{.container_id = 0, .host_id = static_cast<uint32_t>(getegid()), .size = 1}};
    for (auto& m : s.mounts) {
      if (m.destination == "/dev/pts") std::erase(m.options, "gid=5");
      if (m.destination == "/sys") {
        m.type = "none";
        m.source = "/sys";
        m.options = {"rbind", "nosuid", "noexec", "nodev", "ro"};
      }
    }
  }
  s.linux = std::move(l);
  return s;
}

}  // namespace berth::oci
