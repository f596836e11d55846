#include "image/unpack/unpack.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "image/unpack/testing/layer_fixture.h"

namespace berth::image::unpack {
namespace {

using namespace testing;

struct stat lstat_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}
bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

class Unpack : public LayerTest {};

TEST_F(Unpack, RegularTree) {
  auto f = file("etc/hostname", "berth\n", 0640);
  f.mtime = 1600000000;
  f.xattrs["user.berth"] = "v";
  auto d = dir("etc", 0751);
  d.mtime = 1500000000;
  std::vector<TarEntry> es = {dir("./"), d, f, file("usr/bin/tool", "#!/bin/sh\n", 04755),
                              symlink("usr/bin/alias", "tool"), hardlink("usr/bin/tool2", "usr/bin/tool"),
                              symlink("abs", "/etc/hostname")};
  auto tar = build_tar(es);
  auto r = apply(tar);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->entries, 7u);
  EXPECT_EQ(r->diff_id, oci::Digest::sha256_of(tar));
  EXPECT_EQ(r->uncompressed_bytes, tar.size());
  EXPECT_EQ(*read_file(root() + "/etc/hostname"), "berth\n");
  auto st = lstat_of(root() + "/etc/hostname");
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  char v[8] = {};
  EXPECT_EQ(::getxattr((root() + "/etc/hostname").c_str(), "user.berth", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'v');
  auto sd = lstat_of(root() + "/etc");
  EXPECT_EQ(sd.st_mode & 07777, 0751u);
  EXPECT_EQ(sd.st_mtim.tv_sec, 1500000000) << "directory mtime must be set after its contents";
  EXPECT_EQ(lstat_of(root() + "/usr/bin/tool").st_mode & 07777, 04755u);
  EXPECT_TRUE(S_ISDIR(lstat_of(root() + "/usr").st_mode));  // implicit parent
  char buf[64] = {};
  ASSERT_GT(::readlink((root() + "/usr/bin/alias").c_str(), buf, sizeof buf), 0);
  EXPECT_STREQ(buf, "tool");
  EXPECT_EQ(lstat_of(root() + "/usr/bin/tool2").st_ino, lstat_of(root() + "/usr/bin/tool").st_ino);
  EXPECT_EQ(lstat_of(root() + "/usr/bin/tool").st_nlink, 2u);
  expect_outside_untouched();
}

TEST_F(Unpack, GzipZstdAndPlainGiveTheSameDiffId) {
  std::vector<TarEntry> es = {file("a", std::string(300000, 'x')), file("b/c", "y")};
  auto plain = build_tar(es);
  for (auto filter : {Filter::Gzip, Filter::Zstd}) {
    berth::testing::TempDir t;
    UniqueFd fd(::open(t.path().c_str(), O_PATH | O_DIRECTORY));
    StringSource s(build_tar(es, filter));
    UnpackOptions o;
    o.preserve_owner = false;
    o.hash_compressed = true;
    auto r = apply_layer(s, fd.get(), o);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->diff_id, oci::Digest::sha256_of(plain));
    EXPECT_EQ(r->compressed_digest, oci::Digest::sha256_of(build_tar(es, filter)));
    EXPECT_EQ(*read_file(t.path() + "/a"), std::string(300000, 'x'));
  }
  UnpackOptions o;
  o.expected_diff_id = oci::Digest::sha256_of(plain);
  EXPECT_TRUE(apply(plain, o));
}

TEST_F(Unpack, DiffIdMismatch) {
  UnpackOptions o;
  o.expected_diff_id = oci::Digest::sha256_of("something else");
  auto r = apply({file("a", "1")}, o);
  expect_fails(r, "diff_id mismatch");
  EXPECT_EQ(r.error().code(), Errc::FailedPrecondition);
}

