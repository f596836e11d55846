#include "runtime/container.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/log.h"
#include "base/unique_fd.h"
#include "runtime/hooks.h"
#include "runtime/id.h"
#include "runtime/init.h"
#include "runtime/seccomp_filter.h"
#include "runtime/sync.h"
#include "sys/caps.h"
#include "sys/fd_passing.h"
#include "sys/path.h"
#include "sys/rlimit.h"

namespace berth::runtime {

struct Runtime::Created {
  ContainerState state;
  oci::Spec spec;
  UniqueFd sock;  // run: the init waits on this for SyncType::Start instead of on exec.fifo
  UniqueFd pty_master;  // only when run relays the terminal itself
};

namespace {

constexpr const char* kFifo = "exec.fifo";

int ns_clone_flag(oci::NamespaceType t) {
  switch (t) {
    case oci::NamespaceType::Pid: return CLONE_NEWPID;
    case oci::NamespaceType::Network: return CLONE_NEWNET;
    case oci::NamespaceType::Mount: return CLONE_NEWNS;
    case oci::NamespaceType::Ipc: return CLONE_NEWIPC;
    case oci::NamespaceType::Uts: return CLONE_NEWUTS;
    case oci::NamespaceType::User: return CLONE_NEWUSER;
    case oci::NamespaceType::Cgroup: return CLONE_NEWCGROUP;
    case oci::NamespaceType::Time: return CLONE_NEWTIME;
  }
  return 0;
}

const char* ns_proc_name(oci::NamespaceType t) {
  switch (t) {
    case oci::NamespaceType::Pid: return "pid";
    case oci::NamespaceType::Network: return "net";
    case oci::NamespaceType::Mount: return "mnt";
    case oci::NamespaceType::Ipc: return "ipc";
    case oci::NamespaceType::Uts: return "uts";
    case oci::NamespaceType::User: return "user";
    case oci::NamespaceType::Cgroup: return "cgroup";
    case oci::NamespaceType::Time: return "time";
  }
  return "";
}

// Order for setns: user first (it grants the capabilities needed for the others), mount last.
int ns_join_rank(oci::NamespaceType t) {
  switch (t) {
    case oci::NamespaceType::User: return 0;
    case oci::NamespaceType::Mount: return 9;
    default: return 5;
  }
}

pid_t raw_clone(uint64_t flags) {
  struct clone_args args {};
  args.flags = flags;
  // clone3 refuses an exit signal with CLONE_PARENT (the child inherits the caller's).
  args.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
  long r = ::syscall(SYS_clone3, &args, sizeof args);
  if (r < 0 && errno == ENOSYS && !(flags & CLONE_NEWTIME))
    r = ::syscall(SYS_clone, static_cast<unsigned long>(flags) | SIGCHLD, 0, 0, 0, 0);
  return static_cast<pid_t>(r);
}

// Moves fd to a number >= min (keeping O_CLOEXEC), so it cannot collide with --preserve-fds.
Status move_fd_above(UniqueFd& fd, int min) {
  if (!fd || fd.get() >= min) return ok();
  int n = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, min);
  if (n < 0) return fail_errno("dup fd");
  fd.reset(n);
  return ok();
}

// cgroup v1 self-attach: the `tasks` file of each of the container's hierarchy directories, opened for the
// child to write "0" to (numbers above min_fd, listed in ctx.cgroup_tasks_fds).
Result<std::vector<UniqueFd>> open_tasks_fds(const cgroup::Manager& cg, int min_fd, InitContext& ctx) {
  std::vector<std::string> dirs;
  for (const auto& [c, d] : cg.paths())
    if (std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
  std::vector<UniqueFd> fds;
  for (const auto& d : dirs) {
    UniqueFd fd(::open((d + "/tasks").c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open `{}/tasks`", d);
    BERTH_TRY(move_fd_above(fd, min_fd));
    ctx.cgroup_tasks_fds.push_back(fd.get());
    fds.push_back(std::move(fd));
  }
  return fds;
}

std::string abs_path(const std::string& p) {
  if (!p.empty() && p[0] == '/') return sys::clean_path(p);
  char buf[PATH_MAX];
  std::string cwd = ::getcwd(buf, sizeof buf) ? buf : "/";
  return sys::clean_path(cwd + "/" + p);
}

Status write_pid_file(const std::string& path, pid_t pid) {
  return write_file_replace(abs_path(path), std::to_string(pid), 0644);
}

// Sends the pty master to the --console-socket (SCM_RIGHTS, with the name as data, as runc does). A path
// longer than sun_path is reached through an O_PATH fd of its directory (/proc/self/fd/N/name), so any
// state or exec root length works.
Status send_console(const std::string& socket_path, int master) {
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return fail_errno("console socket");
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::string p = socket_path;
  UniqueFd dirfd;
  if (p.size() >= sizeof addr.sun_path) {
    auto slash = p.rfind('/');
    if (slash == std::string::npos) return fail(Errc::InvalidArgument, "--console-socket path too long");
    std::string dir = slash == 0 ? "/" : p.substr(0, slash);
    dirfd.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dirfd) return fail_errno("open console socket directory `{}`", dir);
    p = fmt::format("/proc/self/fd/{}/{}", dirfd.get(), p.substr(slash + 1));
    if (p.size() >= sizeof addr.sun_path) return fail(Errc::InvalidArgument, "--console-socket name too long");
  }
  std::memcpy(addr.sun_path, p.data(), p.size());
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    return fail_errno("connect to console socket `{}`", socket_path);
  if (auto n = sys::send_with_fd(s.get(), "/dev/ptmx", master); !n)
    return fail(std::move(n).error().wrap(fmt::format("send pty to console socket `{}`", socket_path)));
  return ok();
}

Status write_proc(const std::string& path, std::string_view data) {
  UniqueFd fd = BERTH_TRY(sys::open_proc_verified(path, O_WRONLY | O_CLOEXEC));
  if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    return fail_errno("write `{}`", path);
  return ok();
}

std::string id_map_text(const std::vector<oci::IdMapping>& m) {
  std::string out;
  for (const auto& e : m) out += fmt::format("{} {} {}\n", e.container_id, e.host_id, e.size);
  return out;
}

// Opens a namespace file and checks it is a namespace of the expected type.
Result<UniqueFd> open_ns(const std::string& path, oci::NamespaceType type) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open {} namespace `{}`", oci::namespace_type_name(type), path);
  int t = ::ioctl(fd.get(), NS_GET_NSTYPE);
  if (t < 0) return fail(Errc::InvalidArgument, "`{}` is not a namespace file", path);
  if (t != ns_clone_flag(type))
    return fail(Errc::InvalidArgument, "`{}` is not a {} namespace", path, oci::namespace_type_name(type));
  return fd;
}

// linux.personality (runtime-spec 1.1): {"domain": "LINUX" | "LINUX32", "flags": [...]}. Read from the
// raw config because the typed Spec does not carry it. -1 = leave the personality alone.
Result<long> parse_personality(const std::string& config_text) {
  try {
    auto j = nlohmann::json::parse(config_text);
    if (!j.contains("linux") || !j["linux"].is_object() || !j["linux"].contains("personality")) return -1L;
    const auto& p = j["linux"]["personality"];
    if (!p.is_object()) return fail(Errc::InvalidArgument, "config.json: linux.personality: expected object");
    std::string domain = p.value("domain", "");
    if (domain == "LINUX") return static_cast<long>(PER_LINUX);
    if (domain == "LINUX32") return static_cast<long>(PER_LINUX32);
    return fail(Errc::InvalidArgument, "config.json: linux.personality.domain: unknown domain \"{}\"", domain);
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::InvalidArgument, "config.json: {}", e.what());
  }
}

Result<std::pair<oci::Spec, std::string>> load_bundle(const std::string& bundle) {
  auto text = read_file(bundle + "/config.json", 16 << 20);
  if (!text) return fail(std::move(text).error().wrap("load bundle config"));
  auto spec = oci::parse_runtime_spec(*text);
  if (!spec) return fail(std::move(spec).error().wrap("config.json"));
  return std::make_pair(std::move(*spec), std::move(*text));
}

// Everything that can be wrong with the config, checked before anything is created.
Status validate_for_create(const oci::Spec& spec, const std::string& rootfs, const CreateOptions& opts,
                           bool foreground) {
  if (!spec.process) return fail(Errc::InvalidArgument, "config.json: process: required");
  if (spec.process->args.empty()) return fail(Errc::InvalidArgument, "config.json: process.args: must not be empty");
  if (!spec.linux) return fail(Errc::InvalidArgument, "config.json: linux: required");
  struct stat st;
  if (::stat(rootfs.c_str(), &st) < 0)
    return fail_errno("config.json: root.path: rootfs `{}`", rootfs);
  if (!S_ISDIR(st.st_mode)) return fail(Errc::InvalidArgument, "config.json: root.path: `{}` is not a directory", rootfs);
  const oci::Namespace* mnt = spec.find_namespace(oci::NamespaceType::Mount);
  if (!mnt) return fail(Errc::InvalidArgument, "config.json: linux.namespaces: a mount namespace is required");
  const oci::Namespace* uts = spec.find_namespace(oci::NamespaceType::Uts);
  if ((!spec.hostname.empty() || !spec.domainname.empty()) && (!uts || !uts->path.empty()))
    return fail(Errc::InvalidArgument, "config.json: hostname: setting it needs a new uts namespace");
  const oci::Namespace* user = spec.find_namespace(oci::NamespaceType::User);
  bool new_user = user && user->path.empty();
  const auto& lx = *spec.linux;
  if (new_user && (lx.uid_mappings.empty() || lx.gid_mappings.empty()))
    return fail(Errc::InvalidArgument, "config.json: linux.uidMappings: a new user namespace needs uid and gid mappings");
  if (!new_user && (!lx.uid_mappings.empty() || !lx.gid_mappings.empty()))
    return fail(Errc::InvalidArgument, "config.json: linux.uidMappings: mappings given without a new user namespace");
  if (!lx.sysctl.empty()) {
    for (const auto& [k, v] : lx.sysctl) {
      (void)v;
      if (k.starts_with("net.") && !spec.find_namespace(oci::NamespaceType::Network))
        return fail(Errc::InvalidArgument, "config.json: linux.sysctl: `{}` needs a network namespace", k);
    }
  }
  if (spec.process->terminal && opts.console_socket.empty() && !foreground)
    return fail(Errc::InvalidArgument, "process.terminal is true: --console-socket is required");
  if (!spec.process->terminal && !opts.console_socket.empty())
    return fail(Errc::InvalidArgument, "--console-socket given but process.terminal is false");
  if (opts.preserve_fds < 0 || opts.preserve_fds > 1 << 16)
    return fail(Errc::InvalidArgument, "--preserve-fds: out of range");
  if (spec.linux->cgroups_path.find(':') != std::string::npos && spec.linux->cgroups_path[0] != '/')
    return fail(Errc::Unimplemented, "config.json: linux.cgroupsPath: systemd cgroup paths are not supported");
  return ok();
}

// The config's device rules, then an allow rule for every linux.devices entry and for the devices every
// container gets (null, zero, full, random, urandom, tty, ptmx, pts, tun; mknod of any), as runc does.
oci::Resources with_default_devices(const oci::Spec& spec) {
  oci::Resources r = spec.linux->resources ? *spec.linux->resources : oci::Resources{};
  auto allow = [&](char type, std::optional<int64_t> major, std::optional<int64_t> minor, std::string access) {
    oci::DeviceCgroupRule& d = r.devices.emplace_back();
    d.allow = true;
    d.type.assign(1, type);
    d.major = major;
    d.minor = minor;
    d.access = std::move(access);
  };
  for (const auto& d : spec.linux->devices) {
    if (d.type == "c" || d.type == "u" || d.type == "b") allow(d.type == "b" ? 'b' : 'c', d.major, d.minor, "rwm");
  }
  allow('c', std::nullopt, std::nullopt, "m");
  allow('b', std::nullopt, std::nullopt, "m");
  allow('c', 1, 3, "rwm");
  allow('c', 1, 8, "rwm");
  allow('c', 1, 7, "rwm");
  allow('c', 5, 0, "rwm");
  allow('c', 1, 5, "rwm");
  allow('c', 1, 9, "rwm");
  allow('c', 136, std::nullopt, "rwm");
  allow('c', 5, 2, "rwm");
  allow('c', 10, 200, "rwm");
  return r;
}

Result<sys::CapMasks> compile_process_caps(const oci::Process& p) {
  sys::CapSets sets;
  auto conv = [](const std::vector<std::string>& names, std::vector<int>& out) {
    for (const auto& n : names) {
      auto c = sys::cap_from_name(n);
      if (!c) {
        // runc ignores capabilities it does not know (newer configs on older runtimes); so do we.
        log::warn("ignoring unknown capability {}", n);
        continue;
      }
      out.push_back(*c);
    }
  };
  const auto& c = *p.capabilities;
  conv(c.bounding, sets.bounding);
  conv(c.effective, sets.effective);
  conv(c.inheritable, sets.inheritable);
  conv(c.permitted, sets.permitted);
  conv(c.ambient, sets.ambient);
  (void)sys::cap_last_cap();  // warm the cache before clone
  sys::CapMasks m = BERTH_TRY(sys::compile_caps(sets));
  // The kernel raises an ambient capability only if it is permitted and inheritable. runc's default spec
  // lists ambient caps without inheritable ones and runc runs it, leaving them out: so do we.
  m.ambient &= m.inheritable & m.permitted;
  return m;
}

Result<std::vector<InitContext::Rlimit>> compile_rlimits(const oci::Process& p) {
  std::vector<InitContext::Rlimit> out;
  for (size_t i = 0; i < p.rlimits.size(); ++i) {
    const auto& r = p.rlimits[i];
    auto res = sys::rlimit_from_name(r.type);
    if (!res) return fail(std::move(res).error().wrap(fmt::format("config.json: process.rlimits[{}]", i)));
    if (r.soft > r.hard)
      return fail(Errc::InvalidArgument, "config.json: process.rlimits[{}]: soft limit above hard limit", i);
    out.push_back({*res, r.soft, r.hard});
  }
  return out;
}

// Handlers for `run`/`exec` in the foreground: forward signals to the container process.
volatile sig_atomic_t g_forward_pid = 0;
volatile sig_atomic_t g_winch = 0;
void forward_signal(int sig) {
  if (sig == SIGWINCH) g_winch = 1;
  if (g_forward_pid > 0) ::kill(g_forward_pid, sig);
}
constexpr int kForwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};

