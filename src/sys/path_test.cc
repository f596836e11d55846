#include "sys/path.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>
#include <string>

#include "base/file.h"
#include "base/testing/temp_dir.h"

namespace berth::sys {
namespace {

using berth::testing::TempDir;

std::set<std::string> list_dir(const std::string& dir) {
  std::set<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.insert(n);
  }
  closedir(d);
  return out;
}

bool exists(const std::string& p) {
  struct stat st;
  return lstat(p.c_str(), &st) == 0;
}

bool is_dir(const std::string& p) {
  struct stat st;
  return lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A temp dir with "root/" (the jail) and "outside/" next to it; every test checks outside/ stays empty.
class PathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_ / "root";
    outside_ = tmp_ / "outside";
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(outside_.c_str(), 0755), 0);
    auto fd = open_root(root_);
    ASSERT_TRUE(fd) << fd.error().message();
    root_fd_ = std::move(*fd);
  }
  void TearDown() override { EXPECT_TRUE(list_dir(outside_).empty()) << "something escaped the root"; }
  void symlink_in_root(const std::string& target, const std::string& link) {
    ASSERT_EQ(symlink(target.c_str(), (root_ + "/" + link).c_str()), 0) << link;
  }
  // The path (relative to root) an fd points at, via /proc/self/fd.
  std::string where(int fd) {
    char buf[4096];
    ssize_t n = readlink(fd_path(fd).c_str(), buf, sizeof buf);
    if (n < 0) return "?";
    std::string p(buf, static_cast<size_t>(n));
    if (p.rfind(root_, 0) != 0) return "ESCAPED:" + p;
    std::string rel = p.substr(root_.size());
    return rel.empty() ? "/" : rel;
  }

  TempDir tmp_;
  std::string root_, outside_;
  UniqueFd root_fd_;
};

TEST_F(PathTest, OpenRootAndSelf) {
  for (std::string_view p : {"", "/", ".", "//", "/./"}) {
    auto fd = open_in_root(root_fd_.get(), p, O_PATH);
    ASSERT_TRUE(fd) << p;
    EXPECT_EQ(where(fd->get()), "/");
  }
}

TEST_F(PathTest, DotDotClampsToRoot) {
  ASSERT_EQ(mkdir((root_ + "/etc").c_str(), 0755), 0);
  for (std::string_view p : {"../../..", "/../../../", "etc/../../..", "../etc/../.."}) {
    auto fd = open_in_root(root_fd_.get(), p, O_PATH | O_DIRECTORY);
    ASSERT_TRUE(fd) << p;
    EXPECT_EQ(where(fd->get()), "/") << p;
  }
  auto fd = open_in_root(root_fd_.get(), "../../../etc", O_PATH | O_DIRECTORY);
  ASSERT_TRUE(fd);
  EXPECT_EQ(where(fd->get()), "/etc");
}

TEST_F(PathTest, CreateViaDotDotStaysInside) {
  // "../../outside" clamps to root, so the name refers to root/outside (absent here).
  auto fd = open_in_root(root_fd_.get(), "../../outside/f", O_CREAT | O_WRONLY, 0644);
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().code(), Errc::NotFound);
  ASSERT_EQ(mkdir((root_ + "/outside").c_str(), 0755), 0);
  fd = open_in_root(root_fd_.get(), "../../outside/f", O_CREAT | O_WRONLY, 0644);
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(where(fd->get()), "/outside/f");
  EXPECT_TRUE(exists(root_ + "/outside/f"));
}

TEST_F(PathTest, AbsoluteSymlinkIsRelativeToRoot) {
  ASSERT_EQ(mkdir((root_ + "/target").c_str(), 0755), 0);
  symlink_in_root(outside_, "abs");        // absolute host path: must resolve to root + outside_
  symlink_in_root("/target", "tgt");       // absolute container path
  auto fd = open_in_root(root_fd_.get(), "tgt", O_PATH | O_DIRECTORY);
  ASSERT_TRUE(fd);
  EXPECT_EQ(where(fd->get()), "/target");
  auto out = open_in_root(root_fd_.get(), "abs/x", O_CREAT | O_WRONLY, 0644);
  EXPECT_FALSE(out);  // root + outside_ does not exist
  EXPECT_EQ(out.error().code(), Errc::NotFound);
}

