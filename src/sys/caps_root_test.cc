#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "base/file.h"
#include "base/testing/root.h"
#include "sys/caps.h"

namespace berth::sys {
namespace {

struct StatusMasks {
  uint64_t bnd = 0, eff = 0, prm = 0, inh = 0, amb = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string groups;
};

// Runs fn in a forked child; the child writes /proc/self/status's cap lines back through a pipe.
Result<StatusMasks> in_child(const std::function<Status()>& fn) {
  int p[2];
  if (pipe(p) != 0) return fail_errno("pipe");
  pid_t pid = fork();
  if (pid < 0) return fail_errno("fork");
  if (pid == 0) {
    close(p[0]);
    auto st = fn();
    std::string out;
    if (!st) {
      out = "ERR " + st.error().message();
    } else {
      auto s = read_file("/proc/self/status");
      out = s ? *s : "ERR read status";
    }
    (void)write_all(p[1], out);
    _exit(0);
  }
  close(p[1]);
  auto text = read_fd(p[0]);
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!text) return fail(text.error());
  if (text->rfind("ERR ", 0) == 0) return fail(Errc::Internal, "child: {}", text->substr(4));
  StatusMasks m;
  auto field = [&](const char* key) -> uint64_t {
    size_t pos = text->find(key);
    if (pos == std::string::npos) return ~uint64_t{0};
    return std::strtoull(text->c_str() + pos + std::strlen(key), nullptr, 16);
  };
  m.bnd = field("CapBnd:\t");
  m.eff = field("CapEff:\t");
  m.prm = field("CapPrm:\t");
  m.inh = field("CapInh:\t");
  m.amb = field("CapAmb:\t");
  size_t u = text->find("Uid:\t");
  m.uid = static_cast<uid_t>(std::strtoul(text->c_str() + u + 5, nullptr, 10));
  size_t g = text->find("Gid:\t");
  m.gid = static_cast<gid_t>(std::strtoul(text->c_str() + g + 5, nullptr, 10));
  size_t gs = text->find("Groups:\t");
  if (gs != std::string::npos) {
    size_t end = text->find('\n', gs);
    m.groups = text->substr(gs + 8, end - gs - 8);
    while (!m.groups.empty() && m.groups.back() == ' ') m.groups.pop_back();
  }
  return m;
}

uint64_t bit(int c) { return uint64_t{1} << c; }

TEST(CapsRoot, ApplyAllFiveSetsAsRoot) {
  BERTH_REQUIRE_ROOT();
  CapSets s;
  s.bounding = {CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE, CAP_SETPCAP};
  s.permitted = {CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE};
  s.effective = {CAP_CHOWN, CAP_KILL};
  s.inheritable = {CAP_NET_BIND_SERVICE};
  s.ambient = {CAP_NET_BIND_SERVICE};
  auto m = in_child([&] { return apply_caps(s); });
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->bnd, bit(CAP_CHOWN) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE) | bit(CAP_SETPCAP));
  EXPECT_EQ(m->prm, bit(CAP_CHOWN) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(m->eff, bit(CAP_CHOWN) | bit(CAP_KILL));
  EXPECT_EQ(m->inh, bit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(m->amb, bit(CAP_NET_BIND_SERVICE));
}

TEST(CapsRoot, EmptySetsDropEverything) {
  BERTH_REQUIRE_ROOT();
  auto m = in_child([] { return apply_caps(CapSets{}); });
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->bnd, 0u);
  EXPECT_EQ(m->eff, 0u);
  EXPECT_EQ(m->prm, 0u);
  EXPECT_EQ(m->inh, 0u);
  EXPECT_EQ(m->amb, 0u);
}

TEST(CapsRoot, SwitchUserKeepsCapsForApply) {
  BERTH_REQUIRE_ROOT();
  CapSets s;
  s.bounding = {CAP_KILL, CAP_NET_RAW};
  s.permitted = {CAP_KILL, CAP_NET_RAW};
  s.effective = {CAP_KILL, CAP_NET_RAW};
  s.inheritable = {CAP_NET_RAW};
  s.ambient = {CAP_NET_RAW};
  gid_t groups[] = {1234, 5678};
  auto m = in_child([&]() -> Status {
    BERTH_TRY(switch_user(1000, 1000, groups, 2));
    return apply_caps(s);
  });
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->uid, 1000u);
  EXPECT_EQ(m->gid, 1000u);
  EXPECT_EQ(m->groups, "1234 5678");
  EXPECT_EQ(m->bnd, bit(CAP_KILL) | bit(CAP_NET_RAW));
  EXPECT_EQ(m->prm, bit(CAP_KILL) | bit(CAP_NET_RAW));
  EXPECT_EQ(m->eff, bit(CAP_KILL) | bit(CAP_NET_RAW));
  EXPECT_EQ(m->amb, bit(CAP_NET_RAW));
}

TEST(CapsRoot, WithoutKeepCapsTheUidChangeClearsPermitted) {
  BERTH_REQUIRE_ROOT();
  // Control for the test above: the same switch without PR_SET_KEEPCAPS loses everything, so capset fails.
  CapSets s;
  s.bounding = s.permitted = s.effective = {CAP_KILL};
  auto m = in_child([&]() -> Status {
    if (setresgid(1000, 1000, 1000) != 0 || setresuid(1000, 1000, 1000) != 0) return fail_errno("setresuid");
    return apply_caps(s);
  });
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message().find("drop"), std::string::npos) << m.error().message();
}

TEST(CapsRoot, AmbientNotInInheritableFailsClearly) {
  BERTH_REQUIRE_ROOT();
  CapSets s;
  s.bounding = s.permitted = s.effective = {CAP_KILL};
  s.ambient = {CAP_KILL};  // not inheritable
  auto m = in_child([&] { return apply_caps(s); });
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message().find("CAP_KILL"), std::string::npos) << m.error().message();
}

TEST(CapsRoot, CurrentCapsMatchesStatus) {
  BERTH_REQUIRE_ROOT();
  CapSets s;
  s.bounding = s.permitted = {CAP_CHOWN, CAP_SETPCAP};
  s.effective = {CAP_CHOWN};
  StatusMasks seen;
  auto m = in_child([&]() -> Status {
    BERTH_TRY(apply_caps(s));
    auto c = BERTH_TRY(current_caps());
    if (c.bounding != (bit(CAP_CHOWN) | bit(CAP_SETPCAP)) || c.effective != bit(CAP_CHOWN))
      return fail(Errc::Internal, "current_caps mismatch {:#x} {:#x}", c.bounding, c.effective);
    return ok();
  });
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->eff, bit(CAP_CHOWN));
}

}  // namespace
}  // namespace berth::sys