void install_forwarding(pid_t pid) {
  g_forward_pid = pid;
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: waitpid/poll return EINTR
  for (int s : kForwarded) ::sigaction(s, &sa, nullptr);
}

void restore_forwarding() {
  g_forward_pid = 0;
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  for (int s : kForwarded) ::sigaction(s, &sa, nullptr);
}

// Relays between our stdio and the pty master until the container side closes; then returns.
void relay_terminal(int master, pid_t pid) {
  struct termios saved {};
  bool raw = ::isatty(0) && ::tcgetattr(0, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    ::cfmakeraw(&t);
    ::tcsetattr(0, TCSANOW, &t);
    struct winsize ws {};
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
  }
  bool stdin_open = true;
  char buf[16384];
  for (;;) {
    if (g_winch) {
      g_winch = 0;
      struct winsize ws {};
      if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
    }
    struct pollfd p[2] = {{master, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    int r = ::poll(p, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;
      (void)write_all(1, std::string_view(buf, static_cast<size_t>(n)));
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = false;
        char eof = 4;  // ^D
        (void)::write(master, &eof, 1);
      } else {
        (void)write_all(master, std::string_view(buf, static_cast<size_t>(n)));
      }
    }
  }
  if (raw) ::tcsetattr(0, TCSANOW, &saved);
  (void)pid;
}

// Waits for our child pid, returns its exit code (signals forwarded while waiting).
int wait_child(pid_t pid) {
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, 0);
    if (r == pid) break;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return 255;
  }
  return exit_code_from_status(status);
}

