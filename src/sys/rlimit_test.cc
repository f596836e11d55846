#include "sys/rlimit.h"

#include <linux/capability.h>

#include "base/file.h"
#include "sys/caps.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

namespace berth::sys {
namespace {

TEST(Rlimit, AllSixteenNames) {
  const char* names[] = {"RLIMIT_CPU",  "RLIMIT_FSIZE",   "RLIMIT_DATA",       "RLIMIT_STACK",
                         "RLIMIT_CORE", "RLIMIT_RSS",     "RLIMIT_NPROC",      "RLIMIT_NOFILE",
                         "RLIMIT_MEMLOCK", "RLIMIT_AS",   "RLIMIT_LOCKS",      "RLIMIT_SIGPENDING",
                         "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO",    "RLIMIT_RTTIME"};
  std::set<int> seen;
  for (const char* n : names) {
    auto r = rlimit_from_name(n);
    ASSERT_TRUE(r) << n;
    seen.insert(*r);
    EXPECT_EQ(rlimit_name(*r), n);
  }
  EXPECT_EQ(seen.size(), 16u);
  EXPECT_EQ(*rlimit_from_name("RLIMIT_NOFILE"), RLIMIT_NOFILE);
  EXPECT_EQ(*rlimit_from_name("RLIMIT_RTTIME"), RLIMIT_RTTIME);
}

TEST(Rlimit, UnknownName) {
  for (const char* bad : {"RLIMIT_FOO", "NOFILE", "rlimit_nofile", ""}) {
    auto r = rlimit_from_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
  }
  EXPECT_NE(rlimit_from_name("RLIMIT_FOO").error().message().find("RLIMIT_FOO"), std::string::npos);
}

// Runs in a forked child so the test process keeps its limits.
template <class Fn>
int in_child(Fn fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

TEST(Rlimit, SetLowersAndReports) {
  EXPECT_EQ(in_child([] {
              if (!set_rlimit(RLIMIT_NOFILE, 100, 200)) return 1;
              rlimit r{};
              getrlimit(RLIMIT_NOFILE, &r);
              return (r.rlim_cur == 100 && r.rlim_max == 200) ? 0 : 2;
            }),
            0);
}

TEST(Rlimit, SoftAboveHardIsInvalid) {
  auto r = set_rlimit(RLIMIT_NOFILE, 300, 200);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
}

TEST(Rlimit, RaisingHardWithoutCapSysResourceIsReported) {
  // Lower the hard limit, then drop CAP_SYS_RESOURCE (if we have it) and try to raise it again.
  EXPECT_EQ(in_child([] {
              if (!set_rlimit(RLIMIT_NOFILE, 64, 128)) return 1;
              // Make sure CAP_SYS_RESOURCE is not effective (this VM's root lacks it anyway).
              auto caps = current_caps();
              if (!caps) return 7;
              if (caps->effective & (uint64_t{1} << CAP_SYS_RESOURCE)) {
                caps->effective &= ~(uint64_t{1} << CAP_SYS_RESOURCE);
                if (!apply_caps(*caps)) return 8;
              }
              auto r = set_rlimit(RLIMIT_NOFILE, 64, 256);
              if (r) return 3;
              if (r.error().code() != Errc::PermissionDenied) return 4;
              if (r.error().message().find("CAP_SYS_RESOURCE") == std::string::npos) return 5;
              if (r.error().message().find("128") == std::string::npos) return 6;
              return 0;
            }),
            0);
}

TEST(Rlimit, NofileAboveNrOpenIsNamed) {
  auto text = read_file("/proc/sys/fs/nr_open");
  ASSERT_TRUE(text);
  uint64_t nr_open = std::strtoull(text->c_str(), nullptr, 10);
  ASSERT_GT(nr_open, 0u);
  auto r = set_rlimit(RLIMIT_NOFILE, 64, nr_open + 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
  EXPECT_NE(r.error().message().find("nr_open"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace berth::sys
