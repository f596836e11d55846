#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "base/testing/root.h"
#include "image/unpack/testing/layer_fixture.h"
#include "image/unpack/unpack.h"

namespace berth::image::unpack {
namespace {

using namespace testing;

class UnpackRoot : public LayerTest {};

struct stat lst(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

TEST_F(UnpackRoot, OwnershipModesAndSetuid) {
  BERTH_REQUIRE_ROOT();
  auto f = file("bin/su", "elf", 04755);
  f.uid = 0;
  f.gid = 0;
  auto g = file("bin/sg", "elf", 02755);
  g.uid = 1000;
  g.gid = 2000;
  auto d = dir("home/u", 0700);
  d.uid = 1000;
  d.gid = 1000;
  auto l = symlink("home/u/link", "nowhere");
  l.uid = 1000;
  l.gid = 1001;
  UnpackOptions o;
  o.preserve_owner = true;
  auto r = apply({f, g, d, l}, o);
  ASSERT_TRUE(r) << r.error().message();
  auto su = lst(root() + "/bin/su");
  EXPECT_EQ(su.st_mode & 07777, 04755u);
  auto sg = lst(root() + "/bin/sg");
  EXPECT_EQ(sg.st_uid, 1000u);
  EXPECT_EQ(sg.st_gid, 2000u);
  EXPECT_EQ(sg.st_mode & 07777, 02755u) << "setgid must survive the chown";
  auto hu = lst(root() + "/home/u");
  EXPECT_EQ(hu.st_uid, 1000u);
  EXPECT_EQ(hu.st_mode & 07777, 0700u);
  auto ln = lst(root() + "/home/u/link");
  EXPECT_EQ(ln.st_uid, 1000u);
  EXPECT_EQ(ln.st_gid, 1001u);
}

TEST_F(UnpackRoot, DevicesAndFifos) {
  BERTH_REQUIRE_ROOT();
  TarEntry null;
  null.kind = TarEntry::Char;
  null.path = "dev/null";
  null.mode = 0666;
  null.rdev_major = 1;
  null.rdev_minor = 3;
  TarEntry blk = null;
  blk.kind = TarEntry::Block;
  blk.path = "dev/loop9";
  blk.mode = 0660;
  blk.rdev_major = 7;
  blk.rdev_minor = 9;
  TarEntry fifo;
  fifo.kind = TarEntry::Fifo;
  fifo.path = "run/fifo";
  fifo.mode = 0620;
  UnpackOptions o;
  o.preserve_owner = true;
  auto r = apply({null, blk, fifo}, o);
  ASSERT_TRUE(r) << r.error().message();
  auto n = lst(root() + "/dev/null");
  EXPECT_TRUE(S_ISCHR(n.st_mode));
  EXPECT_EQ(major(n.st_rdev), 1u);
  EXPECT_EQ(minor(n.st_rdev), 3u);
  EXPECT_EQ(n.st_mode & 07777, 0666u);
  auto b = lst(root() + "/dev/loop9");
  EXPECT_TRUE(S_ISBLK(b.st_mode));
  EXPECT_EQ(minor(b.st_rdev), 9u);
  auto ff = lst(root() + "/run/fifo");
  EXPECT_TRUE(S_ISFIFO(ff.st_mode));
  EXPECT_EQ(ff.st_mode & 07777, 0620u);
}

TEST_F(UnpackRoot, OverlayWhiteoutsAndOpaqueDirs) {
  BERTH_REQUIRE_ROOT();
  auto r = apply({dir("etc"), file("etc/.wh.passwd", ""), dir("var/cache"), file("var/cache/.wh..wh..opq", ""),
                  file("var/cache/fresh", "f"), file(".wh..wh.plnk", "")});
  ASSERT_TRUE(r) << r.error().message();
  auto w = lst(root() + "/etc/passwd");
  EXPECT_TRUE(S_ISCHR(w.st_mode));
  EXPECT_EQ(w.st_rdev, makedev(0, 0));
  char v[4] = {};
  EXPECT_EQ(::getxattr((root() + "/var/cache").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_EQ(*read_file(root() + "/var/cache/fresh"), "f");
  struct stat st;
  EXPECT_NE(::lstat((root() + "/.wh..wh.plnk").c_str(), &st), 0);
  EXPECT_NE(::lstat((root() + "/etc/.wh.passwd").c_str(), &st), 0);
}

TEST_F(UnpackRoot, NeverChownsThroughSymlinks) {
  BERTH_REQUIRE_ROOT();
  auto f = file("s", "x", 0644);
  f.uid = 4242;
  UnpackOptions o;
  o.preserve_owner = true;
  auto r = apply({symlink("s", outside() + "/sentinel"), f}, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(lst(outside() + "/sentinel").st_uid, 0u);
  EXPECT_EQ(lst(root() + "/s").st_uid, 4242u);
  expect_outside_untouched();
}

}  // namespace
}  // namespace berth::image::unpack
