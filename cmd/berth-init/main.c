/* berth-init: the minimal PID 1 for `--init` (bind-mounted at /sbin/docker-init).
 *
 *   berth-init [--] CMD [ARGS...]
 *
 * Runs CMD as its only child, forwards every catchable signal it receives to that child, reaps every
 * zombie that is re-parented to it (it is PID 1 of the container, or a child subreaper when run elsewhere),
 * and exits with the child's exit code, or 128+N when the child was killed by signal N.
 * Exit codes of its own: 127 CMD not found, 126 CMD not executable, 1 usage or setup failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* what) {
  fprintf(stderr, "berth-init: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Signals that are about this process's own faults or terminal job control: never forwarded. */
static int is_local_signal(int sig) {
  switch (sig) {
    case SIGFPE: case SIGILL: case SIGSEGV: case SIGBUS: case SIGABRT: case SIGTRAP: case SIGSYS:
    case SIGTTIN: case SIGTTOU:
      return 1;
    default:
      return 0;
  }
}

int main(int argc, char** argv) {
  int first = 1;
  if (first < argc && strcmp(argv[first], "--") == 0) first++;
  if (first >= argc) {
    fprintf(stderr, "usage: berth-init [--] CMD [ARGS...]\n");
    return 1;
  }

  /* Outside a PID namespace, orphans of the child come to us as they would to a PID 1. */
  if (getpid() != 1) (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  sigset_t all, old;
  sigfillset(&all);
  if (sigprocmask(SIG_BLOCK, &all, &old) < 0) die("sigprocmask");

  /* The child's exec status comes back on a close-on-exec pipe: EOF means the exec succeeded. */
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) < 0) die("pipe");

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(ep[0]);
    /* Default dispositions for everything the parent may have ignored; the original mask. */
    for (int s = 1; s < NSIG; s++) {
      if (s == SIGKILL || s == SIGSTOP) continue;
      signal(s, SIG_DFL);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    execvp(argv[first], argv + first);
    int err = errno;
    ssize_t w = write(ep[1], &err, sizeof err);
    (void)w;
    fprintf(stderr, "berth-init: exec %s: %s\n", argv[first], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
  }
  close(ep[1]);
  int exec_err = 0;
  ssize_t n;
  do n = read(ep[0], &exec_err, sizeof exec_err); while (n < 0 && errno == EINTR);
  close(ep[0]);

  int child_status = -1;
  for (;;) {
    /* Reap everything that has exited: our child and any adopted orphan. */
    for (;;) {
      int st;
      pid_t p = waitpid(-1, &st, WNOHANG);
      if (p <= 0) break;
      if (p == child) child_status = st;
    }
    if (child_status != -1) break;

    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) {
      if (errno == EINTR) continue;
      die("sigwaitinfo");
    }
    if (sig == SIGCHLD || is_local_signal(sig)) continue;
    if (kill(child, sig) < 0 && errno != ESRCH) die("kill");
  }
  (void)exec_err;

  /* Orphans that are still running are left to the kernel: when PID 1 exits, the namespace is killed. */
  if (WIFEXITED(child_status)) return WEXITSTATUS(child_status);
  if (WIFSIGNALED(child_status)) return 128 + WTERMSIG(child_status);
  return 1;
}
