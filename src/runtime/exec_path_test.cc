#include "runtime/exec_path.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/temp_dir.h"

namespace berth::runtime {
namespace {

void touch(const std::string& p, mode_t mode) {
  ASSERT_TRUE(write_file_atomic(p, "#!/bin/sh\n", mode));
  ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

TEST(PathFromEnv, LastPathWinsAndDefault) {
  EXPECT_EQ(path_from_env({}), kDefaultPath);
  EXPECT_EQ(path_from_env({"HOME=/", "PATH=/a", "PATH=/b:/c"}), "/b:/c");
  EXPECT_EQ(path_from_env({"PATHX=/x"}), kDefaultPath);
}

TEST(FindExecutable, SearchesInOrderInsideRoot) {
  testing::TempDir root;
  ASSERT_TRUE(mkdir_all(root / "bin"));
  ASSERT_TRUE(mkdir_all(root / "usr/bin"));
  touch(root / "usr/bin/tool", 0755);
  touch(root / "bin/tool", 0755);
  touch(root / "bin/data", 0644);
  auto r = find_executable("tool", {"PATH=/usr/bin:/bin"}, root.path());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, "/usr/bin/tool");
  r = find_executable("tool", {"PATH=/bin:/usr/bin"}, root.path());
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "/bin/tool");
  // Without PATH in the process env the default list is used, never the runtime's own PATH.
  r = find_executable("tool", {}, root.path());
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "/usr/bin/tool");
}

TEST(FindExecutable, Errors) {
  testing::TempDir root;
  ASSERT_TRUE(mkdir_all(root / "bin"));
  touch(root / "bin/data", 0644);
  ASSERT_TRUE(mkdir_all(root / "bin/dir"));
  auto r = find_executable("missing", {"PATH=/bin"}, root.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::NotFound);
  EXPECT_NE(r.error().message().find("executable file not found in $PATH"), std::string::npos);
  r = find_executable("data", {"PATH=/bin"}, root.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::PermissionDenied);
  r = find_executable("dir", {"PATH=/bin"}, root.path());
  ASSERT_FALSE(r);
  r = find_executable("", {}, root.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
}

TEST(FindExecutable, SlashMeansNoSearch) {
  testing::TempDir root;
  ASSERT_TRUE(mkdir_all(root / "opt"));
  touch(root / "opt/run", 0755);
  auto r = find_executable("/opt/run", {"PATH=/nothing"}, root.path());
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "/opt/run");
  EXPECT_FALSE(find_executable("/opt/none", {}, root.path()));
}

}  // namespace
}  // namespace berth::runtime
