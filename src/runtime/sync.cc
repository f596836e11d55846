#include "runtime/sync.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "sys/fd_passing.h"

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
  if (auto n = sys::send_with_fd(sock, iov, text.empty() ? 1 : 2, pass_fd); !n)
    return fail(std::move(n).error().wrap("sync: send"));
  return ok();
}

Result<SyncMsg> sync_recv(int sock) {
  std::vector<char> buf(sizeof(Header) + kMaxSyncText);
  auto r = sys::recv_with_fd(sock, buf.data(), buf.size());
  if (!r) return fail(std::move(r).error().wrap("sync: receive"));
  size_t n = r->bytes;
  SyncMsg out;
  out.fd = std::move(r->fd);
  if (n == 0) return fail(Errc::Unavailable, "container process exited during setup");
  if (n < sizeof(Header)) return fail(Errc::Internal, "sync: short message");
  Header h;
  std::memcpy(&h, buf.data(), sizeof h);
  out.type = static_cast<SyncType>(h.type);
  out.err = h.err;
  out.text.assign(buf.data() + sizeof h, n - sizeof h);
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
