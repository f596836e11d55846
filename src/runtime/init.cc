#include "runtime/init.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "runtime/exec_path.h"
#include "runtime/hooks.h"
#include "runtime/rootfs/rootfs.h"
#include "runtime/sync.h"
#include "sys/rlimit.h"
#include "sys/passwd.h"
#include "sys/path.h"
#include "base/file.h"

namespace berth::runtime {
namespace {

#define CHILD_TRY(ctx, expr)                                               \
  ({                                                                       \
    auto&& child_r_ = (expr);                                              \
    if (!child_r_) sync_fail((ctx).sock, std::move(child_r_).error());     \
    ::berth::detail::try_value(std::move(child_r_));                      \
  })

[[noreturn]] void child_errno(const InitContext& ctx, int err, const std::string& what) {
  sync_fail(ctx.sock, Error::from_errno(err, what));
}

bool setgroups_denied() {
  char buf[16] = {};
  int fd = ::open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  return n > 0 && std::strncmp(buf, "deny", 4) == 0;
}

void reset_signals() {
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < _NSIG; ++s) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    ::sigaction(s, &sa, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// Closes every fd >= 3 except 3..3+preserve-1 and `keep`, so no host descriptor reaches the container
// (CVE-2024-21626); survivors we own carry O_CLOEXEC.
void close_fds_except(int preserve, std::vector<int> keep) {
  int first = 3 + preserve;
  keep.erase(std::remove_if(keep.begin(), keep.end(), [&](int fd) { return fd < first; }), keep.end());
  std::sort(keep.begin(), keep.end());
  unsigned lo = static_cast<unsigned>(first);
  for (int k : keep) {
    if (static_cast<unsigned>(k) > lo) ::syscall(SYS_close_range, lo, static_cast<unsigned>(k) - 1, 0);
    lo = static_cast<unsigned>(k) + 1;
  }
  ::syscall(SYS_close_range, lo, ~0U, 0);
}

void setup_console(InitContext& ctx) {
  int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) child_errno(ctx, errno, "open /dev/ptmx in the container");
  int unlock = 0;
  if (::ioctl(master, TIOCSPTLCK, &unlock) < 0) child_errno(ctx, errno, "unlock pty");
  // TIOCGPTPEER opens the peer of this very master: no path lookup the container could redirect.
  int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) child_errno(ctx, errno, "open pty peer");
  struct stat st;
  if (::fstat(slave, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) < 136 || major(st.st_rdev) > 143)
    sync_fail(ctx.sock, Error(Errc::PermissionDenied, "pty peer is not a pty slave"));
  const auto& p = *ctx.process;
  if (p.console_size) {
    struct winsize ws {};
    ws.ws_row = static_cast<unsigned short>(p.console_size->height);
    ws.ws_col = static_cast<unsigned short>(p.console_size->width);
    ::ioctl(slave, TIOCSWINSZ, &ws);
  }
  if (::fchown(slave, p.user.uid, p.user.gid) < 0 && errno != EINVAL)
    child_errno(ctx, errno, "chown pty slave");
  // /dev/console first: if the container's /dev refuses it, no master has been handed out.
  if (!ctx.is_exec) CHILD_TRY(ctx, rootfs::setup_console(slave));
  CHILD_TRY(ctx, sync_send(ctx.sock, SyncType::Console, {}, 0, master));
  ::close(master);
  if (::setsid() < 0 && errno != EPERM) child_errno(ctx, errno, "setsid");
  if (::ioctl(slave, TIOCSCTTY, 0) < 0) child_errno(ctx, errno, "set controlling terminal");
  for (int fd = 0; fd < 3; ++fd)
    if (::dup2(slave, fd) < 0) child_errno(ctx, errno, "dup pty slave to stdio");
  ::close(slave);
}

void apply_user_and_caps(InitContext& ctx) {
  const auto& u = ctx.process->user;
  // A user namespace whose setgroups is "deny" cannot change groups; only an empty list is acceptable then.
  bool set_groups = !(ctx.new_user_ns && u.additional_gids.empty() && setgroups_denied());
  CHILD_TRY(ctx, sys::switch_user(u.uid, u.gid, reinterpret_cast<const gid_t*>(u.additional_gids.data()),
                                  u.additional_gids.size(), set_groups));
  if (ctx.has_caps) CHILD_TRY(ctx, sys::apply_caps(ctx.caps));
  ::umask(u.umask ? static_cast<mode_t>(*u.umask) : 022);
}

void apply_rlimits(InitContext& ctx) {
  for (const auto& r : ctx.rlimits) CHILD_TRY(ctx, sys::set_rlimit(r.resource, r.soft, r.hard));
}

void change_cwd(InitContext& ctx) {
  const std::string& cwd = ctx.process->cwd;
  if (::chdir(cwd.c_str()) < 0) child_errno(ctx, errno, fmt::format("chdir to cwd `{}`", cwd));
  // CVE-2024-21626: a cwd reached through a leaked host fd reports "(unreachable)/..." or a path outside "/".
  char buf[4096];
  if (::getcwd(buf, sizeof buf) == nullptr || buf[0] != '/')
    sync_fail(ctx.sock, Error(Errc::PermissionDenied, fmt::format("cwd `{}` resolves outside the container root", cwd)));
}

std::vector<char*> cstrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

void join_namespaces(InitContext& ctx) {
  for (int fd : ctx.join_ns_fds) {
    if (::setns(fd, 0) < 0) child_errno(ctx, errno, "join container namespace");
    ::close(fd);
  }
  ctx.join_ns_fds.clear();
  if (ctx.join_pid_ns) {
    // setns(CLONE_NEWPID) only applies to children: fork once more, as a sibling of ourselves (CLONE_PARENT)
    // so the runtime can wait for it directly.
    pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0));
    if (pid < 0) child_errno(ctx, errno, "clone into the container's pid namespace");
    if (pid > 0) {
      (void)sync_send(ctx.sock, SyncType::Pid, std::to_string(pid));
      _exit(0);
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  }
}