// Waits (up to timeout_ms, -1 forever) for a process that is not our child to exit. True if it is gone.
bool wait_gone(pid_t pid, uint64_t start_time, int timeout_ms) {
  UniqueFd pfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pfd) return true;
  if (!process_matches(pid, start_time)) return true;
  struct pollfd p = {pfd.get(), POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

// Sends sig to pid only if it is still the process started at start_time (pidfd: no reuse race between
// the check and the signal).
Status signal_verified(pid_t pid, uint64_t start_time, int sig) {
  UniqueFd pfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pfd || !process_matches(pid, start_time))
    return fail(Errc::FailedPrecondition, "container not running");
  if (::syscall(SYS_pidfd_send_signal, pfd.get(), sig, nullptr, 0) < 0) {
    if (errno == ESRCH) return fail(Errc::FailedPrecondition, "container not running");
    return fail_errno("send signal {}", sig);
  }
  return ok();
}

}  // namespace

int exit_code_from_status(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 255;
}

Runtime::Runtime(RuntimeOptions opts) : opts_(std::move(opts)), store_(opts_.root) {}

Result<std::unique_ptr<cgroup::Manager>> Runtime::manager_for(const std::string& cgroups_path, const std::string& id) {
  if (!layout_) layout_ = BERTH_TRY_CTX(cgroup::detect_layout(opts_.cgroup_root), "cgroups");
  return cgroup::make_manager(*layout_, cgroups_path, id);
}

