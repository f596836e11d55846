#pragma once
// Passing a file descriptor over a unix socket (SCM_RIGHTS) with a payload, in one sendmsg/recvmsg: the runtime's
// parent/child messages, the pty master for --console-socket and the seccomp listener for its agent.
// No allocation on the success path (the seccomp listener is sent between clone and execve).

#include <sys/uio.h>

#include <cstddef>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth::sys {

// Sends iov[0..iovlen) with `fd` attached (fd < 0: nothing attached) using MSG_NOSIGNAL, retrying on
// EINTR. Returns the number of bytes sent (a stream socket may take less than all of it; the fd goes with
// the first byte). Errors: the errno of sendmsg, e.g. EPIPE when the peer has gone.
Result<size_t> send_with_fd(int sock, const iovec* iov, size_t iovlen, int fd);
// One buffer.
Result<size_t> send_with_fd(int sock, std::string_view data, int fd);

struct Received {
  size_t bytes = 0;  // 0: the peer closed the connection
  UniqueFd fd;       // the descriptor that came with the data (close-on-exec), if any
};
// Receives up to len bytes into buf and the descriptor attached to them (MSG_CMSG_CLOEXEC), retrying on
// EINTR. A second descriptor in the same message is closed. Errors: the errno of recvmsg.
Result<Received> recv_with_fd(int sock, void* buf, size_t len);

}  // namespace berth::sys
