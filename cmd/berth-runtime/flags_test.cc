#include "flags.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

const std::vector<FlagDef> kDefs = {{{"bundle", "b"}, true}, {{"detach", "d"}, false}, {{"pid-file"}, true},
                                    {{"env", "e"}, true}};

std::vector<std::string> v(std::initializer_list<const char*> l) { return {l.begin(), l.end()}; }

TEST(Flags, SingleAndDoubleDashAreTheSame) {
  auto p = parse_flags(kDefs, v({"-bundle", "/b1", "id"}), 0, false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->get("bundle"), "/b1");
  p = parse_flags(kDefs, v({"--bundle=/b2", "-d", "id"}), 0, false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->get("bundle"), "/b2");
  EXPECT_TRUE(p->flag("detach"));
  p = parse_flags(kDefs, v({"-b", "/b3", "--detach=false", "id"}), 0, false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->get("bundle"), "/b3");
  EXPECT_FALSE(p->flag("detach"));
  EXPECT_EQ(p->positional, v({"id"}));
}

TEST(Flags, RepeatedValuesAreKept) {
  auto p = parse_flags(kDefs, v({"-e", "A=1", "--env", "B=2", "id"}), 0, false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->all("env"), v({"A=1", "B=2"}));
}

TEST(Flags, StopAtPositionalKeepsCommandFlags) {
  auto p = parse_flags(kDefs, v({"-d", "id", "sh", "-c", "echo -d"}), 0, true);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->flag("detach"));
  EXPECT_EQ(p->positional, v({"id", "sh", "-c", "echo -d"}));
}

TEST(Flags, MixedWhenNotStopping) {
  auto p = parse_flags(kDefs, v({"id", "--pid-file", "/p"}), 0, false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->get("pid-file"), "/p");
  EXPECT_EQ(p->positional, v({"id"}));
}

TEST(Flags, DoubleDashEndsFlags) {
  auto p = parse_flags(kDefs, v({"--", "-d"}), 0, false);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->has("detach"));
  EXPECT_EQ(p->positional, v({"-d"}));
}

TEST(Flags, Errors) {
  auto p = parse_flags(kDefs, v({"--nope", "id"}), 0, false);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message(), "flag provided but not defined: -nope");
  EXPECT_FALSE(parse_flags(kDefs, v({"--bundle"}), 0, false));
  EXPECT_FALSE(parse_flags(kDefs, v({"--detach=maybe"}), 0, false));
}

TEST(Flags, BeginOffsetAndLoneDash) {
  auto p = parse_flags(kDefs, v({"prog", "create", "-", "-d"}), 2, false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->positional, v({"-"}));
  EXPECT_TRUE(p->flag("detach"));
}

}  // namespace
}  // namespace berth::cli
