// The disk GC policy against a fake filesystem and fake stores; helpers of the image-transfer operations.
#include "engine/gc.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "engine/engine.h"
#include "engine/image_transfer.h"

namespace berth::engine {
namespace {

// A disk of 1000 bytes; collecting frees what the fake says.
struct FakeDisk {
  uint64_t used = 0;
  FsUsage usage() const { return {1000, 1000 - used}; }
};

class FakeActions final : public GcActions {
 public:
  explicit FakeActions(FakeDisk& d) : d_(d) {}
  Result<uint64_t> collect_unreferenced() override {
    calls.push_back("collect");
    uint64_t f = orphan_bytes + pending;
    d_.used -= f;
    orphan_bytes = pending = 0;
    return f;
  }
  Result<std::vector<std::string>> dangling_images() override { return dangling; }
  Status remove_image(const std::string& id) override {
    calls.push_back("rm " + id);
    pending += image_bytes.at(id);
    return ok();
  }
  uint64_t orphan_bytes = 0, pending = 0;
  std::vector<std::string> dangling;
  std::map<std::string, uint64_t> image_bytes;
  std::vector<std::string> calls;

 private:
  FakeDisk& d_;
};

TEST(DiskGc, NothingBelowTheHighWaterMark) {
  FakeDisk disk{850};
  FakeActions a(disk);
  a.orphan_bytes = 100;
  auto rep = *run_disk_gc({90, 80}, [&]() -> Result<FsUsage> { return disk.usage(); }, a, false);
  EXPECT_FALSE(rep.ran);
  EXPECT_TRUE(a.calls.empty());
  EXPECT_EQ(disk.used, 850u);
}

TEST(DiskGc, OrphansFirstAndStopsAtTheLowWaterMark) {
  FakeDisk disk{950};
  FakeActions a(disk);
  a.orphan_bytes = 200;  // 95% -> 75%: enough, the dangling images stay
  a.dangling = {"old"};
  a.image_bytes = {{"old", 50}};
  auto rep = *run_disk_gc({90, 80}, [&]() -> Result<FsUsage> { return disk.usage(); }, a, false);
  EXPECT_TRUE(rep.ran);
  EXPECT_EQ(a.calls, std::vector<std::string>{"collect"});
  EXPECT_DOUBLE_EQ(rep.used_percent_before, 95);
  EXPECT_DOUBLE_EQ(rep.used_percent_after, 75);
  EXPECT_EQ(rep.bytes_freed, 200u);
  EXPECT_TRUE(rep.images_removed.empty());
}

TEST(DiskGc, DanglingImagesOldestFirstUntilLowEnough) {
  FakeDisk disk{950};
  FakeActions a(disk);
  a.orphan_bytes = 50;  // 95 -> 90: still above 80
  a.dangling = {"oldest", "middle", "newest"};
  a.image_bytes = {{"oldest", 60}, {"middle", 60}, {"newest", 60}};
  auto rep = *run_disk_gc({90, 80}, [&]() -> Result<FsUsage> { return disk.usage(); }, a, false);
  EXPECT_EQ(a.calls, (std::vector<std::string>{"collect", "rm oldest", "collect", "rm middle", "collect"}));
  EXPECT_EQ(rep.images_removed, (std::vector<std::string>{"oldest", "middle"}));
  EXPECT_DOUBLE_EQ(rep.used_percent_after, 78);
  EXPECT_EQ(rep.bytes_freed, 170u);
}

TEST(DiskGc, StopsWhenNothingIsLeftAndForceRunsBelowTheMark) {
  FakeDisk disk{990};
  FakeActions a(disk);
  a.orphan_bytes = 10;
  auto rep = *run_disk_gc({90, 80}, [&]() -> Result<FsUsage> { return disk.usage(); }, a, false);
  EXPECT_TRUE(rep.ran);
  EXPECT_DOUBLE_EQ(rep.used_percent_after, 98);  // what is left is in use: stays (and is logged)
  FakeDisk low{100};
  FakeActions b(low);
  b.orphan_bytes = 30;
  auto forced = *run_disk_gc({90, 80}, [&]() -> Result<FsUsage> { return low.usage(); }, b, true);
  EXPECT_TRUE(forced.ran);
  EXPECT_EQ(forced.bytes_freed, 30u);
  auto off = *run_disk_gc({0, 0}, [&]() -> Result<FsUsage> { return low.usage(); }, b, false);
  EXPECT_FALSE(off.ran);
}

TEST(DiskGc, PolicyValidation) {
  EXPECT_TRUE((GcPolicy{90, 80}.validate()));
  EXPECT_TRUE((GcPolicy{0, 0}.validate()));
  EXPECT_FALSE((GcPolicy{80, 80}.validate()));
  EXPECT_FALSE((GcPolicy{101, 50}.validate()));
  EXPECT_FALSE((GcPolicy{50, -1}.validate()));
}

TEST(DiskGcRunner, KickRunsAPassAndTheDestructorStopsIt) {
  std::mutex mu;
  std::condition_variable cv;
  int ran = 0;
  {
    DiskGcRunner r(std::chrono::hours(1), [&] {
      std::lock_guard lk(mu);
      ran++;
      cv.notify_all();
    });
    r.kick();
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return ran >= 1; });
  }
  EXPECT_EQ(ran, 1);
}

