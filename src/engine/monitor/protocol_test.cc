#include "engine/monitor/protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "base/testing/temp_dir.h"
#include "engine/monitor/shim_client.h"

namespace berth::engine::monitor {
namespace {

TEST(Protocol, RequestNeedsObjectWithOp) {
  EXPECT_TRUE(parse_request(R"({"op":"state"})"));
  for (const char* bad : {"", "nonsense", "[1,2]", "{}", R"({"op":3})", R"({"op":"x")", "\"op\""}) {
    auto r = parse_request(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument) << bad;
  }
}

TEST(Protocol, ErrorRepliesRoundTripTheirClass) {
  for (Errc c : {Errc::NotFound, Errc::InvalidArgument, Errc::FailedPrecondition, Errc::AlreadyExists,
                 Errc::Unavailable, Errc::Internal}) {
    std::string line = error_reply(Error(c, "exec: \"nope\": executable file not found"));
    auto r = parse_reply(line);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), c);
    EXPECT_EQ(r.error().message(), "exec: \"nope\": executable file not found");
  }
  auto okr = parse_reply(R"({"ok":true,"exit_code":3})");
  ASSERT_TRUE(okr);
  EXPECT_EQ((*okr)["exit_code"], 3);
  EXPECT_FALSE(parse_reply("garbage"));
  EXPECT_FALSE(parse_reply(R"({"exit_code":3})"));
  EXPECT_EQ(errc_from_name("NoSuchCode"), Errc::Internal);
}

TEST(Protocol, ReadLineLeavesTheStreamBehindIt) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  std::string msg = "{\"ok\":true}\nSTREAM-BYTES";
  ASSERT_EQ(::write(a.get(), msg.data(), msg.size()), static_cast<ssize_t>(msg.size()));
  auto line = read_line(b.get(), 1024);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, "{\"ok\":true}");
  char buf[64];
  ssize_t n = ::read(b.get(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "STREAM-BYTES");
}

TEST(Protocol, ReadLineFailsOnEofAndOverlongLines) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  ASSERT_TRUE(send_line(a.get(), std::string(10000, 'x')));
  auto r = read_line(b.get(), 100);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
  int sv2[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv2), 0);
  UniqueFd c(sv2[0]), d(sv2[1]);
  ASSERT_EQ(::write(c.get(), "partial", 7), 7);
  c.reset();
  auto e = read_line(d.get(), 100);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), Errc::Unavailable);
}

TEST(Protocol, LongSocketPathsWork) {
  testing::TempDir tmp;
  std::string dir = tmp.path() + "/" + std::string(60, 'd') + "/" + std::string(60, 'e');
  ASSERT_TRUE(mkdir_all(dir));
  std::string path = dir + "/shim.sock";
  ASSERT_GT(path.size(), 108u);
  auto l = listen_unix(path);
  ASSERT_TRUE(l) << l.error().message();
  auto c = connect_unix(path);
  ASSERT_TRUE(c) << c.error().message();
  auto missing = connect_unix(tmp.path() + "/none.sock");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::Unavailable);
}

TEST(ShimClient, DefaultShimPathNamesWhereItLooked) {
  // The test binary has no berth-shim beside it (build/src/engine/monitor/): the error says where it looked.
  auto p = default_shim_path();
  if (p) {
    EXPECT_NE(p->find("berth-shim"), std::string::npos);
  } else {
    EXPECT_EQ(p.error().code(), Errc::NotFound);
    EXPECT_NE(p.error().message().find("/berth-shim"), std::string::npos);
  }
}

TEST(ShimClient, UnreachableShimIsUnavailableAndWaitFallsBackToExitJson) {
  testing::TempDir tmp;
  ShimClient c(tmp.path());
  auto st = c.state();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::Unavailable);
  // No shim and no exit.json: NotFound (the daemon's "shim gone").
  auto w = c.wait();
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), Errc::NotFound);
  ExitInfo e;
  e.exit_code = 42;
  e.oom_killed = true;
  e.finished_at = "2026-11-25T12:00:00Z";
  ASSERT_TRUE(write_file_atomic(tmp / "exit.json", exit_info_json(e)));
  auto w2 = c.wait();
  ASSERT_TRUE(w2) << w2.error().message();
  EXPECT_EQ(w2->exit_code, 42);
  EXPECT_TRUE(w2->oom_killed);
  EXPECT_EQ(w2->finished_at, "2026-11-25T12:00:00Z");
  auto st2 = c.state();
  ASSERT_TRUE(st2) << st2.error().message();
  EXPECT_EQ(st2->status, "stopped");
  ASSERT_TRUE(st2->exit);
  EXPECT_EQ(st2->exit->exit_code, 42);
  ASSERT_TRUE(write_file_atomic(tmp / "exit.json", "{garbage"));
  EXPECT_FALSE(read_exit_file(tmp.path()));
}

TEST(ShimClient, SpawnValidatesItsInput) {
  ShimSpawn s;
  auto h = spawn_shim(s);
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code(), Errc::InvalidArgument);
}

}  // namespace
}  // namespace berth::engine::monitor
