#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/root.h"
#include "runtime/seccomp/seccomp.h"

namespace berth::runtime::seccomp {
namespace {

// As root (CAP_SYS_ADMIN) the filter installs without no_new_privs, which is how the runtime installs it when
// the config leaves noNewPrivileges false.
TEST(SeccompRoot, InstallWithoutNoNewPrivs) {
  BERTH_REQUIRE_ROOT();
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  oci::SeccompSyscall r;
  r.names = {"getcwd"};
  r.action = "SCMP_ACT_ERRNO";
  r.errno_ret = 38;
  s.syscalls = {r};
  auto p = compile(s);
  ASSERT_TRUE(p) << p.error().message();
  pid_t pid = fork();
  if (pid == 0) {
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0) _exit(2);
    auto fd = install(*p);
    if (!fd) _exit(3);
    char buf[256];
    if (syscall(SYS_getcwd, buf, sizeof buf) >= 0 || errno != 38) _exit(4);
    auto status = read_file("/proc/self/status");
    if (!status) _exit(5);
    if (status->find("Seccomp:\t2") == std::string::npos) _exit(6);
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0) _exit(7);  // still off
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

}  // namespace
}  // namespace berth::runtime::seccomp