TEST(StatvfsUsage, RealFilesystem) {
  testing::TempDir tmp;
  auto u = statvfs_usage(tmp.path());
  ASSERT_TRUE(u);
  EXPECT_GT(u->total, 0u);
  EXPECT_LE(u->avail, u->total);
  EXPECT_FALSE(statvfs_usage(tmp / "nosuch"));
}

TEST(ImageTransfer, PullReference) {
  EXPECT_EQ(*pull_reference("127.0.0.1:5000/bb", "v1"), "127.0.0.1:5000/bb:v1");
  EXPECT_EQ(*pull_reference("127.0.0.1:5000/bb", ""), "127.0.0.1:5000/bb");
  EXPECT_EQ(*pull_reference("docker.io/library/busybox", "latest"), "docker.io/library/busybox:latest");
  std::string d = "sha256:" + std::string(64, 'a');
  EXPECT_EQ(*pull_reference("host:5000/a/b", d), "host:5000/a/b@" + d);
  EXPECT_EQ(*pull_reference("host:5000/a/b:v2", "v2"), "host:5000/a/b:v2");
  EXPECT_FALSE(pull_reference("host:5000/a/b:v2", "v3"));
}

TEST(ImageTransfer, ProgressEventsAsDockerMessages) {
  image::ProgressEvent dl{.state = image::ProgressState::Downloading, .id = "0123456789ab", .status = "Downloading",
                          .has_progress = true, .current = 512, .total = 2048};
  auto m = to_json_messages(dl);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].status, "Downloading");
  EXPECT_EQ(m[0].id, "0123456789ab");
  EXPECT_EQ(m[0].current, 512);
  EXPECT_EQ(m[0].total, 2048);
  EXPECT_FALSE(m[0].progress.empty());
  image::ProgressEvent done{.state = image::ProgressState::PullComplete, .id = "0123456789ab", .status = "Pull complete"};
  m = to_json_messages(done);
  EXPECT_TRUE(m[0].empty_detail);
  EXPECT_EQ(m[0].current, -1);
  image::ProgressEvent push{.state = image::ProgressState::PushResult, .status = "v1: digest: sha256:ab size: 527",
                            .aux = image::PushAux{"v1", "sha256:ab", 527}};
  m = to_json_messages(push);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].status, "v1: digest: sha256:ab size: 527");
  EXPECT_EQ(m[1].aux_json, R"({"Digest":"sha256:ab","Size":527,"Tag":"v1"})");
  EXPECT_TRUE(m[1].empty_detail);
}

TEST(ImageTransfer, RegistryAccessUsesExplicitCredentialsForTheReferencesRegistry) {
  RegistryAuth a{.username = "u", .password = "p"};
  auto acc = registry_access(a, "127.0.0.1:5000/x/y:1", {"10.0.0.1:5000"});
  ASSERT_EQ(acc.credentials.count("127.0.0.1:5000"), 1u);
  EXPECT_EQ(acc.credentials.at("127.0.0.1:5000").username, "u");
  EXPECT_EQ(acc.insecure_registries, std::vector<std::string>{"10.0.0.1:5000"});
  a.server_address = "https://reg.example:443/v1/";
  acc = registry_access(a, "127.0.0.1:5000/x/y:1", {});
  EXPECT_EQ(acc.credentials.count("reg.example:443"), 1u);
  EXPECT_TRUE(registry_access(RegistryAuth{}, "h:1/a", {}).credentials.empty());
}

TEST(ImageTransfer, SpoolStreamsTheWholeBodyToAFile) {
  testing::TempDir tmp;
  std::string body(3 * (1 << 20) + 17, 'q');
  body[5] = 'x';
  size_t pos = 0;
  auto path = spool_to_file(
      [&](char* b, size_t n) -> Result<size_t> {
        size_t k = std::min<size_t>({n, body.size() - pos, 70000});
        std::memcpy(b, body.data() + pos, k);
        pos += k;
        return k;
      },
      tmp / "spool", "load");
  ASSERT_TRUE(path) << path.error().message();
  EXPECT_EQ(*read_file(*path, 8 << 20), body);
  ::unlink(path->c_str());
  auto bad = spool_to_file([](char*, size_t) -> Result<size_t> { return fail(Errc::Unavailable, "reset"); }, tmp / "spool",
                           "load");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("read request body"), std::string::npos);
}

}  // namespace
}  // namespace berth::engine