Result<Runtime::Created> Runtime::create_impl(const CreateOptions& opts, bool foreground, bool run_mode) {
  BERTH_TRY(validate_id(opts.id));
  std::string bundle = abs_path(opts.bundle.empty() ? "." : opts.bundle);
  auto [spec, config_text] = BERTH_TRY(load_bundle(bundle));
  std::string rootfs = spec.root.path.starts_with("/") ? spec.root.path : bundle + "/" + spec.root.path;
  rootfs = sys::clean_path(rootfs);
  BERTH_TRY(validate_for_create(spec, rootfs, opts, foreground));
  const oci::Process& proc = *spec.process;
  const oci::Linux& lx = *spec.linux;

  // Compile everything the child needs, so the child cannot fail on bad config.
  InitContext ctx;
  ctx.spec = &spec;
  ctx.process = &proc;
  ctx.rootfs = rootfs;
  ctx.bundle = bundle;
  ctx.no_pivot = opts.no_pivot;
  ctx.preserve_fds = opts.preserve_fds;
  if (proc.capabilities) {
    ctx.has_caps = true;
    ctx.caps = BERTH_TRY_CTX(compile_process_caps(proc), "config.json: process.capabilities");
  }
  ctx.rlimits = BERTH_TRY(compile_rlimits(proc));
  SeccompProgram seccomp = BERTH_TRY(compile_seccomp(spec, opts_.root + "/.seccomp-cache"));
  ctx.install_seccomp = [&seccomp](int agent, std::string_view state) { return seccomp.install(agent, state); };
  if (!opts.no_new_keyring) ctx.session_keyring = "_ses." + opts.id;
  ctx.personality = BERTH_TRY(parse_personality(config_text));

  uint64_t clone_flags = 0;
  std::vector<std::pair<oci::NamespaceType, UniqueFd>> joins;
  for (const auto& ns : lx.namespaces) {
    if (ns.path.empty()) {
      clone_flags |= static_cast<uint64_t>(ns_clone_flag(ns.type));
    } else {
      UniqueFd fd = BERTH_TRY_CTX(open_ns(ns.path, ns.type), "config.json: linux.namespaces");
      joins.emplace_back(ns.type, std::move(fd));
    }
  }
  std::stable_sort(joins.begin(), joins.end(),
                   [](const auto& a, const auto& b) { return ns_join_rank(a.first) < ns_join_rank(b.first); });
  // The cgroup namespace must be rooted at the container's cgroup: the child unshares it after the parent
  // has moved it there.
  ctx.new_cgroup_ns = clone_flags & CLONE_NEWCGROUP;
  clone_flags &= ~static_cast<uint64_t>(CLONE_NEWCGROUP);
  ctx.new_user_ns = clone_flags & CLONE_NEWUSER;
  ctx.new_mount_ns = clone_flags & CLONE_NEWNS;
  ctx.new_uts_ns = clone_flags & CLONE_NEWUTS;

  // --- From here on everything created is undone on failure. ---
  BERTH_TRY(store_.create_dir(opts.id));
  std::string dir = store_.dir(opts.id);
  std::unique_ptr<cgroup::Manager> cg;
  pid_t pid = -1;
  pid_t helper = -1;
  bool ok_done = false;
  struct Cleanup {
    std::function<void()> fn;
    ~Cleanup() { fn(); }
  } cleanup{[&] {
    if (ok_done) return;
    if (helper > 0) {
      ::kill(helper, SIGKILL);
      ::waitpid(helper, nullptr, 0);
    }
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (cg) (void)cg->destroy();
    (void)store_.remove(opts.id);
  }};

  // SCMP_ACT_NOTIFY: the agent is reached now, from the host (listenerPath is not resolved through the
  // container's mounts), once the id is ours and before any cgroup or process exists.
  UniqueFd seccomp_agent;
  if (seccomp.uses_notify()) seccomp_agent = BERTH_TRY(seccomp.connect_agent());

  // `run` starts the container itself: the init waits on the sync socket, no fifo needed.
  UniqueFd state_dir_fd, fifo_fd;
  ctx.start_via_sock = run_mode;
  if (!run_mode) {
    // 0622 regardless of umask: the init opens it for writing after switching to the container user.
    if (::mkfifoat(AT_FDCWD, (dir + "/" + kFifo).c_str(), 0622) < 0) return fail_errno("create exec fifo");
    if (::chmod((dir + "/" + kFifo).c_str(), 0622) < 0) return fail_errno("chmod exec fifo");
    state_dir_fd.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!state_dir_fd) return fail_errno("open state dir");
    fifo_fd.reset(::open((dir + "/" + kFifo).c_str(), O_PATH | O_CLOEXEC));
    if (!fifo_fd) return fail_errno("open exec fifo");
  }

  std::string cgroups_path = lx.cgroups_path.empty() ? "/berth/" + opts.id : lx.cgroups_path;
  cg = BERTH_TRY(manager_for(cgroups_path, opts.id));
  BERTH_TRY_CTX(cg->create(), "create cgroup");
  BERTH_TRY_CTX(cg->apply(with_default_devices(spec)), "apply cgroup resources");

  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return fail_errno("socketpair");
  UniqueFd parent_sock(sp[0]), child_sock(sp[1]);
  int min_fd = 3 + opts.preserve_fds;

  // cgroup v1: the child moves itself by writing "0" to each hierarchy's `tasks`. Moving one's own thread
  // skips the global threadgroup rwsem that a cgroup.procs write takes, whose write side waits for an RCU
  // grace period (measured ~10 ms per container start here). Not when a cgroup namespace is joined: its
  // root must contain our current cgroup for the write to be allowed.
  std::vector<UniqueFd> tasks_fds;
  bool self_attach = layout_->mode == cgroup::Mode::V1 && !spec.find_namespace(oci::NamespaceType::Cgroup);
  if (const auto* cgns = spec.find_namespace(oci::NamespaceType::Cgroup); cgns && cgns->path.empty())
    self_attach = layout_->mode == cgroup::Mode::V1;
  if (self_attach) tasks_fds = BERTH_TRY(open_tasks_fds(*cg, min_fd, ctx));
  BERTH_TRY(move_fd_above(child_sock, min_fd));
  BERTH_TRY(move_fd_above(state_dir_fd, min_fd));
  BERTH_TRY(move_fd_above(fifo_fd, min_fd));
  BERTH_TRY(move_fd_above(seccomp_agent, min_fd));
  ctx.sock = child_sock.get();
  ctx.seccomp_agent_fd = seccomp_agent.get();
  ctx.state_dir_fd = state_dir_fd.get();
  ctx.fifo_fd = fifo_fd.get();

  // Runtime processes are not dumpable: a container process cannot open /proc/<pid>/exe or ptrace us
  // while we work in its namespaces (CVE-2019-5736). The child inherits this until its execve.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  // The child waits for the parent only when the parent has work to do first (id maps, attaching it to
  // its cgroup, handing it the state for in-container hooks): each handoff costs a wakeup.
  ctx.wait_go = ctx.new_user_ns || !self_attach || !spec.hooks.create_container.empty() ||
                !spec.hooks.start_container.empty() || seccomp_agent;
  if (joins.empty()) {
    pid = raw_clone(clone_flags);
    if (pid < 0) return fail_errno("clone container init");
    if (pid == 0) {
      parent_sock.reset();
      init_main(ctx);
    }
  } else {
    // Joining namespaces by path changes who we are: do it in a helper, which then clones the init as our
    // sibling-turned-child (CLONE_PARENT) and reports its pid (valid in our pid namespace: the helper's
    // own pid namespace does not change with setns).
    helper = raw_clone(0);
    if (helper < 0) return fail_errno("clone setup helper");
    if (helper == 0) {
      parent_sock.reset();
      ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      for (auto& [type, fd] : joins) {
        if (::setns(fd.get(), ns_clone_flag(type)) < 0)
          sync_fail(ctx.sock, Error::from_errno(errno, fmt::format("join {} namespace", oci::namespace_type_name(type))));
      }
      pid_t p = raw_clone(clone_flags | CLONE_PARENT);
      if (p < 0) sync_fail(ctx.sock, Error::from_errno(errno, "clone container init"));
      if (p == 0) init_main(ctx);
      (void)sync_send(ctx.sock, SyncType::Pid, std::to_string(p));
      _exit(0);
    }
    joins.clear();
    auto m = BERTH_TRY(sync_expect(parent_sock.get(), SyncType::Pid));
    pid = std::stoi(m.text);
    ::waitpid(helper, nullptr, 0);
    helper = -1;
  }
  child_sock.reset();
  state_dir_fd.reset();
  fifo_fd.reset();
  tasks_fds.clear();
  bool notify = static_cast<bool>(seccomp_agent);
  seccomp_agent.reset();  // the agent sees EOF once the child has sent the listener (or died)

  if (!self_attach) BERTH_TRY_CTX(cg->add_pid(pid), "join cgroup");
  if (proc.oom_score_adj)
    BERTH_TRY_CTX(write_proc(fmt::format("/proc/{}/oom_score_adj", pid), std::to_string(*proc.oom_score_adj)),
                  "set oom_score_adj");
  if (ctx.new_user_ns) {
    BERTH_TRY_CTX(write_proc(fmt::format("/proc/{}/uid_map", pid), id_map_text(lx.uid_mappings)), "write uid_map");
    BERTH_TRY_CTX(write_proc(fmt::format("/proc/{}/gid_map", pid), id_map_text(lx.gid_mappings)), "write gid_map");
  }

  ContainerState st;
  st.id = opts.id;
  st.pid = pid;
  st.bundle = bundle;
  st.rootfs = rootfs;
  st.created = now_rfc3339();
  st.owner = ::geteuid();
  st.annotations = spec.annotations;
  st.cgroups_path = cgroups_path;
  st.cgroup_paths = cg->paths();
  st.new_pid_ns = clone_flags & CLONE_NEWPID;
  std::string creating = oci_state_json(st, ContainerStatus::Creating, -1);
  if (ctx.wait_go) BERTH_TRY(sync_send(parent_sock.get(), SyncType::Go, creating));
  if (notify) BERTH_TRY(sync_send(parent_sock.get(), SyncType::SeccompState, seccomp.process_state(pid, creating)));

  Created out;
  for (;;) {
    auto m = BERTH_TRY(sync_recv(parent_sock.get()));
    if (m.type == SyncType::Error) {
      Error e = m.err ? Error(Error::from_errno(m.err, "").code(), m.text, m.err) : Error(Errc::Internal, m.text);
      return fail(std::move(e));
    }
    if (m.type == SyncType::Hooks) {
      BERTH_TRY(run_hooks(spec.hooks.prestart, creating, "prestart"));
      BERTH_TRY(run_hooks(spec.hooks.create_runtime, creating, "createRuntime"));
      BERTH_TRY(sync_send(parent_sock.get(), SyncType::HooksDone));
    } else if (m.type == SyncType::Console) {
      if (!m.fd) return fail(Errc::Internal, "console message without a pty");
      if (!opts.console_socket.empty()) {
        BERTH_TRY(send_console(opts.console_socket, m.fd.get()));
      } else {
        out.pty_master = std::move(m.fd);
      }
    } else if (m.type == SyncType::Ready) {
      break;
    } else {
      return fail(Errc::Internal, "sync: unexpected message {}", static_cast<uint32_t>(m.type));
    }
  }

  st.start_time = BERTH_TRY_CTX(process_start_time(pid), "container init");
  st.config_json = oci::to_json(spec, -1);
  BERTH_TRY_CTX(store_.save(st), "save state");
  if (!opts.pid_file.empty()) BERTH_TRY_CTX(write_pid_file(opts.pid_file, pid), "--pid-file");
  ok_done = true;
  out.state = std::move(st);
  out.spec = std::move(spec);
  if (run_mode) out.sock = std::move(parent_sock);
  return out;
}