TEST_F(Unpack, RefusesDotDotTraversal) {
  expect_fails(apply({file("../outside/pwned", "x")}), "contains `..`");
  expect_fails(apply({file("a/../../outside/pwned", "x")}), "contains `..`");
  expect_fails(apply({dir("a"), file("a/../../../pwned", "x")}), "contains `..`");
  expect_outside_untouched();
}

TEST_F(Unpack, RefusesAbsolutePaths) {
  auto r = apply({file(outside() + "/pwned", "x")});
  expect_fails(r, "is absolute");
  EXPECT_EQ(r.error().code(), Errc::PermissionDenied);
  expect_outside_untouched();
}

TEST_F(Unpack, RefusesWritingThroughSymlinkInSameLayer) {
  expect_fails(apply({symlink("evil", outside()), file("evil/pwned", "x")}), "symlink");
  expect_fails(apply({symlink("rel", "../outside"), file("rel/pwned", "x")}), "symlink");
  expect_fails(apply({symlink("d", outside()), dir("d/sub")}), "symlink");
  expect_outside_untouched();
}

TEST_F(Unpack, RefusesTwoStepSymlinkChain) {
  expect_fails(apply({symlink("a", "b"), symlink("b", outside()), file("a/pwned", "x")}), "symlink");
  expect_fails(apply({dir("x"), symlink("x/y", "../z"), symlink("z", outside()), file("x/y/pwned", "x")}),
               "symlink");
  expect_outside_untouched();
}

TEST_F(Unpack, RefusesWritingThroughSymlinkOfLowerLayer) {
  UnpackOptions o;
  o.whiteouts = WhiteoutMode::Apply;
  ASSERT_TRUE(apply({symlink("evil", outside())}, o));
  expect_fails(apply({file("evil/pwned", "x")}, o), "symlink");
  // Overlay mode: the lower layer is not in this directory, so the same entry is just a new directory.
  expect_outside_untouched();
}

TEST_F(Unpack, RefusesHardlinksOutside) {
  expect_fails(apply({hardlink("h", "../outside/sentinel")}), "contains `..`");
  expect_fails(apply({hardlink("h", outside() + "/sentinel")}), "is absolute");
  expect_fails(apply({symlink("s", outside()), hardlink("h", "s/sentinel")}), "symlink");
  expect_fails(apply({hardlink("h2", "does/not/exist")}), "hardlink target");
  expect_fails(apply({dir("d"), hardlink("h3", "d")}), "is a directory");
  EXPECT_EQ(lstat_of(outside() + "/sentinel").st_nlink, 1u);
  expect_outside_untouched();
}

TEST_F(Unpack, RefusesWhiteoutsOfDotAndDotDot) {
  UnpackOptions apply_mode;
  apply_mode.whiteouts = WhiteoutMode::Apply;
  expect_fails(apply({dir("a"), file("a/.wh..", "")}, apply_mode), "whiteout of `.`");
  expect_fails(apply({dir("a"), file("a/.wh...", "")}, apply_mode), "whiteout of `..`");
  expect_fails(apply({file(".wh...", "")}), "whiteout of `..`");
  expect_fails(apply({file(".wh.", "")}), "whiteout of ``");
  EXPECT_TRUE(exists(root() + "/a"));
  expect_outside_untouched();
}

TEST_F(Unpack, NeverChmodsThroughSymlinks) {
  mode_t before = lstat_of(outside()).st_mode;
  auto r = apply({symlink("s", outside() + "/sentinel"), file("s", "new", 04777), symlink("d", outside()),
                  dir("d", 0777)});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(S_ISLNK(lstat_of(root() + "/s").st_mode));
  EXPECT_EQ(*read_file(root() + "/s"), "new");
  EXPECT_EQ(lstat_of(root() + "/s").st_mode & 07777, 04777u);
  EXPECT_TRUE(S_ISDIR(lstat_of(root() + "/d").st_mode));
  EXPECT_EQ(lstat_of(outside()).st_mode, before);
  expect_outside_untouched();
}

