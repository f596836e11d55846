#include "engine/spec/spec_builder.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "base/unique_fd.h"
#include "engine/spec/security.h"
#include "engine/spec/seccomp_profile.h"
#include "sys/caps.h"
#include "sys/passwd.h"
#include "sys/path.h"

namespace berth::engine::spec {

namespace {

constexpr int kCapSysResource = 24;

std::string upper(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

// "chown", "cap_chown", "CAP_CHOWN" -> "CAP_CHOWN"; "all" -> "ALL".
std::string normalize_cap(std::string_view s) {
  std::string u = upper(s);
  if (u == "ALL") return u;
  if (!u.starts_with("CAP_")) u = "CAP_" + u;
  return u;
}


bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

size_t depth(std::string_view p) { return static_cast<size_t>(std::count(p.begin(), p.end(), '/')); }

oci::DeviceCgroupRule allow(std::string type, std::optional<int64_t> major, std::optional<int64_t> minor,
                            std::string access) {
  return oci::DeviceCgroupRule{true, std::move(type), major, minor, std::move(access)};
}

// Docker's default device cgroup allow-list (after a deny-all rule).
std::vector<oci::DeviceCgroupRule> default_device_rules() {
  return {
      allow("c", std::nullopt, std::nullopt, "m"),  // mknod of any char device
      allow("b", std::nullopt, std::nullopt, "m"),  // mknod of any block device
      allow("c", 1, 3, "rwm"),                      // /dev/null
      allow("c", 1, 8, "rwm"),                      // /dev/random
      allow("c", 1, 7, "rwm"),                      // /dev/full
      allow("c", 5, 0, "rwm"),                      // /dev/tty
      allow("c", 1, 5, "rwm"),                      // /dev/zero
      allow("c", 1, 9, "rwm"),                      // /dev/urandom
      allow("c", 5, 1, "rwm"),                      // /dev/console
      allow("c", 136, std::nullopt, "rwm"),         // /dev/pts/*
      allow("c", 5, 2, "rwm"),                      // /dev/ptmx
      allow("c", 10, 200, "rwm"),                   // /dev/net/tun
  };
}

Result<oci::Device> device_from_stat(const std::string& host_path, const std::string& container_path) {
  struct stat st;
  if (::stat(host_path.c_str(), &st) < 0)
    return fail_errno("error gathering device information while adding custom device \"{}\"", host_path);
  oci::Device d;
  if (S_ISCHR(st.st_mode)) {
    d.type = "c";
  } else if (S_ISBLK(st.st_mode)) {
    d.type = "b";
  } else {
    return fail(Errc::InvalidArgument, "\"{}\" is not a device node", host_path);
  }
  d.path = container_path;
  d.major = major(st.st_rdev);
  d.minor = minor(st.st_rdev);
  d.file_mode = st.st_mode & 07777;
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  return d;
}

// Device nodes under dir (host), mapped under prefix (container). Bounded depth and count.
void collect_devices(const std::string& dir, const std::string& prefix, int depth_left, std::vector<oci::Device>& out,
                     bool skip_special) {
  if (depth_left < 0 || out.size() > 4096) return;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (skip_special && (name == "pts" || name == "shm" || name == "fd" || name == "mqueue" || name == ".lxc" ||
                         name == ".lxd-mounts" || name == ".udev" || name == "console"))
      continue;
    std::string hp = dir + "/" + name, cp = prefix + "/" + name;
    struct stat st;
    if (::lstat(hp.c_str(), &st) < 0) continue;
    if (S_ISDIR(st.st_mode)) {
      collect_devices(hp, cp, depth_left - 1, out, false);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      if (auto dev = device_from_stat(hp, cp)) out.push_back(std::move(*dev));
    }
  }
  ::closedir(d);
}

std::pair<int, int> running_kernel() {
  struct utsname u;
  if (::uname(&u) < 0) return {0, 0};
  return parse_kernel_version(u.release);
}

// Env: docker's defaults (PATH, HOSTNAME, TERM with a tty), each replaced by a config entry with the same key;
// other config entries appended in order.
std::vector<std::string> build_env(const Config& c, const std::string& hostname) {
  std::vector<std::string> env = {kDefaultPath, "HOSTNAME=" + hostname};
  if (c.tty) env.emplace_back("TERM=xterm");
  if (!c.env) return env;
  auto key = [](std::string_view e) { return e.substr(0, e.find('=')); };
  for (const auto& e : *c.env) {
    auto it = std::find_if(env.begin(), env.end(), [&](const std::string& x) { return key(x) == key(e); });
    if (e.find('=') == std::string::npos) {
      // "KEY" without a value: docker drops the default too (the variable is unset).
      if (it != env.end()) env.erase(it);
      continue;
    }
    if (it != env.end()) {
      *it = e;
    } else {
      env.push_back(e);
    }
  }
  return env;
}

Result<oci::User> resolve_process_user(const std::string& rootfs, const Config& c, const HostConfig& h) {
  auto root = sys::open_root(rootfs);
  if (!root) return tl::unexpected(std::move(root).error().wrap("open container rootfs"));
  auto files = BERTH_TRY_CTX(sys::read_user_files(root->get()), "read /etc/passwd and /etc/group of the image");
  auto ru = sys::resolve_user(c.user, files.passwd, files.group);
  if (!ru) return tl::unexpected(std::move(ru).error().wrap(fmt::format("Config.User \"{}\"", c.user)));
  oci::User u;
  u.uid = ru->uid;
  u.gid = ru->gid;
  std::vector<uint32_t> gids(ru->additional_gids.begin(), ru->additional_gids.end());
  if (h.group_add && !h.group_add->empty()) {
    std::vector<sys::GroupEntry> groups;
    if (!files.group.empty()) groups = BERTH_TRY_CTX(sys::parse_group(files.group), "/etc/group");
    for (const auto& g : *h.group_add) {
      uint32_t gid = 0;
      bool numeric = !g.empty() && std::all_of(g.begin(), g.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
      if (numeric) {
        if (g.size() > 10 || std::stoull(g) > 0x7fffffffULL)
          return fail(Errc::InvalidArgument, "HostConfig.GroupAdd: group id {} out of range", g);
        gid = static_cast<uint32_t>(std::stoul(g));
      } else {
        auto it = std::find_if(groups.begin(), groups.end(), [&](const sys::GroupEntry& e) { return e.name == g; });
        if (it == groups.end())
          return fail(Errc::NotFound, "HostConfig.GroupAdd: Unable to find group {}: no matching entries in group file", g);
        gid = it->gid;
      }
      if (std::find(gids.begin(), gids.end(), gid) == gids.end()) gids.push_back(gid);
    }
  }
  u.additional_gids = std::move(gids);
  return u;
}

Result<std::vector<oci::Rlimit>> build_rlimits(const HostConfig& h) {
  bool can_raise = false;
  if (auto caps = sys::current_caps()) can_raise = (caps->effective >> kCapSysResource) & 1;
  std::vector<oci::Rlimit> out;
  auto current_hard = [](int res) -> uint64_t {
    struct rlimit rl;
    if (::getrlimit(res, &rl) < 0) return RLIM_INFINITY;
    return rl.rlim_max;
  };
  bool has_nofile = false;
  for (size_t i = 0; i < h.ulimits.size(); ++i) {
    const Ulimit& u = h.ulimits[i];
    std::string name = "RLIMIT_" + upper(u.name);
    auto num = oci::rlimit_number(name);
    if (!num) return fail(Errc::InvalidArgument, "HostConfig.Ulimits[{}]: invalid ulimit type: {}", i, u.name);
    // -1 = unlimited: RLIM_INFINITY, which is what uint64 -1 is.
    uint64_t hard = static_cast<uint64_t>(u.hard), soft = static_cast<uint64_t>(u.soft);
    uint64_t cur = current_hard(*num);
    if (!can_raise && cur != RLIM_INFINITY && hard > cur)
      return fail(Errc::InvalidArgument,
                  "HostConfig.Ulimits[{}]: {} hard limit {} is above the daemon's own hard limit {} and the daemon "
                  "lacks CAP_SYS_RESOURCE to raise it",
                  i, u.name, hard, cur);
    if (*num == RLIMIT_NOFILE) has_nofile = true;
    auto it = std::find_if(out.begin(), out.end(), [&](const oci::Rlimit& r) { return r.type == name; });
    if (it != out.end()) out.erase(it);
    out.push_back(oci::Rlimit{name, hard, soft});
  }
  if (!has_nofile) {
    uint64_t n = kDefaultNofile;
    uint64_t cur = current_hard(RLIMIT_NOFILE);
    if (!can_raise && cur != RLIM_INFINITY && n > cur) n = cur;
    out.insert(out.begin(), oci::Rlimit{"RLIMIT_NOFILE", n, n});
  }
  return out;
}

oci::Mount mnt(std::string dst, std::string type, std::string src, std::vector<std::string> opts) {
  oci::Mount m;
  m.destination = std::move(dst);
  m.type = std::move(type);
  m.source = std::move(src);
  m.options = std::move(opts);
  return m;
}

Result<oci::DeviceCgroupRule> parse_cgroup_rule(std::string_view rule) {
  // "c 1:3 rwm" (validated at create)
  auto sp1 = rule.find(' ');
  auto sp2 = rule.rfind(' ');
  if (sp1 == std::string_view::npos || sp1 == sp2)
    return fail(Errc::InvalidArgument, "invalid device cgroup rule format: '{}'", rule);
  std::string type(rule.substr(0, sp1));
  std::string_view mm = rule.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string access(rule.substr(sp2 + 1));
  auto colon = mm.find(':');
  if (colon == std::string_view::npos) return fail(Errc::InvalidArgument, "invalid device cgroup rule format: '{}'", rule);
  auto num = [](std::string_view s) -> std::optional<int64_t> {
    if (s == "*") return std::nullopt;
    return std::stoll(std::string(s));
  };
  return allow(type == "a" ? "a" : type, num(mm.substr(0, colon)), num(mm.substr(colon + 1)), access);
}

}  // namespace

std::vector<std::string> all_capabilities() {
  std::vector<std::string> r;
  auto known = oci::known_capabilities();
  int last = std::min<int>(sys::cap_last_cap(), static_cast<int>(known.size()) - 1);
  // Only what the daemon's own bounding set holds: a capability it lacks (a restricted host, a nested
  // daemon) cannot be granted, and asking for it makes capset fail.
  for (int i = 0; i <= last; ++i)
    if (::prctl(PR_CAPBSET_READ, i, 0, 0, 0) != 0) r.emplace_back(known[i]);
  return r;
}

const std::vector<std::string>& default_capabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",     "CAP_MKNOD",
      "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",           "CAP_SETFCAP",    "CAP_SETPCAP",
      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};
  return caps;
}