TEST_F(PathTest, RelativeSymlinkChain) {
  ASSERT_EQ(mkdir((root_ + "/a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root_ + "/a/b").c_str(), 0755), 0);
  symlink_in_root("../../../../..", "a/b/up");  // way above root
  symlink_in_root("a/b/up/../../outside", "l1");
  symlink_in_root("l1", "l2");
  symlink_in_root("./l2/", "l3");
  auto fd = open_in_root(root_fd_.get(), "l3/escaped", O_CREAT | O_WRONLY, 0644);
  EXPECT_FALSE(fd);  // root/outside does not exist
  ASSERT_EQ(mkdir((root_ + "/outside").c_str(), 0755), 0);
  fd = open_in_root(root_fd_.get(), "l3/escaped", O_CREAT | O_WRONLY, 0644);
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(where(fd->get()), "/outside/escaped");
  EXPECT_TRUE(exists(root_ + "/outside/escaped"));
}

TEST_F(PathTest, MagicLinksRefused) {
  symlink_in_root("/proc/self/root", "host");
  // RESOLVE_IN_ROOT makes /proc/self/root mean root/proc/self/root (absent); and the real /proc through the
  // fd path is a magic link, refused by RESOLVE_NO_MAGICLINKS.
  EXPECT_FALSE(open_in_root(root_fd_.get(), "host/tmp", O_PATH));
  ASSERT_EQ(mkdir((root_ + "/proc").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root_ + "/proc/self").c_str(), 0755), 0);
  ASSERT_EQ(symlink("/proc/self/root", (root_ + "/proc/self/root").c_str()), 0);  // loops inside root
  auto r = open_in_root(root_fd_.get(), "host/x", O_CREAT | O_WRONLY, 0644);
  EXPECT_FALSE(r);
  // With the host "/" as root, /proc/self/root is a real magic link: refused outright.
  auto host = open_root("/");
  ASSERT_TRUE(host);
  auto fd = open_in_root(host->get(), "/proc/self/root/tmp", O_PATH);
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().sys_errno(), ELOOP);
  EXPECT_TRUE(open_in_root(host->get(), "/proc/self/status", O_RDONLY));
}

TEST_F(PathTest, MkdirAllCreatesNested) {
  auto fd = mkdir_all_in_root(root_fd_.get(), "/a/b//c/./d/", 0750);
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_TRUE(is_dir(root_ + "/a/b/c/d"));
  EXPECT_EQ(where(fd->get()), "/a/b/c/d");
  // Idempotent.
  auto again = mkdir_all_in_root(root_fd_.get(), "a/b/c/d");
  ASSERT_TRUE(again);
  EXPECT_EQ(where(again->get()), "/a/b/c/d");
  auto r = mkdir_all_in_root(root_fd_.get(), "/");
  ASSERT_TRUE(r);
  EXPECT_EQ(where(r->get()), "/");
}

TEST_F(PathTest, MkdirAllDotDotNeverAboveRoot) {
  auto fd = mkdir_all_in_root(root_fd_.get(), "../../../../x/../../y");
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(where(fd->get()), "/y");
  EXPECT_TRUE(is_dir(root_ + "/y"));
  EXPECT_TRUE(is_dir(root_ + "/x"));
}

TEST_F(PathTest, MkdirAllThroughSymlinkedParentAbsolute) {
  // An image makes "var/run" a symlink to a host path; mkdir -p var/run/foo must stay inside.
  ASSERT_EQ(mkdir((root_ + "/var").c_str(), 0755), 0);
  symlink_in_root(outside_, "var/run");
  auto fd = mkdir_all_in_root(root_fd_.get(), "/var/run/foo/bar");
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(where(fd->get()), outside_ + "/foo/bar");
  EXPECT_TRUE(is_dir(root_ + outside_ + "/foo/bar"));
}

TEST_F(PathTest, MkdirAllThroughSymlinkedParentRelativeEscape) {
  symlink_in_root("../../../../../../../tmp/../" + outside_.substr(1), "evil");
  auto fd = mkdir_all_in_root(root_fd_.get(), "evil/sub");
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(where(fd->get()), outside_ + "/sub");
}

TEST_F(PathTest, MkdirAllThroughExistingSymlinkedDir) {
  ASSERT_EQ(mkdir((root_ + "/real").c_str(), 0755), 0);
  symlink_in_root("real", "link");
  symlink_in_root("/link/../real/./", "abslink");
  auto fd = mkdir_all_in_root(root_fd_.get(), "abslink/x/y");
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(where(fd->get()), "/real/x/y");
}

TEST_F(PathTest, MkdirAllSymlinkLoopFails) {
  symlink_in_root("b", "a");
  symlink_in_root("a", "b");
  auto fd = mkdir_all_in_root(root_fd_.get(), "a/x");
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().sys_errno(), ELOOP);
}

