// VolumeStore on a temp dir: names, idempotent create, durable references, remove/prune rules, sizes.
#include "engine/volumes.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "base/testing/temp_dir.h"
#include "engine/events.h"

namespace berth::engine {
namespace {

void write(const std::string& path, size_t n) {
  std::ofstream f(path, std::ios::binary);
  f << std::string(n, 'z');
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

TEST(VolumeName, DockersRule) {
  EXPECT_TRUE(valid_volume_name("v1"));
  EXPECT_TRUE(valid_volume_name("my_vol.2-x"));
  EXPECT_FALSE(valid_volume_name("v"));  // at least two characters
  EXPECT_FALSE(valid_volume_name("_v"));
  EXPECT_FALSE(valid_volume_name(".."));
  EXPECT_FALSE(valid_volume_name("a/b"));
  EXPECT_FALSE(valid_volume_name("a b"));
  EXPECT_FALSE(valid_volume_name(""));
}

TEST(VolumeStore, CreateListInspectRemove) {
  testing::TempDir tmp;
  EventBus bus;
  auto vs = *VolumeStore::open(tmp / "volumes", &bus);
  auto v = vs->create({.name = "v1", .labels = {{"tier", "db"}}});
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->mountpoint, tmp / "volumes/v1/_data");
  EXPECT_TRUE(exists(v->mountpoint));
  EXPECT_EQ(v->driver, "local");
  EXPECT_FALSE(v->anonymous);
  EXPECT_EQ(v->created_at.size(), 20u);  // 2026-11-25T12:00:00Z
  // create of an existing name returns it unchanged
  auto again = vs->create({.name = "v1", .labels = {{"other", "x"}}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->labels, (std::map<std::string, std::string>{{"tier", "db"}}));
  auto anon = vs->create({});
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->name.size(), 64u);
  EXPECT_TRUE(anon->anonymous);
  auto list = *vs->list();
  ASSERT_EQ(list.size(), 2u);
  auto got = vs->get("v1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->labels.at("tier"), "db");
  ASSERT_TRUE(vs->remove("v1", false));
  EXPECT_FALSE(exists(tmp / "volumes/v1"));
  auto gone = vs->get("v1");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), Errc::NotFound);
  EXPECT_EQ(gone.error().message(), "get v1: no such volume");
  EXPECT_TRUE(vs->remove("v1", true));  // force: missing is fine
  auto events = bus.recent(EventFilter{{{"type", {"volume"}}}}, 1, 0);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].action, "create");
  EXPECT_EQ(events[2].action, "destroy");
  EXPECT_EQ(events[2].actor_id, "v1");
}

TEST(VolumeStore, RejectsBadNamesDriversAndOptions) {
  testing::TempDir tmp;
  auto vs = *VolumeStore::open(tmp / "volumes", nullptr);
  for (auto bad : {"../escape", "a/b", "..", "-x", "/abs"}) {
    auto r = vs->create({.name = bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument) << bad;
  }
  EXPECT_FALSE(exists(tmp / "escape"));
  auto d = vs->create({.name = "v1", .driver = "nfs-plugin"});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), Errc::NotFound);
  auto o = vs->create({.name = "v1", .options = {{"bogus", "1"}}});
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().message(), "invalid option key: \"bogus\"");
  EXPECT_TRUE(vs->create({.name = "v1", .options = {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}}}));
  auto bind_rel = vs->create({.name = "v2", .options = {{"o", "bind"}, {"device", "relative/dir"}}});
  ASSERT_FALSE(bind_rel);
  EXPECT_EQ(bind_rel.error().code(), Errc::InvalidArgument);
  EXPECT_EQ(vs->create({.name = "v2", .options = {{"o", "size=1m"}}}).error().code(), Errc::InvalidArgument);
  EXPECT_TRUE(vs->create({.name = "v2", .options = {{"type", "none"}, {"o", "bind,ro"}, {"device", "/srv"}}}));
  // lookups of hostile names are plain not-found, never a path outside the root
  EXPECT_EQ(vs->get("../volumes/v1").error().code(), Errc::NotFound);
  EXPECT_EQ(vs->remove("..", false).error().code(), Errc::NotFound);
  EXPECT_TRUE(exists(tmp / "volumes/v1/_data"));
}

TEST(VolumeStore, SymlinkedVolumeDirectoryIsNotFollowed) {
  testing::TempDir tmp;
  auto vs = *VolumeStore::open(tmp / "volumes", nullptr);
  ASSERT_EQ(::mkdir((tmp / "outside").c_str(), 0755), 0);
  write(tmp / "outside/volume.json", 10);
  ASSERT_EQ(::symlink((tmp / "outside").c_str(), (tmp / "volumes/evil").c_str()), 0);
  EXPECT_EQ(vs->get("evil").error().code(), Errc::NotFound);
  EXPECT_TRUE(vs->list()->empty());
}

