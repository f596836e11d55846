#include "image/metadata/sqlite_metadata.h"

#include <gtest/gtest.h>

#include "base/testing/temp_dir.h"

namespace berth::image::metadata {
namespace {

struct FakeClock {
  int64_t now = 1'000'000'000'000;
  SqliteMetadata::Clock fn() {
    return [this] { return now; };
  }
};

oci::Descriptor desc(std::string_view data, std::string_view mt = oci::media::kOciManifest) {
  return oci::Descriptor{.media_type = std::string(mt), .digest = Digest::sha256_of(data),
                         .size = static_cast<int64_t>(data.size())};
}

class MetadataTest : public ::testing::Test {
 protected:
  void SetUp() override { md_ = SqliteMetadata::open(dir_ / "meta.db", clock_.fn()).value(); }
  berth::testing::TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<SqliteMetadata> md_;
};

TEST_F(MetadataTest, ImagesCrud) {
  ImageRecord r{.name = "docker.io/library/busybox:latest", .target = desc("m1"), .labels = {{"a", "b"}}};
  ASSERT_TRUE(md_->put_image(r));
  auto g = md_->get_image(r.name);
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->target.digest, Digest::sha256_of("m1"));
  EXPECT_EQ(g->target.media_type, oci::media::kOciManifest);
  EXPECT_EQ(g->target.size, 2);
  EXPECT_EQ(g->created_at_ns, clock_.now);
  EXPECT_EQ(g->labels.at("a"), "b");

  clock_.now += 5;
  r.target = desc("m2");
  ASSERT_TRUE(md_->put_image(r));
  g = md_->get_image(r.name);
  EXPECT_EQ(g->target.digest, Digest::sha256_of("m2"));
  EXPECT_EQ(g->created_at_ns, clock_.now - 5);  // kept on retag
  EXPECT_EQ(g->updated_at_ns, clock_.now);

  ASSERT_TRUE(md_->put_image({.name = "a:1", .target = desc("m3")}));
  auto all = md_->list_images();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "a:1");

  ASSERT_TRUE(md_->delete_image("a:1"));
  EXPECT_EQ(md_->delete_image("a:1").error().code(), Errc::NotFound);
  EXPECT_EQ(md_->get_image("a:1").error().code(), Errc::NotFound);
  EXPECT_EQ(md_->put_image({.name = "", .target = desc("x")}).error().code(), Errc::InvalidArgument);
}

TEST_F(MetadataTest, SurvivesReopen) {
  ASSERT_TRUE(md_->put_image({.name = "keep:me", .target = desc("k")}));
  ASSERT_TRUE(md_->create_lease("l", 0));
  md_.reset();
  auto again = SqliteMetadata::open(dir_ / "meta.db").value();
  EXPECT_TRUE(again->get_image("keep:me"));
  EXPECT_EQ(again->list_leases()->size(), 1u);
}

TEST_F(MetadataTest, LeasesExpireAndCascade) {
  ASSERT_TRUE(md_->create_lease("pull-1", 100, {{"purpose", "pull"}}));
  ASSERT_TRUE(md_->create_lease("forever", 0));
  EXPECT_EQ(md_->create_lease("pull-1", 0).error().code(), Errc::AlreadyExists);
  ASSERT_TRUE(md_->add_lease_resource("pull-1", {ResourceKind::Content, Digest::sha256_of("a").str()}));
  ASSERT_TRUE(md_->add_lease_resource("pull-1", {ResourceKind::Ingest, "ref-a"}));
  ASSERT_TRUE(md_->add_lease_resource("forever", {ResourceKind::Snapshot, "snap"}));
  EXPECT_EQ(md_->add_lease_resource("nope", {ResourceKind::Ingest, "x"}).error().code(), Errc::NotFound);
  EXPECT_EQ(md_->lease_resources("pull-1")->size(), 2u);

  auto roots = md_->gc_roots().value();
  EXPECT_EQ(roots.content.size(), 1u);
  EXPECT_EQ(roots.ingests, std::vector<std::string>{"ref-a"});
  EXPECT_EQ(roots.snapshots, std::vector<std::string>{"snap"});

  clock_.now += 100;  // pull-1 expires now
  roots = md_->gc_roots().value();
  EXPECT_TRUE(roots.content.empty());
  EXPECT_TRUE(roots.ingests.empty());
  EXPECT_EQ(roots.snapshots.size(), 1u);
  auto leases = md_->list_leases().value();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].id, "forever");

  ASSERT_TRUE(md_->remove_lease_resource("forever", {ResourceKind::Snapshot, "snap"}));
  EXPECT_TRUE(md_->lease_resources("forever")->empty());
  ASSERT_TRUE(md_->delete_lease("forever"));
  EXPECT_EQ(md_->delete_lease("forever").error().code(), Errc::NotFound);
}

TEST_F(MetadataTest, ContentRefs) {
  auto p = Digest::sha256_of("p"), c = Digest::sha256_of("c");
  ASSERT_TRUE(md_->add_content_ref(p, c));
  ASSERT_TRUE(md_->add_content_ref(p, c));  // idempotent
  auto roots = md_->gc_roots().value();
  ASSERT_EQ(roots.edges.size(), 1u);
  EXPECT_EQ(roots.edges.begin()->second, c);
  ASSERT_TRUE(md_->remove_content_refs(p));
  EXPECT_TRUE(md_->gc_roots()->edges.empty());
}

TEST_F(MetadataTest, UsesWalAndFullSync) {
  // The pragmas are per connection; check the file-level one (WAL) through a second connection.
  ASSERT_TRUE(md_->put_image({.name = "x:y", .target = desc("w")}));
  auto wal = dir_ / "meta.db-wal";
  EXPECT_EQ(::access(wal.c_str(), F_OK), 0) << "no WAL file next to the database";
}

}  // namespace
}  // namespace berth::image::metadata
