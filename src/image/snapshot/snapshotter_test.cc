#include <sys/stat.h>
#include <unistd.h>

#include "image/snapshot/native/native_snapshotter.h"
#include "oci/digest.h"
#include "image/snapshot/overlay/overlay_snapshotter.h"
#include "image/snapshot/testing/snapshotter_suite.h"

namespace berth::image::snapshot {
namespace {

INSTANTIATE_TEST_SUITE_P(Overlay, SnapshotterSuite, ::testing::Values(SnapshotterFactory{[](const std::string& d) {
                           return std::unique_ptr<Snapshotter>(OverlaySnapshotter::open(d).value());
                         }}));
INSTANTIATE_TEST_SUITE_P(Native, SnapshotterSuite, ::testing::Values(SnapshotterFactory{[](const std::string& d) {
                           return std::unique_ptr<Snapshotter>(NativeSnapshotter::open(d).value());
                         }}));

TEST(OverlaySnapshotter, MountOptionsStackParentsNearestFirst) {
  berth::testing::TempDir t;
  auto s = OverlaySnapshotter::open(t.path()).value();
  ASSERT_TRUE(s->prepare("e1", ""));
  ASSERT_TRUE(s->commit("l1", "e1"));
  ASSERT_TRUE(s->prepare("e2", "l1"));
  ASSERT_TRUE(s->commit("l2", "e2"));
  auto m = s->prepare("ctr", "l2").value();
  ASSERT_EQ(m[0].type, "overlay");
  std::string lower;
  for (auto& o : m[0].options)
    if (o.starts_with("lowerdir=")) lower = o.substr(9);
  auto id = [](const std::string& k) { return std::string(oci::Digest::sha256_of(k).hex()); };
  EXPECT_EQ(lower, t.path() + "/snapshots/" + id("l2") + "/fs:" + t.path() + "/snapshots/" + id("l1") + "/fs");
}

TEST(NativeSnapshotter, PrepareCopiesTheParentTree) {
  berth::testing::TempDir t;
  auto s = NativeSnapshotter::open(t.path()).value();
  ASSERT_TRUE(s->prepare("e1", ""));
  auto w = s->writable_dir("e1").value();
  ASSERT_TRUE(mkdir_all(w + "/etc"));
  ASSERT_TRUE(write_file_atomic(w + "/etc/a", "A", 0640));
  ASSERT_EQ(::symlink("a", (w + "/etc/l").c_str()), 0);
  ASSERT_EQ(::link((w + "/etc/a").c_str(), (w + "/etc/h").c_str()), 0);
  ASSERT_TRUE(s->commit("l1", "e1"));
  ASSERT_TRUE(s->prepare("c", "l1"));
  auto c = s->writable_dir("c").value();
  EXPECT_EQ(*read_file(c + "/etc/a"), "A");
  struct stat a, h;
  ASSERT_EQ(::stat((c + "/etc/a").c_str(), &a), 0);
  ASSERT_EQ(::stat((c + "/etc/h").c_str(), &h), 0);
  EXPECT_EQ(a.st_ino, h.st_ino);
  EXPECT_EQ(a.st_mode & 0777, 0640u);
  char buf[8] = {};
  ASSERT_EQ(::readlink((c + "/etc/l").c_str(), buf, sizeof buf), 1);
  // The copy is independent of the parent.
  ASSERT_TRUE(write_file_atomic(c + "/etc/a2", "x"));
  EXPECT_NE(::access((t.path() + "/snapshots/" + std::string(oci::Digest::sha256_of("l1").hex()) + "/fs/etc/a2").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace berth::image::snapshot