Status Runtime::create(const CreateOptions& opts) {
  BERTH_TRY(create_impl(opts, false, false));
  return ok();
}

Result<ContainerStatus> Runtime::status_of(const ContainerState& s) {
  if (!process_matches(s.pid, s.start_time)) return ContainerStatus::Stopped;
  struct stat st;
  if (::stat((store_.dir(s.id) + "/" + kFifo).c_str(), &st) == 0) return ContainerStatus::Created;
  auto cg = manager_for(s.cgroups_path, s.id);
  if (cg) {
    auto fz = (*cg)->frozen();
    if (fz && *fz) return ContainerStatus::Paused;
  }
  return ContainerStatus::Running;
}

Status Runtime::start_impl(const ContainerState& s, const oci::Spec& spec) {
  std::string fifo = store_.dir(s.id) + "/" + kFifo;
  UniqueFd fd(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return fail(Errc::FailedPrecondition, "cannot start a container that has already started");
    return fail_errno("open exec fifo");
  }
  // The init may have died while waiting; poll with a liveness check rather than block forever.
  for (;;) {
    struct pollfd p = {fd.get(), POLLIN, 0};
    int r = ::poll(&p, 1, 100);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail_errno("wait on exec fifo");
    if (r > 0 && (p.revents & POLLIN)) {
      char c;
      ssize_t n = ::read(fd.get(), &c, 1);
      if (n == 1) break;
      if (n < 0 && errno == EAGAIN) continue;
      return fail(Errc::FailedPrecondition, "container init exited before start");
    }
    if (r > 0 && (p.revents & POLLHUP)) return fail(Errc::FailedPrecondition, "container init exited before start");
    if (!process_matches(s.pid, s.start_time))
      return fail(Errc::FailedPrecondition, "container init exited before start");
  }
  ::unlink(fifo.c_str());
  if (!spec.hooks.poststart.empty()) {
    std::string state = oci_state_json(s, ContainerStatus::Running, -1);
    for (const auto& h : spec.hooks.poststart) {
      if (auto st = run_hook(h, state, "poststart"); !st) log::warn("{}", st.error().message());
    }
  }
  return ok();
}

