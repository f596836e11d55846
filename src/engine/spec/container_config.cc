#include "engine/spec/container_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <thread>

#include "engine/spec/json_reader.h"
#include "engine/spec/security.h"
#include "engine/spec/spec_builder.h"
#include "sys/path.h"

namespace berth::engine::spec {

using nlohmann::json;

namespace {

constexpr int64_t kMinMemory = 6 << 20;  // dockerd's linuxMinMemory

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> r;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    if (p == std::string_view::npos) {
      r.push_back(s.substr(start));
      return r;
    }
    r.push_back(s.substr(start, p - start));
    start = p + 1;
  }
}

bool valid_ip(std::string_view s) {
  std::string z(s);
  unsigned char buf[16];
  return ::inet_pton(AF_INET, z.c_str(), buf) == 1 || ::inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// ---- Config ----------------------------------------------------------------------------------------------

Result<HealthConfig> parse_health(const json& j, const std::string& path) {
  auto r = BERTH_TRY(JsonReader::object(j, path));
  HealthConfig h;
  BERTH_TRY(r.str_list("Test", h.test));
  BERTH_TRY(r.i64("Interval", h.interval));
  BERTH_TRY(r.i64("Timeout", h.timeout));
  BERTH_TRY(r.i64("StartPeriod", h.start_period));
  BERTH_TRY(r.i32("Retries", h.retries));
  // dockerd's checks (daemon/container.go translateHealthcheck validation).
  constexpr int64_t kMinHealth = 1000000;  // 1 ms
  if (h.interval != 0 && h.interval < kMinHealth)
    return fail(Errc::InvalidArgument, "{}.Interval in Healthcheck cannot be less than 1ms", path);
  if (h.timeout != 0 && h.timeout < kMinHealth)
    return fail(Errc::InvalidArgument, "{}.Timeout in Healthcheck cannot be less than 1ms", path);
  if (h.start_period != 0 && h.start_period < kMinHealth)
    return fail(Errc::InvalidArgument, "{}.StartPeriod in Healthcheck cannot be less than 1ms", path);
  if (h.retries < 0) return fail(Errc::InvalidArgument, "{}.Retries in Healthcheck cannot be negative", path);
  if (!h.test.empty() && h.test[0] != "NONE" && h.test[0] != "CMD" && h.test[0] != "CMD-SHELL")
    return fail(Errc::InvalidArgument, "{}.Test: unknown health check type \"{}\" (want NONE, CMD or CMD-SHELL)",
                path, h.test[0]);
  return h;
}

Result<std::string> normalize_port(std::string_view p, const std::string& field) {
  std::string_view port = p, proto = "tcp";
  if (auto slash = p.find('/'); slash != std::string_view::npos) {
    port = p.substr(0, slash);
    proto = p.substr(slash + 1);
  }
  if (proto != "tcp" && proto != "udp" && proto != "sctp")
    return fail(Errc::InvalidArgument, "{}: invalid proto: {}", field, proto);
  auto check = [&](std::string_view n) -> Status {
    if (!is_digits(n) || n.size() > 5 || std::stoi(std::string(n)) > 65535)
      return fail(Errc::InvalidArgument, "{}: invalid containerPort: {}", field, port);
    return ok();
  };
  if (auto dash = port.find('-'); dash != std::string_view::npos) {
    BERTH_TRY(check(port.substr(0, dash)));
    BERTH_TRY(check(port.substr(dash + 1)));
  } else {
    BERTH_TRY(check(port));
  }
  return fmt::format("{}/{}", port, proto);
}

// Docker's signal spellings: "SIGTERM", "TERM", "15", "SIGRTMIN+3".
bool valid_signal(std::string_view s) {
  if (is_digits(s)) return s.size() <= 2 && std::stoi(std::string(s)) >= 1 && std::stoi(std::string(s)) <= 64;
  std::string u(s);
  for (char& ch : u) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (u.starts_with("SIG")) u = u.substr(3);
  static const std::set<std::string_view> names = {
      "HUP", "INT",  "QUIT", "ILL",  "TRAP", "ABRT", "IOT",    "BUS",    "FPE",  "KILL", "USR1", "SEGV", "USR2",
      "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CLD", "CONT", "STOP",  "TSTP", "TTIN", "TTOU", "URG",  "XCPU",
      "XFSZ", "VTALRM", "PROF", "WINCH", "IO",  "POLL", "PWR",  "SYS",  "UNUSED", "RTMIN", "RTMAX"};
  if (names.count(u)) return true;
  for (std::string_view base : {"RTMIN+", "RTMAX-"}) {
    if (u.starts_with(base)) {
      std::string_view n = std::string_view(u).substr(base.size());
      return is_digits(n) && n.size() <= 2 && std::stoi(std::string(n)) <= 30;
    }
  }
  return false;
}

Result<Config> parse_config_obj(const json& j, const std::string& path) {
  auto r = BERTH_TRY(JsonReader::object(j, path));
  Config c;
  BERTH_TRY(r.str("Hostname", c.hostname));
  BERTH_TRY(r.str("Domainname", c.domainname));
  BERTH_TRY(r.str("User", c.user));
  BERTH_TRY(r.boolean("AttachStdin", c.attach_stdin));
  BERTH_TRY(r.boolean("AttachStdout", c.attach_stdout));
  BERTH_TRY(r.boolean("AttachStderr", c.attach_stderr));
  std::optional<std::set<std::string>> ports;
  BERTH_TRY(r.key_set("ExposedPorts", ports));
  if (ports)
    for (const auto& p : *ports) c.exposed_ports.insert(BERTH_TRY(normalize_port(p, r.field("ExposedPorts"))));
  BERTH_TRY(r.boolean("Tty", c.tty));
  BERTH_TRY(r.boolean("OpenStdin", c.open_stdin));
  BERTH_TRY(r.boolean("StdinOnce", c.stdin_once));
  BERTH_TRY(r.str_list("Env", c.env));
  BERTH_TRY(r.str_slice("Cmd", c.cmd));
  if (const auto* h = r.find("Healthcheck")) c.healthcheck = BERTH_TRY(parse_health(*h, r.field("Healthcheck")));
  BERTH_TRY(r.boolean("ArgsEscaped", c.args_escaped));
  BERTH_TRY(r.str("Image", c.image));
  BERTH_TRY(r.key_set("Volumes", c.volumes));
  BERTH_TRY(r.str("WorkingDir", c.working_dir));
  BERTH_TRY(r.str_slice("Entrypoint", c.entrypoint));
  // `--entrypoint ""` arrives as [""]: an explicit empty entrypoint.
  if (c.entrypoint && c.entrypoint->size() == 1 && (*c.entrypoint)[0].empty()) c.entrypoint->clear();
  BERTH_TRY(r.boolean("NetworkDisabled", c.network_disabled));
  BERTH_TRY(r.str("MacAddress", c.mac_address));
  BERTH_TRY(r.str_list("OnBuild", c.on_build));
  if (auto st = r.str_map("Labels", c.labels); !st) {
    // dockerd's words for this one (its decoder names the request's wrapper struct): the field users set most
    const auto* v = r.find("Labels");
    auto go_type = [](const nlohmann::json& x) -> std::string_view {
      if (x.is_number()) return "number";
      if (x.is_boolean()) return "bool";
      if (x.is_array()) return "array";
      if (x.is_object()) return "object";
      return "string";
    };
    if (v && !v->is_object())
      return fail(Errc::InvalidArgument,
                  "json: cannot unmarshal {} into Go struct field ContainerConfigWrapper.Labels of type map[string]string",
                  go_type(*v));
    if (v)
      for (auto it = v->begin(); it != v->end(); ++it)
        if (!it.value().is_string() && !it.value().is_null())
          return fail(Errc::InvalidArgument,
                      "json: cannot unmarshal {} into Go struct field ContainerConfigWrapper.Labels of type string",
                      go_type(it.value()));
    return tl::unexpected(st.error());
  }
  BERTH_TRY(r.str("StopSignal", c.stop_signal));
  std::optional<int64_t> st;
  BERTH_TRY(r.opt_i64("StopTimeout", st));
  if (st) {
    if (*st < -1 || *st > 1000000) return fail(Errc::InvalidArgument, "{}: invalid value {}", r.field("StopTimeout"), *st);
    c.stop_timeout = static_cast<int>(*st);
  }
  std::optional<std::vector<std::string>> shell;
  BERTH_TRY(r.str_list("Shell", shell));
  if (shell) c.shell = std::move(*shell);

  // Validation (dockerd's verifyContainerSettings and friends).
  if (c.env) {
    for (size_t i = 0; i < c.env->size(); ++i) {
      const auto& e = (*c.env)[i];
      if (e.empty() || e[0] == '=' || has_nul(e))
        return fail(Errc::InvalidArgument, "{}[{}]: invalid environment variable: {}", r.field("Env"), i, e);
    }
  }
  if (!c.working_dir.empty() && c.working_dir[0] != '/')
    return fail(Errc::InvalidArgument,
                "{}: the working directory '{}' is invalid, it needs to be an absolute path", r.field("WorkingDir"),
                c.working_dir);
  if (c.volumes) {
    for (const auto& v : *c.volumes)
      if (v.empty() || v[0] != '/')
        return fail(Errc::InvalidArgument, "{}: invalid mount path: '{}' mount path must be absolute",
                    r.field("Volumes"), v);
  }
  for (std::string_view s : {std::string_view(c.hostname), std::string_view(c.domainname)}) {
    if (s.size() > 255 || has_nul(s) || s.find_first_of(" \t\n/") != std::string_view::npos)
      return fail(Errc::InvalidArgument, "{}: invalid hostname or domain name \"{}\"", path.empty() ? "Hostname" : path, s);
  }
  if (!c.stop_signal.empty() && !valid_signal(c.stop_signal))
    return fail(Errc::InvalidArgument, "{}: Invalid signal: {}", r.field("StopSignal"), c.stop_signal);
  return c;
}

// ---- HostConfig ------------------------------------------------------------------------------------------

Result<MountSpec> parse_mount_spec(const json& j, const std::string& path) {
  auto r = BERTH_TRY(JsonReader::object(j, path));
  MountSpec m;
  BERTH_TRY(r.str("Type", m.type));
  BERTH_TRY(r.str("Source", m.source));
  BERTH_TRY(r.str("Target", m.target));
  BERTH_TRY(r.boolean("ReadOnly", m.read_only));
  BERTH_TRY(r.str("Consistency", m.consistency));
  bool has_bind = false, has_volume = false, has_tmpfs = false;
  if (const auto* b = r.find("BindOptions")) {
    has_bind = true;
    auto br = BERTH_TRY(JsonReader::object(*b, r.field("BindOptions")));
    BERTH_TRY(br.str("Propagation", m.bind_propagation));
    BERTH_TRY(br.boolean("NonRecursive", m.bind_non_recursive));
  }
  if (const auto* v = r.find("VolumeOptions")) {
    has_volume = true;
    auto vr = BERTH_TRY(JsonReader::object(*v, r.field("VolumeOptions")));
    BERTH_TRY(vr.boolean("NoCopy", m.volume_no_copy));
    BERTH_TRY(vr.str_map("Labels", m.volume_labels));
    if (const auto* d = vr.find("DriverConfig")) {
      auto dr = BERTH_TRY(JsonReader::object(*d, vr.field("DriverConfig")));
      BERTH_TRY(dr.str("Name", m.volume_driver));
      BERTH_TRY(dr.str_map("Options", m.volume_driver_options));
    }
  }
  if (const auto* t = r.find("TmpfsOptions")) {
    has_tmpfs = true;
    auto tr = BERTH_TRY(JsonReader::object(*t, r.field("TmpfsOptions")));
    BERTH_TRY(tr.i64("SizeBytes", m.tmpfs_size_bytes));
    BERTH_TRY(tr.u32("Mode", m.tmpfs_mode));
  }
  // dockerd's validateMountConfig wording.
  auto bad = [&](std::string_view what) {
    return fail(Errc::InvalidArgument, "{}: invalid mount config for type \"{}\": {}", path, m.type, what);
  };
  if (m.type == "bind") {
    if (has_volume) return bad("field VolumeOptions must not be specified");
    if (has_tmpfs) return bad("field TmpfsOptions must not be specified");
  } else if (m.type == "volume") {
    if (has_bind) return bad("field BindOptions must not be specified");
    if (has_tmpfs) return bad("field TmpfsOptions must not be specified");
  } else if (m.type == "tmpfs") {
    if (has_bind) return bad("field BindOptions must not be specified");
    if (has_volume) return bad("field VolumeOptions must not be specified");
    if (!m.source.empty()) return bad("field Source must not be specified");
    if (m.tmpfs_size_bytes < 0) return bad(fmt::format("invalid tmpfs size {}", m.tmpfs_size_bytes));
    if (m.tmpfs_mode > 07777) return bad(fmt::format("invalid tmpfs mode {:o}", m.tmpfs_mode));
  } else {
    return bad("mount type unknown");
  }
  return m;
}

Status check_restart_policy(const RestartPolicy& p, const std::string& path) {
  if (p.name.empty()) return ok();
  if (p.name == "always" || p.name == "unless-stopped" || p.name == "no") {
    if (p.maximum_retry_count != 0)
      return fail(Errc::InvalidArgument, "{}: maximum retry count cannot be used with restart policy '{}'", path,
                  p.name);
  } else if (p.name == "on-failure") {
    if (p.maximum_retry_count < 0)
      return fail(Errc::InvalidArgument, "{}: maximum retry count cannot be negative", path);
  } else {
    return fail(Errc::InvalidArgument, "{}: invalid restart policy '{}'", path, p.name);
  }
  return ok();
}

bool valid_cpuset(std::string_view s) {
  if (s.empty()) return true;
  for (auto part : split(s, ',')) {
    auto dash = part.find('-');
    if (dash == std::string_view::npos) {
      if (!is_digits(part) || part.size() > 6) return false;
    } else {
      auto a = part.substr(0, dash), b = part.substr(dash + 1);
      if (!is_digits(a) || !is_digits(b) || a.size() > 6 || b.size() > 6) return false;
      if (std::stol(std::string(a)) > std::stol(std::string(b))) return false;
    }
  }
  return true;
}

const std::vector<std::string_view>& ulimit_names() {
  static const std::vector<std::string_view> names = {"core",   "cpu",    "data",       "fsize", "locks",
                                                      "memlock", "msgqueue", "nice",   "nofile", "nproc",
                                                      "rss",    "rtprio", "rttime",     "sigpending", "stack", "as"};
  return names;
}

Status check_log_config(const LogConfig& lc, const std::string& path) {
  if (!lc.type.empty() && lc.type != "json-file" && lc.type != "none" && lc.type != "local")
    return fail(Errc::InvalidArgument, "{}.Type: logger: no log driver named '{}' is registered", path, lc.type);
  if (lc.type == "none") {
    if (!lc.config.empty())
      return fail(Errc::InvalidArgument, "{}.Config: unknown log opt '{}' for none log driver", path,
                  lc.config.begin()->first);
    return ok();
  }
  for (const auto& [k, v] : lc.config) {
    if (k == "max-size") {
      auto n = parse_size(v);
      if (!n || *n <= 0)
        return fail(Errc::InvalidArgument, "{}.Config: invalid max-size \"{}\"", path, v);
    } else if (k == "max-file") {
      if (!is_digits(v) || v.size() > 9 || std::stol(v) < 1)
        return fail(Errc::InvalidArgument, "{}.Config: max-file cannot be less than 1", path);
    } else if (k == "compress") {
      if (v != "true" && v != "false")
        return fail(Errc::InvalidArgument, "{}.Config: invalid value for compress: {}", path, v);
    } else if (k != "labels" && k != "labels-regex" && k != "env" && k != "env-regex" && k != "tag") {
      return fail(Errc::InvalidArgument, "{}.Config: unknown log opt '{}' for {} log driver", path, k, lc.type);
    }
  }
  return ok();
}

Result<HostConfig> parse_host_config_obj(const json& j, const std::string& path) {
  auto r = BERTH_TRY(JsonReader::object(j, path));
  HostConfig h;
  BERTH_TRY(r.str_list("Binds", h.binds));
  BERTH_TRY(r.str("ContainerIDFile", h.container_id_file));
  if (const auto* lc = r.find("LogConfig")) {
    auto lr = BERTH_TRY(JsonReader::object(*lc, r.field("LogConfig")));
    BERTH_TRY(lr.str("Type", h.log_config.type));
    BERTH_TRY(lr.str_map("Config", h.log_config.config));
  }
  BERTH_TRY(r.str("NetworkMode", h.network_mode));
  if (const auto* pb = r.find("PortBindings")) {
    if (!pb->is_object()) return type_error(r.field("PortBindings"), *pb, "nat.PortMap");
    if (pb->size() > kMaxListEntries) return fail(Errc::InvalidArgument, "{}: too many entries", r.field("PortBindings"));
    for (auto it = pb->begin(); it != pb->end(); ++it) {
      std::string f = fmt::format("{}[{}]", r.field("PortBindings"), it.key());
      std::string key = BERTH_TRY(normalize_port(it.key(), f));
      auto& list = h.port_bindings[key];
      if (it.value().is_null()) continue;
      if (!it.value().is_array()) return type_error(f, it.value(), "[]nat.PortBinding");
      if (it.value().size() > kMaxListEntries) return fail(Errc::InvalidArgument, "{}: too many entries", f);
      for (size_t i = 0; i < it.value().size(); ++i) {
        auto br = BERTH_TRY(JsonReader::object(it.value()[i], fmt::format("{}[{}]", f, i)));
        PortBinding b;
        BERTH_TRY(br.str("HostIp", b.host_ip));
        BERTH_TRY(br.str("HostPort", b.host_port));
        if (!b.host_ip.empty() && !valid_ip(b.host_ip))
          return fail(Errc::InvalidArgument, "{}: invalid host IP \"{}\"", br.path(), b.host_ip);
        list.push_back(std::move(b));
      }
    }
  }
  if (const auto* rp = r.find("RestartPolicy")) {
    auto rr = BERTH_TRY(JsonReader::object(*rp, r.field("RestartPolicy")));
    BERTH_TRY(rr.str("Name", h.restart_policy.name));
    BERTH_TRY(rr.i32("MaximumRetryCount", h.restart_policy.maximum_retry_count));
  }
  BERTH_TRY(r.boolean("AutoRemove", h.auto_remove));
  BERTH_TRY(r.str("VolumeDriver", h.volume_driver));
  BERTH_TRY(r.str_list("VolumesFrom", h.volumes_from));
  if (const auto* cs = r.find("ConsoleSize")) {
    if (!cs->is_array() || cs->size() != 2) return type_error(r.field("ConsoleSize"), *cs, "[2]uint");
    for (size_t i = 0; i < 2; ++i) {
      const auto& e = (*cs)[i];
      if (!e.is_number_unsigned() && !(e.is_number_integer() && e.get<int64_t>() >= 0))
        return type_error(fmt::format("{}[{}]", r.field("ConsoleSize"), i), e, "uint");
      uint64_t v = e.get<uint64_t>();
      if (v > 65535) return fail(Errc::InvalidArgument, "{}[{}]: {} out of range", r.field("ConsoleSize"), i, v);
      h.console_size[i] = static_cast<uint32_t>(v);
    }
  }
  BERTH_TRY(r.str_list("CapAdd", h.cap_add));
  BERTH_TRY(r.str_list("CapDrop", h.cap_drop));
  BERTH_TRY(r.str("CgroupnsMode", h.cgroupns_mode));
  BERTH_TRY(r.str_list("Dns", h.dns));
  BERTH_TRY(r.str_list("DnsOptions", h.dns_options));
  BERTH_TRY(r.str_list("DnsSearch", h.dns_search));
  BERTH_TRY(r.str_list("ExtraHosts", h.extra_hosts));
  BERTH_TRY(r.str_list("GroupAdd", h.group_add));
  BERTH_TRY(r.str("IpcMode", h.ipc_mode));
  BERTH_TRY(r.str("Cgroup", h.cgroup));
  BERTH_TRY(r.str_list("Links", h.links));
  BERTH_TRY(r.i32("OomScoreAdj", h.oom_score_adj));
  BERTH_TRY(r.str("PidMode", h.pid_mode));
  BERTH_TRY(r.boolean("Privileged", h.privileged));
  BERTH_TRY(r.boolean("PublishAllPorts", h.publish_all_ports));
  BERTH_TRY(r.boolean("ReadonlyRootfs", h.readonly_rootfs));
  BERTH_TRY(r.str_list("SecurityOpt", h.security_opt));
  BERTH_TRY(r.str_map("StorageOpt", h.storage_opt));
  BERTH_TRY(r.str_map("Tmpfs", h.tmpfs));
  BERTH_TRY(r.str("UTSMode", h.uts_mode));
  BERTH_TRY(r.str("UsernsMode", h.userns_mode));
  BERTH_TRY(r.i64("ShmSize", h.shm_size));
  BERTH_TRY(r.str_map("Sysctls", h.sysctls));
  BERTH_TRY(r.str("Runtime", h.runtime));
  BERTH_TRY(r.str("Isolation", h.isolation));
  BERTH_TRY(r.i64("CpuShares", h.cpu_shares));
  BERTH_TRY(r.i64("Memory", h.memory));
  BERTH_TRY(r.i64("NanoCpus", h.nano_cpus));
  BERTH_TRY(r.str("CgroupParent", h.cgroup_parent));
  BERTH_TRY(r.u16("BlkioWeight", h.blkio_weight));
  for (const char* key : {"BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
                          "BlkioDeviceWriteIOps"}) {
    if (const auto* v = r.find(key)) {
      if (!v->is_array()) return type_error(r.field(key), *v, "array");
      if (!v->empty())
        return fail(Errc::InvalidArgument, "{}: per-device block I/O limits are not supported", r.field(key));
    }
  }
  BERTH_TRY(r.i64("CpuPeriod", h.cpu_period));
  BERTH_TRY(r.i64("CpuQuota", h.cpu_quota));
  BERTH_TRY(r.i64("CpuRealtimePeriod", h.cpu_realtime_period));
  BERTH_TRY(r.i64("CpuRealtimeRuntime", h.cpu_realtime_runtime));
  BERTH_TRY(r.str("CpusetCpus", h.cpuset_cpus));
  BERTH_TRY(r.str("CpusetMems", h.cpuset_mems));
  if (const auto* d = r.find("Devices")) {
    if (!d->is_array()) return type_error(r.field("Devices"), *d, "[]container.DeviceMapping");
    if (d->size() > kMaxListEntries) return fail(Errc::InvalidArgument, "{}: too many entries", r.field("Devices"));
    for (size_t i = 0; i < d->size(); ++i) {
      auto dr = BERTH_TRY(JsonReader::object((*d)[i], fmt::format("{}[{}]", r.field("Devices"), i)));
      DeviceMapping m;
      m.cgroup_permissions.clear();
      BERTH_TRY(dr.str("PathOnHost", m.path_on_host));
      BERTH_TRY(dr.str("PathInContainer", m.path_in_container));
      BERTH_TRY(dr.str("CgroupPermissions", m.cgroup_permissions));
      if (m.cgroup_permissions.empty()) m.cgroup_permissions = "rwm";
      h.devices.push_back(std::move(m));
    }
  }
  BERTH_TRY(r.str_list("DeviceCgroupRules", h.device_cgroup_rules));
  if (const auto* dr = r.find("DeviceRequests")) {
    if (!dr->is_array()) return type_error(r.field("DeviceRequests"), *dr, "[]container.DeviceRequest");
    if (!dr->empty())
      return fail(Errc::InvalidArgument, "{}: device requests (GPUs) are not supported", r.field("DeviceRequests"));
  }
  BERTH_TRY(r.i64("KernelMemory", h.kernel_memory));
  BERTH_TRY(r.i64("KernelMemoryTCP", h.kernel_memory_tcp));
  BERTH_TRY(r.i64("MemoryReservation", h.memory_reservation));
  BERTH_TRY(r.i64("MemorySwap", h.memory_swap));
  BERTH_TRY(r.opt_i64("MemorySwappiness", h.memory_swappiness));
  BERTH_TRY(r.boolean("OomKillDisable", h.oom_kill_disable));
  BERTH_TRY(r.opt_i64("PidsLimit", h.pids_limit));
  if (const auto* u = r.find("Ulimits")) {
    if (!u->is_array()) return type_error(r.field("Ulimits"), *u, "[]*units.Ulimit");
    if (u->size() > kMaxListEntries) return fail(Errc::InvalidArgument, "{}: too many entries", r.field("Ulimits"));
    for (size_t i = 0; i < u->size(); ++i) {
      auto ur = BERTH_TRY(JsonReader::object((*u)[i], fmt::format("{}[{}]", r.field("Ulimits"), i)));
      Ulimit l;
      BERTH_TRY(ur.str("Name", l.name));
      BERTH_TRY(ur.i64("Soft", l.soft));
      BERTH_TRY(ur.i64("Hard", l.hard));
      h.ulimits.push_back(std::move(l));
    }
  }
  BERTH_TRY(r.i64("CpuCount", h.cpu_count));
  BERTH_TRY(r.i64("CpuPercent", h.cpu_percent));
  BERTH_TRY(r.u64("IOMaximumIOps", h.io_maximum_iops));
  BERTH_TRY(r.u64("IOMaximumBandwidth", h.io_maximum_bandwidth));
  BERTH_TRY(r.str_list("MaskedPaths", h.masked_paths));
  BERTH_TRY(r.str_list("ReadonlyPaths", h.readonly_paths));
  if (const auto* m = r.find("Mounts")) {
    if (!m->is_array()) return type_error(r.field("Mounts"), *m, "[]mount.Mount");
    if (m->size() > kMaxListEntries) return fail(Errc::InvalidArgument, "{}: too many entries", r.field("Mounts"));
    for (size_t i = 0; i < m->size(); ++i)
      h.mounts.push_back(BERTH_TRY(parse_mount_spec((*m)[i], fmt::format("{}[{}]", r.field("Mounts"), i))));
  }
  BERTH_TRY(r.opt_bool("Init", h.init));

  // Daemon-side defaults, as dockerd fills them at create (what inspect then shows).
  if (h.restart_policy.name.empty()) h.restart_policy.name = "no";
  if (h.network_mode.empty()) h.network_mode = "default";
  if (h.log_config.type.empty()) h.log_config.type = "json-file";
  if (h.ipc_mode.empty()) h.ipc_mode = "private";
  if (h.cgroupns_mode.empty()) h.cgroupns_mode = "private";
  if (h.shm_size == 0) h.shm_size = kDefaultShmSize;
  if (h.runtime.empty() || h.runtime == "runc") h.runtime = "berth";
  if (h.memory > 0 && h.memory_swap == 0 && h.memory <= std::numeric_limits<int64_t>::max() / 2)
    h.memory_swap = 2 * h.memory;
  if (h.memory_swappiness && *h.memory_swappiness == -1) h.memory_swappiness.reset();
  if (h.pids_limit && *h.pids_limit <= 0) h.pids_limit.reset();
  if (!h.privileged) {
    if (!h.masked_paths) h.masked_paths = default_masked_paths();
    if (!h.readonly_paths) h.readonly_paths = default_readonly_paths();
  }
  return h;
}

// ---- NetworkingConfig ------------------------------------------------------------------------------------

Result<NetworkingConfig> parse_networking(const json& j, const std::string& path) {
  auto r = BERTH_TRY(JsonReader::object(j, path));
  NetworkingConfig n;
  const auto* eps = r.find("EndpointsConfig");
  if (!eps) return n;
  if (!eps->is_object()) return type_error(r.field("EndpointsConfig"), *eps, "map[string]*network.EndpointSettings");
  if (eps->size() > 64) return fail(Errc::InvalidArgument, "{}: too many networks", r.field("EndpointsConfig"));
  for (auto it = eps->begin(); it != eps->end(); ++it) {
    auto er = BERTH_TRY(JsonReader::object(it.value(), fmt::format("{}[{}]", r.field("EndpointsConfig"), it.key())));
    EndpointSettings e;
    BERTH_TRY(er.str_list("Aliases", e.aliases));
    BERTH_TRY(er.str_list("Links", e.links));
    BERTH_TRY(er.str("MacAddress", e.mac_address));
    BERTH_TRY(er.str_map("DriverOpts", e.driver_opts));
    if (const auto* ipam = er.find("IPAMConfig")) {
      auto ir = BERTH_TRY(JsonReader::object(*ipam, er.field("IPAMConfig")));
      BERTH_TRY(ir.str("IPv4Address", e.ipv4_address));
      BERTH_TRY(ir.str("IPv6Address", e.ipv6_address));
      if (!e.ipv4_address.empty() && !valid_ip(e.ipv4_address))
        return fail(Errc::InvalidArgument, "{}.IPv4Address: invalid IPv4 address: {}", ir.path(), e.ipv4_address);
      if (!e.ipv6_address.empty() && !valid_ip(e.ipv6_address))
        return fail(Errc::InvalidArgument, "{}.IPv6Address: invalid IPv6 address: {}", ir.path(), e.ipv6_address);
    }
    n.endpoints[it.key()] = std::move(e);
  }
  return n;
}

// ---- serialisation helpers -------------------------------------------------------------------------------

json opt_list(const std::optional<std::vector<std::string>>& v) { return v ? json(*v) : json(nullptr); }

json health_json(const HealthConfig& h) {
  json j = json::object();
  if (!h.test.empty()) j["Test"] = h.test;
  if (h.interval) j["Interval"] = h.interval;
  if (h.timeout) j["Timeout"] = h.timeout;
  if (h.start_period) j["StartPeriod"] = h.start_period;
  if (h.retries) j["Retries"] = h.retries;
  return j;
}

json mount_spec_json(const MountSpec& m) {
  json j = {{"Type", m.type}, {"Target", m.target}};
  if (!m.source.empty()) j["Source"] = m.source;
  if (m.read_only) j["ReadOnly"] = true;
  if (!m.consistency.empty()) j["Consistency"] = m.consistency;
  if (m.type == "bind" && (!m.bind_propagation.empty() || m.bind_non_recursive)) {
    json b = json::object();
    if (!m.bind_propagation.empty()) b["Propagation"] = m.bind_propagation;
    if (m.bind_non_recursive) b["NonRecursive"] = true;
    j["BindOptions"] = b;
  }
  if (m.type == "volume" && (m.volume_no_copy || !m.volume_labels.empty() || !m.volume_driver.empty() ||
                             !m.volume_driver_options.empty())) {
    json v = json::object();
    if (m.volume_no_copy) v["NoCopy"] = true;
    if (!m.volume_labels.empty()) v["Labels"] = m.volume_labels;
    if (!m.volume_driver.empty() || !m.volume_driver_options.empty()) {
      json d = json::object();
      if (!m.volume_driver.empty()) d["Name"] = m.volume_driver;
      if (!m.volume_driver_options.empty()) d["Options"] = m.volume_driver_options;
      v["DriverConfig"] = d;
    }
    j["VolumeOptions"] = v;
  }
  if (m.type == "tmpfs" && (m.tmpfs_size_bytes || m.tmpfs_mode)) {
    json t = json::object();
    if (m.tmpfs_size_bytes) t["SizeBytes"] = m.tmpfs_size_bytes;
    if (m.tmpfs_mode) t["Mode"] = m.tmpfs_mode;
    j["TmpfsOptions"] = t;
  }
  return j;
}

// ---- mounts ----------------------------------------------------------------------------------------------

bool valid_volume_name(std::string_view n) {
  if (n.size() < 2 || n.size() > 255) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(n[0])) return false;
  return std::all_of(n.begin() + 1, n.end(), [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

Status check_destination(std::string_view dst, std::string_view spec_text) {
  if (dst.empty() || dst[0] != '/')
    return fail(Errc::InvalidArgument, "invalid volume specification: '{}': invalid mount path: '{}' mount path must be absolute",
                spec_text, dst);
  if (has_nul(dst)) return fail(Errc::InvalidArgument, "invalid volume specification: '{}'", spec_text);
  if (sys::clean_path(dst) == "/")
    return fail(Errc::InvalidArgument, "invalid specification: destination can't be '/'");
  return ok();
}

bool is_propagation(std::string_view s) {
  return s == "private" || s == "rprivate" || s == "shared" || s == "rshared" || s == "slave" || s == "rslave";
}

// Merges tmpfs options: later flags override their opposites, later key=value override earlier keys.
std::vector<std::string> merge_tmpfs_options(const std::vector<std::string>& opts) {
  static const std::vector<std::pair<std::string_view, std::string_view>> opposites = {
      {"exec", "noexec"}, {"suid", "nosuid"}, {"dev", "nodev"}, {"rw", "ro"},
      {"atime", "noatime"}, {"diratime", "nodiratime"}, {"strictatime", "nostrictatime"}};
  std::vector<std::string> out;
  for (const auto& o : opts) {
    auto eq = o.find('=');
    std::string_view key = eq == std::string::npos ? std::string_view(o) : std::string_view(o).substr(0, eq);
    std::erase_if(out, [&](const std::string& e) {
      auto e_eq = e.find('=');
      std::string_view ek = e_eq == std::string::npos ? std::string_view(e) : std::string_view(e).substr(0, e_eq);
      if (ek == key) return true;
      for (auto [a, b] : opposites)
        if ((ek == a && key == b) || (ek == b && key == a)) return true;
      return false;
    });
    out.push_back(o);
  }
  return out;
}

}  // namespace

// ---- public API ------------------------------------------------------------------------------------------

Result<int64_t> parse_size(std::string_view s) {
  std::string_view t = s;
  size_t i = 0;
  while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  std::string_view num = t.substr(0, i);
  std::string_view unit = t.substr(i);
  if (!unit.empty() && unit[0] == ' ') unit.remove_prefix(1);
  if (num.empty() || num.front() == '.' || num.back() == '.' || std::count(num.begin(), num.end(), '.') > 1)
    return fail(Errc::InvalidArgument, "invalid size: '{}'", s);
  double v = std::strtod(std::string(num).c_str(), nullptr);
  double mult = 1;
  if (!unit.empty()) {
    char u = static_cast<char>(std::tolower(static_cast<unsigned char>(unit[0])));
    size_t consumed = 1;
    switch (u) {
      case 'k': mult = 1024.0; break;
      case 'm': mult = 1024.0 * 1024; break;
      case 'g': mult = 1024.0 * 1024 * 1024; break;
      case 't': mult = 1024.0 * 1024 * 1024 * 1024; break;
      case 'p': mult = 1024.0 * 1024 * 1024 * 1024 * 1024; break;
      case 'b': consumed = 0; break;
      default: return fail(Errc::InvalidArgument, "invalid size: '{}'", s);
    }
    std::string_view rest = unit.substr(consumed);
    if (!rest.empty() && (rest[0] == 'i' || rest[0] == 'I') && consumed) rest.remove_prefix(1);
    if (!rest.empty() && (rest[0] == 'b' || rest[0] == 'B')) rest.remove_prefix(1);
    if (!rest.empty()) return fail(Errc::InvalidArgument, "invalid size: '{}'", s);
  }
  double bytes = v * mult;
  if (!std::isfinite(bytes) || bytes >= 9.2e18) return fail(Errc::InvalidArgument, "invalid size: '{}'", s);
  return static_cast<int64_t>(bytes);
}

Result<MountRequest> parse_bind(std::string_view raw) {
  if (raw.empty() || has_nul(raw)) return fail(Errc::InvalidArgument, "invalid volume specification: '{}'", raw);
  auto parts = split(raw, ':');
  MountRequest m;
  std::string_view src, dst, mode;
  auto valid_mode = [](std::string_view md) {
    if (md.empty()) return false;
    int rwro = 0, prop = 0, label = 0, copy = 0, cons = 0;
    for (auto o : split(md, ',')) {
      if (o == "rw" || o == "ro") ++rwro;
      else if (is_propagation(o)) ++prop;
      else if (o == "z" || o == "Z") ++label;
      else if (o == "nocopy") ++copy;
      else if (o == "consistent" || o == "cached" || o == "delegated") ++cons;
      else return false;
    }
    return rwro <= 1 && prop <= 1 && label <= 1 && copy <= 1 && cons <= 1;
  };
  switch (parts.size()) {
    case 1: dst = parts[0]; break;
    case 2:
      if (valid_mode(parts[1])) return fail(Errc::InvalidArgument, "invalid volume specification: '{}'", raw);
      src = parts[0];
      dst = parts[1];
      break;
    case 3:
      src = parts[0];
      dst = parts[1];
      mode = parts[2];
      if (!valid_mode(mode)) return fail(Errc::InvalidArgument, "invalid mode: {}", mode);
      break;
    default: return fail(Errc::InvalidArgument, "invalid volume specification: '{}'", raw);
  }
  BERTH_TRY(check_destination(dst, raw));
  m.destination = sys::clean_path(dst);
  m.mode = std::string(mode);
  for (auto o : split(mode, ',')) {
    if (o == "ro") m.read_only = true;
    if (is_propagation(o)) m.propagation = std::string(o);
    if (o == "nocopy") m.no_copy = true;
  }
  if (src.empty()) {
    if (parts.size() > 1) return fail(Errc::InvalidArgument, "invalid volume specification: '{}'", raw);
    m.kind = MountKind::Volume;  // anonymous
  } else if (src[0] == '/') {
    m.kind = MountKind::Bind;
    m.source = sys::clean_path(src);
    m.create_host_path = true;
    if (m.propagation.empty()) m.propagation = "rprivate";
    if (m.no_copy) return fail(Errc::InvalidArgument, "invalid mode: {}", mode);
  } else {
    if (!valid_volume_name(src))
      return fail(Errc::InvalidArgument,
                  "\"{}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are "
                  "allowed. If you intended to pass a host directory, use absolute path",
                  src);
    m.kind = MountKind::Volume;
    m.source = std::string(src);
    m.propagation.clear();
  }
  // dockerd reports Mode "z" for a -v volume given without options.
  if (m.kind == MountKind::Volume && m.mode.empty()) m.mode = "z";
  return m;
}

Result<MountRequest> parse_tmpfs(std::string_view destination, std::string_view options) {
  BERTH_TRY(check_destination(destination, destination));
  MountRequest m;
  m.kind = MountKind::Tmpfs;
  m.destination = sys::clean_path(destination);
  std::vector<std::string> opts = {"noexec", "nosuid", "nodev"};
  if (!options.empty()) {
    for (auto o : split(options, ',')) {
      if (o.empty()) continue;
      if (has_nul(o)) return fail(Errc::InvalidArgument, "invalid tmpfs option \"{}\"", o);
      if (o.starts_with("size=")) {
        auto sz = parse_size(o.substr(5));
        // A bare number or a percentage goes to the kernel as given.
        if (!sz && !(o.size() > 5 && o.back() == '%'))
          return fail(Errc::InvalidArgument, "invalid tmpfs option \"{}\": {}", o, sz.error().message());
        if (sz) {
          opts.push_back(fmt::format("size={}k", (*sz + 1023) / 1024));
          continue;
        }
      } else if (o.starts_with("mode=")) {
        auto v = o.substr(5);
        if (v.empty() || v.size() > 4 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '7'; }))
          return fail(Errc::InvalidArgument, "invalid tmpfs option \"{}\": mode must be octal", o);
      } else if (o == "ro") {
        m.read_only = true;
      } else if (o == "rw") {
        m.read_only = false;
      }
      opts.emplace_back(o);
    }
  }
  m.tmpfs_options = merge_tmpfs_options(opts);
  m.mode = std::string(options);
  return m;
}

