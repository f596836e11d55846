// Tree diffs of the copy-based snapshotter and merged (flattened) trees, without root.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "base/unique_fd.h"
#include "image/content/local/local_store.h"
#include "image/snapshot/diff.h"
#include "image/snapshot/testing/tar_entries.h"
#include "image/snapshot/native/native_snapshotter.h"
#include "image/unpack/unpack.h"
#include <gtest/gtest.h>

namespace berth::image::snapshot {
namespace {

using testing::tar_entries;

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (auto* de = ::readdir(d))
    if (std::string_view(de->d_name) != "." && std::string_view(de->d_name) != "..") out.emplace_back(de->d_name);
  ::closedir(d);
  return out;
}

// path -> "mode content|target" of every object under dir.
std::map<std::string, std::string> listing(const std::string& dir, const std::string& rel = "") {
  std::map<std::string, std::string> out;
  for (auto& name : names_in(rel.empty() ? dir : fmt::format("{}/{}", dir, rel))) {
    std::string r = rel.empty() ? name : fmt::format("{}/{}", rel, name);
    std::string p = fmt::format("{}/{}", dir, r);
    struct stat st;
    EXPECT_EQ(::lstat(p.c_str(), &st), 0);
    std::string what = fmt::format("{:o}", st.st_mode);
    if (S_ISREG(st.st_mode)) what = fmt::format("{} {}", what, read_file(p).value());
    if (S_ISLNK(st.st_mode)) {
      char t[256];
      ssize_t n = ::readlink(p.c_str(), t, sizeof t);
      what = fmt::format("{} -> {}", what, std::string_view(t, static_cast<size_t>(std::max<ssize_t>(n, 0))));
    }
    out[r] = what;
    if (S_ISDIR(st.st_mode))
      for (auto& [k, v] : listing(dir, r)) out[k] = v;
  }
  return out;
}

TEST(NativeDiff, CommitOfAReadWriteSnapshotAppliesBackToTheSameTree) {
  berth::testing::TempDir t;
  auto snaps = NativeSnapshotter::open(t / "snaps").value();
  auto store = content::LocalStore::open(t / "content").value();
  ASSERT_TRUE(snaps->prepare("x1", ""));
  std::string base = snaps->writable_dir("x1").value();
  for (auto d : {"d", "e", "keepdir"}) ASSERT_EQ(::mkdir((base + "/" + d).c_str(), 0755), 0);
  for (auto f : {"keep", "del", "mod", "d/old", "e/f", "keepdir/k"}) ASSERT_TRUE(write_file_atomic(base + "/" + f, f));
  ASSERT_EQ(::symlink("keep", (base + "/link").c_str()), 0);
  ASSERT_EQ(::symlink("keep", (base + "/relink").c_str()), 0);
  ASSERT_TRUE(snaps->commit("l1", "x1"));

  // A container's changes on its full copy.
  ASSERT_TRUE(snaps->prepare("ctr", "l1"));
  std::string c = snaps->writable_dir("ctr").value();
  ASSERT_TRUE(write_file_atomic(c + "/new", "n"));
  ASSERT_EQ(::unlink((c + "/del").c_str()), 0);
  ASSERT_TRUE(remove_all(c + "/d"));
  ASSERT_EQ(::mkdir((c + "/d").c_str(), 0700), 0);
  ASSERT_TRUE(write_file_atomic(c + "/d/fresh", "f"));
  ASSERT_TRUE(write_file_atomic(c + "/mod", "changed"));
  ASSERT_EQ(::unlink((c + "/e/f").c_str()), 0);
  ASSERT_EQ(::unlink((c + "/relink").c_str()), 0);
  ASSERT_EQ(::symlink("new", (c + "/relink").c_str()), 0);
  ASSERT_EQ(::chmod((c + "/keepdir/k").c_str(), 0600), 0);

  auto diff = commit_snapshot_diff(*snaps, "ctr", *store);
  ASSERT_TRUE(diff) << diff.error().message();
  auto names = tar_entries(content::read_blob(*store, diff->layer.digest, 1 << 20).value());
  for (auto n : {"new", ".wh.del", "d/", "d/.wh.old", "d/fresh", "mod", "e/", "e/.wh.f", "relink", "keepdir/",
                 "keepdir/k"})
    EXPECT_TRUE(names.count(n)) << n;
  for (auto n : {"keep", "link", "d/old", "e/f"}) EXPECT_FALSE(names.count(n)) << n;
  EXPECT_EQ(names.size(), 11u);

  // Applied onto the parent, the layer gives the container's tree; its diff_id is what we computed.
  ASSERT_TRUE(snaps->prepare("x2", "l1"));
  std::string x2 = snaps->writable_dir("x2").value();
  UniqueFd dir(::open(x2.c_str(), O_PATH | O_DIRECTORY));
  auto rd = store->reader(diff->layer.digest).value();
  UniqueFd blobfd(::dup(rd->fd()));
  unpack::UnpackOptions o;
  o.whiteouts = unpack::WhiteoutMode::Apply;
  o.expected_diff_id = diff->diff_id;
  auto r = unpack::apply_layer_fd(blobfd.get(), dir.get(), o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(listing(x2), listing(c));

  // No changes: an empty layer.
  ASSERT_TRUE(snaps->prepare("idle", "l1"));
  auto empty = commit_snapshot_diff(*snaps, "idle", *store);
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_EQ(empty->entries, 0u);
  EXPECT_FALSE(commit_snapshot_diff(*snaps, "l1", *store)) << "committed snapshots have no diff";
}

TEST(MergedTar, UpperEntriesWinAndDirectoriesMerge) {
  berth::testing::TempDir t;
  std::string lo = t / "lo", up = t / "up";
  ASSERT_TRUE(mkdir_all(lo + "/d"));
  ASSERT_TRUE(mkdir_all(up + "/d"));
  ASSERT_TRUE(write_file_atomic(lo + "/d/a", "lower"));
  ASSERT_TRUE(write_file_atomic(lo + "/d/b", "lower b"));
  ASSERT_TRUE(write_file_atomic(lo + "/f", "lower f"));
  ASSERT_TRUE(write_file_atomic(up + "/d/a", "upper"));
  ASSERT_TRUE(mkdir_all(up + "/f"));  // a directory replaces the lower file
  ASSERT_TRUE(write_file_atomic(up + "/f/x", "x"));
  std::string tar;
  auto n = write_merged_tar({up, lo}, [&](std::string_view d) {
    tar.append(d);
    return ok();
  });
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(tar_entries(tar), (std::set<std::string>{"d/", "d/a", "d/b", "f/", "f/x"}));
  EXPECT_NE(tar.find("upper"), std::string::npos);
  EXPECT_EQ(tar.find("lower f"), std::string::npos);
  EXPECT_EQ(tar.find("lower\0", 0, 6), std::string::npos);
}

}  // namespace
}  // namespace berth::image::snapshot
