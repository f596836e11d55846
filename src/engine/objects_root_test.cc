// The real engine's image transfer and disk GC: push and pull against an in-process `berth registry serve` on
// loopback (docker's progress messages, events, system df), save/load round trip, and the automatic disk GC on
// a small tmpfs data root (above the high-water mark it collects orphaned content; below it leaves it).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "base/file.h"
#include "base/testing/root.h"
#include "base/testing/temp_dir.h"
#include "engine/engine.h"
#include "engine/gc.h"
#include "image/image_store.h"
#include "registry/server.h"

namespace berth::engine {
namespace {

size_t count_blobs(const std::string& root) {
  size_t n = 0;
  DIR* d = ::opendir((root + "/content/blobs/sha256").c_str());
  if (!d) return 0;
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.') n++;
  ::closedir(d);
  return n;
}

Status bootstrap(const std::string& data_root, const std::string& name) {
  image::ImageStoreOptions o;
  o.root = data_root;
  auto s = BERTH_TRY(image::ImageStore::open(o));
  BERTH_TRY(s->bootstrap_busybox(name));
  return ok();
}

struct Collected {
  std::vector<JsonMessage> msgs;
  ProgressFn fn() {
    return [this](const JsonMessage& m) {
      msgs.push_back(m);
      return ok();
    };
  }
  bool has_status(std::string_view prefix) const {
    for (auto& m : msgs)
      if (m.status.starts_with(prefix)) return true;
    return false;
  }
};

TEST(ObjectsRoot, PushPullSaveLoadAndDiskUsageThroughTheEngine) {
  BERTH_REQUIRE_ROOT();
  if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "busybox missing";
  testing::TempDir tmp;
  std::string data = tmp / "data";
  ASSERT_TRUE(bootstrap(data, "docker.io/library/busybox:latest"));
  registry::ServeOptions so;
  so.addr = "127.0.0.1:0";
  so.root = tmp / "registry";
  auto reg = registry::RegistryServer::start(so);
  ASSERT_TRUE(reg) << reg.error().message();
  std::string host = fmt::format("127.0.0.1:{}", (*reg)->port());
  ASSERT_TRUE(mkdir_all(data + "/tmp", 0700));
  ASSERT_TRUE(write_file_atomic(data + "/tmp/load-leftover", "a spool of a daemon that was killed"));
  DaemonConfig cfg;
  cfg.data_root = data;
  cfg.exec_root = tmp / "exec";
  cfg.gc_interval_seconds = 0;
  auto eng = open_engine(cfg);
  ASSERT_TRUE(eng) << eng.error().message();
  auto& e = **eng;
  EXPECT_NE(::access((data + "/tmp/load-leftover").c_str(), F_OK), 0);  // cleared at start
  auto sub = *e.events_subscribe(EventFilter{{{"type", {"image"}}}}, 0, 0);

  // push
  ASSERT_TRUE(e.image_tag("busybox", host + "/objs/bb", "v1"));
  Collected push;
  auto st = e.image_push(host + "/objs/bb", "v1", {}, push.fn());
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_TRUE(push.has_status("The push refers to repository [" + host + "/objs/bb]"));
  EXPECT_TRUE(push.has_status("v1: digest: sha256:"));
  bool aux = false;
  for (auto& m : push.msgs) aux |= m.aux_json.find("\"Digest\":\"sha256:") != std::string::npos;
  EXPECT_TRUE(aux);
  EXPECT_EQ(e.image_push(host + "/objs/nosuch", "v1", {}, push.fn()).error().code(), Errc::NotFound);

  // pull it back under its name
  ASSERT_TRUE(e.image_remove(host + "/objs/bb:v1", false));
  Collected pull;
  st = e.image_pull({.from_image = host + "/objs/bb", .tag = "v1"}, pull.fn());
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_TRUE(pull.has_status("Pulling from objs/bb"));
  EXPECT_TRUE(pull.has_status("Digest: sha256:"));
  EXPECT_TRUE(pull.has_status("Status: Downloaded newer image for " + host + "/objs/bb:v1"));
  ASSERT_TRUE(e.image_inspect(host + "/objs/bb:v1"));
  auto missing = e.image_pull({.from_image = host + "/objs/bb", .tag = "nope"}, Collected{}.fn());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::NotFound);

  // events: tag, push, untag, pull in that order
  std::vector<std::string> actions;
  while (auto ev = sub->next(std::chrono::milliseconds(0))) actions.push_back(ev->action);
  EXPECT_EQ(actions, (std::vector<std::string>{"tag", "push", "untag", "pull"}));

