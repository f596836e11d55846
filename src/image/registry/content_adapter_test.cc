#include "image/registry/blob_store.h"
#include "image/registry/content_adapter.h"

#include <gtest/gtest.h>

#include "base/testing/temp_dir.h"

namespace berth::image::registry {
namespace {

// The registry's view of the content store, through the adapter.
TEST(ContentAdapter, IngestResumeCommitAndVerify) {
  berth::testing::TempDir dir;
  auto s = open_local_content_store(dir.path()).value();
  std::string data = "hello, content-addressed world";
  Digest d = Digest::sha256_of(data);
  EXPECT_EQ(s->info(d).error().code(), Errc::NotFound);
  {
    auto w = s->writer("pull-x").value();
    EXPECT_EQ(w->offset(), 0);
    ASSERT_TRUE(w->write(data.substr(0, 10)));
    // A second writer on the same ref is refused while the first holds it.
    EXPECT_EQ(s->writer("pull-x").error().code(), Errc::Unavailable);
  }
  auto w = s->writer("pull-x").value();
  EXPECT_EQ(w->offset(), 10);  // resumed
  ASSERT_TRUE(w->write(data.substr(10)));
  EXPECT_EQ(w->digest(), d);
  EXPECT_EQ(w->commit(static_cast<int64_t>(data.size()), d).value(), d);
  EXPECT_EQ(s->info(d)->size, static_cast<int64_t>(data.size()));
  EXPECT_EQ(read_blob(*s, d).value(), data);

  auto bad = s->writer("pull-y").value();
  ASSERT_TRUE(bad->write("other bytes"));
  EXPECT_EQ(bad->commit(-1, d).error().code(), Errc::FailedPrecondition);

  // Same blob through another ref: AlreadyExists, blob intact.
  auto again = s->writer("pull-z").value();
  ASSERT_TRUE(again->write(data));
  EXPECT_EQ(again->commit(-1, d).error().code(), Errc::AlreadyExists);
  EXPECT_EQ(read_blob(*s, d).value(), data);

  int n = 0;
  ASSERT_TRUE(s->walk([&](const BlobInfo& i) -> Status {
    EXPECT_EQ(i.digest, d);
    ++n;
    return ok();
  }));
  EXPECT_EQ(n, 1);
  ASSERT_TRUE(s->remove(d));
  EXPECT_EQ(s->remove(d).error().code(), Errc::NotFound);
  EXPECT_EQ(write_blob(*s, data).value(), d);
  EXPECT_EQ(write_blob(*s, data).value(), d);  // idempotent
}

}  // namespace
}  // namespace berth::image::registry