const std::vector<std::string>& default_masked_paths() {
  static const std::vector<std::string> paths = {
      "/proc/asound",        "/proc/acpi",       "/proc/kcore",       "/proc/keys",  "/proc/latency_stats",
      "/proc/timer_list",    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",  "/sys/firmware",
      "/sys/devices/virtual/powercap"};
  return paths;
}

const std::vector<std::string>& default_readonly_paths() {
  static const std::vector<std::string> paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                 "/proc/sysrq-trigger"};
  return paths;
}

Result<std::vector<std::string>> effective_capabilities(const HostConfig& h) {
  std::vector<std::string> add, drop;
  for (auto [src, dst, field] : {std::tuple{&h.cap_add, &add, "CapAdd"}, std::tuple{&h.cap_drop, &drop, "CapDrop"}}) {
    if (!*src) continue;
    for (const auto& c : **src) {
      std::string n = normalize_cap(c);
      if (n != "ALL" && !oci::capability_number(n))
        return fail(Errc::InvalidArgument, "HostConfig.{}: unknown capability: \"{}\"", field, c);
      if (!contains(*dst, n)) dst->push_back(n);
    }
  }
  if (h.privileged) return all_capabilities();
  std::vector<std::string> caps;
  if (contains(add, "ALL")) {
    for (const auto& c : all_capabilities())
      if (!contains(drop, c)) caps.push_back(c);
    return caps;
  }
  if (contains(drop, "ALL")) {
    caps = add;
    return caps;
  }
  for (const auto& c : default_capabilities())
    if (!contains(drop, c)) caps.push_back(c);
  for (const auto& c : add)
    if (!contains(caps, c)) caps.push_back(c);
  return caps;
}