// HOME, when the process env lacks it, from the container's /etc/passwd (parsed by us, never NSS), or "/".
void add_home(std::vector<std::string>& env, uid_t uid) {
  for (const auto& e : env)
    if (e.starts_with("HOME=")) return;
  std::string home = "/";
  int fd = ::open("/etc/passwd", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    auto text = read_fd(fd, sys::kMaxFileBytes);
    ::close(fd);
    if (text) {
      if (auto entries = sys::parse_passwd(*text)) {
        for (const auto& p : *entries)
          if (p.uid == uid) {
            if (!p.home.empty()) home = p.home;
            break;
          }
      }
    }
  }
  env.push_back("HOME=" + home);
}

// runc creates a missing cwd (as root, before the user switch); resolved inside the new root.
void make_cwd(InitContext& ctx) {
  const std::string& cwd = ctx.process->cwd;
  if (cwd == "/") return;
  struct stat st;
  if (::stat(cwd.c_str(), &st) == 0) return;
  auto root = sys::open_root("/");
  if (!root) sync_fail(ctx.sock, root.error());
  auto d = sys::mkdir_all_in_root(root->get(), cwd, 0755);
  if (!d) sync_fail(ctx.sock, std::move(d).error().wrap(fmt::format("create cwd `{}`", cwd)));
}

// Installs the seccomp filter; with SCMP_ACT_NOTIFY the listener fd goes to the agent right away (every
// notified syscall of ours waits for it from here on) and the agent connection is closed.
Status install_seccomp(InitContext& ctx) {
  Status st = ctx.install_seccomp(ctx.seccomp_agent_fd, ctx.seccomp_process_state);
  if (ctx.seccomp_agent_fd >= 0) {
    ::close(ctx.seccomp_agent_fd);
    ctx.seccomp_agent_fd = -1;
  }
  return st;
}

}  // namespace

