#include "runtime/sync.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace berth::runtime {
namespace {

struct Pair {
  UniqueFd a, b;
  Pair() {
    int sp[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
    a.reset(sp[0]);
    b.reset(sp[1]);
  }
};

TEST(Sync, MessagesKeepBoundariesAndText) {
  Pair p;
  ASSERT_TRUE(sync_send(p.a.get(), SyncType::Go, "{\"id\":\"x\"}"));
  ASSERT_TRUE(sync_send(p.a.get(), SyncType::Ready));
  auto m = sync_expect(p.b.get(), SyncType::Go);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->text, "{\"id\":\"x\"}");
  m = sync_recv(p.b.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, SyncType::Ready);
  EXPECT_EQ(m->text, "");
  EXPECT_FALSE(m->fd);
}

TEST(Sync, ErrorsCarryErrnoAndMessage) {
  Pair p;
  ASSERT_TRUE(sync_send(p.a.get(), SyncType::Error, "mount `/proc`: Operation not permitted", EPERM));
  auto m = sync_expect(p.b.get(), SyncType::Ready);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().sys_errno(), EPERM);
  EXPECT_EQ(m.error().code(), Errc::PermissionDenied);
  EXPECT_EQ(m.error().message(), "mount `/proc`: Operation not permitted");
}

TEST(Sync, UnexpectedTypeAndEof) {
  Pair p;
  ASSERT_TRUE(sync_send(p.a.get(), SyncType::Hooks));
  auto m = sync_expect(p.b.get(), SyncType::Ready);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), Errc::Internal);
  p.a.reset();
  m = sync_recv(p.b.get());
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), Errc::Unavailable);
}

TEST(Sync, PassesAFileDescriptor) {
  Pair p;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd r(fds[0]), w(fds[1]);
  ASSERT_TRUE(sync_send(p.a.get(), SyncType::Console, {}, 0, r.get()));
  auto m = sync_expect(p.b.get(), SyncType::Console);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->fd);
  EXPECT_NE(m->fd.get(), r.get());
  EXPECT_EQ(::fcntl(m->fd.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ASSERT_EQ(::write(w.get(), "z", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(m->fd.get(), &c, 1), 1);
  EXPECT_EQ(c, 'z');
}

TEST(Sync, LongTextIsTruncatedNotSplit) {
  Pair p;
  std::string big(kMaxSyncText + 100, 'x');
  ASSERT_TRUE(sync_send(p.a.get(), SyncType::Go, big));
  auto m = sync_expect(p.b.get(), SyncType::Go);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->text.size(), kMaxSyncText);
}

}  // namespace
}  // namespace berth::runtime