Status Runtime::start(const std::string& id) {
  BERTH_TRY(validate_id(id));
  ContainerState s = BERTH_TRY(store_.load(id));
  if (!process_matches(s.pid, s.start_time)) return fail(Errc::FailedPrecondition, "cannot start a container that has stopped");
  oci::Spec spec;
  if (!s.config_json.empty()) spec = BERTH_TRY_CTX(oci::parse_runtime_spec(s.config_json), "stored config");
  return start_impl(s, spec);
}

Result<int> Runtime::run(const CreateOptions& opts, bool detach) {
  // In the foreground a terminal without --console-socket is relayed by us.
  Created c = BERTH_TRY(create_impl(opts, !detach, true));
  if (!detach) install_forwarding(c.state.pid);
  if (auto st = sync_send(c.sock.get(), SyncType::Start); !st) {
    restore_forwarding();
    (void)destroy(c.state, &c.spec);
    return fail(std::move(st).error().wrap("start container"));
  }
  c.sock.reset();
  if (!c.spec.hooks.poststart.empty()) {
    std::string state = oci_state_json(c.state, ContainerStatus::Running, -1);
    for (const auto& h : c.spec.hooks.poststart) {
      if (auto st = run_hook(h, state, "poststart"); !st) log::warn("{}", st.error().message());
    }
  }
  if (detach) return 0;
  if (c.pty_master) relay_terminal(c.pty_master.get(), c.state.pid);
  int code = wait_child(c.state.pid);
  restore_forwarding();
  c.pty_master.reset();
  BERTH_TRY(destroy(c.state, &c.spec));
  return code;
}

Status Runtime::destroy(const ContainerState& s, const oci::Spec* spec) {
  auto cg = manager_for(s.cgroups_path, s.id);
  if (process_matches(s.pid, s.start_time)) {
    (void)signal_verified(s.pid, s.start_time, SIGKILL);
    if (cg) (void)(*cg)->thaw();
    wait_gone(s.pid, s.start_time, 10000);
  }
  if (cg) {
    // Without its own pid namespace the container's other processes outlive init.
    if (!s.new_pid_ns) {
      (void)(*cg)->kill_all(SIGKILL);
    }
    if (auto st = (*cg)->destroy(); !st) return fail(std::move(st).error().wrap("remove cgroup"));
  }
  oci::Spec parsed;
  if (!spec && !s.config_json.empty()) {
    auto p = oci::parse_runtime_spec(s.config_json);
    if (p) {
      parsed = std::move(*p);
      spec = &parsed;
    }
  }
  if (spec && !spec->hooks.poststop.empty()) {
    std::string state = oci_state_json(s, ContainerStatus::Stopped, -1);
    for (const auto& h : spec->hooks.poststop) {
      if (auto st = run_hook(h, state, "poststop"); !st) log::warn("{}", st.error().message());
    }
  }
  return store_.remove(s.id);
}