TEST_F(Unpack, DecompressionBomb) {
  UnpackOptions o;
  o.max_uncompressed_bytes = 1 << 20;
  auto gz = build_tar({file("zeros", std::string(20 << 20, '\0'))}, Filter::Gzip);
  EXPECT_LT(gz.size(), 100000u);
  auto r = apply(gz, o);
  expect_fails(r, "expands to more than 1048576 bytes");
  EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
}

TEST_F(Unpack, AbsurdPathLengths) {
  std::string longpath;
  for (int i = 0; i < 50; i++) longpath += std::string(100, 'd') + "/";
  longpath += "f";
  expect_fails(apply({file(longpath, "x")}), "bytes long (limit 4096)");
  expect_fails(apply({file(std::string(300, 'n'), "x")}), "component of 300 bytes");
  expect_fails(apply({symlink("s", std::string(5000, 'x'))}), "too long");
}

TEST_F(Unpack, DuplicateEntriesLaterWins) {
  auto r = apply({file("a", "1"), file("a", "2"), dir("d"), file("d/inner", "x"), file("d", "now a file"),
                  symlink("l", outside() + "/sentinel"), file("l", "replaced"), dir("m", 0700), dir("m", 0755),
                  file("m/kept", "k")});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*read_file(root() + "/a"), "2");
  EXPECT_EQ(*read_file(root() + "/d"), "now a file");
  EXPECT_EQ(*read_file(root() + "/l"), "replaced");
  EXPECT_EQ(lstat_of(root() + "/m").st_mode & 0777, 0755u);
  EXPECT_EQ(*read_file(root() + "/m/kept"), "k");
  expect_outside_untouched();
}

