#include "sys/caps.h"

#include <gtest/gtest.h>
#include <linux/capability.h>

namespace berth::sys {
namespace {

TEST(Caps, NamesRoundTripForEveryCapability) {
  for (int c = 0; c <= kCapMax; ++c) {
    std::string n = cap_name(c);
    ASSERT_EQ(n.rfind("CAP_", 0), 0u) << n;
    auto back = cap_from_name(n);
    ASSERT_TRUE(back) << n;
    EXPECT_EQ(*back, c) << n;
  }
}

TEST(Caps, KnownNumbers) {
  EXPECT_EQ(*cap_from_name("CAP_CHOWN"), CAP_CHOWN);
  EXPECT_EQ(*cap_from_name("CAP_NET_ADMIN"), CAP_NET_ADMIN);
  EXPECT_EQ(*cap_from_name("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
  EXPECT_EQ(*cap_from_name("CAP_AUDIT_READ"), CAP_AUDIT_READ);
  EXPECT_EQ(*cap_from_name("CAP_PERFMON"), CAP_PERFMON);
  EXPECT_EQ(*cap_from_name("CAP_BPF"), CAP_BPF);
  EXPECT_EQ(*cap_from_name("CAP_CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(*cap_from_name("cap_kill"), CAP_KILL);
}

TEST(Caps, UnknownNamesFailNamingTheCapability) {
  const std::string_view bads[] = {"CAP_FOO", "CHOWN", "", "CAP_", "CAP_CHOWN ", std::string_view("CAP_CHOWN\0", 10)};
  for (std::string_view bad : bads) {
    auto r = cap_from_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
  }
  auto r = cap_from_name("CAP_FOO");
  EXPECT_NE(r.error().message().find("CAP_FOO"), std::string::npos);
}

TEST(Caps, NameOfUnknownNumber) { EXPECT_EQ(cap_name(55), "CAP_55"); }

TEST(Caps, Masks) {
  EXPECT_EQ(caps_mask({}), 0u);
  EXPECT_EQ(caps_mask({0, 1, 40}), (uint64_t{1} << 40) | 3u);
  auto m = caps_mask_from_names({"CAP_KILL", "CAP_SETUID"});
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, (uint64_t{1} << CAP_KILL) | (uint64_t{1} << CAP_SETUID));
  EXPECT_FALSE(caps_mask_from_names({"CAP_KILL", "CAP_NOPE"}));
  EXPECT_EQ(cap_names(*m), (std::vector<std::string>{"CAP_KILL", "CAP_SETUID"}));
}

TEST(Caps, CompileRejectsOutOfRange) {
  CapSets s;
  s.ambient = {64};
  auto r = compile_caps(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("ambient"), std::string::npos);
  s.ambient = {-1};
  EXPECT_FALSE(compile_caps(s));
  s.ambient = {CAP_KILL};
  s.bounding = {CAP_KILL, CAP_CHOWN};
  auto ok = compile_caps(s);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->ambient, uint64_t{1} << CAP_KILL);
  EXPECT_EQ(ok->bounding, (uint64_t{1} << CAP_KILL) | 1u);
}

TEST(Caps, LastCapIsSane) {
  int last = cap_last_cap();
  EXPECT_GE(last, 36);  // every kernel >= 3.16
  EXPECT_LE(last, 63);
}

TEST(Caps, CurrentCapsReadable) {
  auto m = current_caps();
  ASSERT_TRUE(m) << m.error().message();
  // permitted is always a subset of the bounding set for a process that did not exec a file-capable binary
  // after a bounding drop; effective is always a subset of permitted.
  EXPECT_EQ(m->effective & ~m->permitted, 0u);
}

}  // namespace
}  // namespace berth::sys
