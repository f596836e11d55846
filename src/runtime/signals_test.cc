#include "runtime/signals.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace berth::runtime {
namespace {

TEST(ParseSignal, NamesAndNumbers) {
  EXPECT_EQ(*parse_signal("TERM"), SIGTERM);
  EXPECT_EQ(*parse_signal("SIGTERM"), SIGTERM);
  EXPECT_EQ(*parse_signal("sigkill"), SIGKILL);
  EXPECT_EQ(*parse_signal("kill"), SIGKILL);
  EXPECT_EQ(*parse_signal("9"), 9);
  EXPECT_EQ(*parse_signal("1"), SIGHUP);
  EXPECT_EQ(*parse_signal("USR1"), SIGUSR1);
  EXPECT_EQ(*parse_signal("WINCH"), SIGWINCH);
  EXPECT_EQ(*parse_signal("RTMIN"), SIGRTMIN);
  EXPECT_EQ(*parse_signal("SIGRTMIN+3"), SIGRTMIN + 3);
  EXPECT_EQ(*parse_signal("RTMAX-1"), SIGRTMAX - 1);
}

TEST(ParseSignal, RejectsGarbage) {
  for (const char* bad : {"", "0", "65", "-9", "FOO", "SIG", "9x", "RTMIN+100", "RTMAX+1", "TERM "}) {
    auto r = parse_signal(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument) << bad;
  }
}

TEST(SignalName, RoundTrips) {
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  for (int s = 1; s < 32; ++s) {
    auto back = parse_signal(signal_name(s));
    ASSERT_TRUE(back) << s;
    EXPECT_EQ(*back, s);
  }
}

}  // namespace
}  // namespace berth::runtime