TEST(VolumeStore, ReferencesAreDurableAndBlockRemoval) {
  testing::TempDir tmp;
  std::string cid(64, 'c');
  {
    auto vs = *VolumeStore::open(tmp / "volumes", nullptr);
    ASSERT_TRUE(vs->create({.name = "data"}));
    ASSERT_TRUE(vs->acquire("data", cid));
    ASSERT_TRUE(vs->acquire("data", cid));  // twice is once
    EXPECT_EQ(vs->acquire("nosuch", cid).error().code(), Errc::NotFound);
  }
  auto vs = *VolumeStore::open(tmp / "volumes", nullptr);  // "daemon restart"
  auto v = *vs->get("data");
  EXPECT_EQ(v.refs, std::vector<std::string>{cid});
  auto rm = vs->remove("data", false);
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().code(), Errc::Conflict);
  EXPECT_EQ(rm.error().message(), "remove data: volume is in use - [" + cid + "]");
  auto pr = *vs->prune(true);
  EXPECT_TRUE(pr.deleted.empty());
  ASSERT_TRUE(vs->release("data", cid));
  ASSERT_TRUE(vs->release("data", cid));    // absent reference: no-op
  ASSERT_TRUE(vs->release("nosuch", cid));  // absent volume: no-op
  EXPECT_TRUE(vs->get("data")->refs.empty());
  ASSERT_TRUE(vs->acquire("data", cid));
  ASSERT_TRUE(vs->create({.name = "logs"}));
  ASSERT_TRUE(vs->acquire("logs", cid));
  auto released = *vs->release_all(cid);
  EXPECT_EQ(released, (std::vector<std::string>{"data", "logs"}));
  ASSERT_TRUE(vs->acquire("data", cid));
  EXPECT_TRUE(vs->remove("data", true));  // force removes a referenced volume
}

TEST(VolumeStore, PruneAnonymousByDefaultAllOnRequestWithLabels) {
  testing::TempDir tmp;
  auto vs = *VolumeStore::open(tmp / "volumes", nullptr);
  auto anon = *vs->create({});
  ASSERT_TRUE(vs->create({.name = "named", .labels = {{"keep", "yes"}}}));
  ASSERT_TRUE(vs->create({.name = "other"}));
  auto busy = *vs->create({});
  ASSERT_TRUE(vs->acquire(busy.name, "c1"));
  write(anon.mountpoint + "/f", 4096 + 7);
  auto pr = *vs->prune(false);
  EXPECT_EQ(pr.deleted, std::vector<std::string>{anon.name});
  EXPECT_EQ(pr.space_reclaimed, 4096u + 7);
  pr = *vs->prune(true, {"!keep"});
  EXPECT_EQ(pr.deleted, std::vector<std::string>{"other"});
  pr = *vs->prune(true, {"keep=yes"});
  EXPECT_EQ(pr.deleted, std::vector<std::string>{"named"});
  auto left = *vs->list();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].name, busy.name);
}

TEST(VolumeStore, UsageCountsHardLinksOnceAndIgnoresSymlinks) {
  testing::TempDir tmp;
  auto vs = *VolumeStore::open(tmp / "volumes", nullptr);
  auto v = *vs->create({.name = "sz"});
  ASSERT_EQ(::mkdir((v.mountpoint + "/sub").c_str(), 0755), 0);
  write(v.mountpoint + "/a", 1000);
  write(v.mountpoint + "/sub/b", 234);
  ASSERT_EQ(::link((v.mountpoint + "/a").c_str(), (v.mountpoint + "/sub/a2").c_str()), 0);
  write(tmp / "big-outside", 100000);
  ASSERT_EQ(::symlink((tmp / "big-outside").c_str(), (v.mountpoint + "/ln").c_str()), 0);
  EXPECT_EQ(*vs->usage("sz"), 1234);
  EXPECT_EQ(vs->usage("nosuch").error().code(), Errc::NotFound);
}

TEST(VolumeStore, DirectoryWithoutMetadataIsIgnoredAndReplaced) {
  testing::TempDir tmp;
  auto vs = *VolumeStore::open(tmp / "volumes", nullptr);
  // what a crash between mkdir and the metadata write leaves behind
  ASSERT_EQ(::mkdir((tmp / "volumes/half").c_str(), 0700), 0);
  write(tmp / "volumes/half/junk", 5);
  EXPECT_TRUE(vs->list()->empty());
  EXPECT_EQ(vs->get("half").error().code(), Errc::NotFound);
  auto v = vs->create({.name = "half"});
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_FALSE(exists(tmp / "volumes/half/junk"));
  EXPECT_EQ(vs->list()->size(), 1u);
}

}  // namespace
}  // namespace berth::engine
