#include "runtime/state_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/temp_dir.h"

namespace berth::runtime {
namespace {

ContainerState sample() {
  ContainerState s;
  s.id = "core-state";
  s.pid = 4242;
  s.start_time = 987654321;
  s.bundle = "/b";
  s.rootfs = "/b/rootfs";
  s.created = "2026-11-25T08:00:00.000000001Z";
  s.owner = 0;
  s.annotations = {{"k", "v \"quoted\""}};
  s.cgroups_path = "/berth/core-state";
  s.cgroup_paths = {{"memory", "/sys/fs/cgroup/memory/berth/core-state"}};
  s.new_pid_ns = true;
  s.config_json = R"({"ociVersion":"1.1.0","root":{"path":"rootfs"}})";
  return s;
}

TEST(StateJson, RoundTrip) {
  ContainerState s = sample();
  auto back = state_from_json(state_to_json(s));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->id, s.id);
  EXPECT_EQ(back->pid, s.pid);
  EXPECT_EQ(back->start_time, s.start_time);
  EXPECT_EQ(back->bundle, s.bundle);
  EXPECT_EQ(back->rootfs, s.rootfs);
  EXPECT_EQ(back->created, s.created);
  EXPECT_EQ(back->annotations, s.annotations);
  EXPECT_EQ(back->cgroups_path, s.cgroups_path);
  EXPECT_EQ(back->cgroup_paths, s.cgroup_paths);
  EXPECT_TRUE(back->new_pid_ns);
  EXPECT_EQ(back->config_json, s.config_json);
}

TEST(StateJson, CorruptIsAnError) {
  EXPECT_FALSE(state_from_json("{"));
  EXPECT_FALSE(state_from_json(R"({"id":"x"})"));
  EXPECT_FALSE(state_from_json(R"({"id":1,"pid":1,"start_time":1,"bundle":"/"})"));
}

TEST(OciState, StoppedHasNoPid) {
  ContainerState s = sample();
  std::string running = oci_state_json(s, ContainerStatus::Running, -1);
  EXPECT_NE(running.find("\"status\":\"running\""), std::string::npos);
  EXPECT_NE(running.find("\"pid\":4242"), std::string::npos);
  std::string stopped = oci_state_json(s, ContainerStatus::Stopped, -1);
  EXPECT_NE(stopped.find("\"pid\":0"), std::string::npos);
  EXPECT_NE(stopped.find("\"ociVersion\":\"1.1.0\""), std::string::npos);
}

TEST(ProcStat, ParsesCommWithSpacesAndParens) {
  std::string line = "123 (a b) c)) S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 5555 1000 10 18446744073709551615";
  auto r = parse_proc_stat(line);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->first, 'S');
  EXPECT_EQ(r->second, 5555u);
  EXPECT_FALSE(parse_proc_stat("123 (x) S 1 2"));
  EXPECT_FALSE(parse_proc_stat("no paren"));
}

TEST(ProcStat, FakeProcRoot) {
  testing::TempDir proc;
  ASSERT_TRUE(mkdir_all(proc / "77"));
  ASSERT_TRUE(write_file_atomic(proc / "77/stat", "77 (sh) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 31337 0 0\n"));
  auto r = process_start_time(77, proc.path());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 31337u);
  EXPECT_FALSE(process_start_time(78, proc.path()));
}

TEST(ProcStat, SelfMatchesAndReuseDoesNot) {
  auto st = process_start_time(::getpid());
  ASSERT_TRUE(st);
  EXPECT_TRUE(process_matches(::getpid(), *st));
  // Same pid, different start time: what a recycled pid looks like.
  EXPECT_FALSE(process_matches(::getpid(), *st + 1));
  EXPECT_FALSE(process_matches(0, *st));
}

TEST(StateStore, CreateSaveLoadListRemove) {
  testing::TempDir tmp;
  StateStore store(tmp / "root");
  EXPECT_TRUE(store.list()->empty());
  ASSERT_TRUE(store.create_dir("core-a"));
  struct stat st;
  ASSERT_EQ(::stat(store.dir("core-a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto again = store.create_dir("core-a");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::AlreadyExists);
  auto missing = store.load("core-a");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::NotFound);

  ContainerState s = sample();
  s.id = "core-a";
  ASSERT_TRUE(store.save(s));
  auto back = store.load("core-a");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->pid, 4242);
  ASSERT_TRUE(store.create_dir("core-b"));
  EXPECT_EQ(*store.list(), (std::vector<std::string>{"core-a", "core-b"}));
  { auto lk = store.lock("core-a"); EXPECT_TRUE(lk); }
  ASSERT_TRUE(store.remove("core-a"));
  EXPECT_EQ(*store.list(), (std::vector<std::string>{"core-b"}));
  EXPECT_FALSE(store.lock("core-a"));
}

}  // namespace
}  // namespace berth::runtime
