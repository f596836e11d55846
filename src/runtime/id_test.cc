#include "runtime/id.h"

#include <gtest/gtest.h>

namespace berth::runtime {
namespace {

TEST(ValidateId, AcceptsRuncAlphabet) {
  EXPECT_TRUE(validate_id("core-1"));
  EXPECT_TRUE(validate_id("a"));
  EXPECT_TRUE(validate_id("A.b_c+d-9"));
  EXPECT_TRUE(validate_id(std::string(kMaxIdLength, 'x')));
}

TEST(ValidateId, RejectsPathsAndOddCharacters) {
  for (const char* bad : {"", ".", "..", "a/b", "../x", "-a", ".hidden", "a b", "a\nb", "a:b", "é"}) {
    auto st = validate_id(bad);
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().code(), Errc::InvalidArgument) << bad;
  }
  EXPECT_FALSE(validate_id(std::string(kMaxIdLength + 1, 'x')));
}

}  // namespace
}  // namespace berth::runtime
