#pragma once
// The code that runs in a clone()d child between clone and execve: the container's init (create) and the
// processes of `exec`. Internal to the runtime library; container.cc is the only caller.
//
// Protocol (sync.h), init:                        exec:
//   parent: clone, cgroup, oom, id maps -> Go      parent: clone (setns done in child) -> Go
//   child:  rootfs::prepare                         child: (pty -> Console)
//   child -> Hooks; parent runs prestart +          child: user, caps, cwd, seccomp, close fds
//           createRuntime hooks -> HooksDone        child: execve; the socket is O_CLOEXEC, so EOF
//   child:  createContainer hooks, rootfs::enter,          means the exec succeeded
//           console -> Console (pty master)
//   child:  finalize, hostname, rlimits, user, caps, cwd, close fds -> Ready
//   child:  blocks opening exec.fifo until `start`, startContainer hooks, seccomp, execve
// With a seccomp agent (SCMP_ACT_NOTIFY) the parent always sends Go, then SeccompState; the child sends the
// listener fd to the agent right after installing the filter (wherever that is in the sequence above).

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "oci/runtime_spec.h"
#include "sys/caps.h"

namespace berth::runtime {

struct InitContext {
  const oci::Spec* spec = nullptr;
  const oci::Process* process = nullptr;  // spec->process for init; the exec process otherwise
  bool is_exec = false;
  std::string rootfs;
  std::string bundle;
  bool no_pivot = false;
  bool new_user_ns = false;
  bool new_mount_ns = false;
  bool new_uts_ns = false;
  int sock = -1;        // child end of the sync socket
  int state_dir_fd = -1;  // init: O_PATH fd of <root>/<id> (for exec.fifo)
  int fifo_fd = -1;       // init: O_PATH fd of exec.fifo (reopened through /proc/self/fd: no dir access needed)
  bool new_cgroup_ns = false;
  long personality = -1;        // linux.personality domain, -1 = unchanged
  bool wait_go = true;          // wait for SyncType::Go before setting up
  bool start_via_sock = false;  // init of `run`: wait for SyncType::Start on sock instead of exec.fifo
  std::vector<int> cgroup_tasks_fds;  // init on cgroup v1: write "0" to each to join the container's cgroups  // unshared by the child after the parent placed it in its cgroup
  int preserve_fds = 0;   // fds 3 .. 3+preserve_fds-1 stay open
  // Converted by the parent (all validation happens before clone).
  bool has_caps = false;
  sys::CapMasks caps;
  struct Rlimit {
    int resource;
    uint64_t soft, hard;
  };
  std::vector<Rlimit> rlimits;
  std::string session_keyring;  // init: join a new session keyring with this name ("" = keep)
  // Installs the compiled seccomp filter (or does nothing). Runs in the child. With SCMP_ACT_NOTIFY it also
  // sends the listener fd and the process state to the agent on agent_sock.
  std::function<Status(int agent_sock, std::string_view process_state)> install_seccomp;
  // SCMP_ACT_NOTIFY only: socket connected to listenerPath by the parent (-1 otherwise). The child receives
  // the process state (SyncType::SeccompState) after Go, and closes the socket once the listener is sent.
  int seccomp_agent_fd = -1;
  std::string seccomp_process_state;
  // exec: namespace fds to setns into, in order (user first). Closed by the child after use.
  std::vector<int> join_ns_fds;
  bool join_pid_ns = false;  // exec: the pid namespace is joined -> fork once more after setns
};

// Never returns: execs the process or reports an Error over ctx.sock and _exits.
[[noreturn]] void init_main(InitContext& ctx);

}  // namespace berth::runtime