TEST_F(PathTest, MkdirAllFileInTheWay) {
  ASSERT_TRUE(write_file_atomic(root_ + "/file", "x"));
  auto fd = mkdir_all_in_root(root_fd_.get(), "file/x");
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().sys_errno(), ENOTDIR);
}

TEST_F(PathTest, MkdirAllProcSelfRootSymlink) {
  symlink_in_root("/proc/self/root/" + outside_.substr(1), "p");
  auto fd = mkdir_all_in_root(root_fd_.get(), "p/z");
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(where(fd->get()), "/proc/self/root" + outside_ + "/z");
}

TEST_F(PathTest, CreateFileInRoot) {
  auto fd = create_file_in_root(root_fd_.get(), "/etc/resolv.conf", 0600);
  ASSERT_TRUE(fd) << fd.error().message();
  struct stat st;
  ASSERT_EQ(lstat((root_ + "/etc/resolv.conf").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(where(fd->get()), "/etc/resolv.conf");
  ASSERT_TRUE(write_file_atomic(root_ + "/etc/hosts", "x"));
  auto again = create_file_in_root(root_fd_.get(), "etc/hosts");
  ASSERT_TRUE(again);
  auto content = read_file(root_ + "/etc/hosts");
  EXPECT_EQ(*content, "x");  // untouched
  auto dir = create_file_in_root(root_fd_.get(), "etc");
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().sys_errno(), EISDIR);
}

TEST_F(PathTest, CreateFileDanglingSymlinkFollowedInside) {
  ASSERT_EQ(mkdir((root_ + "/etc").c_str(), 0755), 0);
  symlink_in_root(outside_ + "/resolv.conf", "etc/resolv.conf");
  auto fd = create_file_in_root(root_fd_.get(), "/etc/resolv.conf");
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(where(fd->get()), outside_ + "/resolv.conf");
  symlink_in_root("../../../../../../" + outside_.substr(1) + "/rel", "etc/rel");
  fd = create_file_in_root(root_fd_.get(), "/etc/rel");
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_EQ(where(fd->get()), outside_ + "/rel");
}

TEST_F(PathTest, NulAndLongPathsRejected) {
  std::string nul("a\0b", 3);
  EXPECT_EQ(open_in_root(root_fd_.get(), nul, O_PATH).error().code(), Errc::InvalidArgument);
  EXPECT_EQ(mkdir_all_in_root(root_fd_.get(), nul).error().code(), Errc::InvalidArgument);
  EXPECT_EQ(create_file_in_root(root_fd_.get(), nul).error().code(), Errc::InvalidArgument);
  std::string longp(10000, 'a');
  EXPECT_EQ(open_in_root(root_fd_.get(), longp, O_PATH).error().code(), Errc::InvalidArgument);
}

TEST_F(PathTest, SymlinkSwapRaceNeverEscapes) {
  // CVE-2021-30465 shape: while we resolve, another process keeps exchanging a directory with a symlink
  // that points outside (absolute host path and relative ../..). Nothing may land outside the root.
  ASSERT_EQ(mkdir((root_ + "/a").c_str(), 0755), 0);
  symlink_in_root(outside_, "swap_abs");
  symlink_in_root("../../../../../../../../" + outside_.substr(1), "swap_rel");
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    const std::string a = root_ + "/a";
    for (unsigned i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      const std::string other = root_ + (i % 2 ? "/swap_abs" : "/swap_rel");
      (void)renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, other.c_str(), RENAME_EXCHANGE);
    }
  });
  int created = 0;
  for (int i = 0; i < 3000; ++i) {
    if (mkdir_all_in_root(root_fd_.get(), "a/b/c" + std::to_string(i % 7))) ++created;
    if (create_file_in_root(root_fd_.get(), "a/f" + std::to_string(i % 5))) ++created;
    if (open_in_root(root_fd_.get(), "a/g", O_CREAT | O_WRONLY, 0644)) ++created;
  }
  stop = true;
  flipper.join();
  EXPECT_GT(created, 0);
  // TearDown checks that outside/ is still empty.
}