void init_main(InitContext& ctx) {
  reset_signals();
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // Until execve nothing in the container may open /proc/<us>/exe or ptrace us (CVE-2019-5736).
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  const oci::Spec& spec = *ctx.spec;
  const oci::Process& proc = *ctx.process;

  // Before any setns: the write needs our current cgroup to be visible from our cgroup namespace.
  for (int fd : ctx.cgroup_tasks_fds) {
    if (::write(fd, "0", 1) != 1) child_errno(ctx, errno, "join the container's cgroup");
    ::close(fd);
  }
  ctx.cgroup_tasks_fds.clear();
  if (ctx.is_exec) join_namespaces(ctx);

  std::string state_json;
  if (ctx.wait_go) state_json = CHILD_TRY(ctx, sync_expect(ctx.sock, SyncType::Go)).text;
  if (ctx.seccomp_agent_fd >= 0)
    ctx.seccomp_process_state = CHILD_TRY(ctx, sync_expect(ctx.sock, SyncType::SeccompState)).text;

  if (ctx.new_cgroup_ns && ::unshare(CLONE_NEWCGROUP) < 0) child_errno(ctx, errno, "unshare cgroup namespace");
  if (ctx.new_user_ns) {
    // The parent wrote uid_map/gid_map; become the namespace's root (if mapped) for the setup below.
    (void)::setresgid(0, 0, 0);
    (void)::setresuid(0, 0, 0);
  }

  if (!ctx.is_exec) {
    if (!ctx.session_keyring.empty()) {
      // Best effort, as a keyring is a convenience (ENOSYS/EACCES/EDQUOT happen in some setups).
      (void)::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, ctx.session_keyring.c_str());
    }
    rootfs::Options ropts{ctx.bundle, ctx.no_pivot, ctx.new_user_ns};
    if (ctx.new_mount_ns) CHILD_TRY(ctx, rootfs::prepare(spec, ctx.rootfs, ropts));
    if (!spec.hooks.prestart.empty() || !spec.hooks.create_runtime.empty()) {
      CHILD_TRY(ctx, sync_send(ctx.sock, SyncType::Hooks));
      CHILD_TRY(ctx, sync_expect(ctx.sock, SyncType::HooksDone));
    }
    CHILD_TRY(ctx, run_hooks(spec.hooks.create_container, state_json, "createContainer"));
    if (ctx.new_mount_ns) CHILD_TRY(ctx, rootfs::enter(ctx.rootfs, ropts));
    if (proc.terminal) setup_console(ctx);
    else if (::setsid() < 0) child_errno(ctx, errno, "setsid");
    if (ctx.new_mount_ns) CHILD_TRY(ctx, rootfs::finalize(spec, ropts));
    if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) < 0)
      child_errno(ctx, errno, "sethostname");
    if (!spec.domainname.empty() && ::setdomainname(spec.domainname.data(), spec.domainname.size()) < 0)
      child_errno(ctx, errno, "setdomainname");
  } else if (proc.terminal) {
    setup_console(ctx);
  }

  std::vector<std::string> env = proc.env;
  add_home(env, proc.user.uid);
  if (!ctx.is_exec && ctx.new_mount_ns) make_cwd(ctx);

  apply_rlimits(ctx);
  if (ctx.personality >= 0 && ::personality(static_cast<unsigned long>(ctx.personality)) < 0)
    child_errno(ctx, errno, "set personality");
  if (!proc.no_new_privileges) CHILD_TRY(ctx, install_seccomp(ctx));
  apply_user_and_caps(ctx);
  if (proc.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    child_errno(ctx, errno, "set no_new_privs");
  change_cwd(ctx);
  std::string exe = CHILD_TRY(ctx, find_executable(proc.args.at(0), env));
  std::vector<char*> argv = cstrings(proc.args);
  std::vector<char*> envp = cstrings(env);

  if (!ctx.is_exec) {
    close_fds_except(ctx.preserve_fds, {ctx.sock, ctx.state_dir_fd, ctx.fifo_fd, ctx.seccomp_agent_fd});
    ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    CHILD_TRY(ctx, sync_send(ctx.sock, SyncType::Ready));
    if (ctx.start_via_sock) {
      // `run`: the runtime that created us starts us; if it dies first, so do we (nobody can start us).
      auto m = sync_recv(ctx.sock);
      if (!m || m->type != SyncType::Start) _exit(127);
      ::close(ctx.sock);
    } else {
      ::close(ctx.sock);
    }
    ctx.sock = 2;  // from here on errors go to the container's stderr
    // Blocks until `start` opens the fifo for reading. Opened relative to the state dir fd: the path is not
    // visible after pivot_root.
    // Through the O_PATH fd's magic link only the fifo's own mode (0622) is checked, so a non-root or
    // user-namespaced init can open it; without /proc in the container fall back to the state dir.
    if (!ctx.start_via_sock) {
      char fdpath[64];
      snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", ctx.fifo_fd);
      int fifo = ::open(fdpath, O_WRONLY | O_CLOEXEC);
      if (fifo < 0) fifo = ::openat(ctx.state_dir_fd, "exec.fifo", O_WRONLY | O_CLOEXEC);
      if (fifo < 0) {
        dprintf(2, "berth-runtime: open exec.fifo: %s\n", strerror(errno));
        _exit(127);
      }
      ::close(ctx.state_dir_fd);
      ::close(ctx.fifo_fd);
      if (::write(fifo, "0", 1) != 1) _exit(127);
      ::close(fifo);
    }
    if (!spec.hooks.start_container.empty()) {
      if (auto st = run_hooks(spec.hooks.start_container, state_json, "startContainer"); !st) {
        dprintf(2, "berth-runtime: %s\n", st.error().message().c_str());
        _exit(127);
      }
    }
    if (proc.no_new_privileges) {
      if (auto st = install_seccomp(ctx); !st) {
        dprintf(2, "berth-runtime: %s\n", st.error().message().c_str());
        _exit(127);
      }
    }
    ::execve(exe.c_str(), argv.data(), envp.data());
    dprintf(2, "berth-runtime: exec `%s`: %s\n", exe.c_str(), strerror(errno));
    _exit(127);
  }

  close_fds_except(ctx.preserve_fds, {ctx.sock, ctx.seccomp_agent_fd});
  if (proc.no_new_privileges) CHILD_TRY(ctx, install_seccomp(ctx));
  ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  ::execve(exe.c_str(), argv.data(), envp.data());
  child_errno(ctx, errno, fmt::format("exec `{}`", exe));
}

}  // namespace berth::runtime
