#include "base/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/testing/temp_dir.h"

namespace berth {
namespace {

TEST(File, AtomicWriteReplacesAndLeavesNoTemp) {
  testing::TempDir d;
  ASSERT_TRUE(write_file_atomic(d / "state.json", "one", 0600));
  ASSERT_TRUE(write_file_atomic(d / "state.json", "two", 0600));
  EXPECT_EQ(*read_file(d / "state.json"), "two");
  struct stat st;
  ASSERT_EQ(stat((d / "state.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(stat((d / ".state.json.tmp." + std::to_string(getpid())).c_str(), &st), 0);
}

TEST(File, ReplaceWithoutSyncReplacesAndLeavesNoTemp) {
  testing::TempDir d;
  ASSERT_TRUE(write_file_replace(d / "hosts", "one", 0644));
  ASSERT_TRUE(write_file_replace(d / "hosts", "two", 0600));
  EXPECT_EQ(*read_file(d / "hosts"), "two");
  struct stat st;
  ASSERT_EQ(stat((d / "hosts").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(stat((d / ".hosts.tmp." + std::to_string(getpid())).c_str(), &st), 0);
  EXPECT_FALSE(write_file_replace(d / "missing-dir/x", "y"));
}

TEST(File, ReadFileBounded) {
  testing::TempDir d;
  ASSERT_TRUE(write_file_atomic(d / "big", std::string(100, 'x')));
  auto r = read_file(d / "big", 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
  auto missing = read_file(d / "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::NotFound);
}

TEST(File, MkdirAllAndRemoveAllDoNotFollowSymlinks) {
  testing::TempDir d;
  ASSERT_TRUE(mkdir_all(d / "a/b/c"));
  ASSERT_TRUE(mkdir_all(d / "outside"));
  ASSERT_TRUE(write_file_atomic(d / "outside/keep", "k"));
  ASSERT_EQ(symlink((d / "outside").c_str(), (d / "a/b/link").c_str()), 0);
  ASSERT_TRUE(remove_all(d / "a"));
  struct stat st;
  EXPECT_NE(lstat((d / "a").c_str(), &st), 0);
  EXPECT_EQ(*read_file(d / "outside/keep"), "k");
}

}  // namespace
}  // namespace berth