TEST_F(PathTest, IsBeneath) {
  ASSERT_TRUE(mkdir_all_in_root(root_fd_.get(), "a/b/c"));
  auto c = open_in_root(root_fd_.get(), "a/b/c", O_PATH | O_DIRECTORY);
  ASSERT_TRUE(c);
  EXPECT_TRUE(*is_beneath(root_fd_.get(), c->get()));
  EXPECT_TRUE(*is_beneath(root_fd_.get(), root_fd_.get()));
  UniqueFd out(open(outside_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  EXPECT_FALSE(*is_beneath(root_fd_.get(), out.get()));
  UniqueFd slash(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  EXPECT_FALSE(*is_beneath(root_fd_.get(), slash.get()));
  // A directory we hold that is then moved out of the root (the shared-volume rename race).
  ASSERT_EQ(rename((root_ + "/a").c_str(), (outside_ + "/a").c_str()), 0);
  EXPECT_FALSE(*is_beneath(root_fd_.get(), c->get()));
  ASSERT_EQ(rename((outside_ + "/a").c_str(), (root_ + "/a").c_str()), 0);
  EXPECT_TRUE(*is_beneath(root_fd_.get(), c->get()));
}

TEST(Path, CleanPath) {
  EXPECT_EQ(clean_path(""), "/");
  EXPECT_EQ(clean_path("/"), "/");
  EXPECT_EQ(clean_path("a/b"), "/a/b");
  EXPECT_EQ(clean_path("//a//b//"), "/a/b");
  EXPECT_EQ(clean_path("/a/./b/."), "/a/b");
  EXPECT_EQ(clean_path("/a/../b"), "/b");
  EXPECT_EQ(clean_path("/../../a"), "/a");
  EXPECT_EQ(clean_path("a/b/../../.."), "/");
  EXPECT_EQ(clean_path("/a/b/c/../../d/"), "/a/d");
  EXPECT_EQ(clean_path("/..a/.b."), "/..a/.b.");
}

TEST(Path, FdPath) {
  EXPECT_EQ(fd_path(0), "/proc/self/fd/0");
  EXPECT_EQ(fd_path(12345), "/proc/self/fd/12345");
  EXPECT_STREQ(fd_path_buf(2147483647).c_str(), "/proc/self/fd/2147483647");
}

TEST(Path, ProcfsChecks) {
  UniqueFd proc(open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(proc);
  EXPECT_TRUE(*is_procfs(proc.get()));
  TempDir t;
  UniqueFd dir(open(t.path().c_str(), O_PATH | O_CLOEXEC));
  EXPECT_FALSE(*is_procfs(dir.get()));

  auto fd = open_proc_verified("/proc/self/status", O_RDONLY);
  ASSERT_TRUE(fd) << fd.error().message();
  auto text = read_fd(fd->get());
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("Pid:"), std::string::npos);
  EXPECT_TRUE(open_proc_verified("/proc/sys/kernel/cap_last_cap", O_RDONLY));
  EXPECT_EQ(open_proc_verified("/etc/passwd", O_RDONLY).error().code(), Errc::InvalidArgument);
  EXPECT_EQ(open_proc_verified("/proc2/x", O_RDONLY).error().code(), Errc::InvalidArgument);
  // Magic links under /proc (fd/N, exe, root) are not followed.
  EXPECT_FALSE(open_proc_verified("/proc/self/root/etc/passwd", O_RDONLY));
  EXPECT_FALSE(open_proc_verified("/proc/self/../../etc/passwd", O_RDONLY));
}

TEST(Path, DevNull) {
  UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(null);
  EXPECT_TRUE(*is_dev_null(null.get()));
  UniqueFd zero(open("/dev/zero", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(zero);
  EXPECT_FALSE(*is_dev_null(zero.get()));
  TempDir t;
  ASSERT_TRUE(write_file_atomic(t / "null", ""));
  UniqueFd fake(open((t / "null").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_FALSE(*is_dev_null(fake.get()));
}

}  // namespace
}  // namespace berth::sys
