#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/unique_fd.h"

namespace berth::runtime {

Status run_hook(const oci::Hook& hook, std::string_view state_json, std::string_view phase) {
  std::vector<std::string> args = hook.args;
  if (args.empty()) args.push_back(hook.path);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return fail_errno("{} hook: pipe", phase);
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("{} hook `{}`: fork", phase, hook.path);
  if (pid == 0) {
    ::dup2(rd.get(), 0);
    signal(SIGPIPE, SIG_DFL);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  rd.reset();
  // The state is small (well under a pipe buffer); a hook that ignores stdin must not block us.
  signal(SIGPIPE, SIG_IGN);
  (void)write_all(wr.get(), state_json);
  wr.reset();

  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (hook.timeout && pidfd) {
    struct pollfd pfd = {pidfd.get(), POLLIN, 0};
    int r;
    do {
      r = ::poll(&pfd, 1, *hook.timeout * 1000);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return fail(Errc::FailedPrecondition, "{} hook `{}` timed out after {}s", phase, hook.path, *hook.timeout);
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return fail_errno("{} hook `{}`: wait", phase, hook.path);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ok();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return fail(Errc::FailedPrecondition, "{} hook `{}` could not be executed (exit status 127)", phase, hook.path);
  if (WIFEXITED(status))
    return fail(Errc::FailedPrecondition, "{} hook `{}` exited with status {}", phase, hook.path,
                WEXITSTATUS(status));
  return fail(Errc::FailedPrecondition, "{} hook `{}` killed by signal {}", phase, hook.path, WTERMSIG(status));
}

Status run_hooks(const std::vector<oci::Hook>& hooks, std::string_view state_json, std::string_view phase) {
  for (const auto& h : hooks) BERTH_TRY(run_hook(h, state_json, phase));
  return ok();
}

}  // namespace berth::runtime
