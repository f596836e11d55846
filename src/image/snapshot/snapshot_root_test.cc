#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "base/file.h"
#include "base/testing/root.h"
#include "base/testing/temp_dir.h"
#include "base/unique_fd.h"
#include "image/content/local/local_store.h"
#include "image/snapshot/diff.h"
#include "image/snapshot/testing/tar_entries.h"
#include "image/snapshot/overlay/overlay_snapshotter.h"
#include "image/unpack/testing/tar_builder.h"
#include "image/unpack/unpack.h"

namespace berth::image::snapshot {
namespace {

namespace ut = unpack::testing;

std::string join_options(const std::vector<std::string>& o) {
  std::string s;
  for (auto& x : o) s += (s.empty() ? "" : ",") + x;
  return s;
}

using testing::tar_entries;

TEST(OverlayRoot, MountWriteCommitDiff) {
  BERTH_REQUIRE_ROOT();
  if (!OverlaySnapshotter::supported()) GTEST_SKIP() << "no overlayfs";
  berth::testing::TempDir t;
  auto snaps = OverlaySnapshotter::open(t / "snap").value();
  auto store = content::LocalStore::open(t / "content").value();

  // Base layer.
  ASSERT_TRUE(snaps->prepare("x1", ""));
  {
    UniqueFd dir(::open(snaps->writable_dir("x1")->c_str(), O_PATH | O_DIRECTORY));
    auto tar = ut::build_tar({ut::dir("d"), ut::file("d/old", "o"), ut::file("keep", "k"), ut::file("del", "d")});
    ut::TarEntry e;
    (void)e;
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    ASSERT_EQ(::write(p[1], tar.data(), tar.size()), static_cast<ssize_t>(tar.size()));
    ::close(p[1]);
    auto r = unpack::apply_layer_fd(p[0], dir.get());
    ::close(p[0]);
    ASSERT_TRUE(r) << r.error().message();
  }
  ASSERT_TRUE(snaps->commit("l1", "x1"));

  // A container over it.
  auto m = snaps->prepare("ctr", "l1");
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_EQ((*m)[0].type, "overlay");
  std::string mnt = t / "mnt";
  ASSERT_TRUE(mkdir_all(mnt));
  ASSERT_EQ(::mount("overlay", mnt.c_str(), "overlay", 0, join_options((*m)[0].options).c_str()), 0)
      << std::strerror(errno);
  EXPECT_EQ(*read_file(mnt + "/d/old"), "o");
  ASSERT_TRUE(write_file_atomic(mnt + "/new", "n"));
  ASSERT_EQ(::unlink((mnt + "/del").c_str()), 0);
  ASSERT_TRUE(remove_all(mnt + "/d"));
  ASSERT_EQ(::mkdir((mnt + "/d").c_str(), 0755), 0);
  ASSERT_TRUE(write_file_atomic(mnt + "/d/fresh", "f"));
  ASSERT_EQ(::umount2(mnt.c_str(), MNT_DETACH), 0);

  auto diff = commit_overlay_diff(*snaps->upper_dir("ctr"), *store);
  ASSERT_TRUE(diff) << diff.error().message();
  auto blob = content::read_blob(*store, diff->layer.digest, 1 << 20);
  ASSERT_TRUE(blob) << blob.error().message();
  auto names = tar_entries(*blob);
  EXPECT_TRUE(names.count("new"));
  EXPECT_TRUE(names.count(".wh.del"));
  EXPECT_TRUE(names.count("d/"));  // libarchive writes directories with a trailing slash
  EXPECT_TRUE(names.count("d/.wh..wh..opq")) << "overlay marks a recreated dir opaque";
  EXPECT_TRUE(names.count("d/fresh"));
  EXPECT_FALSE(names.count("keep"));
  EXPECT_FALSE(names.count("d/old"));

  // The diff applies back as a layer whose diff_id we computed.
  ASSERT_TRUE(snaps->prepare("x2", "l1"));
  UniqueFd dir(::open(snaps->writable_dir("x2")->c_str(), O_PATH | O_DIRECTORY));
  auto rd = store->reader(diff->layer.digest).value();
  UniqueFd blobfd(::dup(rd->fd()));
  unpack::UnpackOptions o;
  o.expected_diff_id = diff->diff_id;
  auto r = unpack::apply_layer_fd(blobfd.get(), dir.get(), o);
  ASSERT_TRUE(r) << r.error().message();
  struct stat st;
  ASSERT_EQ(::lstat((*snaps->writable_dir("x2") + "/del").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

}  // namespace
}  // namespace berth::image::snapshot
