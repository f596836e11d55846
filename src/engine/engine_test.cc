// The engine over a real ImageStore in a temp data root, with the host's static busybox as the image.
#include "engine/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/testing/temp_dir.h"
#include "image/image_store.h"

namespace berth::engine {
namespace {

TEST(EngineHelpers, FamiliarName) {
  EXPECT_EQ(familiar_name("docker.io/library/busybox:latest"), "busybox:latest");
  EXPECT_EQ(familiar_name("docker.io/team/app:v1"), "team/app:v1");
  EXPECT_EQ(familiar_name("127.0.0.1:5000/bb:v1"), "127.0.0.1:5000/bb:v1");
}

TEST(EngineHelpers, ParseRfc3339) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:10Z"), 10);
  EXPECT_EQ(parse_rfc3339("2026-11-25T07:56:46.00862668Z"), 1795593406);
  EXPECT_EQ(parse_rfc3339("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00-00:30"), 1800);
  EXPECT_EQ(parse_rfc3339(""), 0);
  EXPECT_EQ(parse_rfc3339("garbage-garbage-garbage"), 0);
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "busybox-static not installed";
    {
      image::ImageStoreOptions o;
      o.root = dir_ / "data";
      auto s = image::ImageStore::open(o).value();
      ASSERT_TRUE(s->bootstrap_busybox("docker.io/library/busybox:latest"));
    }
    DaemonConfig c;
    c.data_root = dir_ / "data";
    c.exec_root = dir_ / "exec";
    auto e = open_engine(c);
    ASSERT_TRUE(e) << e.error().message();
    e_ = std::move(*e);
  }
  berth::testing::TempDir dir_;
  std::unique_ptr<Engine> e_;
};

TEST_F(EngineTest, InfoAndVersionCarryRealValues) {
  auto i = e_->info().value();
  EXPECT_EQ(i.images, 1);
  EXPECT_EQ(i.containers, 0);
  EXPECT_EQ(i.data_root, dir_ / "data");
  EXPECT_EQ(i.ncpu, ::sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_GT(i.mem_total, 0);
  EXPECT_FALSE(i.kernel_version.empty());
  EXPECT_TRUE(i.cgroup_version == "1" || i.cgroup_version == "2");
  EXPECT_TRUE(i.runtimes.count("berth"));
  EXPECT_TRUE(i.driver == "overlay2" || i.driver == "native") << i.driver;
  EXPECT_FALSE(i.id.empty());
  // the ID is stable across restarts of the engine on the same data root
  DaemonConfig c;
  c.data_root = dir_ / "data";
  c.exec_root = dir_ / "exec";
  EXPECT_EQ(open_engine(c).value()->info().value().id, i.id);
  auto v = e_->version();
  EXPECT_EQ(v.api_version, "1.41");
  EXPECT_EQ(v.kernel_version, i.kernel_version);
}

TEST_F(EngineTest, ListAndResolveDockerStyle) {
  auto list = e_->images().value();
  ASSERT_EQ(list.size(), 1u);
  const auto& img = list[0];
  EXPECT_TRUE(img.id.starts_with("sha256:"));
  EXPECT_EQ(img.repo_tags, std::vector<std::string>{"busybox:latest"});
  EXPECT_GT(img.size, 100000);
  for (std::string ref : {std::string("busybox"), std::string("busybox:latest"),
                          std::string("docker.io/library/busybox:latest"), img.id, img.id.substr(7),
                          img.id.substr(7, 12), img.id.substr(0, 19)}) {
    auto d = e_->image_inspect(ref);
    ASSERT_TRUE(d) << ref << ": " << d.error().message();
    EXPECT_EQ(d->summary.id, img.id) << ref;
  }
  auto nf = e_->image_inspect("nosuch:img");
  ASSERT_FALSE(nf);
  EXPECT_EQ(nf.error().code(), Errc::NotFound);
  EXPECT_EQ(nf.error().message(), "No such image: nosuch:img");
  auto d = e_->image_inspect("busybox").value();
  EXPECT_NE(d.config_json.find("\"Cmd\""), std::string::npos);
  EXPECT_EQ(d.diff_ids.size(), 1u);
  auto h = e_->image_history("busybox").value();
  ASSERT_FALSE(h.empty());
  EXPECT_EQ(h.front().id, img.id);
  EXPECT_EQ(h.front().tags, std::vector<std::string>{"busybox:latest"});
}

TEST_F(EngineTest, TagUntagDelete) {
  auto id = e_->images().value()[0].id;
  ASSERT_TRUE(e_->image_tag("busybox", "127.0.0.1:5000/bb", "v1"));
  ASSERT_TRUE(e_->image_tag(id.substr(7, 12), "mine", ""));
  EXPECT_EQ(e_->image_tag("busybox", "Bad Name", "x").error().code(), Errc::InvalidArgument);
  EXPECT_EQ(e_->image_tag("nosuch", "x", "y").error().code(), Errc::NotFound);
  auto list = e_->images().value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].repo_tags.size(), 3u);
  EXPECT_EQ(e_->image_inspect("mine:latest").value().summary.id, id);
  // by ID with several names: needs force
  auto c = e_->image_remove(id, false);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Errc::Conflict);
  // by name: only that name goes
  auto u = e_->image_remove("127.0.0.1:5000/bb:v1", false).value();
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].untagged, "127.0.0.1:5000/bb:v1");
  EXPECT_EQ(e_->images().value()[0].repo_tags.size(), 2u);
  EXPECT_FALSE(e_->image_inspect("127.0.0.1:5000/bb:v1"));
  // force by ID: every name, then the image
  auto all = e_->image_remove(id.substr(7, 12), true).value();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.back().deleted, id);
  EXPECT_TRUE(e_->images().value().empty());
  EXPECT_EQ(e_->info().value().images, 0);
}

TEST_F(EngineTest, PruneKeepsTaggedByDefault) {
  auto rep = e_->image_prune(true).value();
  EXPECT_TRUE(rep.images_deleted.empty());
  EXPECT_EQ(e_->images().value().size(), 1u);
  auto all = e_->image_prune(false).value();
  ASSERT_EQ(all.images_deleted.size(), 2u);
  EXPECT_EQ(all.images_deleted[0].untagged, "busybox:latest");
  EXPECT_GT(all.space_reclaimed, 0u);
  EXPECT_TRUE(e_->images().value().empty());
}

}  // namespace
}  // namespace berth::engine