ResolvedMount resolve_mount(const MountRequest& m, const std::string& host_path) {
  ResolvedMount r;
  r.destination = m.destination;
  if (m.kind == MountKind::Tmpfs) {
    r.type = "tmpfs";
    r.source = "tmpfs";
    r.options = m.tmpfs_options;
    if (m.read_only && !contains(r.options, "ro")) r.options.push_back("ro");
    return r;
  }
  r.type = "bind";
  r.source = host_path;
  r.options.push_back(m.non_recursive ? "bind" : "rbind");
  r.options.push_back(m.propagation.empty() ? "rprivate" : m.propagation);
  if (m.read_only) r.options.push_back("ro");
  return r;
}

Result<std::string> find_init_binary() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return fail_errno("readlink /proc/self/exe");
  std::string exe(buf, static_cast<size_t>(n));
  std::string dir = exe.substr(0, exe.rfind('/'));
  std::string a = dir + "/berth-init", b = dir + "/../berth-init/berth-init";
  for (const auto& p : {a, b}) {
    struct stat st;
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0)
      return sys::clean_path(p);
  }
  return fail(Errc::NotFound, "berth-init not found: looked for {} and {}", a, b);
}

Result<oci::Spec> build_spec(const SpecInput& in) {
  Config c = in.request.config;
  const HostConfig& h = in.request.host;
  merge_image_config(c, in.image.config);
  BERTH_TRY(validate_host_config(h));
  if (in.rootfs.empty() || in.rootfs[0] != '/')
    return fail(Errc::InvalidArgument, "rootfs \"{}\" must be an absolute path", in.rootfs);

  auto sec = BERTH_TRY(parse_security_opts(h.security_opt.value_or(std::vector<std::string>{})));
  auto caps = BERTH_TRY(effective_capabilities(h));
  std::vector<std::string> args = BERTH_TRY(process_args(c));
  bool use_init = h.init.value_or(in.default_init);
  if (use_init) {
    if (in.init_path.empty()) return fail(Errc::FailedPrecondition, "HostConfig.Init: no init binary configured");
    args.insert(args.begin(), {kInitPathInContainer, "--"});
  }

  oci::Spec s;
  s.oci_version = std::string(oci::kOciVersion);
  s.root.path = in.rootfs;
  s.root.readonly = h.readonly_rootfs;

  // hostname
  bool private_uts = h.uts_mode != "host";
  std::string hostname = c.hostname;
  if (hostname.empty()) {
    if (in.network == NetworkMode::Host || !private_uts) {
      char buf[256] = {};
      if (::gethostname(buf, sizeof buf - 1) == 0) hostname = buf;
    } else {
      hostname = in.id.substr(0, 12);
    }
  }
  if (private_uts) {
    s.hostname = hostname;
    s.domainname = c.domainname;
  }

  // process
  oci::Process p;
  p.terminal = c.tty;
  if (c.tty && h.console_size.size() == 2 && h.console_size[0] && h.console_size[1])
    p.console_size = oci::ConsoleSize{h.console_size[0], h.console_size[1]};
  p.user = BERTH_TRY(resolve_process_user(in.rootfs, c, h));
  p.args = std::move(args);
  p.env = build_env(c, hostname);
  p.cwd = c.working_dir.empty() ? "/" : sys::clean_path(c.working_dir);
  oci::Capabilities pc;
  pc.bounding = caps;
  pc.effective = caps;
  pc.permitted = caps;
  p.capabilities = std::move(pc);
  p.rlimits = BERTH_TRY(build_rlimits(h));
  p.no_new_privileges = sec.no_new_privileges;
  p.oom_score_adj = h.oom_score_adj;
  s.process = std::move(p);

  // mounts: the user's (resolved volumes/binds/tmpfs, the generated etc files, init) win over defaults with
  // the same destination; parents are mounted before children.
  std::vector<oci::Mount> user;
  for (const auto& m : in.mounts) {
    if (m.destination.empty() || m.destination[0] != '/')
      return fail(Errc::InvalidArgument, "mount destination \"{}\" must be absolute", m.destination);
    user.push_back(mnt(sys::clean_path(m.destination), m.type, m.source, m.options));
  }
  auto has_user = [&](std::string_view dst) {
    return std::any_of(user.begin(), user.end(), [&](const oci::Mount& m) { return m.destination == dst; });
  };
  std::vector<std::string> etc_opts = {"rbind", "rprivate"};
  if (h.readonly_rootfs) etc_opts.push_back("ro");
  for (auto [path, dst] : {std::pair{&in.resolv_conf_path, "/etc/resolv.conf"},
                           std::pair{&in.hostname_path, "/etc/hostname"}, std::pair{&in.hosts_path, "/etc/hosts"}}) {
    if (path->empty() || has_user(dst)) continue;
    user.push_back(mnt(dst, "bind", *path, etc_opts));
  }
  if (use_init) user.push_back(mnt(kInitPathInContainer, "bind", in.init_path, {"bind", "rprivate", "ro"}));
  std::stable_sort(user.begin(), user.end(),
                   [](const oci::Mount& a, const oci::Mount& b) { return depth(a.destination) < depth(b.destination); });

  bool priv = h.privileged;
  std::vector<oci::Mount> defaults = {
      mnt("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      mnt("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mnt("/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mnt("/sys", "sysfs", "sysfs", priv ? std::vector<std::string>{"nosuid", "noexec", "nodev", "rw"}
                                         : std::vector<std::string>{"nosuid", "noexec", "nodev", "ro"}),
      mnt("/sys/fs/cgroup", "cgroup", "cgroup",
          priv ? std::vector<std::string>{"rw", "nosuid", "noexec", "nodev"}
               : std::vector<std::string>{"ro", "nosuid", "noexec", "nodev"}),
      mnt("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
  };
  if (h.ipc_mode != "none" && h.ipc_mode != "host")
    defaults.push_back(mnt("/dev/shm", "tmpfs", "shm",
                           {"nosuid", "noexec", "nodev", "mode=1777", fmt::format("size={}", h.shm_size > 0 ? h.shm_size : kDefaultShmSize)}));
  else if (h.ipc_mode == "host")
    defaults.push_back(mnt("/dev/shm", "bind", "/dev/shm", {"rbind", "rprivate"}));
  for (auto& d : defaults)
    if (!has_user(d.destination)) s.mounts.push_back(std::move(d));
  for (auto& u : user) s.mounts.push_back(std::move(u));

  // linux
  oci::Linux lx;
  if (h.pid_mode != "host") lx.namespaces.push_back({oci::NamespaceType::Pid, ""});
  if (h.ipc_mode != "host") lx.namespaces.push_back({oci::NamespaceType::Ipc, ""});
  if (private_uts) lx.namespaces.push_back({oci::NamespaceType::Uts, ""});
  lx.namespaces.push_back({oci::NamespaceType::Mount, ""});
  switch (in.network) {
    case NetworkMode::Private: lx.namespaces.push_back({oci::NamespaceType::Network, ""}); break;
    case NetworkMode::Host: break;
    case NetworkMode::Join:
      if (in.netns_path.empty() || in.netns_path[0] != '/')
        return fail(Errc::InvalidArgument, "network namespace path \"{}\" must be absolute", in.netns_path);
      lx.namespaces.push_back({oci::NamespaceType::Network, in.netns_path});
      break;
  }
  if (h.cgroupns_mode != "host") lx.namespaces.push_back({oci::NamespaceType::Cgroup, ""});
  lx.cgroups_path = in.cgroups_path;

  BERTH_TRY(check_sysctls(h.sysctls, in.network != NetworkMode::Private, h.ipc_mode == "host"));
  lx.sysctl = h.sysctls;

  if (!priv && !sec.systempaths_unconfined) {
    lx.masked_paths = h.masked_paths.value_or(default_masked_paths());
    lx.readonly_paths = h.readonly_paths.value_or(default_readonly_paths());
  }

  if (!priv) {
    ProfileTarget target{caps, std::string(native_go_arch()), running_kernel()};
    if (sec.seccomp == SecurityOptions::Seccomp::Default)
      lx.seccomp = profile_to_oci(default_seccomp_profile(), target);
    else if (sec.seccomp == SecurityOptions::Seccomp::Custom)
      lx.seccomp = profile_to_oci(*sec.custom_profile, target);
  }

  // resources
  oci::Resources res;
  res.devices.push_back(oci::DeviceCgroupRule{false, "a", std::nullopt, std::nullopt, "rwm"});
  if (priv) {
    res.devices.push_back(allow("a", std::nullopt, std::nullopt, "rwm"));
    collect_devices("/dev", "/dev", 3, lx.devices, true);
  } else {
    for (auto& r : default_device_rules()) res.devices.push_back(std::move(r));
  }
  for (size_t i = 0; i < h.devices.size(); ++i) {
    const auto& d = h.devices[i];
    std::string cpath = d.path_in_container.empty() ? d.path_on_host : d.path_in_container;
    struct stat st;
    if (::stat(d.path_on_host.c_str(), &st) < 0)
      return fail_errno("HostConfig.Devices[{}]: error gathering device information while adding custom device \"{}\"",
                        i, d.path_on_host);
    std::vector<oci::Device> found;
    if (S_ISDIR(st.st_mode)) {
      collect_devices(d.path_on_host, sys::clean_path(cpath), 3, found, false);
    } else {
      found.push_back(BERTH_TRY_CTX(device_from_stat(d.path_on_host, sys::clean_path(cpath)), "HostConfig.Devices[{}]", i));
    }
    for (auto& dev : found) {
      res.devices.push_back(allow(dev.type, dev.major, dev.minor, d.cgroup_permissions));
      std::erase_if(lx.devices, [&](const oci::Device& x) { return x.path == dev.path; });
      lx.devices.push_back(std::move(dev));
    }
  }
  if (h.device_cgroup_rules)
    for (const auto& r : *h.device_cgroup_rules) res.devices.push_back(BERTH_TRY(parse_cgroup_rule(r)));

  if (h.memory > 0 || h.memory_reservation > 0 || h.memory_swap != 0 || h.memory_swappiness || h.oom_kill_disable) {
    oci::MemoryResources m;
    if (h.memory > 0) m.limit = h.memory;
    if (h.memory_reservation > 0) m.reservation = h.memory_reservation;
    // Without swap accounting (cgroup v1 memory controller lacking memory.memsw.*) dockerd drops the swap
    // limit with a warning; so do we, rather than failing at start.
    bool v1_no_swap = ::access("/sys/fs/cgroup/memory", F_OK) == 0 &&
                      ::access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) != 0;
    if (h.memory_swap != 0 && h.memory > 0 && !v1_no_swap) m.swap = h.memory_swap;
    if (h.memory_swappiness) m.swappiness = static_cast<uint64_t>(*h.memory_swappiness);
    if (h.oom_kill_disable) m.disable_oom_killer = true;
    res.memory = m;
  }
  if (h.cpu_shares > 0 || h.cpu_quota != 0 || h.cpu_period != 0 || h.nano_cpus > 0 || !h.cpuset_cpus.empty() ||
      !h.cpuset_mems.empty()) {
    oci::CpuResources cpu;
    if (h.cpu_shares > 0) cpu.shares = static_cast<uint64_t>(h.cpu_shares);
    if (h.nano_cpus > 0) {
      cpu.period = 100000;
      cpu.quota = h.nano_cpus * 100000 / 1000000000;
    }
    if (h.cpu_quota != 0) cpu.quota = h.cpu_quota;
    if (h.cpu_period != 0) cpu.period = static_cast<uint64_t>(h.cpu_period);
    cpu.cpus = h.cpuset_cpus;
    cpu.mems = h.cpuset_mems;
    res.cpu = cpu;
  }
  if (h.pids_limit && *h.pids_limit > 0) res.pids = oci::PidsResources{*h.pids_limit};
  if (h.blkio_weight > 0) {
    oci::BlockIoResources b;
    b.weight = h.blkio_weight;
    res.block_io = b;
  }
  lx.resources = std::move(res);
  s.linux = std::move(lx);
  return s;
}

}  // namespace berth::engine::spec
