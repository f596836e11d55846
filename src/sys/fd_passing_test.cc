#include "sys/fd_passing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "base/unique_fd.h"

namespace berth::sys {
namespace {

struct Got {
  std::string data;
  UniqueFd fd;
};

Got receive(int sock) {
  char buf[256];
  auto r = recv_with_fd(sock, buf, sizeof buf);
  if (!r) return {"error: " + r.error().message(), {}};
  return {std::string(buf, r->bytes), std::move(r->fd)};
}

TEST(FdPassing, SendsDataAndTheDescriptor) {
  int sp[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
  UniqueFd a(sp[0]), b(sp[1]);
  UniqueFd file(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(file);
  auto n = send_with_fd(a.get(), "hello", file.get());
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 5u);
  Got r = receive(b.get());
  EXPECT_EQ(r.data, "hello");
  ASSERT_TRUE(r.fd);
  UniqueFd got = std::move(r.fd);
  struct stat x {}, y{};
  ASSERT_EQ(::fstat(file.get(), &x), 0);
  ASSERT_EQ(::fstat(got.get(), &y), 0);
  EXPECT_EQ(x.st_ino, y.st_ino);  // the same open file, a new descriptor
  EXPECT_EQ(x.st_dev, y.st_dev);
  EXPECT_NE(got.get(), file.get());
}

TEST(FdPassing, NoDescriptorAndSeveralBuffers) {
  int sp[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
  UniqueFd a(sp[0]), b(sp[1]);
  char x[] = "ab", y[] = "cd";
  iovec iov[2] = {{x, 2}, {y, 2}};
  auto n = send_with_fd(a.get(), iov, 2, -1);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 4u);
  Got r = receive(b.get());
  EXPECT_EQ(r.data, "abcd");
  EXPECT_FALSE(r.fd);
  ::close(b.release());  // EOF is 0 bytes, not an error
  char c;
  auto eof = recv_with_fd(a.get(), &c, 1);
  ASSERT_TRUE(eof) << eof.error().message();
  EXPECT_EQ(eof->bytes, 0u);
}

TEST(FdPassing, PeerGoneIsAnErrorNotSigpipe) {
  int sp[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
  UniqueFd a(sp[0]);
  ::close(sp[1]);
  auto n = send_with_fd(a.get(), "x", 0);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().sys_errno(), EPIPE);
}

}  // namespace
}  // namespace berth::sys
