#include "image/metadata/gc.h"

#include <gtest/gtest.h>

#include "base/testing/temp_dir.h"
#include "image/content/local/local_store.h"
#include "image/metadata/sqlite_metadata.h"

namespace berth::image::metadata {
namespace {

using content::LocalStore;

class GcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = LocalStore::open(dir_ / "content").value();
    md_ = SqliteMetadata::open(dir_ / "meta.db").value();
  }

  oci::Descriptor put(std::string_view data, std::string_view mt) {
    auto d = content::write_blob(*store_, data).value();
    return {.media_type = std::string(mt), .digest = d, .size = static_cast<int64_t>(data.size())};
  }

  // An image: config + 2 layers + manifest, returns the manifest descriptor.
  oci::Descriptor image(const std::string& tag) {
    oci::Manifest m;
    m.media_type = oci::media::kOciManifest;
    m.config = put("{\"config\":\"" + tag + "\"}", oci::media::kOciConfig);
    m.layers.push_back(put("layer-a-" + tag, oci::media::kOciLayerGzip));
    m.layers.push_back(put("shared-layer", oci::media::kOciLayerGzip));
    return put(oci::to_json(m), oci::media::kOciManifest);
  }

  bool has(const Digest& d) { return static_cast<bool>(store_->info(d)); }

  GcOptions later() {
    GcOptions o;
    o.started_at_ns = INT64_MAX / 2;  // everything counts as committed before the GC
    return o;
  }

  berth::testing::TempDir dir_;
  std::unique_ptr<LocalStore> store_;
  std::unique_ptr<SqliteMetadata> md_;
};

TEST_F(GcTest, KeepsReachableRemovesTheRest) {
  auto m1 = image("one");
  auto m2 = image("two");
  auto junk = put("junk", "application/octet-stream");
  ASSERT_TRUE(md_->put_image({.name = "one:latest", .target = m1}));
  ASSERT_TRUE(md_->put_image({.name = "two:latest", .target = m2}));
  auto all = reachable(*store_, m1).value();
  EXPECT_EQ(all.size(), 4u);

  auto r = collect_garbage(*md_, *store_, later());
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->removed.size(), 1u);
  EXPECT_EQ(r->removed[0], junk.digest);
  EXPECT_EQ(r->bytes_freed, 4);
  EXPECT_EQ(r->blobs_kept, 7u);  // 2 manifests, 2 configs, 2 own layers, 1 shared

  ASSERT_TRUE(md_->delete_image("one:latest"));
  r = collect_garbage(*md_, *store_, later());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->removed.size(), 3u);  // m1, its config, its own layer
  EXPECT_FALSE(has(m1.digest));
  EXPECT_TRUE(has(m2.digest));
  EXPECT_TRUE(has(Digest::sha256_of("shared-layer")));
}

TEST_F(GcTest, IndexWithMissingPlatforms) {
  auto m = image("idx");
  oci::Index idx;
  idx.media_type = oci::media::kOciIndex;
  m.platform = oci::Platform{.architecture = "amd64", .os = "linux"};
  idx.manifests.push_back(m);
  auto absent = oci::Descriptor{.media_type = std::string(oci::media::kOciManifest),
                                .digest = Digest::sha256_of("not pulled"), .size = 10};
  idx.manifests.push_back(absent);
  auto id = put(oci::to_json(idx), oci::media::kOciIndex);
  ASSERT_TRUE(md_->put_image({.name = "idx:1", .target = id}));
  auto r = collect_garbage(*md_, *store_, later());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->removed.empty());
  EXPECT_EQ(r->blobs_kept, 5u);
}

TEST_F(GcTest, LeasesProtectInFlightWork) {
  auto m = image("pulling");  // not yet tagged: a pull in progress
  ASSERT_TRUE(md_->create_lease("pull", 0));
  ASSERT_TRUE(md_->add_lease_resource("pull", {ResourceKind::Content, m.digest.str()}));
  {
    content::WriterOptions o;
    o.ref = "pull-layer-3";
    auto w = store_->writer(o).value();
    ASSERT_TRUE(w->write("partial"));
  }
  ASSERT_TRUE(md_->add_lease_resource("pull", {ResourceKind::Ingest, "pull-layer-3"}));
  GcOptions o = later();
  o.ingest_grace_ns = 0;
  auto r = collect_garbage(*md_, *store_, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->removed.empty());  // the leased manifest keeps config and layers alive
  EXPECT_TRUE(r->ingests_aborted.empty());
  EXPECT_TRUE(store_->ingest_status("pull-layer-3"));

  ASSERT_TRUE(md_->delete_lease("pull"));
  r = collect_garbage(*md_, *store_, o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->removed.size(), 4u);
  EXPECT_EQ(r->ingests_aborted, std::vector<std::string>{"pull-layer-3"});
}

TEST_F(GcTest, SparesBlobsCommittedDuringGcAndHeldIngests) {
  auto fresh = put("fresh", "application/octet-stream");
  GcOptions o;
  o.started_at_ns = 1;  // the GC "started" long before the blob was committed
  o.ingest_grace_ns = 0;
  content::WriterOptions wo;
  wo.ref = "held";
  auto held = store_->writer(wo).value();
  ASSERT_TRUE(held->write("x"));
  auto r = collect_garbage(*md_, *store_, o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->removed.empty());
  EXPECT_TRUE(has(fresh.digest));
  EXPECT_TRUE(store_->ingest_status("held"));
}

TEST_F(GcTest, ContentRefsAndDryRun) {
  auto parent = put("parent", "application/octet-stream");
  auto child = put("child", "application/octet-stream");
  ASSERT_TRUE(md_->create_lease("keep", 0));
  ASSERT_TRUE(md_->add_lease_resource("keep", {ResourceKind::Content, parent.digest.str()}));
  ASSERT_TRUE(md_->add_content_ref(parent.digest, child.digest));
  auto r = collect_garbage(*md_, *store_, later());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->removed.empty());
  ASSERT_TRUE(md_->remove_content_refs(parent.digest));
  GcOptions dry = later();
  dry.dry_run = true;
  r = collect_garbage(*md_, *store_, dry);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->removed, std::vector<Digest>{child.digest});
  EXPECT_TRUE(has(child.digest));
}

}  // namespace
}  // namespace berth::image::metadata
