#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/testing/temp_dir.h"
#include "runtime/cgroup/manager.h"
#include "runtime/cgroup/testing/fake_cgroupfs.h"

namespace berth::runtime::cgroup {
namespace {

using testing::FakeCgroupfs;

TEST(DetectLayout, V1FakeListsEveryControllerAndSkipsHybridUnified) {
  berth::testing::TempDir tmp;
  FakeCgroupfs fake(tmp.path(), FakeCgroupfs::Kind::V1);
  auto l = detect_layout(tmp.path());
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(l->mode, Mode::V1);
  EXPECT_EQ(l->root, tmp.path());
  std::map<std::string, std::string> want;
  for (const char* c : {"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids"})
    want[c] = tmp.path() + "/" + c;
  EXPECT_EQ(l->v1_mounts, want);
}

TEST(DetectLayout, V1CoMountedControllersShareADirectoryAndSymlinksAreSkipped) {
  berth::testing::TempDir tmp;
  ASSERT_EQ(::mkdir((tmp / "cpu,cpuacct").c_str(), 0755), 0);
  FakeCgroupfs::write(tmp / "cpu,cpuacct/cgroup.procs", "");
  ASSERT_EQ(::symlink("cpu,cpuacct", (tmp / "cpu").c_str()), 0);
  ASSERT_EQ(::mkdir((tmp / "systemd").c_str(), 0755), 0);  // named hierarchy: no controller
  FakeCgroupfs::write(tmp / "systemd/cgroup.procs", "");
  ASSERT_EQ(::mkdir((tmp / "not-a-cgroup").c_str(), 0755), 0);
  auto l = detect_layout(tmp.path());
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(l->mode, Mode::V1);
  ASSERT_EQ(l->v1_mounts.size(), 2u);
  EXPECT_EQ(l->v1_mounts.at("cpu"), tmp / "cpu,cpuacct");
  EXPECT_EQ(l->v1_mounts.at("cpuacct"), tmp / "cpu,cpuacct");
}

TEST(DetectLayout, V2Fake) {
  berth::testing::TempDir tmp;
  FakeCgroupfs fake(tmp.path(), FakeCgroupfs::Kind::V2);
  auto l = detect_layout(tmp.path());
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(l->mode, Mode::Unified);
  EXPECT_TRUE(l->v1_mounts.empty());
}

TEST(DetectLayout, EmptyOrMissingRootIsNotFound) {
  berth::testing::TempDir tmp;
  auto l = detect_layout(tmp.path());
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code(), Errc::NotFound);
  auto m = detect_layout(tmp / "missing");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), Errc::NotFound);
}

TEST(CgroupsPath, AbsoluteAndRelativeAreBothUnderTheHierarchyRoot) {
  EXPECT_EQ(*resolve_cgroups_path("/a/b", "id"), "a/b");
  EXPECT_EQ(*resolve_cgroups_path("a/b", "id"), "a/b");
  EXPECT_EQ(*resolve_cgroups_path("//a/./b//", "id"), "a/b");
  EXPECT_EQ(*resolve_cgroups_path("/berth/x:y", "id"), "berth/x:y");  // absolute: never the systemd form
}

TEST(CgroupsPath, EmptyMeansTheContainerId) {
  EXPECT_EQ(*resolve_cgroups_path("", "c1"), "c1");
  auto bad = resolve_cgroups_path("", "a/b");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::InvalidArgument);
  EXPECT_FALSE(resolve_cgroups_path("", ".."));
}

TEST(CgroupsPath, SystemdFormIsUnimplemented) {
  auto r = resolve_cgroups_path("system.slice:berth:c1", "c1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::Unimplemented);
  EXPECT_NE(r.error().message().find("systemd cgroup driver is not supported"), std::string::npos);
  Layout l;
  auto m = make_manager(l, "system.slice:berth:c1", "c1");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), Errc::Unimplemented);
}

TEST(CgroupsPath, DotDotAndRootAreRefused) {
  for (const char* p : {"/a/../b", "..", "/..", "/", "//", "./."}) {
    auto r = resolve_cgroups_path(p, "id");
    ASSERT_FALSE(r) << p;
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument) << p;
    EXPECT_NE(r.error().message().find("cgroupsPath"), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace berth::runtime::cgroup