Result<std::vector<MountRequest>> mount_requests(const Config& config, const HostConfig& host) {
  std::vector<MountRequest> out;
  std::set<std::string> seen;
  auto add = [&](MountRequest m) -> Status {
    if (!seen.insert(m.destination).second)
      return fail(Errc::InvalidArgument, "Duplicate mount point: {}", m.destination);
    out.push_back(std::move(m));
    return ok();
  };
  if (host.binds) {
    for (size_t i = 0; i < host.binds->size(); ++i) {
      auto m = parse_bind((*host.binds)[i]);
      if (!m) return tl::unexpected(std::move(m).error().wrap(fmt::format("HostConfig.Binds[{}]", i)));
      BERTH_TRY_CTX(add(std::move(*m)), "HostConfig.Binds[{}]", i);
    }
  }
  for (size_t i = 0; i < host.mounts.size(); ++i) {
    const MountSpec& s = host.mounts[i];
    std::string field = fmt::format("HostConfig.Mounts[{}]", i);
    auto bad = [&](std::string_view what) {
      return fail(Errc::InvalidArgument, "{}: invalid mount config for type \"{}\": {}", field, s.type, what);
    };
    if (s.target.empty()) return bad("field Target must not be empty");
    if (s.target[0] != '/' || has_nul(s.target))
      return bad(fmt::format("invalid mount path: '{}' mount path must be absolute", s.target));
    if (sys::clean_path(s.target) == "/") return bad("invalid specification: destination can't be '/'");
    MountRequest m;
    m.destination = sys::clean_path(s.target);
    m.read_only = s.read_only;
    if (s.type == "bind") {
      if (s.source.empty()) return bad("field Source must not be empty");
      if (s.source[0] != '/' || has_nul(s.source))
        return bad(fmt::format("invalid mount path: '{}' mount path must be absolute", s.source));
      if (!s.bind_propagation.empty() && !is_propagation(s.bind_propagation))
        return bad(fmt::format("invalid propagation mode: {}", s.bind_propagation));
      m.kind = MountKind::Bind;
      m.source = sys::clean_path(s.source);
      m.propagation = s.bind_propagation.empty() ? "rprivate" : s.bind_propagation;
      m.non_recursive = s.bind_non_recursive;
    } else if (s.type == "volume") {
      if (!s.source.empty() && !valid_volume_name(s.source))
        return bad(fmt::format("invalid volume name \"{}\"", s.source));
      if (!s.volume_driver.empty() && s.volume_driver != "local")
        return bad(fmt::format("volume driver \"{}\" is not supported (only local)", s.volume_driver));
      m.kind = MountKind::Volume;
      m.source = s.source;
      m.no_copy = s.volume_no_copy;
      m.volume_driver = s.volume_driver;
      m.volume_labels = s.volume_labels;
      m.volume_driver_options = s.volume_driver_options;
    } else if (s.type == "tmpfs") {
      if (!s.source.empty()) return bad("field Source must not be specified");
      m.kind = MountKind::Tmpfs;
      m.tmpfs_options = {"noexec", "nosuid", "nodev"};
      if (s.tmpfs_size_bytes > 0) m.tmpfs_options.push_back(fmt::format("size={}k", (s.tmpfs_size_bytes + 1023) / 1024));
      if (s.tmpfs_mode) m.tmpfs_options.push_back(fmt::format("mode={:o}", s.tmpfs_mode));
      if (s.read_only) m.tmpfs_options.push_back("ro");
    } else {
      return bad("mount type unknown");
    }
    BERTH_TRY_CTX(add(std::move(m)), "{}", field);
  }
  for (const auto& [dst, opts] : host.tmpfs) {
    auto m = parse_tmpfs(dst, opts);
    if (!m) return tl::unexpected(std::move(m).error().wrap(fmt::format("HostConfig.Tmpfs[{}]", dst)));
    BERTH_TRY_CTX(add(std::move(*m)), "HostConfig.Tmpfs[{}]", dst);
  }
  if (config.volumes) {
    for (const auto& v : *config.volumes) {
      BERTH_TRY_CTX(check_destination(v, v), "Config.Volumes");
      std::string dst = sys::clean_path(v);
      if (seen.count(dst)) continue;  // an explicit mount covers it
      MountRequest m;
      m.kind = MountKind::Volume;
      m.destination = dst;
      m.from_config_volumes = true;
      seen.insert(dst);
      out.push_back(std::move(m));
    }
  }
  return out;
}