TEST_F(Unpack, NoOverwriteDirNonDir) {
  UnpackOptions o;
  o.whiteouts = WhiteoutMode::Apply;
  ASSERT_TRUE(apply({dir("d"), file("d/inner", "x"), file("f", "file")}, o));
  o.no_overwrite_dir_non_dir = true;
  o.display_root = "/tmp";
  auto r = apply({file("d", "now a file")}, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
  EXPECT_EQ(r.error().message(), "cannot overwrite directory \"/tmp/d\" with non-directory \"/tmp\"");
  r = apply({dir("f")}, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "cannot overwrite non-directory \"/tmp/f\" with directory \"/tmp\"");
  o.display_root = "/";
  r = apply({symlink("d", "f")}, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "cannot overwrite directory \"/d\" with non-directory \"/\"");
  EXPECT_EQ(*read_file(root() + "/d/inner"), "x");  // nothing replaced
  EXPECT_EQ(*read_file(root() + "/f"), "file");
  // same kinds still replace or merge
  ASSERT_TRUE(apply({file("f", "new"), dir("d"), file("d/more", "m")}, o));
  EXPECT_EQ(*read_file(root() + "/f"), "new");
  EXPECT_EQ(*read_file(root() + "/d/more"), "m");
  // and without the option the later entry wins, as before
  o.no_overwrite_dir_non_dir = false;
  ASSERT_TRUE(apply({file("d", "now a file")}, o));
  EXPECT_EQ(*read_file(root() + "/d"), "now a file");
  expect_outside_untouched();
}

TEST_F(Unpack, RedirectsWriteIntoTheMountedDirectory) {
  berth::testing::TempDir vol;  // a volume standing at data/ in the target
  ASSERT_TRUE(write_file_atomic(vol.path() + "/old", "o"));
  UniqueFd vfd(::open(vol.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(vfd);
  ASSERT_EQ(::mkdir((root() + "/data").c_str(), 0755), 0);  // the mount point in the rootfs
  UnpackOptions o;
  o.whiteouts = WhiteoutMode::Apply;
  o.redirects = {{"data", vfd.get()}, {"etc/hostname", -1}};
  auto r = apply({dir("data", 0700), file("data/f", "in volume"), dir("data/sub"), file("data/sub/g", "g"),
                  file("data/.wh.old", ""), hardlink("data/f2", "data/f"), file("top", "t")},
                 o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*read_file(vol.path() + "/f"), "in volume");
  EXPECT_EQ(*read_file(vol.path() + "/sub/g"), "g");
  EXPECT_EQ(lstat_of(vol.path() + "/f2").st_ino, lstat_of(vol.path() + "/f").st_ino);
  EXPECT_FALSE(exists(vol.path() + "/old"));  // the whiteout applied inside the volume
  EXPECT_FALSE(exists(root() + "/data/f"));   // nothing under the mount point in the rootfs
  EXPECT_EQ(lstat_of(root() + "/data").st_mode & 0777, 0755u);  // the mount point itself untouched
  EXPECT_EQ(*read_file(root() + "/top"), "t");
  // no way out of the volume: '..' is refused as ever, a symlink in it is never written through
  ASSERT_EQ(::symlink("/", (vol.path() + "/esc").c_str()), 0);
  expect_fails(apply({file("data/esc/x", "x")}, o), "symlink");
  expect_fails(apply({file("data", "x")}, o), "mount point");
  expect_fails(apply({file(".wh.data", "")}, o), "mount point");
  expect_fails(apply({file("etc/hostname", "x")}, o), "mount point");
  EXPECT_TRUE(S_ISDIR(lstat_of(root() + "/data").st_mode));
  expect_outside_untouched();
}

TEST_F(Unpack, RefusesOverlayXattrs) {
  auto d = dir("x");
  d.xattrs["trusted.overlay.redirect"] = "/etc";
  expect_fails(apply({d}), "would steer overlayfs");
}

TEST_F(Unpack, ApplyModeWhiteoutsAndOpaque) {
  UnpackOptions o;
  o.whiteouts = WhiteoutMode::Apply;
  ASSERT_TRUE(apply({dir("d"), file("d/old1", "1"), dir("d/oldsub"), file("d/oldsub/x", "x"), file("gone", "g"),
                     dir("dir_gone"), file("dir_gone/f", "f")},
                    o));
  auto r = apply({file(".wh.gone", ""), file(".wh.dir_gone", ""), file("d/new", "n"), file("d/.wh..wh..opq", ""),
                  file(".wh.never_existed", "")},
                 o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(exists(root() + "/gone"));
  EXPECT_FALSE(exists(root() + "/dir_gone"));
  EXPECT_FALSE(exists(root() + "/d/old1"));
  EXPECT_FALSE(exists(root() + "/d/oldsub"));
  EXPECT_EQ(*read_file(root() + "/d/new"), "n");
  expect_outside_untouched();
}

TEST_F(Unpack, CorruptInput) {
  auto gz = build_tar({file("a", std::string(100000, 'q'))}, Filter::Gzip);
  expect_fails(apply(gz.substr(0, gz.size() / 2)), "gzip");
  gz[gz.size() / 2] ^= 0x55;
  EXPECT_FALSE(apply(gz));
  expect_fails(apply(std::string("not a tar at all, just some text that is long enough") + std::string(600, 'z')),
               "tar");
}

TEST_F(Unpack, MultiMemberGzipAndTrailingZeros) {
  // Two gzip members whose concatenation is one tar stream (what pigz or `cat a.gz b.gz` produce).
  auto tar = build_tar({file("a", std::string(5000, 'a')), file("b", "bbb")});
  auto half = tar.size() / 2;
  auto gz1 = build_tar({}, Filter::None);  // unused; keep builder linked
  (void)gz1;
  auto gzip = [](const std::string& s) {
    z_stream z{};
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, s.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
    z.avail_in = static_cast<uInt>(s.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
  };
  auto two = gzip(tar.substr(0, half)) + gzip(tar.substr(half)) + std::string(512, '\0');
  auto r = apply(two);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->diff_id, oci::Digest::sha256_of(tar));
  EXPECT_EQ(*read_file(root() + "/b"), "bbb");
}

}  // namespace
}  // namespace berth::image::unpack
