#include "runtime/sync.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace berth::runtime {
namespace {
struct Header {
  uint32_t type;
  int32_t err;
};
}  // namespace

Status sync_send(int sock, SyncType type, std::string_view text, int err, int pass_fd) {
  if (text.size() > kMaxSyncText) text = text.substr(0, kMaxSyncText);
  Header h{static_cast<uint32_t>(type), err};
  struct iovec iov[2] = {{&h, sizeof h}, {const_cast<char*>(text.data()), text.size()}};
  struct msghdr msg {};
  msg.msg_iov = iov;
  msg.msg_iovlen = text.empty() ? 1 : 2;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    std::memset(cbuf, 0, sizeof cbuf);
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  for (;;) {
    if (::sendmsg(sock, &msg, MSG_NOSIGNAL) >= 0) return ok();
    if (errno != EINTR) return fail_errno("sync: send");
  }
}

Result<SyncMsg> sync_recv(int sock) {
  std::vector<char> buf(sizeof(Header) + kMaxSyncText);
  struct iovec iov = {buf.data(), buf.size()};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail_errno("sync: receive");
  SyncMsg out;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      out.fd.reset(fd);
    }
  }
  if (n == 0) return fail(Errc::Unavailable, "container process exited during setup");
  if (static_cast<size_t>(n) < sizeof(Header)) return fail(Errc::Internal, "sync: short message");
  Header h;
  std::memcpy(&h, buf.data(), sizeof h);
  out.type = static_cast<SyncType>(h.type);
  out.err = h.err;
  out.text.assign(buf.data() + sizeof h, static_cast<size_t>(n) - sizeof h);
  return out;
}

Result<SyncMsg> sync_expect(int sock, SyncType want) {
  auto m = BERTH_TRY(sync_recv(sock));
  if (m.type == SyncType::Error) {
    Error e = m.err ? Error(Error::from_errno(m.err, "x").code(), m.text, m.err) : Error(Errc::Internal, m.text);
    return fail(std::move(e));
  }
  if (m.type != want)
    return fail(Errc::Internal, "sync: unexpected message {} (want {})", static_cast<uint32_t>(m.type),
                static_cast<uint32_t>(want));
  return m;
}

void sync_fail(int sock, const Error& e) {
  (void)sync_send(sock, SyncType::Error, e.message(), e.sys_errno());
  _exit(1);
}

}  // namespace berth::runtime