  // system df: both names point at one image, so one layer, counted once
  auto df = e.system_df();
  ASSERT_TRUE(df) << df.error().message();
  ASSERT_EQ(df->images.size(), 1u);
  EXPECT_GT(df->layers_size, 0);
  EXPECT_EQ(df->layers_size, df->images[0].summary.size);
  EXPECT_EQ(df->images[0].summary.repo_tags.size(), 2u);
  ASSERT_TRUE(e.volume_create({.name = "dfvol"}));
  ASSERT_TRUE(write_file_atomic(data + "/volumes/dfvol/_data/f", std::string(12345, 'v')));
  df = e.system_df();
  ASSERT_EQ(df->volumes.size(), 1u);
  EXPECT_EQ(df->volumes[0].size, 12345);

  // save -> remove -> load
  auto fd = e.image_save({"busybox"});
  ASSERT_TRUE(fd) << fd.error().message();
  auto tar = read_fd(fd->get(), 64 << 20);
  ASSERT_TRUE(tar);
  EXPECT_GT(tar->size(), 100000u);
  ASSERT_TRUE(e.image_remove("busybox", true));
  size_t pos = 0;
  auto names = e.image_load([&](char* b, size_t n) -> Result<size_t> {
    size_t k = std::min(n, tar->size() - pos);
    std::memcpy(b, tar->data() + pos, k);
    pos += k;
    return k;
  });
  ASSERT_TRUE(names) << names.error().message();
  EXPECT_EQ(*names, std::vector<std::string>{"busybox:latest"});
  EXPECT_TRUE(e.image_inspect("busybox:latest"));
  // nothing is left behind in the temp dir
  DIR* d = ::opendir((data + "/tmp").c_str());
  ASSERT_NE(d, nullptr);
  size_t left = 0;
  while (auto* ent = ::readdir(d))
    if (ent->d_name[0] != '.') left++;
  ::closedir(d);
  EXPECT_EQ(left, 0u);
  (*reg)->stop();
}

// A tmpfs of 32 MiB as the data root, filled to ~60% with a file, with one orphaned image's blobs in it.
class TmpfsRoot {
 public:
  explicit TmpfsRoot(const std::string& dir) : dir_(dir) {
    (void)mkdir_all(dir, 0700);
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=32m,mode=0700") == 0;
  }
  ~TmpfsRoot() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

Status orphan_and_fill(const std::string& data, double fill_percent) {
  {
    image::ImageStoreOptions o;
    o.root = data;
    auto s = BERTH_TRY(image::ImageStore::open(o));
    BERTH_TRY(s->bootstrap_busybox("gc.local/orphan:1"));
    BERTH_TRY(s->remove("gc.local/orphan:1"));  // its blobs stay until a prune
  }
  auto u = BERTH_TRY(statvfs_usage(data));
  auto want = static_cast<uint64_t>(static_cast<double>(u.total) * fill_percent / 100);
  uint64_t used = u.total - u.avail;
  if (want > used) BERTH_TRY(write_file_atomic(data + "/filler", std::string(want - used, 'f')));
  return ok();
}

TEST(ObjectsRoot, DiskGcCollectsOrphansAboveTheHighWaterMarkOnly) {
  BERTH_REQUIRE_ROOT();
  if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "busybox missing";
  testing::TempDir tmp;
  TmpfsRoot mnt(tmp / "mnt");
  ASSERT_TRUE(mnt.mounted());
  std::string data = tmp / "mnt/data";
  ASSERT_TRUE(orphan_and_fill(data, 60));
  size_t blobs = count_blobs(data);
  ASSERT_GE(blobs, 3u);  // manifest, config, layer
  double used = statvfs_usage(data)->used_percent();
  {
    DaemonConfig cfg;
    cfg.data_root = data;
    cfg.exec_root = tmp / "exec";
    cfg.gc_interval_seconds = 0;
    cfg.gc_high_watermark = static_cast<int>(std::ceil(used)) + 5;  // well below: nothing happens
    cfg.gc_low_watermark = cfg.gc_high_watermark - 10;
    auto e = *open_engine(cfg);
    auto rep = e->disk_gc(false);
    ASSERT_TRUE(rep) << rep.error().message();
    EXPECT_FALSE(rep->ran);
    EXPECT_EQ(count_blobs(data), blobs);
  }
  DaemonConfig cfg;
  cfg.data_root = data;
  cfg.exec_root = tmp / "exec";
  cfg.gc_interval_seconds = 0;
  cfg.gc_high_watermark = static_cast<int>(std::floor(used)) - 1;  // above it now
  cfg.gc_low_watermark = cfg.gc_high_watermark - 1;
  auto e = *open_engine(cfg);
  auto rep = e->disk_gc(false);
  ASSERT_TRUE(rep) << rep.error().message();
  EXPECT_TRUE(rep->ran);
  EXPECT_GT(rep->bytes_freed, 500000u);  // the busybox layer
  EXPECT_LT(rep->used_percent_after, rep->used_percent_before);
  EXPECT_EQ(count_blobs(data), 0u);
}

TEST(ObjectsRoot, DiskGcRunsOnItsOwnOnATimer) {
  BERTH_REQUIRE_ROOT();
  if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "busybox missing";
  testing::TempDir tmp;
  TmpfsRoot mnt(tmp / "mnt");
  ASSERT_TRUE(mnt.mounted());
  std::string data = tmp / "mnt/data";
  ASSERT_TRUE(orphan_and_fill(data, 60));
  ASSERT_GE(count_blobs(data), 3u);
  double used = statvfs_usage(data)->used_percent();
  DaemonConfig cfg;
  cfg.data_root = data;
  cfg.exec_root = tmp / "exec";
  cfg.gc_interval_seconds = 1;
  cfg.gc_high_watermark = static_cast<int>(std::floor(used)) - 1;
  cfg.gc_low_watermark = cfg.gc_high_watermark - 1;
  auto e = *open_engine(cfg);
  // Readiness poll (not a timed assertion): the background pass removes the orphaned blobs.
  for (int i = 0; i < 600 && count_blobs(data) != 0; i++) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(count_blobs(data), 0u);
}

bool mounted_at(const std::string& path) {
  auto text = read_file("/proc/self/mountinfo", 16 << 20);
  return text && text->find(" " + path + " ") != std::string::npos;
}

TEST(ObjectsRoot, VolumeDriverOptionsAreMountedWhileReferenced) {
  BERTH_REQUIRE_ROOT();
  testing::TempDir tmp;
  std::string host_dir = tmp / "hostdir";
  ASSERT_TRUE(mkdir_all(host_dir, 0755));
  ASSERT_TRUE(write_file_atomic(host_dir + "/keep", "host data"));
  std::string cid(64, 'c');
  {
    auto vs = *VolumeStore::open(tmp / "volumes", nullptr);
    auto t = vs->create({.name = "tmpv", .options = {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=4m,nodev"}}});
    ASSERT_TRUE(t) << t.error().message();
    auto b = vs->create({.name = "bindv", .options = {{"type", "none"}, {"o", "bind"}, {"device", host_dir}}});
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_FALSE(mounted_at(t->mountpoint));  // nothing is mounted before a container uses it
    ASSERT_TRUE(vs->acquire("tmpv", cid));
    ASSERT_TRUE(vs->acquire("bindv", cid));
    EXPECT_TRUE(mounted_at(t->mountpoint));
    auto sv = statvfs_usage(t->mountpoint);
    ASSERT_TRUE(sv);
    EXPECT_EQ(sv->total, 4u << 20);
    EXPECT_EQ(*read_file(b->mountpoint + "/keep"), "host data");
    ASSERT_TRUE(vs->acquire("tmpv", "other"));
    ASSERT_TRUE(vs->release("tmpv", cid));
    EXPECT_TRUE(mounted_at(t->mountpoint));  // still referenced
    ASSERT_TRUE(vs->release("tmpv", "other"));
    EXPECT_FALSE(mounted_at(t->mountpoint));
    // a lost mount (reboot) comes back when the store opens again
    ASSERT_EQ(::umount2(b->mountpoint.c_str(), MNT_DETACH), 0);
  }
  auto vs = *VolumeStore::open(tmp / "volumes", nullptr);
  auto b = *vs->get("bindv");
  EXPECT_TRUE(mounted_at(b.mountpoint));
  // force-removing the referenced bind volume unmounts it and never touches the host directory
  ASSERT_TRUE(vs->remove("bindv", true));
  EXPECT_FALSE(mounted_at(b.mountpoint));
  EXPECT_EQ(*read_file(host_dir + "/keep"), "host data");
  EXPECT_TRUE(vs->remove("tmpv", false));
}

}  // namespace
}  // namespace berth::engine