Status Runtime::kill(const std::string& id, int sig, bool all) {
  BERTH_TRY(validate_id(id));
  ContainerState s = BERTH_TRY(store_.load(id));
  if (all) {
    auto cg = BERTH_TRY(manager_for(s.cgroups_path, s.id));
    return cg->kill_all(sig);
  }
  return signal_verified(s.pid, s.start_time, sig);
}

Status Runtime::remove(const std::string& id, bool force) {
  BERTH_TRY(validate_id(id));
  auto loaded = store_.load(id);
  if (!loaded) {
    if (loaded.error().code() == Errc::NotFound) {
      // A directory without state is a create that died half-way; nothing else can own it.
      struct stat st;
      if (::stat(store_.dir(id).c_str(), &st) == 0) return store_.remove(id);
      if (force) return ok();
    }
    return fail(std::move(loaded).error());
  }
  ContainerState s = std::move(*loaded);
  ContainerStatus status = BERTH_TRY(status_of(s));
  if ((status == ContainerStatus::Running || status == ContainerStatus::Paused) && !force)
    return fail(Errc::FailedPrecondition, "cannot delete container {} that is not stopped: {}", id, status_name(status));
  return destroy(s, nullptr);
}

Result<ContainerInfo> Runtime::info(const std::string& id) {
  BERTH_TRY(validate_id(id));
  ContainerInfo i;
  i.state = BERTH_TRY(store_.load(id));
  i.status = BERTH_TRY(status_of(i.state));
  return i;
}

Result<std::string> Runtime::state_json(const std::string& id) {
  ContainerInfo i = BERTH_TRY(info(id));
  return oci_state_json(i.state, i.status);
}

Result<std::vector<ContainerInfo>> Runtime::list() {
  std::vector<ContainerInfo> out;
  for (const auto& id : BERTH_TRY(store_.list())) {
    auto i = info(id);
    if (i) out.push_back(std::move(*i));
  }
  return out;
}

Result<std::vector<pid_t>> Runtime::pids(const std::string& id) {
  ContainerState s = BERTH_TRY(store_.load(id));
  auto cg = BERTH_TRY(manager_for(s.cgroups_path, s.id));
  return cg->pids();
}

Status Runtime::pause(const std::string& id) {
  ContainerInfo i = BERTH_TRY(info(id));
  if (i.status != ContainerStatus::Running && i.status != ContainerStatus::Created)
    return fail(Errc::FailedPrecondition, "container {} is not running", id);
  auto cg = BERTH_TRY(manager_for(i.state.cgroups_path, id));
  return cg->freeze();
}

Status Runtime::resume(const std::string& id) {
  ContainerInfo i = BERTH_TRY(info(id));
  if (i.status != ContainerStatus::Paused) return fail(Errc::FailedPrecondition, "container {} is not paused", id);
  auto cg = BERTH_TRY(manager_for(i.state.cgroups_path, id));
  return cg->thaw();
}

Status Runtime::update(const std::string& id, const oci::Resources& resources) {
  ContainerInfo i = BERTH_TRY(info(id));
  if (i.status == ContainerStatus::Stopped) return fail(Errc::FailedPrecondition, "container {} is stopped", id);
  auto cg = BERTH_TRY(manager_for(i.state.cgroups_path, id));
  BERTH_TRY(cg->apply(resources));
  return ok();
}

Result<cgroup::Stats> Runtime::stats(const std::string& id) {
  ContainerState s = BERTH_TRY(store_.load(id));
  auto cg = BERTH_TRY(manager_for(s.cgroups_path, s.id));
  return cg->stats();
}

