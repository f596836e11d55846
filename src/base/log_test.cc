// base/log: the lazily opened log file (created with the first line, its fd moved above a floor).
#include "base/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/temp_dir.h"

namespace berth::log {
namespace {

TEST(Log, LazyFileIsCreatedByTheFirstLineOnly) {
  testing::TempDir tmp;
  std::string path = tmp / "shim.log";
  set_file_lazy(path, 0600, 20);
  struct stat st {};
  EXPECT_NE(::stat(path.c_str(), &st), 0) << "nothing logged, nothing created";
  error("first {}", 1);
  warn("second");
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto text = read_file(path);
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("error: first 1\n"), std::string::npos) << *text;
  EXPECT_NE(text->find("warning: second\n"), std::string::npos) << *text;
  // the fd above the floor, close-on-exec
  bool found = false;
  for (int fd = 20; fd < 64 && !found; fd++) {
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = ::readlink(link, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = 0;
    if (path == target) {
      found = true;
      EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
      set_fd(-1);
      ::close(fd);
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace berth::log
