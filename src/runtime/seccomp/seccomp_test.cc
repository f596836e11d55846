#include "runtime/seccomp/seccomp.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "oci/digest.h"
#include "sys/fd_passing.h"

namespace berth::runtime::seccomp {
namespace {

oci::SeccompSyscall rule(std::vector<std::string> names, std::string action, std::optional<uint32_t> errno_ret = {},
                         std::vector<oci::SeccompArg> args = {}) {
  oci::SeccompSyscall s;
  s.names = std::move(names);
  s.action = std::move(action);
  s.errno_ret = errno_ret;
  s.args = std::move(args);
  return s;
}

oci::SeccompArg arg(uint32_t index, std::string op, uint64_t value, uint64_t value_two = 0) {
  oci::SeccompArg a;
  a.index = index;
  a.op = std::move(op);
  a.value = value;
  a.value_two = value_two;
  return a;
}

oci::Seccomp profile(std::string def, std::vector<oci::SeccompSyscall> rules = {}) {
  oci::Seccomp s;
  s.default_action = std::move(def);
  s.architectures = {"SCMP_ARCH_X86_64"};
  s.syscalls = std::move(rules);
  return s;
}

void expect_invalid(const oci::Seccomp& s, std::string_view needle) {
  auto p = compile(s);
  ASSERT_FALSE(p) << needle;
  EXPECT_EQ(p.error().code(), Errc::InvalidArgument) << p.error().message();
  EXPECT_NE(p.error().message().find(needle), std::string::npos) << p.error().message();
}

bool same_program(const Program& a, const Program& b) {
  return a.flags == b.flags && a.insns.size() == b.insns.size() &&
         std::memcmp(a.insns.data(), b.insns.data(), a.insns.size() * sizeof(sock_filter)) == 0;
}

TEST(SeccompCompile, Basic) {
  auto p = compile(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO", 38)}));
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_GT(p->insns.size(), 3u);
  EXPECT_EQ(p->flags, 0u);
  EXPECT_FALSE(p->uses_notify);
  // The last instruction of a filter is always a return.
  EXPECT_EQ(BPF_CLASS(p->insns.back().code), BPF_RET);
}

TEST(SeccompCompile, EveryActionAndOperatorCompiles) {
  for (const auto& a : known_actions()) {
    if (a == "SCMP_ACT_NOTIFY") continue;
    auto s = profile(a == "SCMP_ACT_ALLOW" ? "SCMP_ACT_KILL" : "SCMP_ACT_ALLOW", {rule({"getcwd"}, a)});
    auto p = compile(s);
    EXPECT_TRUE(p) << a << ": " << (p ? "" : p.error().message());
  }
  for (const auto& op : known_operators()) {
    auto p = compile(profile("SCMP_ACT_ALLOW", {rule({"personality"}, "SCMP_ACT_ERRNO", {}, {arg(0, op, 8, 8)})}));
    EXPECT_TRUE(p) << op << ": " << (p ? "" : p.error().message());
  }
}

TEST(SeccompCompile, UnknownSyscallsAreSkipped) {
  auto with = compile(profile("SCMP_ACT_ALLOW", {rule({"mkdir", "no_such_syscall_xyz"}, "SCMP_ACT_ERRNO"),
                                                 rule({"another_fake"}, "SCMP_ACT_KILL")}));
  auto without = compile(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO")}));
  ASSERT_TRUE(with) << with.error().message();
  ASSERT_TRUE(without);
  EXPECT_TRUE(same_program(*with, *without));
}

TEST(SeccompCompile, RuleEqualToDefaultIsSkipped) {
  auto with = compile(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO"), rule({"getpid"}, "SCMP_ACT_ALLOW")}));
  auto without = compile(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO")}));
  ASSERT_TRUE(with) << with.error().message();
  ASSERT_TRUE(without);
  EXPECT_TRUE(same_program(*with, *without));
  // Deny-by-default: getpid (39) is below exit_group (231), so the ENOSYS stub is the same too.
  with = compile(profile("SCMP_ACT_ERRNO", {rule({"exit_group"}, "SCMP_ACT_ALLOW"), rule({"getpid"}, "SCMP_ACT_ERRNO")}));
  without = compile(profile("SCMP_ACT_ERRNO", {rule({"exit_group"}, "SCMP_ACT_ALLOW")}));
  ASSERT_TRUE(with) << with.error().message();
  ASSERT_TRUE(without);
  EXPECT_TRUE(same_program(*with, *without));
  // A different errno is not redundant.
  auto other = compile(profile("SCMP_ACT_ERRNO", {rule({"exit_group"}, "SCMP_ACT_ALLOW"), rule({"getpid"}, "SCMP_ACT_ERRNO", 5)}));
  ASSERT_TRUE(other);
  EXPECT_FALSE(same_program(*other, *without));
}

TEST(SeccompCompile, EnosysStubOnlyForDenyingDefaults) {
  auto rules = std::vector<oci::SeccompSyscall>{rule({"getpid"}, "SCMP_ACT_LOG"), rule({"mkdir"}, "SCMP_ACT_ERRNO", 5)};
  // On x86_64, listing SCMP_ARCH_X86_64 or nothing gives the same libseccomp program; runc adds the stub only
  // for listed architectures, so the difference is exactly the stub.
  auto with_stub = [&](std::string def, std::optional<uint32_t> def_errno) {
    auto s = profile(std::move(def), rules);
    s.default_errno_ret = def_errno;
    auto listed = compile(s);
    s.architectures.clear();
    auto unlisted = compile(s);
    EXPECT_TRUE(listed && unlisted);
    size_t stub = listed->insns.size() - unlisted->insns.size();
    EXPECT_EQ(std::memcmp(listed->insns.data() + stub, unlisted->insns.data(),
                          unlisted->insns.size() * sizeof(sock_filter)), 0);
    return stub;
  };
  // x86_64 alone: ld arch, jeq, ld nr, jset, 3 (x64 check), 1 (x32 -> filter), final ja = 9
  EXPECT_EQ(with_stub("SCMP_ACT_ERRNO", {}), 9u);
  EXPECT_EQ(with_stub("SCMP_ACT_KILL_PROCESS", {}), 9u);
  EXPECT_EQ(with_stub("SCMP_ACT_ERRNO", ENOSYS), 0u);
  EXPECT_EQ(with_stub("SCMP_ACT_ALLOW", {}), 0u);
  EXPECT_EQ(with_stub("SCMP_ACT_TRACE", {}), 0u);
}

TEST(SeccompCompile, ExtraArchitecturesGrowTheProgram) {
  auto one = compile(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO")}));
  auto s = profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO")});
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  auto three = compile(s);
  ASSERT_TRUE(one);
  ASSERT_TRUE(three) << three.error().message();
  EXPECT_GT(three->insns.size(), one->insns.size());
  // A syscall that only exists on x86 (socketcall) is fine in a multi-arch profile.
  s.syscalls.push_back(rule({"socketcall"}, "SCMP_ACT_ERRNO"));
  EXPECT_TRUE(compile(s));
}

TEST(SeccompCompile, Flags) {
  auto s = profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO")});
  s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC",
             "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  auto p = compile(s);
  ASSERT_TRUE(p) << p.error().message();
  // TSYNC is ignored; WAIT_KILLABLE_RECV only applies with a listener.
  EXPECT_EQ(p->flags, unsigned{SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW});
  s.syscalls.push_back(rule({"getppid"}, "SCMP_ACT_NOTIFY"));
  s.listener_path = "/run/agent.sock";
  s.listener_metadata = "meta";
  p = compile(s);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->uses_notify);
  EXPECT_EQ(p->flags, unsigned{SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW |
                               SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV});
  EXPECT_EQ(p->listener_path, "/run/agent.sock");
  EXPECT_EQ(p->listener_metadata, "meta");
}

TEST(SeccompCompile, ErrorsNameTheField) {
  expect_invalid(profile("SCMP_ACT_FOO"), "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\"");
  expect_invalid(profile(""), "linux.seccomp.defaultAction");
  expect_invalid(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO"), rule({"rmdir"}, "SCMP_ACT_NOPE")}),
                 "linux.seccomp.syscalls[1].action: unknown action \"SCMP_ACT_NOPE\"");
  expect_invalid(profile("SCMP_ACT_ALLOW", {rule({"personality"}, "SCMP_ACT_ERRNO", {}, {arg(0, "SCMP_CMP_FOO", 1)})}),
                 "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_FOO\"");
  expect_invalid(profile("SCMP_ACT_ALLOW", {rule({"personality"}, "SCMP_ACT_ERRNO", {}, {arg(6, "SCMP_CMP_EQ", 1)})}),
                 "linux.seccomp.syscalls[0].args[0].index: 6 out of range");
  expect_invalid(profile("SCMP_ACT_ALLOW", {rule({}, "SCMP_ACT_ERRNO")}), "linux.seccomp.syscalls[0].names: empty");
  expect_invalid(profile("SCMP_ACT_ALLOW", {rule({"mkdir", ""}, "SCMP_ACT_ERRNO")}), "linux.seccomp.syscalls[0].names[1]");
  expect_invalid(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_KILL", 1)}),
                 "linux.seccomp.syscalls[0].action: SCMP_ACT_KILL does not take an errno");
  expect_invalid(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO", 70000)}),
                 "linux.seccomp.syscalls[0].errnoRet: 70000 out of range");

  auto s = profile("SCMP_ACT_ALLOW");
  s.default_errno_ret = 3;
  expect_invalid(s, "linux.seccomp.defaultErrnoRet");

  s = profile("SCMP_ACT_ALLOW");
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"};
  expect_invalid(s, "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_Z80\"");

  s = profile("SCMP_ACT_ALLOW");
  s.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_BOGUS"};
  expect_invalid(s, "linux.seccomp.flags[1]: unknown flag \"SECCOMP_FILTER_FLAG_BOGUS\"");

  expect_invalid(profile("SCMP_ACT_NOTIFY"), "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default");
  s = profile("SCMP_ACT_ALLOW", {rule({"read", "write"}, "SCMP_ACT_NOTIFY")});
  s.listener_path = "/x";
  expect_invalid(s, "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for write");
  // The init sends the listener fd with sendmsg after installing the filter: it must not be notified.
  s = profile("SCMP_ACT_ALLOW", {rule({"getppid", "sendmsg"}, "SCMP_ACT_NOTIFY")});
  s.listener_path = "/x";
  expect_invalid(s, "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for sendmsg");
  expect_invalid(profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_NOTIFY")}),
                 "linux.seccomp.listenerPath: required");
}

TEST(SeccompCompile, ProcessStateJson) {
  std::string j = container_process_state("1.1.0", 42, "a\"b", R"({"id":"c1","status":"creating"})");
  EXPECT_EQ(j, R"({"ociVersion":"1.1.0","fds":["seccompFd"],"pid":42,"metadata":"a\"b","state":{"id":"c1","status":"creating"}})");
}

TEST(SeccompCache, Sha256MatchesOpenSsl) {
  EXPECT_EQ(sha256_hex_for_test(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex_for_test("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string s;
  for (int len = 0; len < 300; ++len) {
    EXPECT_EQ(sha256_hex_for_test(s), oci::Digest::sha256_of(s).hex()) << len;
    s += static_cast<char>('a' + len % 26 + (len % 7 == 0 ? 100 : 0));
  }
}

TEST(SeccompCache, MissThenHit) {
  berth::testing::TempDir t;
  std::string dir = t / "cache";
  auto s = profile("SCMP_ACT_ERRNO", {rule({"read", "write", "exit_group"}, "SCMP_ACT_ALLOW")});
  std::string key = cache_key(s);
  EXPECT_EQ(key.size(), 64u);
  auto first = compile_cached(s, dir);
  ASSERT_TRUE(first) << first.error().message();
  struct stat st;
  ASSERT_EQ(stat((dir + "/" + key + ".bpf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = compile_cached(s, dir);
  ASSERT_TRUE(second);
  EXPECT_TRUE(same_program(*first, *second));
  auto plain = compile(s);
  EXPECT_TRUE(same_program(*first, *plain));
}

TEST(SeccompCache, KeyCoversEveryField) {
  auto base = profile("SCMP_ACT_ERRNO", {rule({"read"}, "SCMP_ACT_ALLOW", {}, {arg(0, "SCMP_CMP_EQ", 1, 2)})});
  std::string k = cache_key(base);
  EXPECT_EQ(cache_key(base), k);
  std::vector<std::function<void(oci::Seccomp&)>> changes = {
      [](oci::Seccomp& s) { s.default_action = "SCMP_ACT_KILL"; },
      [](oci::Seccomp& s) { s.default_errno_ret = 1; },
      [](oci::Seccomp& s) { s.architectures.push_back("SCMP_ARCH_X86"); },
      [](oci::Seccomp& s) { s.flags.push_back("SECCOMP_FILTER_FLAG_LOG"); },
      [](oci::Seccomp& s) { s.listener_path = "/x"; },
      [](oci::Seccomp& s) { s.syscalls[0].names[0] = "write"; },
      [](oci::Seccomp& s) { s.syscalls[0].names.push_back("write"); },
      [](oci::Seccomp& s) { s.syscalls[0].action = "SCMP_ACT_LOG"; },
      [](oci::Seccomp& s) { s.syscalls[0].errno_ret = 1; },
      [](oci::Seccomp& s) { s.syscalls[0].args[0].index = 1; },
      [](oci::Seccomp& s) { s.syscalls[0].args[0].value = 3; },
      [](oci::Seccomp& s) { s.syscalls[0].args[0].value_two = 3; },
      [](oci::Seccomp& s) { s.syscalls[0].args[0].op = "SCMP_CMP_NE"; },
      [](oci::Seccomp& s) { s.syscalls.push_back(rule({"x"}, "SCMP_ACT_ALLOW")); },
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    auto s = base;
    changes[i](s);
    EXPECT_NE(cache_key(s), k) << "change " << i;
  }
  // Field boundaries are unambiguous: ["ab","c"] != ["a","bc"].
  auto a = base, b = base;
  a.syscalls[0].names = {"ab", "c"};
  b.syscalls[0].names = {"a", "bc"};
  EXPECT_NE(cache_key(a), cache_key(b));
}

TEST(SeccompCache, HitIsServedFromTheFile) {
  // Plant the program of profile B under profile A's key: a hit must return it without compiling A.
  berth::testing::TempDir t;
  std::string dir = t / "cache";
  auto a = profile("SCMP_ACT_ERRNO", {rule({"read"}, "SCMP_ACT_ALLOW")});
  auto b = profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO", 9)});
  ASSERT_TRUE(compile_cached(b, dir));
  std::string kb = dir + "/" + cache_key(b) + ".bpf";
  auto bytes = read_file(kb);
  ASSERT_TRUE(bytes);
  // The file embeds its key: rewrite it for A.
  std::string ka = cache_key(a);
  size_t pos = bytes->find(cache_key(b));
  ASSERT_NE(pos, std::string::npos);
  bytes->replace(pos, 64, ka);
  ASSERT_TRUE(write_file_atomic(dir + "/" + ka + ".bpf", *bytes, 0600));
  auto got = compile_cached(a, dir);
  ASSERT_TRUE(got);
  EXPECT_TRUE(same_program(*got, *compile(b)));
  EXPECT_FALSE(same_program(*got, *compile(a)));
}

TEST(SeccompCache, CorruptEntriesAreRecompiled) {
  berth::testing::TempDir t;
  std::string dir = t / "cache";
  auto s = profile("SCMP_ACT_ERRNO", {rule({"read"}, "SCMP_ACT_ALLOW")});
  auto good = compile(s);
  ASSERT_TRUE(good);
  std::string path = dir + "/" + cache_key(s) + ".bpf";
  ASSERT_TRUE(mkdir_all(dir, 0700));
  auto full = compile_cached(s, dir);
  auto bytes = read_file(path);
  ASSERT_TRUE(bytes);
  for (std::string bad : {std::string(), std::string("garbage"), bytes->substr(0, bytes->size() - 3),
                          *bytes + "xxxxxxxx", "BERTHBPX" + bytes->substr(8)}) {
    ASSERT_TRUE(write_file_atomic(path, bad, 0600));
    auto p = compile_cached(s, dir);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_TRUE(same_program(*p, *good));
    EXPECT_EQ(*read_file(path), *bytes) << "entry rewritten";
  }
}

TEST(SeccompCache, ErrorsAreNotCachedAndBrokenDirsDoNotFail) {
  berth::testing::TempDir t;
  std::string dir = t / "cache";
  auto r = compile_cached(profile("SCMP_ACT_BOGUS"), dir);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
  struct stat st;
  EXPECT_NE(stat(dir.c_str(), &st), 0);
  ASSERT_TRUE(write_file_atomic(t / "file", "x"));
  auto p = compile_cached(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO")}), t / "file");
  EXPECT_TRUE(p);
}

TEST(SeccompCache, ListenerFieldsComeFromTheConfig) {
  berth::testing::TempDir t;
  auto s = profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_NOTIFY")});
  s.listener_path = "/run/a.sock";
  s.listener_metadata = "m1";
  ASSERT_TRUE(compile_cached(s, t.path()));
  s.listener_path = "/run/b.sock";
  s.listener_metadata = "m2";
  auto p = compile_cached(s, t.path());
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->uses_notify);
  EXPECT_EQ(p->listener_path, "/run/b.sock");
  EXPECT_EQ(p->listener_metadata, "m2");
}

// ---- Installing: forked children with no_new_privs (no root needed). ----

struct ChildResult {
  bool exited = false;
  int code = -1;
  int signal = 0;
};

ChildResult run_child(const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(120);
    _exit(fn());
  }
  int st = 0;
  waitpid(pid, &st, 0);
  ChildResult r;
  r.exited = WIFEXITED(st);
  r.code = r.exited ? WEXITSTATUS(st) : -1;
  r.signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  return r;
}

// What a forked child needs after install in an allow-list profile, sanitizer runtimes included (ASan calls
// sigaltstack, mmap, ... on its own). All are numbered below exit_group (231).
std::vector<std::string> child_basics() {
  return {"write", "exit_group", "exit", "getpid", "gettid", "sigaltstack", "mmap", "munmap", "mprotect",
          "madvise", "brk", "rt_sigprocmask", "rt_sigaction", "futex", "sched_yield", "prctl"};
}

// Returns 0 if syscall fails with want_errno, 100 + errno otherwise (1 if it succeeded).
int expect_errno(long rc, int want) {
  if (rc >= 0) return 1;
  return errno == want ? 0 : 100 + (errno & 0x7f);
}

TEST(SeccompInstall, ErrnoRetAndDefaultErrno) {
  // Allow-list profile: only what the child needs after install; everything else gets EPERM.
  auto s = profile("SCMP_ACT_ERRNO", {rule(child_basics(), "SCMP_ACT_ALLOW"),
                                      rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", 38)});
  auto p = compile(s);
  ASSERT_TRUE(p) << p.error().message();
  berth::testing::TempDir t;
  std::string dir = t / "d";
  auto r = run_child([&] {
    auto fd = install(*p);
    if (!fd || *fd != -1) return 2;
    if (int e = expect_errno(syscall(SYS_mkdir, dir.c_str(), 0755), 38)) return 10 + e;
    char buf[256];
    if (int e = expect_errno(syscall(SYS_getcwd, buf, sizeof buf), EPERM)) return 30 + e;
    if (syscall(SYS_getpid) <= 0) return 3;
    return 0;
  });
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.code, 0);
  struct stat st;
  EXPECT_NE(stat(dir.c_str(), &st), 0) << "mkdir was not blocked";
}

TEST(SeccompInstall, SyscallsNewerThanTheProfileGetEnosys) {
  // exit_group (231) is the largest syscall named; above it -> ENOSYS, below it -> the default EPERM.
  auto s = profile("SCMP_ACT_ERRNO", {rule(child_basics(), "SCMP_ACT_ALLOW")});
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  auto p = compile(s);
  ASSERT_TRUE(p) << p.error().message();
  auto r = run_child([&] {
    if (!install(*p)) return 2;
    if (int e = expect_errno(syscall(435 /* clone3 */, nullptr, 0), ENOSYS)) return 10 + e;
    if (int e = expect_errno(syscall(SYS_openat2, -1, "", nullptr, 0), ENOSYS)) return 30 + e;
    if (int e = expect_errno(syscall(SYS_getcwd, nullptr, 0), EPERM)) return 50 + e;
    if (int e = expect_errno(syscall(SYS_mkdir, "/nonexistent/x", 0), EPERM)) return 70 + e;
    if (syscall(SYS_getpid) <= 0) return 3;
    return 0;
  });
  EXPECT_EQ(r.code, 0);
}

TEST(SeccompInstall, DefaultErrnoRet) {
  auto s = profile("SCMP_ACT_ERRNO", {rule(child_basics(), "SCMP_ACT_ALLOW")});
  s.default_errno_ret = ENXIO;
  auto p = compile(s);
  ASSERT_TRUE(p) << p.error().message();
  auto r = run_child([&] {
    if (!install(*p)) return 2;
    char buf[256];
    return expect_errno(syscall(SYS_getcwd, buf, sizeof buf), ENXIO);
  });
  EXPECT_EQ(r.code, 0);
}

TEST(SeccompInstall, ArgumentFilterEquals) {
  // personality is refused only for PER_LINUX32 (8); the query 0xffffffff still works.
  auto p = compile(profile("SCMP_ACT_ALLOW",
                           {rule({"personality"}, "SCMP_ACT_ERRNO", EACCES, {arg(0, "SCMP_CMP_EQ", PER_LINUX32)})}));
  ASSERT_TRUE(p) << p.error().message();
  auto r = run_child([&] {
    if (!install(*p)) return 2;
    if (int e = expect_errno(syscall(SYS_personality, PER_LINUX32), EACCES)) return 10 + e;
    if (syscall(SYS_personality, 0xffffffffUL) < 0) return 3;
    if (syscall(SYS_personality, PER_LINUX) < 0) return 4;
    return 0;
  });
  EXPECT_EQ(r.code, 0);
}

TEST(SeccompInstall, ConditionsOnDifferentArgsAreAnded) {
  auto p = compile(profile("SCMP_ACT_ALLOW", {rule({"getpriority"}, "SCMP_ACT_ERRNO", 77,
                                                   {arg(0, "SCMP_CMP_EQ", PRIO_PROCESS), arg(1, "SCMP_CMP_EQ", 12345)})}));
  ASSERT_TRUE(p) << p.error().message();
  auto r = run_child([&] {
    if (!install(*p)) return 2;
    if (int e = expect_errno(syscall(SYS_getpriority, PRIO_PROCESS, 12345), 77)) return 10 + e;
    if (syscall(SYS_getpriority, PRIO_PROCESS, 0) < 0) return 3;  // arg1 differs
    errno = 0;
    long rc = syscall(SYS_getpriority, PRIO_PGRP, 12345);          // arg0 differs
    if (rc < 0 && errno == 77) return 4;
    return 0;
  });
  EXPECT_EQ(r.code, 0);
}

TEST(SeccompInstall, RepeatedArgIndexIsOred) {
  auto p = compile(profile("SCMP_ACT_ALLOW", {rule({"getpriority"}, "SCMP_ACT_ERRNO", 78,
                                                   {arg(1, "SCMP_CMP_EQ", 111), arg(1, "SCMP_CMP_EQ", 222)})}));
  ASSERT_TRUE(p) << p.error().message();
  auto r = run_child([&] {
    if (!install(*p)) return 2;
    if (int e = expect_errno(syscall(SYS_getpriority, PRIO_PROCESS, 111), 78)) return 10 + e;
    if (int e = expect_errno(syscall(SYS_getpriority, PRIO_PROCESS, 222), 78)) return 30 + e;
    errno = 0;
    long rc = syscall(SYS_getpriority, PRIO_PROCESS, 333);
    if (rc < 0 && errno == 78) return 4;
    if (syscall(SYS_getpriority, PRIO_PROCESS, 0) < 0) return 5;
    return 0;
  });
  EXPECT_EQ(r.code, 0);
}

TEST(SeccompInstall, MaskedEqualAndRanges) {
  auto p = compile(profile("SCMP_ACT_ALLOW",
                           {rule({"getpriority"}, "SCMP_ACT_ERRNO", 79, {arg(1, "SCMP_CMP_MASKED_EQ", 0xff00, 0x1200)}),
                            rule({"getpgid"}, "SCMP_ACT_ERRNO", 80, {arg(0, "SCMP_CMP_GT", 1000000)})}));
  ASSERT_TRUE(p) << p.error().message();
  auto r = run_child([&] {
    if (!install(*p)) return 2;
    if (int e = expect_errno(syscall(SYS_getpriority, PRIO_PROCESS, 0x1234), 79)) return 10 + e;
    if (int e = expect_errno(syscall(SYS_getpriority, PRIO_PROCESS, 0x12ff), 79)) return 30 + e;
    errno = 0;
    long rc = syscall(SYS_getpriority, PRIO_PROCESS, 0x1334);
    if (rc < 0 && errno == 79) return 4;
    if (int e = expect_errno(syscall(SYS_getpgid, 2000000), 80)) return 50 + e;
    if (syscall(SYS_getpgid, 0) < 0) return 5;
    return 0;
  });
  EXPECT_EQ(r.code, 0);
}

TEST(SeccompInstall, KillProcessAndTrap) {
  for (const char* act : {"SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_KILL"}) {
    auto p = compile(profile("SCMP_ACT_ALLOW", {rule({"getppid"}, act)}));
    ASSERT_TRUE(p) << p.error().message();
    auto r = run_child([&] {
      if (!install(*p)) return 2;
      syscall(SYS_getppid);
      return 0;
    });
    EXPECT_FALSE(r.exited) << act;
    EXPECT_EQ(r.signal, SIGSYS) << act;
  }
}

TEST(SeccompInstall, WithoutNoNewPrivsOrCapSysAdminIsPermissionDenied) {
  auto p = compile(profile("SCMP_ACT_ALLOW", {rule({"mkdir"}, "SCMP_ACT_ERRNO")}));
  ASSERT_TRUE(p);
  pid_t pid = fork();
  if (pid == 0) {
    // Lose CAP_SYS_ADMIN by becoming nobody (if root); no_new_privs stays off.
    if (geteuid() == 0 && (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)) _exit(2);
    auto r = install(*p);
    if (r) _exit(3);
    _exit(r.error().code() == Errc::PermissionDenied && r.error().sys_errno() == EACCES ? 0 : 4);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(SeccompInstall, NotifyListenerGoesToTheAgent) {
  berth::testing::TempDir t;
  std::string sock_path = t / "agent.sock";
  auto s = profile("SCMP_ACT_ALLOW", {rule({"getppid"}, "SCMP_ACT_NOTIFY")});
  s.listener_path = sock_path;
  s.listener_metadata = "hello";
  s.flags = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  auto p = compile(s);
  ASSERT_TRUE(p) << p.error().message();

  UniqueFd srv(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(srv.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(srv.get(), 1), 0);

  pid_t pid = fork();
  if (pid == 0) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(120);
    auto fd = install(*p);
    if (!fd || *fd < 0) _exit(2);
    std::string state = container_process_state("1.1.0", getpid(), p->listener_metadata, R"({"id":"sys-seccomp"})");
    if (!send_listener_fd(p->listener_path, state, *fd)) _exit(3);
    close(*fd);
    long rc = syscall(SYS_getppid);  // answered by the agent below
    _exit(rc == 4242 ? 0 : 4);
  }

  UniqueFd conn(accept4(srv.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn);
  char buf[4096];
  auto got = sys::recv_with_fd(conn.get(), buf, sizeof buf);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_GT(got->bytes, 0u);
  std::string json(buf, got->bytes);
  EXPECT_NE(json.find(R"("fds":["seccompFd"])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("metadata":"hello")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("id":"sys-seccomp")"), std::string::npos) << json;
  ASSERT_TRUE(got->fd);
  UniqueFd listener = std::move(got->fd);

  seccomp_notif req{};
  ASSERT_EQ(ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_RECV, &req), 0) << strerror(errno);
  EXPECT_EQ(req.data.nr, SYS_getppid);
  EXPECT_EQ(static_cast<pid_t>(req.pid), pid);
  seccomp_notif_resp resp{};
  resp.id = req.id;
  resp.val = 4242;
  ASSERT_EQ(ioctl(listener.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp), 0) << strerror(errno);

  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(SeccompInstall, SendToMissingAgentIsUnavailable) {
  berth::testing::TempDir t;
  auto r = send_listener_fd(t / "nobody.sock", "{}", 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::Unavailable);
}

}  // namespace
}  // namespace berth::runtime::seccomp
