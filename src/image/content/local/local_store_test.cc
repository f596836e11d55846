#include "image/content/local/local_store.h"

#include <sys/stat.h>

#include "base/file.h"
#include "image/content/testing/content_suite.h"

namespace berth::image::content {
namespace {

INSTANTIATE_TEST_SUITE_P(Local, ContentSuite, ::testing::Values(ContentStoreFactory{[](const std::string& dir) {
                           return std::unique_ptr<Store>(LocalStore::open(dir + "/content").value());
                         }}));

TEST(LocalStore, LayoutAndModes) {
  berth::testing::TempDir t;
  auto s = LocalStore::open(t.path()).value();
  auto d = write_blob(*s, "layout").value();
  struct stat st;
  ASSERT_EQ(::stat((t.path() + "/blobs/sha256/" + std::string(d.hex())).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_EQ(s->blob_path(d), t.path() + "/blobs/sha256/" + std::string(d.hex()));
}

TEST(LocalStore, ReadBlobDetectsCorruption) {
  berth::testing::TempDir t;
  auto s = LocalStore::open(t.path()).value();
  auto d = write_blob(*s, "precious").value();
  auto p = s->blob_path(d);
  ASSERT_EQ(::chmod(p.c_str(), 0644), 0);
  ASSERT_TRUE(write_file_atomic(p, "pr3cious"));
  auto r = read_blob(*s, d);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("corrupt"), std::string::npos);
}

TEST(LocalStore, WalkIgnoresStrayFiles) {
  berth::testing::TempDir t;
  auto s = LocalStore::open(t.path()).value();
  ASSERT_TRUE(write_file_atomic(t.path() + "/blobs/sha256/not-a-digest", "x"));
  auto d = write_blob(*s, "a").value();
  std::vector<Digest> seen;
  ASSERT_TRUE(s->walk([&](const Info& i) {
    seen.push_back(i.digest);
    return ok();
  }));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], d);
}

}  // namespace
}  // namespace berth::image::content
