#include "api/client/flags.h"

#include <gtest/gtest.h>

namespace berth::api::client {
namespace {

struct RunFlags {
  bool d = false, i = false, t = false, rm = false, sig_proxy = true;
  std::string name, user;
  std::vector<std::string> env, publish;
  int64_t stop = -1;
  FlagSet fs{"run"};
  RunFlags() {
    fs.add_bool("d,detach", &d, "");
    fs.add_bool("i,interactive", &i, "");
    fs.add_bool("t,tty", &t, "");
    fs.add_bool("rm", &rm, "");
    fs.add_bool("sig-proxy", &sig_proxy, "");
    fs.add_string("name", &name, "");
    fs.add_string("u,user", &user, "");
    fs.add_list("e,env", &env, "");
    fs.add_list("p,publish", &publish, "");
    fs.add_int("stop-timeout", &stop, "");
    fs.add_ignored("detach-keys", false);
  }
};

TEST(Flags, CombinedShortFlagsAndValues) {
  RunFlags f;
  auto pos = f.fs.parse({"-it", "--rm", "-e", "A=1", "-eB=2", "-e=C=3", "--env", "D=4", "--env=E=5", "--name=web",
                         "-u", "1000:1000", "-dp8080:80", "busybox", "sh", "-c", "echo -e x"},
                        false);
  ASSERT_TRUE(pos) << pos.error().message();
  EXPECT_TRUE(f.i);
  EXPECT_TRUE(f.t);
  EXPECT_TRUE(f.rm);
  EXPECT_TRUE(f.d);
  EXPECT_EQ(f.env, (std::vector<std::string>{"A=1", "B=2", "C=3", "D=4", "E=5"}));
  EXPECT_EQ(f.name, "web");
  EXPECT_EQ(f.user, "1000:1000");
  EXPECT_EQ(f.publish, std::vector<std::string>{"8080:80"});
  // Not interspersed: everything from the image on is positional, flags included.
  EXPECT_EQ(*pos, (std::vector<std::string>{"busybox", "sh", "-c", "echo -e x"}));
  EXPECT_TRUE(f.fs.changed("name"));
  EXPECT_TRUE(f.fs.changed("e"));
  EXPECT_FALSE(f.fs.changed("stop-timeout"));
}

TEST(Flags, BoolValuesIntsIgnoredAndDoubleDash) {
  RunFlags f;
  auto pos = f.fs.parse({"--sig-proxy=false", "--rm=true", "--stop-timeout", "7", "--detach-keys", "ctrl-x", "--",
                         "-not-a-flag"});
  ASSERT_TRUE(pos) << pos.error().message();
  EXPECT_FALSE(f.sig_proxy);
  EXPECT_TRUE(f.rm);
  EXPECT_EQ(f.stop, 7);
  EXPECT_EQ(*pos, std::vector<std::string>{"-not-a-flag"});
}

TEST(Flags, InterspersedPositionals) {
  RunFlags f;
  auto pos = f.fs.parse({"a", "-d", "b", "--name", "n", "c"}, true);
  ASSERT_TRUE(pos);
  EXPECT_EQ(*pos, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(f.d);
  EXPECT_EQ(f.name, "n");
}

TEST(Flags, Errors) {
  {
    RunFlags f;
    auto r = f.fs.parse({"--bogus"});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("unknown flag: --bogus"), std::string::npos);
  }
  {
    RunFlags f;
    auto r = f.fs.parse({"-ix"});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("'x'"), std::string::npos);
  }
  {
    RunFlags f;
    EXPECT_FALSE(f.fs.parse({"--name"}));
    EXPECT_FALSE(f.fs.parse({"-e"}));
    EXPECT_FALSE(f.fs.parse({"--rm=maybe"}));
    EXPECT_FALSE(f.fs.parse({"--stop-timeout", "ten"}));
  }
}

TEST(Flags, Help) {
  RunFlags f;
  auto r = f.fs.parse({"-d", "--help", "--bogus"});
  ASSERT_TRUE(r);
  EXPECT_TRUE(f.fs.help_requested());
  EXPECT_NE(f.fs.usage().find("--detach"), std::string::npos);
  EXPECT_EQ(f.fs.usage().find("detach-keys"), std::string::npos);  // ignored flags stay out of the usage
}

TEST(Flags, ByteSizesAndCpus) {
  EXPECT_EQ(*parse_bytes("512"), 512);
  EXPECT_EQ(*parse_bytes("64m"), 64 << 20);
  EXPECT_EQ(*parse_bytes("64MB"), 64 << 20);
  EXPECT_EQ(*parse_bytes("1g"), int64_t{1} << 30);
  EXPECT_EQ(*parse_bytes("1.5k"), 1536);
  EXPECT_EQ(*parse_bytes("2GiB"), int64_t{2} << 30);
  EXPECT_FALSE(parse_bytes("12x"));
  EXPECT_FALSE(parse_bytes(""));
  EXPECT_FALSE(parse_bytes("m"));
  EXPECT_EQ(*parse_nano_cpus("0.5"), 500000000);
  EXPECT_EQ(*parse_nano_cpus("2"), 2000000000);
  EXPECT_FALSE(parse_nano_cpus("two"));
  EXPECT_FALSE(parse_nano_cpus("-1"));
}

}  // namespace
}  // namespace berth::api::client
