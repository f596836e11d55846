#include "engine/spec/seccomp_profile.h"

#include <gtest/gtest.h>
#include <seccomp.h>

#include <algorithm>
#include <set>

#include "runtime/seccomp/seccomp.h"

namespace berth::engine::spec {
namespace {

const std::vector<std::string> kDockerCaps = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",     "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",           "CAP_SETFCAP",    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};

const oci::SeccompSyscall* find_rule(const oci::Seccomp& s, std::string_view name, bool with_args) {
  for (const auto& r : s.syscalls)
    if (std::find(r.names.begin(), r.names.end(), name) != r.names.end() && r.args.empty() != with_args) return &r;
  return nullptr;
}

// Every syscall name in Docker's default profile is a real syscall: libseccomp resolves it on at least one
// of the architectures Docker's archMap lists (some are arch-specific: arm_fadvise64_64, s390_*, ...).
TEST(DefaultSeccompProfile, EverySyscallNameResolves) {
  const auto& p = default_seccomp_profile();
  std::vector<uint32_t> arches;
  for (const char* a : {"x86_64", "x86", "x32", "aarch64", "arm", "ppc64le", "s390x", "s390", "riscv64", "mips64"}) {
    uint32_t t = seccomp_arch_resolve_name(a);
    if (t) arches.push_back(t);
  }
  ASSERT_GE(arches.size(), 3u);
  // Syscalls added to the kernel after the libseccomp release installed here may not resolve; they must be
  // few and are listed so a typo cannot hide among them.
  const std::set<std::string> newer_than_libseccomp = {"futex_waitv", "memfd_secret", "process_mrelease",
                                                       "set_mempolicy_home_node", "quotactl_fd",
                                                       "landlock_add_rule", "landlock_create_ruleset",
                                                       "landlock_restrict_self", "epoll_pwait2",
                                                       "mount_setattr", "riscv_flush_icache"};
  size_t names = 0, unresolved = 0;
  for (const auto& r : p.syscalls) {
    for (const auto& n : r.names) {
      ++names;
      bool found = std::any_of(arches.begin(), arches.end(), [&](uint32_t a) {
        return seccomp_syscall_resolve_name_arch(a, n.c_str()) != __NR_SCMP_ERROR;
      });
      if (!found) {
        ++unresolved;
        EXPECT_TRUE(newer_than_libseccomp.count(n)) << "unknown syscall name in the default profile: " << n;
      }
    }
  }
  EXPECT_GT(names, 350u);
  EXPECT_LE(unresolved, newer_than_libseccomp.size());
}

TEST(DefaultSeccompProfile, ConditionsFollowCapsArchAndKernel) {
  ProfileTarget t{kDockerCaps, "amd64", {6, 1}};
  oci::Seccomp s = profile_to_oci(default_seccomp_profile(), t);
  EXPECT_EQ(s.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(s.default_errno_ret, 1u);
#if defined(__x86_64__)
  EXPECT_EQ(s.architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
#endif
  EXPECT_TRUE(find_rule(s, "arch_prctl", false));
  EXPECT_TRUE(find_rule(s, "modify_ldt", false));
  EXPECT_FALSE(find_rule(s, "arm_fadvise64_64", false));
  EXPECT_FALSE(find_rule(s, "s390_runtime_instr", false));
  EXPECT_FALSE(find_rule(s, "mount", false));
  EXPECT_FALSE(find_rule(s, "unshare", false));
  EXPECT_FALSE(find_rule(s, "reboot", false));
  EXPECT_TRUE(find_rule(s, "chroot", false));  // CAP_SYS_CHROOT is a default capability
  EXPECT_TRUE(find_rule(s, "ptrace", false));  // kernel >= 4.8
  // clone without CAP_SYS_ADMIN: only without namespace flags; clone3 -> ENOSYS.
  const auto* clone = find_rule(s, "clone", true);
  ASSERT_TRUE(clone);
  EXPECT_EQ(clone->args[0].op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(clone->args[0].index, 0u);
  EXPECT_FALSE(find_rule(s, "clone", false));
  const auto* clone3 = find_rule(s, "clone3", false);
  ASSERT_TRUE(clone3);
  EXPECT_EQ(clone3->action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(clone3->errno_ret, 38u);
  const auto* sock = find_rule(s, "socket", true);
  ASSERT_TRUE(sock);
  EXPECT_EQ(sock->args[0].value, 40u);  // AF_VSOCK refused

  auto caps = kDockerCaps;
  caps.push_back("CAP_SYS_ADMIN");
  caps.push_back("CAP_SYS_PTRACE");
  oci::Seccomp admin = profile_to_oci(default_seccomp_profile(), {caps, "amd64", {6, 1}});
  EXPECT_TRUE(find_rule(admin, "mount", false));
  EXPECT_TRUE(find_rule(admin, "clone", false));
  EXPECT_FALSE(find_rule(admin, "clone", true));
  EXPECT_TRUE(find_rule(admin, "clone3", false));
  EXPECT_EQ(find_rule(admin, "clone3", false)->action, "SCMP_ACT_ALLOW");
  EXPECT_TRUE(find_rule(admin, "kcmp", false));

  // An old kernel loses the ptrace rule that needs 4.8 (still allowed with CAP_SYS_PTRACE).
  oci::Seccomp old = profile_to_oci(default_seccomp_profile(), {kDockerCaps, "amd64", {4, 4}});
  EXPECT_FALSE(find_rule(old, "ptrace", false));
  // On s390x the clone rule checks argument 1.
  oci::Seccomp s390 = profile_to_oci(default_seccomp_profile(), {kDockerCaps, "s390x", {6, 1}});
  ASSERT_TRUE(find_rule(s390, "clone", true));
  EXPECT_EQ(find_rule(s390, "clone", true)->args[0].index, 1u);
  EXPECT_TRUE(find_rule(s390, "s390_runtime_instr", false));
  EXPECT_FALSE(find_rule(s390, "arch_prctl", false));
}

TEST(DefaultSeccompProfile, CompilesWithTheRuntimesCompiler) {
  for (bool admin : {false, true}) {
    auto caps = kDockerCaps;
    if (admin) caps.push_back("CAP_SYS_ADMIN");
    oci::Seccomp s = profile_to_oci(default_seccomp_profile(), {caps, std::string(native_go_arch()), {6, 1}});
    auto prog = runtime::seccomp::compile(s);
    ASSERT_TRUE(prog) << prog.error().message();
    EXPECT_GT(prog->insns.size(), 100u);
  }
}

TEST(ParseSeccompProfile, DockerFormat) {
  auto p = parse_seccomp_profile(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": null}],
    "syscalls": [
      {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
      {"name": "personality", "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
      {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"], "minKernel": "5.1"}},
      {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["arm64"]}}
    ]})");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->syscalls.size(), 4u);
  EXPECT_EQ(p->syscalls[1].names, std::vector<std::string>{"personality"});
  EXPECT_EQ(p->syscalls[2].includes.min_kernel, "5.1");
  oci::Seccomp s = profile_to_oci(*p, {{}, "amd64", {6, 1}});
  EXPECT_EQ(s.syscalls.size(), 3u);  // mount needs CAP_SYS_ADMIN
  oci::Seccomp arm = profile_to_oci(*p, {{"CAP_SYS_ADMIN"}, "arm64", {5, 0}});
  EXPECT_EQ(arm.syscalls.size(), 2u);  // mount needs 5.1; arch_prctl excluded on arm64
  auto compiled = runtime::seccomp::compile(s);
  EXPECT_TRUE(compiled) << compiled.error().message();
}

TEST(ParseSeccompProfile, RejectsBadProfiles) {
  struct Case {
    const char* json;
    const char* needle;
  };
  for (const Case& c : std::vector<Case>{
           {"{", "invalid JSON"},
           {"[]", "seccomp profile"},
           {R"({"defaultAction":"SCMP_ACT_NOPE"})", "seccomp.defaultAction"},
           {R"({"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":-1})", "defaultErrnoRet"},
           {R"({"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_VAX"]})", "architectures"},
           {R"({"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"X"}]})", "archMap[0].architecture"},
           {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":{}})", "seccomp.syscalls"},
           {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"action":"SCMP_ACT_ALLOW"}]})", "syscalls[0].names"},
           {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"ALLOW"}]})", "syscalls[0].action"},
           {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"op":"SCMP_CMP_EQ"}]}]})",
            "args[0].index"},
           {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"op":"EQ"}]}]})",
            "args[0].op"},
           {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_NOPE"]}}]})",
            "includes.caps"},
           {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"new"}}]})",
            "minKernel"},
           {R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[7],"action":"SCMP_ACT_ALLOW"}]})", "names[0]"},
       }) {
    auto p = parse_seccomp_profile(c.json);
    ASSERT_FALSE(p) << c.json;
    EXPECT_EQ(p.error().code(), Errc::InvalidArgument);
    EXPECT_NE(p.error().message().find(c.needle), std::string::npos) << p.error().message() << " / " << c.needle;
  }
}

TEST(KernelVersion, Parse) {
  EXPECT_EQ(parse_kernel_version("6.18.44-fc-v595"), (std::pair<int, int>{6, 18}));
  EXPECT_EQ(parse_kernel_version("4.8"), (std::pair<int, int>{4, 8}));
  EXPECT_EQ(parse_kernel_version("x"), (std::pair<int, int>{0, 0}));
  EXPECT_EQ(parse_kernel_version("5"), (std::pair<int, int>{0, 0}));
}

}  // namespace
}  // namespace berth::engine::spec
