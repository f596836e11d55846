#pragma once
// Parent <-> child messages over a SOCK_SEQPACKET socketpair (one datagram per message, so no framing),
// optionally carrying one file descriptor (SCM_RIGHTS). Between clone() and execve the child reports a
// failure as an Error message {errno, text} and _exits; the parent turns it back into an Error.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth::runtime {

enum class SyncType : uint32_t {
  Error = 1,     // child -> parent: err + text; the child exits after sending
  Go,            // parent -> child: cgroup joined, id maps written; text = state JSON for hooks
  Hooks,         // child -> parent: mounts done, run prestart/createRuntime hooks now
  HooksDone,     // parent -> child
  Console,       // child -> parent: fd = pty master
  Ready,         // child -> parent: setup done (init now waits for `start`)
  Pid,           // intermediate -> parent: text = decimal pid of the process it created
  Start,         // parent -> init (run only): exec now (instead of exec.fifo)
  SeccompState,  // parent -> child, right after Go, only with a seccomp agent: text = container process state
};

struct SyncMsg {
  SyncType type = SyncType::Error;
  int32_t err = 0;
  std::string text;
  UniqueFd fd;
};

inline constexpr size_t kMaxSyncText = 60000;

// Sends one message (text truncated to kMaxSyncText). pass_fd < 0: no fd.
Status sync_send(int sock, SyncType type, std::string_view text = {}, int err = 0, int pass_fd = -1);
// Receives one message. Unavailable ("child exited") on EOF.
Result<SyncMsg> sync_recv(int sock);
// Receives and checks the type; an Error message becomes the returned Error (errno preserved).
Result<SyncMsg> sync_expect(int sock, SyncType want);

// Child side: report the error and _exit(1). Never returns.
[[noreturn]] void sync_fail(int sock, const Error& e);

}  // namespace berth::runtime