Result<int> Runtime::exec(const ExecOptions& eo) {
  BERTH_TRY(validate_id(eo.id));
  ContainerState s = BERTH_TRY(store_.load(eo.id));
  ContainerStatus status = BERTH_TRY(status_of(s));
  if (status != ContainerStatus::Running && status != ContainerStatus::Created)
    return fail(Errc::FailedPrecondition, "cannot exec in a container that is {}", status_name(status));
  oci::Spec spec = BERTH_TRY_CTX(oci::parse_runtime_spec(s.config_json), "stored config");

  oci::Process proc;
  if (eo.process) {
    proc = *eo.process;
  } else {
    proc = spec.process ? *spec.process : oci::Process{};
    proc.args = eo.args;
    proc.terminal = false;
    proc.console_size.reset();
  }
  if (eo.tty) proc.terminal = *eo.tty;
  if (!eo.cwd.empty()) proc.cwd = eo.cwd;
  for (const auto& e : eo.env) {
    auto eq = e.find('=');
    std::string key = e.substr(0, eq);
    std::erase_if(proc.env, [&](const std::string& x) { return x.substr(0, x.find('=')) == key; });
    proc.env.push_back(e);
  }
  if (eo.uid) proc.user.uid = *eo.uid;
  if (eo.gid) proc.user.gid = *eo.gid;
  if (!eo.additional_gids.empty()) proc.user.additional_gids = eo.additional_gids;
  if (eo.no_new_privs) proc.no_new_privileges = true;
  if (!eo.add_caps.empty()) {
    if (!proc.capabilities) proc.capabilities = oci::Capabilities{};
    auto& c = *proc.capabilities;
    for (const auto& cap : eo.add_caps) {
      for (auto* set : {&c.bounding, &c.effective, &c.permitted, &c.ambient})
        if (std::find(set->begin(), set->end(), cap) == set->end()) set->push_back(cap);
    }
  }
  if (proc.args.empty()) return fail(Errc::InvalidArgument, "exec: no command given");
  if (proc.cwd.empty() || proc.cwd[0] != '/') return fail(Errc::InvalidArgument, "exec: cwd must be an absolute path");
  if (proc.terminal && eo.console_socket.empty() && eo.detach)
    return fail(Errc::InvalidArgument, "exec: --tty with --detach needs --console-socket");

  InitContext ctx;
  ctx.spec = &spec;
  ctx.process = &proc;
  ctx.is_exec = true;
  ctx.preserve_fds = eo.preserve_fds;
  if (proc.capabilities) {
    ctx.has_caps = true;
    ctx.caps = BERTH_TRY_CTX(compile_process_caps(proc), "process.capabilities");
  }
  ctx.rlimits = BERTH_TRY(compile_rlimits(proc));
  oci::Spec sec_spec;
  sec_spec.linux = oci::Linux{};
  if (spec.linux) sec_spec.linux->seccomp = spec.linux->seccomp;
  SeccompProgram seccomp = BERTH_TRY(compile_seccomp(sec_spec, opts_.root + "/.seccomp-cache"));
  ctx.install_seccomp = [&seccomp](int agent, std::string_view state) { return seccomp.install(agent, state); };
  UniqueFd seccomp_agent;
  if (seccomp.uses_notify()) seccomp_agent = BERTH_TRY(seccomp.connect_agent());

  // Namespaces: every one the container has (new or joined), through the init's /proc/<pid>/ns links,
  // verified to still belong to the init we recorded.
  std::vector<UniqueFd> ns_fds;
  std::vector<std::pair<int, int>> order;  // rank, index
  for (const auto& ns : spec.linux ? spec.linux->namespaces : std::vector<oci::Namespace>{}) {
    std::string p = fmt::format("/proc/{}/ns/{}", s.pid, ns_proc_name(ns.type));
    struct stat mine, theirs;
    if (::stat(fmt::format("/proc/self/ns/{}", ns_proc_name(ns.type)).c_str(), &mine) == 0 &&
        ::stat(p.c_str(), &theirs) == 0 && mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev)
      continue;
    UniqueFd fd = BERTH_TRY(open_ns(p, ns.type));
    if (ns.type == oci::NamespaceType::Pid) ctx.join_pid_ns = true;
    order.emplace_back(ns_join_rank(ns.type), static_cast<int>(ns_fds.size()));
    ns_fds.push_back(std::move(fd));
  }
  if (!process_matches(s.pid, s.start_time)) return fail(Errc::FailedPrecondition, "container is not running");
  std::stable_sort(order.begin(), order.end());

  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return fail_errno("socketpair");
  UniqueFd parent_sock(sp[0]), child_sock(sp[1]);
  int min_fd = 3 + eo.preserve_fds;
  BERTH_TRY(move_fd_above(child_sock, min_fd));
  BERTH_TRY(move_fd_above(seccomp_agent, min_fd));
  ctx.seccomp_agent_fd = seccomp_agent.get();
  for (auto& fd : ns_fds) BERTH_TRY(move_fd_above(fd, min_fd));
  for (auto& [rank, idx] : order) ctx.join_ns_fds.push_back(ns_fds[static_cast<size_t>(idx)].get());
  ctx.sock = child_sock.get();
  auto cg = BERTH_TRY(manager_for(s.cgroups_path, s.id));
  // As for the init: on cgroup v1 the process joins the container's cgroups itself (see create_impl).
  std::vector<UniqueFd> tasks_fds;
  bool self_attach = layout_->mode == cgroup::Mode::V1;
  if (self_attach) tasks_fds = BERTH_TRY(open_tasks_fds(*cg, min_fd, ctx));

  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  pid_t first = raw_clone(0);
  if (first < 0) return fail_errno("clone exec process");
  if (first == 0) {
    parent_sock.reset();
    init_main(ctx);
  }
  child_sock.reset();
  ns_fds.clear();
  bool notify = static_cast<bool>(seccomp_agent);
  seccomp_agent.reset();
  pid_t pid = first;
  auto fail_kill = [&](Error e) -> Result<int> {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (first != pid) ::waitpid(first, nullptr, 0);
    return fail(std::move(e));
  };
  if (ctx.join_pid_ns) {
    auto m = sync_expect(parent_sock.get(), SyncType::Pid);
    if (!m) return fail_kill(std::move(m).error());
    pid = std::stoi(m->text);
    ::waitpid(first, nullptr, 0);
  }
  tasks_fds.clear();
  if (!self_attach) {
    if (auto st = cg->add_pid(pid); !st) return fail_kill(std::move(st).error().wrap("join cgroup"));
  }
  std::string state = oci_state_json(s, status, -1);
  if (auto st = sync_send(parent_sock.get(), SyncType::Go, state); !st) return fail_kill(std::move(st).error());
  if (notify) {
    if (auto st = sync_send(parent_sock.get(), SyncType::SeccompState, seccomp.process_state(pid, state)); !st)
      return fail_kill(std::move(st).error());
  }
  UniqueFd master;
  for (;;) {
    auto m = sync_recv(parent_sock.get());
    if (!m) {
      if (m.error().code() == Errc::Unavailable) break;  // EOF: execve succeeded (O_CLOEXEC socket)
      return fail_kill(std::move(m).error());
    }
    if (m->type == SyncType::Error) {
      Error e = m->err ? Error(Error::from_errno(m->err, "").code(), m->text, m->err) : Error(Errc::Internal, m->text);
      ::waitpid(pid, nullptr, 0);
      return fail(std::move(e));
    }
    if (m->type == SyncType::Console && m->fd) {
      if (!eo.console_socket.empty()) {
        if (auto st = send_console(eo.console_socket, m->fd.get()); !st) return fail_kill(std::move(st).error());
      } else {
        master = std::move(m->fd);
      }
    }
  }
  if (!eo.pid_file.empty()) BERTH_TRY_CTX(write_pid_file(eo.pid_file, pid), "--pid-file");
  if (eo.detach) return 0;
  install_forwarding(pid);
  if (master) relay_terminal(master.get(), pid);
  int code = wait_child(pid);
  restore_forwarding();
  return code;
}

}  // namespace berth::runtime