json inspect_mount_json(const MountRequest& m, const std::string& host_path, const std::string& volume_name) {
  json j = json::object();
  j["Type"] = std::string(mount_kind_name(m.kind));
  if (m.kind == MountKind::Volume) j["Name"] = volume_name;
  j["Source"] = m.kind == MountKind::Tmpfs ? std::string() : host_path;
  j["Destination"] = m.destination;
  if (m.kind == MountKind::Volume) j["Driver"] = m.volume_driver.empty() ? "local" : m.volume_driver;
  j["Mode"] = m.mode;
  j["RW"] = !m.read_only;
  j["Propagation"] = m.kind == MountKind::Bind ? m.propagation : std::string();
  return j;
}

std::string_view mount_kind_name(MountKind k) {
  switch (k) {
    case MountKind::Bind: return "bind";
    case MountKind::Volume: return "volume";
    case MountKind::Tmpfs: return "tmpfs";
  }
  return "bind";
}

Status validate_host_config(const HostConfig& h) {
  if (h.memory < 0) return fail(Errc::InvalidArgument, "HostConfig.Memory: invalid value {}: must be >= 0", h.memory);
  if (h.memory > 0 && h.memory < kMinMemory)
    return fail(Errc::InvalidArgument, "HostConfig.Memory: Minimum memory limit allowed is 6MB");
  if (h.memory_swap < -1)
    return fail(Errc::InvalidArgument, "HostConfig.MemorySwap: invalid value {}: must be >= -1", h.memory_swap);
  if (h.memory_swap > 0 && h.memory == 0)
    return fail(Errc::InvalidArgument,
                "HostConfig.MemorySwap: You should always set the Memory limit when using Memoryswap limit, see usage");
  if (h.memory > 0 && h.memory_swap > 0 && h.memory_swap < h.memory)
    return fail(Errc::InvalidArgument,
                "HostConfig.MemorySwap: Minimum memoryswap limit should be larger than memory limit, see usage");
  if (h.memory_reservation < 0)
    return fail(Errc::InvalidArgument, "HostConfig.MemoryReservation: invalid value {}: must be >= 0",
                h.memory_reservation);
  if (h.memory_reservation > 0 && h.memory_reservation < kMinMemory)
    return fail(Errc::InvalidArgument, "HostConfig.MemoryReservation: Minimum memory reservation allowed is 6MB");
  if (h.memory > 0 && h.memory_reservation > h.memory)
    return fail(Errc::InvalidArgument,
                "HostConfig.MemoryReservation: Minimum memory limit can not be less than memory reservation limit, "
                "see usage");
  if (h.kernel_memory != 0 || h.kernel_memory_tcp != 0)
    return fail(Errc::InvalidArgument, "HostConfig.KernelMemory: kernel memory limits are not supported");
  if (h.memory_swappiness && (*h.memory_swappiness < 0 || *h.memory_swappiness > 100))
    return fail(Errc::InvalidArgument,
                "HostConfig.MemorySwappiness: Invalid value: {}, valid memory swappiness range is 0-100",
                *h.memory_swappiness);
  if (h.cpu_shares < 0) return fail(Errc::InvalidArgument, "HostConfig.CpuShares: invalid value {}: must be >= 0", h.cpu_shares);
  if (h.nano_cpus < 0) return fail(Errc::InvalidArgument, "HostConfig.NanoCpus: invalid value {}: must be >= 0", h.nano_cpus);
  if (h.nano_cpus > 0) {
    if (h.cpu_period > 0)
      return fail(Errc::InvalidArgument, "HostConfig.NanoCpus: Conflicting options: Nano CPUs and CPU Period cannot both be set");
    if (h.cpu_quota > 0)
      return fail(Errc::InvalidArgument, "HostConfig.NanoCpus: Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    int64_t ncpu = std::max(1u, std::thread::hardware_concurrency());
    if (h.nano_cpus < 10000000 || h.nano_cpus > ncpu * 1000000000)
      return fail(Errc::InvalidArgument,
                  "HostConfig.NanoCpus: Range of CPUs is from 0.01 to {}.00, as there are only {} CPUs available", ncpu,
                  ncpu);
  }
  if (h.cpu_period != 0 && (h.cpu_period < 1000 || h.cpu_period > 1000000))
    return fail(Errc::InvalidArgument,
                "HostConfig.CpuPeriod: CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  if (h.cpu_quota > 0 && h.cpu_quota < 1000)
    return fail(Errc::InvalidArgument, "HostConfig.CpuQuota: CPU cfs quota can not be less than 1ms (i.e. 1000)");
  if (h.cpu_quota < -1) return fail(Errc::InvalidArgument, "HostConfig.CpuQuota: invalid value {}", h.cpu_quota);
  if (h.cpu_realtime_period != 0 || h.cpu_realtime_runtime != 0)
    return fail(Errc::InvalidArgument, "HostConfig.CpuRealtimePeriod: realtime scheduling limits are not supported");
  if (h.cpu_count != 0 || h.cpu_percent != 0 || h.io_maximum_iops != 0 || h.io_maximum_bandwidth != 0)
    return fail(Errc::InvalidArgument, "HostConfig.CpuCount: CpuCount, CpuPercent and IOMaximum* are Windows-only");
  if (!valid_cpuset(h.cpuset_cpus))
    return fail(Errc::InvalidArgument, "HostConfig.CpusetCpus: Invalid value {} for cpuset cpus", h.cpuset_cpus);
  if (!valid_cpuset(h.cpuset_mems))
    return fail(Errc::InvalidArgument, "HostConfig.CpusetMems: Invalid value {} for cpuset mems", h.cpuset_mems);
  if (h.blkio_weight > 0 && (h.blkio_weight < 10 || h.blkio_weight > 1000))
    return fail(Errc::InvalidArgument, "HostConfig.BlkioWeight: Range of blkio weight is from 10 to 1000");
  if (h.oom_score_adj < -1000 || h.oom_score_adj > 1000)
    return fail(Errc::InvalidArgument, "HostConfig.OomScoreAdj: Invalid value {}, range for oom score adj is [-1000, 1000]",
                h.oom_score_adj);
  if (h.shm_size < 0) return fail(Errc::InvalidArgument, "HostConfig.ShmSize: SHM size can not be less than 0");
  BERTH_TRY(check_restart_policy(h.restart_policy, "HostConfig.RestartPolicy"));
  if (h.auto_remove && !h.restart_policy.name.empty() && h.restart_policy.name != "no")
    return fail(Errc::InvalidArgument, "HostConfig.AutoRemove: can't create 'AutoRemove' container with restart policy");
  BERTH_TRY(check_log_config(h.log_config, "HostConfig.LogConfig"));

  // Namespace modes.
  const std::string& nm = h.network_mode;
  if (nm.starts_with("container:") && nm.size() == 10)
    return fail(Errc::InvalidArgument, "HostConfig.NetworkMode: invalid container format container:<name|id>");
  if (has_nul(nm)) return fail(Errc::InvalidArgument, "HostConfig.NetworkMode: invalid network mode");
  if ((nm == "host" || nm.starts_with("container:")) && !h.port_bindings.empty() &&
      std::any_of(h.port_bindings.begin(), h.port_bindings.end(), [](const auto& p) { return !p.second.empty(); }))
    return fail(Errc::InvalidArgument, "HostConfig.PortBindings: conflicting options: port publishing and the container type network mode");
  if (!h.pid_mode.empty() && h.pid_mode != "host")
    return fail(Errc::InvalidArgument, "HostConfig.PidMode: invalid --pid: {} (only \"host\" is supported)", h.pid_mode);
  if (!h.ipc_mode.empty() && h.ipc_mode != "private" && h.ipc_mode != "shareable" && h.ipc_mode != "host" && h.ipc_mode != "none")
    return fail(Errc::InvalidArgument, "HostConfig.IpcMode: invalid IPC mode: {}", h.ipc_mode);
  if (!h.uts_mode.empty() && h.uts_mode != "host")
    return fail(Errc::InvalidArgument, "HostConfig.UTSMode: invalid UTS mode: {}", h.uts_mode);
  if (!h.userns_mode.empty() && h.userns_mode != "host")
    return fail(Errc::InvalidArgument, "HostConfig.UsernsMode: invalid USER mode: {} (user namespaces are not supported)",
                h.userns_mode);
  if (!h.cgroupns_mode.empty() && h.cgroupns_mode != "private" && h.cgroupns_mode != "host")
    return fail(Errc::InvalidArgument, "HostConfig.CgroupnsMode: invalid cgroup namespace mode: {}", h.cgroupns_mode);
  if (!h.isolation.empty() && h.isolation != "default")
    return fail(Errc::InvalidArgument, "HostConfig.Isolation: invalid isolation: {} on linux", h.isolation);
  if (!h.runtime.empty() && h.runtime != "berth" && h.runtime != "runc")
    return fail(Errc::InvalidArgument, "HostConfig.Runtime: unknown or invalid runtime name: {}", h.runtime);
  if (!h.volume_driver.empty() && h.volume_driver != "local")
    return fail(Errc::InvalidArgument, "HostConfig.VolumeDriver: volume driver \"{}\" is not supported", h.volume_driver);

  BERTH_TRY(effective_capabilities(h));

  for (size_t i = 0; i < h.ulimits.size(); ++i) {
    const Ulimit& u = h.ulimits[i];
    auto names = ulimit_names();
    if (std::find(names.begin(), names.end(), u.name) == names.end())
      return fail(Errc::InvalidArgument, "HostConfig.Ulimits[{}]: invalid ulimit type: {}", i, u.name);
    // -1 means unlimited (RLIM_INFINITY); other negative values are errors.
    if (u.soft < -1 || u.hard < -1)
      return fail(Errc::InvalidArgument, "HostConfig.Ulimits[{}]: ulimit {} must not be negative", i, u.name);
    auto inf = [](int64_t v) { return v == -1 ? std::numeric_limits<uint64_t>::max() : static_cast<uint64_t>(v); };
    if (inf(u.soft) > inf(u.hard))
      return fail(Errc::InvalidArgument,
                  "HostConfig.Ulimits[{}]: ulimit soft limit must be less than or equal to hard limit: {} > {}", i,
                  u.soft, u.hard);
  }
  for (size_t i = 0; i < h.devices.size(); ++i) {
    const auto& d = h.devices[i];
    if (d.path_on_host.empty() || d.path_on_host[0] != '/' || has_nul(d.path_on_host))
      return fail(Errc::InvalidArgument, "HostConfig.Devices[{}]: invalid device path on host: \"{}\"", i, d.path_on_host);
    if (!d.path_in_container.empty() && (d.path_in_container[0] != '/' || has_nul(d.path_in_container)))
      return fail(Errc::InvalidArgument, "HostConfig.Devices[{}]: {} is not an absolute path", i, d.path_in_container);
    if (d.cgroup_permissions.find_first_not_of("rwm") != std::string::npos || d.cgroup_permissions.size() > 3)
      return fail(Errc::InvalidArgument, "HostConfig.Devices[{}]: invalid device mode: {}", i, d.cgroup_permissions);
  }
  if (h.device_cgroup_rules) {
    for (size_t i = 0; i < h.device_cgroup_rules->size(); ++i) {
      // "c 1:3 rwm", "a *:* m"
      auto parts = split((*h.device_cgroup_rules)[i], ' ');
      bool okr = parts.size() == 3 && (parts[0] == "a" || parts[0] == "b" || parts[0] == "c") &&
                 !parts[2].empty() && parts[2].find_first_not_of("rwm") == std::string_view::npos;
      if (okr) {
        auto mm = split(parts[1], ':');
        okr = mm.size() == 2 && (mm[0] == "*" || (is_digits(mm[0]) && mm[0].size() < 10)) &&
              (mm[1] == "*" || (is_digits(mm[1]) && mm[1].size() < 10));
      }
      if (!okr)
        return fail(Errc::InvalidArgument, "HostConfig.DeviceCgroupRules[{}]: invalid device cgroup rule format: '{}'",
                    i, (*h.device_cgroup_rules)[i]);
    }
  }
  if (h.extra_hosts) {
    for (size_t i = 0; i < h.extra_hosts->size(); ++i) {
      const auto& e = (*h.extra_hosts)[i];
      auto colon = e.find(':');
      if (colon == std::string::npos || colon == 0)
        return fail(Errc::InvalidArgument, "HostConfig.ExtraHosts[{}]: bad format for add-host: \"{}\"", i, e);
      std::string ip = e.substr(colon + 1);
      if (ip == "host-gateway")
        return fail(Errc::InvalidArgument,
                    "HostConfig.ExtraHosts[{}]: host-gateway needs bridge networking, which is not available yet", i);
      if (!valid_ip(ip))
        return fail(Errc::InvalidArgument, "HostConfig.ExtraHosts[{}]: invalid IP address in add-host: \"{}\"", i, ip);
      if (e.substr(0, colon).find_first_of(" \t\n") != std::string::npos)
        return fail(Errc::InvalidArgument, "HostConfig.ExtraHosts[{}]: bad format for add-host: \"{}\"", i, e);
    }
  }
  for (size_t i = 0; i < h.dns.size(); ++i)
    if (!valid_ip(h.dns[i]))
      return fail(Errc::InvalidArgument, "HostConfig.Dns[{}]: {} is not an ip address", i, h.dns[i]);
  for (const auto* list : {&h.dns_search, &h.dns_options})
    for (const auto& s : *list)
      if (s.empty() || s.find_first_of(" \t\n") != std::string::npos || has_nul(s))
        return fail(Errc::InvalidArgument, "HostConfig.{}: invalid entry \"{}\"",
                    list == &h.dns_search ? "DnsSearch" : "DnsOptions", s);
  if (h.group_add) {
    for (const auto& g : *h.group_add)
      if (g.empty() || g.find_first_of(":\n") != std::string::npos || has_nul(g))
        return fail(Errc::InvalidArgument, "HostConfig.GroupAdd: invalid group \"{}\"", g);
  }
  for (const auto* list : {&h.masked_paths, &h.readonly_paths}) {
    if (!*list) continue;
    for (const auto& p : **list)
      if (p.empty() || p[0] != '/' || has_nul(p))
        return fail(Errc::InvalidArgument, "HostConfig.{}: {} is not an absolute path",
                    list == &h.masked_paths ? "MaskedPaths" : "ReadonlyPaths", p);
  }
  BERTH_TRY(check_sysctls(h.sysctls, h.network_mode == "host" || h.network_mode.starts_with("container:"),
                          h.ipc_mode == "host"));
  BERTH_TRY(check_security_opts(h));
  if (h.volumes_from && !h.volumes_from->empty())
    return fail(Errc::InvalidArgument, "HostConfig.VolumesFrom: --volumes-from is not supported");
  if (h.links && !h.links->empty())
    return fail(Errc::InvalidArgument, "HostConfig.Links: legacy links are not supported");
  return ok();
}

Result<CreateRequest> parse_create_request(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(Errc::InvalidArgument, "invalid JSON in request body");
  if (!j.is_object()) return type_error("body", j, "container.Config");
  CreateRequest req;
  req.config = BERTH_TRY(parse_config_obj(j, ""));
  if (const auto* hc = JsonReader(j, "").find("HostConfig")) {
    req.host = BERTH_TRY(parse_host_config_obj(*hc, "HostConfig"));
  } else {
    req.host = BERTH_TRY(parse_host_config_obj(json(nullptr), "HostConfig"));
  }
  if (const auto* nc = JsonReader(j, "").find("NetworkingConfig"))
    req.net = BERTH_TRY(parse_networking(*nc, "NetworkingConfig"));
  BERTH_TRY(validate_host_config(req.host));
  BERTH_TRY(mount_requests(req.config, req.host));
  return req;
}

Result<Config> parse_config(const json& j) { return parse_config_obj(j, "Config"); }

Result<HostConfig> parse_host_config(const json& j) {
  auto h = BERTH_TRY(parse_host_config_obj(j, "HostConfig"));
  return h;
}

json to_json(const Config& c) {
  json j = json::object();
  j["Hostname"] = c.hostname;
  j["Domainname"] = c.domainname;
  j["User"] = c.user;
  j["AttachStdin"] = c.attach_stdin;
  j["AttachStdout"] = c.attach_stdout;
  j["AttachStderr"] = c.attach_stderr;
  if (!c.exposed_ports.empty()) {
    json p = json::object();
    for (const auto& e : c.exposed_ports) p[e] = json::object();
    j["ExposedPorts"] = p;
  }
  j["Tty"] = c.tty;
  j["OpenStdin"] = c.open_stdin;
  j["StdinOnce"] = c.stdin_once;
  j["Env"] = opt_list(c.env);
  j["Cmd"] = opt_list(c.cmd);
  if (c.healthcheck) j["Healthcheck"] = health_json(*c.healthcheck);
  if (c.args_escaped) j["ArgsEscaped"] = true;
  j["Image"] = c.image;
  if (c.volumes && !c.volumes->empty()) {
    json v = json::object();
    for (const auto& e : *c.volumes) v[e] = json::object();
    j["Volumes"] = v;
  } else {
    j["Volumes"] = nullptr;
  }
  j["WorkingDir"] = c.working_dir;
  // An explicit empty entrypoint (--entrypoint "") prints as [""], as dockerd does, so it survives a reload.
  if (!c.entrypoint) {
    j["Entrypoint"] = nullptr;
  } else if (c.entrypoint->empty()) {
    j["Entrypoint"] = json::array({""});
  } else {
    j["Entrypoint"] = *c.entrypoint;
  }
  if (c.network_disabled) j["NetworkDisabled"] = true;
  if (!c.mac_address.empty()) j["MacAddress"] = c.mac_address;
  j["OnBuild"] = opt_list(c.on_build);
  j["Labels"] = c.labels;
  if (!c.stop_signal.empty()) j["StopSignal"] = c.stop_signal;
  if (c.stop_timeout) j["StopTimeout"] = *c.stop_timeout;
  if (!c.shell.empty()) j["Shell"] = c.shell;
  return j;
}

json to_json(const HostConfig& h) {
  json j = json::object();
  j["Binds"] = opt_list(h.binds);
  j["ContainerIDFile"] = h.container_id_file;
  j["LogConfig"] = {{"Type", h.log_config.type}, {"Config", h.log_config.config}};
  j["NetworkMode"] = h.network_mode;
  json pb = json::object();
  for (const auto& [port, list] : h.port_bindings) {
    json a = json::array();
    for (const auto& b : list) a.push_back({{"HostIp", b.host_ip}, {"HostPort", b.host_port}});
    pb[port] = a;
  }
  j["PortBindings"] = pb;
  j["RestartPolicy"] = {{"Name", h.restart_policy.name}, {"MaximumRetryCount", h.restart_policy.maximum_retry_count}};
  j["AutoRemove"] = h.auto_remove;
  j["VolumeDriver"] = h.volume_driver;
  j["VolumesFrom"] = opt_list(h.volumes_from);
  j["CapAdd"] = opt_list(h.cap_add);
  j["CapDrop"] = opt_list(h.cap_drop);
  j["CgroupnsMode"] = h.cgroupns_mode;
  j["Dns"] = h.dns;
  j["DnsOptions"] = h.dns_options;
  j["DnsSearch"] = h.dns_search;
  j["ExtraHosts"] = opt_list(h.extra_hosts);
  j["GroupAdd"] = opt_list(h.group_add);
  j["IpcMode"] = h.ipc_mode;
  j["Cgroup"] = h.cgroup;
  j["Links"] = opt_list(h.links);
  j["OomScoreAdj"] = h.oom_score_adj;
  j["PidMode"] = h.pid_mode;
  j["Privileged"] = h.privileged;
  j["PublishAllPorts"] = h.publish_all_ports;
  j["ReadonlyRootfs"] = h.readonly_rootfs;
  j["SecurityOpt"] = opt_list(h.security_opt);
  if (!h.storage_opt.empty()) j["StorageOpt"] = h.storage_opt;
  if (!h.tmpfs.empty()) j["Tmpfs"] = h.tmpfs;
  j["UTSMode"] = h.uts_mode;
  j["UsernsMode"] = h.userns_mode;
  j["ShmSize"] = h.shm_size;
  if (!h.sysctls.empty()) j["Sysctls"] = h.sysctls;
  j["Runtime"] = h.runtime;
  j["ConsoleSize"] = h.console_size;
  j["Isolation"] = h.isolation;
  j["CpuShares"] = h.cpu_shares;
  j["Memory"] = h.memory;
  j["NanoCpus"] = h.nano_cpus;
  j["CgroupParent"] = h.cgroup_parent;
  j["BlkioWeight"] = h.blkio_weight;
  j["BlkioWeightDevice"] = h.blkio_weight_device.is_array() ? h.blkio_weight_device : json::array();
  j["BlkioDeviceReadBps"] = h.blkio_device_read_bps.is_array() ? h.blkio_device_read_bps : json::array();
  j["BlkioDeviceWriteBps"] = h.blkio_device_write_bps.is_array() ? h.blkio_device_write_bps : json::array();
  j["BlkioDeviceReadIOps"] = h.blkio_device_read_iops.is_array() ? h.blkio_device_read_iops : json::array();
  j["BlkioDeviceWriteIOps"] = h.blkio_device_write_iops.is_array() ? h.blkio_device_write_iops : json::array();
  j["CpuPeriod"] = h.cpu_period;
  j["CpuQuota"] = h.cpu_quota;
  j["CpuRealtimePeriod"] = h.cpu_realtime_period;
  j["CpuRealtimeRuntime"] = h.cpu_realtime_runtime;
  j["CpusetCpus"] = h.cpuset_cpus;
  j["CpusetMems"] = h.cpuset_mems;
  json devs = json::array();
  for (const auto& d : h.devices)
    devs.push_back({{"PathOnHost", d.path_on_host},
                    {"PathInContainer", d.path_in_container},
                    {"CgroupPermissions", d.cgroup_permissions}});
  j["Devices"] = devs;
  j["DeviceCgroupRules"] = opt_list(h.device_cgroup_rules);
  j["DeviceRequests"] = nullptr;
  j["KernelMemory"] = h.kernel_memory;
  j["KernelMemoryTCP"] = h.kernel_memory_tcp;
  j["MemoryReservation"] = h.memory_reservation;
  j["MemorySwap"] = h.memory_swap;
  j["MemorySwappiness"] = h.memory_swappiness ? json(*h.memory_swappiness) : json(nullptr);
  j["OomKillDisable"] = h.oom_kill_disable;
  j["PidsLimit"] = h.pids_limit ? json(*h.pids_limit) : json(nullptr);
  json ul = json::array();
  for (const auto& u : h.ulimits) ul.push_back({{"Name", u.name}, {"Hard", u.hard}, {"Soft", u.soft}});
  j["Ulimits"] = ul;
  j["CpuCount"] = h.cpu_count;
  j["CpuPercent"] = h.cpu_percent;
  j["IOMaximumIOps"] = h.io_maximum_iops;
  j["IOMaximumBandwidth"] = h.io_maximum_bandwidth;
  if (!h.mounts.empty()) {
    json m = json::array();
    for (const auto& s : h.mounts) m.push_back(mount_spec_json(s));
    j["Mounts"] = m;
  }
  j["MaskedPaths"] = opt_list(h.masked_paths);
  j["ReadonlyPaths"] = opt_list(h.readonly_paths);
  if (h.init) j["Init"] = *h.init;
  return j;
}

json to_json(const NetworkingConfig& n) {
  json eps = json::object();
  for (const auto& [name, e] : n.endpoints) {
    json ipam = nullptr;
    if (!e.ipv4_address.empty() || !e.ipv6_address.empty()) {
      ipam = json::object();
      if (!e.ipv4_address.empty()) ipam["IPv4Address"] = e.ipv4_address;
      if (!e.ipv6_address.empty()) ipam["IPv6Address"] = e.ipv6_address;
    }
    eps[name] = {{"IPAMConfig", ipam},
                 {"Links", e.links.empty() ? json(nullptr) : json(e.links)},
                 {"Aliases", e.aliases.empty() ? json(nullptr) : json(e.aliases)},
                 {"MacAddress", e.mac_address},
                 {"DriverOpts", e.driver_opts.empty() ? json(nullptr) : json(e.driver_opts)}};
  }
  return {{"EndpointsConfig", eps}};
}

void merge_image_config(Config& c, const oci::ContainerConfig& img) {
  if (c.user.empty()) c.user = img.user;
  for (const auto& p : img.exposed_ports) c.exposed_ports.insert(p);
  if (!c.env || c.env->empty()) {
    if (!img.env.empty()) c.env = img.env;
  } else {
    auto key = [](std::string_view e) { return e.substr(0, e.find('=')); };
    std::vector<std::string> add;
    for (const auto& ie : img.env) {
      bool found = std::any_of(c.env->begin(), c.env->end(), [&](const std::string& ue) { return key(ue) == key(ie); });
      if (!found) add.push_back(ie);
    }
    c.env->insert(c.env->end(), add.begin(), add.end());
  }
  for (const auto& [k, v] : img.labels) c.labels.emplace(k, v);
  if (!c.entrypoint) {
    if (!c.cmd || c.cmd->empty()) {
      c.cmd = img.cmd;
      c.args_escaped = img.args_escaped;
    }
    c.entrypoint = img.entrypoint;
  }
  if (img.healthcheck) {
    const auto& ih = *img.healthcheck;
    if (!c.healthcheck) {
      c.healthcheck = HealthConfig{ih.test, ih.interval_ns, ih.timeout_ns, ih.start_period_ns, ih.retries};
    } else {
      auto& h = *c.healthcheck;
      if (h.test.empty()) h.test = ih.test;
      if (h.interval == 0) h.interval = ih.interval_ns;
      if (h.timeout == 0) h.timeout = ih.timeout_ns;
      if (h.start_period == 0) h.start_period = ih.start_period_ns;
      if (h.retries == 0) h.retries = ih.retries;
    }
  }
  if (c.working_dir.empty()) c.working_dir = img.working_dir;
  if (!img.volumes.empty()) {
    if (!c.volumes) c.volumes.emplace();
    for (const auto& v : img.volumes) c.volumes->insert(v);
  }
  if (c.stop_signal.empty()) c.stop_signal = img.stop_signal;
  if (c.shell.empty()) c.shell = img.shell;
}

Result<std::vector<std::string>> process_args(const Config& c) {
  std::vector<std::string> args;
  if (c.entrypoint) args = *c.entrypoint;
  if (c.cmd) args.insert(args.end(), c.cmd->begin(), c.cmd->end());
  if (args.empty() || args[0].empty()) return fail(Errc::InvalidArgument, "No command specified");
  return args;
}

}  // namespace berth::engine::spec
