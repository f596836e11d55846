#include "base/error.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return fail(Errc::InvalidArgument, "value {} is not positive", v);
  return v;
}

Result<int> doubled(int v) {
  int x = BERTH_TRY_CTX(parse_positive(v), "doubling {}", v);
  return 2 * x;
}

TEST(Error, TryPropagatesAndWraps) {
  EXPECT_EQ(*doubled(4), 8);
  auto r = doubled(-1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
  EXPECT_EQ(r.error().message(), "doubling -1: value -1 is not positive");
}

TEST(Error, FromErrnoClassifies) {
  auto e = Error::from_errno(ENOENT, "open `x`");
  EXPECT_EQ(e.code(), Errc::NotFound);
  EXPECT_EQ(e.sys_errno(), ENOENT);
  EXPECT_EQ(e.message(), "open `x`: No such file or directory");
  EXPECT_EQ(Error::from_errno(EEXIST, "x").code(), Errc::AlreadyExists);
  EXPECT_EQ(Error::from_errno(EPERM, "x").code(), Errc::PermissionDenied);
}

}  // namespace
}  // namespace berth
