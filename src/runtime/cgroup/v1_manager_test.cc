#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/testing/temp_dir.h"
#include "runtime/cgroup/manager.h"
#include "runtime/cgroup/testing/fake_cgroupfs.h"

namespace berth::runtime::cgroup {
namespace {

using testing::FakeCgroupfs;

class V1Test : public ::testing::Test {
 protected:
  void SetUp() override { layout_ = *detect_layout(tmp_.path()); }

  std::unique_ptr<Manager> make(const std::string& path = "/berth/c1", Options opt = {}) {
    Options o = fake_.options();
    if (!opt.v1_base.empty()) o.v1_base = opt.v1_base;
    if (opt.max_wait_attempts != Options{}.max_wait_attempts) o.max_wait_attempts = opt.max_wait_attempts;
    auto m = make_manager(layout_, path, "c1", std::move(o));
    EXPECT_TRUE(m) << m.error().message();
    return std::move(*m);
  }
  std::string dir(const std::string& ctrl, const std::string& rel = "berth/c1") const {
    return tmp_.path() + "/" + ctrl + "/" + rel;
  }
  std::string file(const std::string& ctrl, const std::string& name, const std::string& rel = "berth/c1") const {
    return FakeCgroupfs::trim(FakeCgroupfs::read(dir(ctrl, rel) + "/" + name));
  }
  bool has_dir(const std::string& ctrl, const std::string& rel = "berth/c1") const {
    return FakeCgroupfs::exists(dir(ctrl, rel));
  }

  berth::testing::TempDir tmp_;
  FakeCgroupfs fake_{tmp_.path(), FakeCgroupfs::Kind::V1};
  Layout layout_;
};

TEST_F(V1Test, CreateMakesOnlyTheBaseHierarchies) {
  auto m = make();
  ASSERT_TRUE(m->create());
  for (const char* c : {"freezer", "memory", "pids", "cpuacct"}) EXPECT_TRUE(has_dir(c)) << c;
  for (const char* c : {"cpu", "cpuset", "blkio", "devices"}) EXPECT_FALSE(has_dir(c)) << c;
  auto p = m->paths();
  EXPECT_EQ(p.size(), 4u);
  EXPECT_EQ(p.at("memory"), dir("memory"));
  EXPECT_EQ(m->unified_path(), "");
  // Idempotent.
  ASSERT_TRUE(m->create());
}

TEST_F(V1Test, CreateWithEmptyResourcesWritesNothing) {
  auto m = make();
  ASSERT_TRUE(m->create());
  ASSERT_TRUE(m->apply(oci::Resources{}));
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "9223372036854771712");
  EXPECT_EQ(file("pids", "pids.max"), "max");
  EXPECT_FALSE(has_dir("cpu"));
}

TEST_F(V1Test, BaseSetIsConfigurable) {
  Options o;
  o.v1_base = {"freezer"};
  auto m = make("/berth/c1", o);
  ASSERT_TRUE(m->create());
  EXPECT_TRUE(has_dir("freezer"));
  EXPECT_FALSE(has_dir("memory"));
  EXPECT_EQ(m->paths().size(), 1u);
}

TEST_F(V1Test, MemoryLimitsGoToTheirFiles) {
  auto m = make();
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 256 << 20;
  r.memory->swap = 512 << 20;
  r.memory->reservation = 128 << 20;
  r.memory->swappiness = 10;
  r.memory->disable_oom_killer = true;
  r.memory->kernel_tcp = 64 << 20;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "268435456");
  EXPECT_EQ(file("memory", "memory.memsw.limit_in_bytes"), "536870912");
  EXPECT_EQ(file("memory", "memory.soft_limit_in_bytes"), "134217728");
  EXPECT_EQ(file("memory", "memory.swappiness"), "10");
  EXPECT_EQ(file("memory", "memory.oom_control"), "1");
  EXPECT_EQ(file("memory", "memory.kmem.tcp.limit_in_bytes"), "67108864");
}

TEST_F(V1Test, UnlimitedMemoryWithoutSwapMakesSwapUnlimitedToo) {
  auto m = make();
  ASSERT_TRUE(m->create());
  FakeCgroupfs::write(dir("memory") + "/memory.limit_in_bytes", "1048576\n");
  FakeCgroupfs::write(dir("memory") + "/memory.memsw.limit_in_bytes", "2097152\n");
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = -1;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "-1");
  EXPECT_EQ(file("memory", "memory.memsw.limit_in_bytes"), "-1");
}

TEST_F(V1Test, ZeroMeansUnset) {
  auto m = make();
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 0;
  r.memory->swap = 0;
  r.pids = oci::PidsResources{0};
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 0;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "9223372036854771712");
  EXPECT_EQ(file("pids", "pids.max"), "max");
  EXPECT_FALSE(has_dir("cpu"));
}

// Writing a directory's name fails with EISDIR: a way to see which of two writes came first.
TEST_F(V1Test, RaisingTheLimitWritesMemswFirst) {
  auto m = make();
  ASSERT_TRUE(m->create());
  FakeCgroupfs::write(dir("memory") + "/memory.limit_in_bytes", "104857600\n");
  ASSERT_EQ(::unlink((dir("memory") + "/memory.memsw.limit_in_bytes").c_str()), 0);
  ASSERT_EQ(::mkdir((dir("memory") + "/memory.memsw.limit_in_bytes").c_str(), 0755), 0);
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 512 << 20;
  r.memory->swap = 1 << 30;
  auto st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("memory.memsw.limit_in_bytes"), std::string::npos) << st.error().message();
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "104857600");  // untouched: memsw went first
}

TEST_F(V1Test, LoweringBelowTheCurrentLimitWritesTheLimitFirst) {
  auto m = make();
  ASSERT_TRUE(m->create());
  FakeCgroupfs::write(dir("memory") + "/memory.limit_in_bytes", "1073741824\n");
  ASSERT_EQ(::unlink((dir("memory") + "/memory.memsw.limit_in_bytes").c_str()), 0);
  ASSERT_EQ(::mkdir((dir("memory") + "/memory.memsw.limit_in_bytes").c_str(), 0755), 0);
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 64 << 20;
  r.memory->swap = 128 << 20;
  auto st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "67108864");  // the limit came down first
}

TEST_F(V1Test, SwapBelowLimitIsRefusedBeforeAnyWrite) {
  auto m = make();
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 512 << 20;
  r.memory->swap = 256 << 20;
  r.pids = oci::PidsResources{10};
  auto st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
  EXPECT_NE(st.error().message().find("memory.swap"), std::string::npos);
  EXPECT_FALSE(has_dir("pids"));
  EXPECT_FALSE(has_dir("memory"));
}

TEST_F(V1Test, SwappinessOver100IsRefused) {
  auto m = make();
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->swappiness = 101;
  auto st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
}

TEST_F(V1Test, SwapWithoutSwapAccountingIsAClearError) {
  auto m = make();
  ASSERT_TRUE(m->create());
  ASSERT_EQ(::unlink((dir("memory") + "/memory.memsw.limit_in_bytes").c_str()), 0);
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 1 << 20;
  r.memory->swap = 2 << 20;
  auto st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
  EXPECT_NE(st.error().message().find("swap accounting"), std::string::npos);
  // Unlimited swap needs no accounting.
  r.memory->swap = -1;
  EXPECT_TRUE(m->apply(r));
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "1048576");
}

TEST_F(V1Test, CpuSettingsJoinTheCpuHierarchyAndWriteEachFile) {
  auto m = make();
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 200000;
  r.cpu->burst = 1000;
  r.cpu->realtime_period = 500000;
  r.cpu->realtime_runtime = 1000;
  r.cpu->idle = 1;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("cpu", "cpu.shares"), "512");
  EXPECT_EQ(file("cpu", "cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(file("cpu", "cpu.cfs_period_us"), "200000");
  EXPECT_EQ(file("cpu", "cpu.cfs_burst_us"), "1000");
  EXPECT_EQ(file("cpu", "cpu.rt_period_us"), "500000");
  EXPECT_EQ(file("cpu", "cpu.rt_runtime_us"), "1000");
  EXPECT_EQ(file("cpu", "cpu.idle"), "1");
  EXPECT_FALSE(has_dir("cpuset"));
  EXPECT_EQ(m->paths().count("cpu"), 1u);
}

TEST_F(V1Test, CpusetCopiesParentValuesIntoNewDirectories) {
  auto m = make("/a/b");
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->mems = "0";
  ASSERT_TRUE(m->apply(r));
  // Without the copy a v1 cpuset child cannot take tasks; the intermediate "a" needs it as well.
  EXPECT_EQ(file("cpuset", "cpuset.cpus", "a"), "0-1");
  EXPECT_EQ(file("cpuset", "cpuset.mems", "a"), "0");
  EXPECT_EQ(file("cpuset", "cpuset.cpus", "a/b"), "0-1");
  EXPECT_EQ(file("cpuset", "cpuset.mems", "a/b"), "0");
  r.cpu->cpus = "1";
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("cpuset", "cpuset.cpus", "a/b"), "1");
  EXPECT_EQ(file("cpuset", "cpuset.cpus", "a"), "0-1");
}

TEST_F(V1Test, PidsLimit) {
  auto m = make();
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.pids = oci::PidsResources{100};
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("pids", "pids.max"), "100");
  r.pids->limit = -1;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("pids", "pids.max"), "max");
}

TEST_F(V1Test, BlkioWeightAndThrottles) {
  auto m = make();
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.block_io = oci::BlockIoResources{};
  r.block_io->weight = 300;
  r.block_io->weight_device.push_back({8, 0, uint16_t{500}, std::nullopt});
  r.block_io->throttle_read_bps_device.push_back({8, 0, 1048576});
  r.block_io->throttle_write_iops_device.push_back({8, 16, 100});
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("blkio", "blkio.weight"), "300");
  EXPECT_EQ(file("blkio", "blkio.weight_device"), "8:0 500");
  EXPECT_EQ(file("blkio", "blkio.throttle.read_bps_device"), "8:0 1048576");
  EXPECT_EQ(file("blkio", "blkio.throttle.write_iops_device"), "8:16 100");
  EXPECT_EQ(file("blkio", "blkio.throttle.write_bps_device"), "");
}

TEST_F(V1Test, BlkioWeightWithoutAWeightSchedulerIsAClearError) {
  auto m = make();
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.block_io = oci::BlockIoResources{};
  r.block_io->weight = 300;
  // Join first so the files can be taken away, as on this host (no CFQ/BFQ weight files).
  oci::Resources t;
  t.block_io = oci::BlockIoResources{};
  t.block_io->throttle_read_bps_device.push_back({8, 0, 1});
  ASSERT_TRUE(m->apply(t));
  ASSERT_EQ(::unlink((dir("blkio") + "/blkio.weight").c_str()), 0);
  auto st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
  EXPECT_NE(st.error().message().find("blkio.weight"), std::string::npos);
}

TEST_F(V1Test, DeviceRulesAreWrittenToAllowAndDeny) {
  auto m = make();
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.devices.push_back({false, "", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  r.devices.push_back({true, "c", 136, std::nullopt, "rw"});
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("devices", "devices.deny"), "a *:* rwm");
  EXPECT_EQ(file("devices", "devices.allow"), "c 1:3 rwm\nc 136:* rw");
}

TEST_F(V1Test, DeviceRuleOrderIsTheSpecOrder) {
  auto m = make();
  ASSERT_TRUE(m->create());
  oci::Resources join;
  join.devices.push_back({true, "a", std::nullopt, std::nullopt, ""});
  ASSERT_TRUE(m->apply(join));
  EXPECT_EQ(file("devices", "devices.allow"), "a *:* rwm");
  // devices.allow broken: the deny before it is written, the deny after it is not.
  ASSERT_EQ(::unlink((dir("devices") + "/devices.allow").c_str()), 0);
  ASSERT_EQ(::mkdir((dir("devices") + "/devices.allow").c_str(), 0755), 0);
  oci::Resources r;
  r.devices.push_back({false, "b", 8, 0, "w"});
  r.devices.push_back({true, "c", 1, 3, "r"});
  r.devices.push_back({false, "c", 1, 5, "m"});
  ASSERT_FALSE(m->apply(r));
  EXPECT_EQ(file("devices", "devices.deny"), "b 8:0 w");
}

TEST_F(V1Test, BadDeviceRuleIsRefused) {
  auto m = make();
  oci::Resources r;
  r.devices.push_back({true, "x", 1, 3, "rwm"});
  auto st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
  EXPECT_NE(st.error().message().find("devices[0].type"), std::string::npos);
  r.devices[0] = {true, "c", 1, 3, "rwx"};
  st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("devices[0].access"), std::string::npos);
  EXPECT_FALSE(has_dir("devices"));
}

TEST_F(V1Test, UnifiedIsRefusedOnV1BeforeAnything) {
  auto m = make();
  oci::Resources r;
  r.unified["memory.high"] = "1G";
  r.pids = oci::PidsResources{5};
  auto st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
  EXPECT_NE(st.error().message().find("cgroup v2"), std::string::npos);
  EXPECT_FALSE(has_dir("pids"));
}

TEST_F(V1Test, HugetlbNeedsItsHierarchy) {
  auto m = make();
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.hugepage_limits.push_back({"2MB", 4 << 20});
  auto st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::FailedPrecondition);
  EXPECT_NE(st.error().message().find("hugetlb"), std::string::npos);
}

TEST(V1Hugetlb, LimitGoesToLimitInBytes) {
  berth::testing::TempDir tmp;
  FakeCgroupfs fake(tmp.path(), FakeCgroupfs::Kind::V1, /*hugetlb=*/true);
  auto m = *make_manager(*detect_layout(tmp.path()), "c", "c", fake.options());
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.hugepage_limits.push_back({"2MB", 4 << 20});
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(FakeCgroupfs::trim(FakeCgroupfs::read(tmp / "hugetlb/c/hugetlb.2MB.limit_in_bytes")), "4194304");
  r.hugepage_limits[0].page_size = "2XB";
  EXPECT_FALSE(m->apply(r));
}

TEST_F(V1Test, AddPidWritesEveryJoinedHierarchy) {
  auto m = make();
  ASSERT_TRUE(m->create());
  ASSERT_TRUE(m->add_pid(4242));
  for (const char* c : {"freezer", "memory", "pids", "cpuacct"}) EXPECT_EQ(file(c, "cgroup.procs"), "4242") << c;
}

TEST_F(V1Test, UpdateJoiningANewHierarchyMovesTheContainersPids) {
  auto m = make();
  ASSERT_TRUE(m->create());
  ASSERT_TRUE(m->add_pid(4242));
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 256;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("cpu", "cgroup.procs"), "4242");
  EXPECT_EQ(file("cpu", "cpu.shares"), "256");
}

TEST_F(V1Test, AManagerForAnExistingContainerFindsItsDirectories) {
  {
    auto m = make();
    ASSERT_TRUE(m->create());
    oci::Resources r;
    r.pids = oci::PidsResources{7};
    r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
    ASSERT_TRUE(m->apply(r));
  }
  auto m = make();
  auto p = m->paths();
  EXPECT_EQ(p.size(), 5u);
  EXPECT_EQ(p.count("devices"), 1u);
  ASSERT_TRUE(m->add_pid(99));
  EXPECT_EQ(file("devices", "cgroup.procs"), "99");
  EXPECT_EQ(file("freezer", "cgroup.procs"), "99");
  EXPECT_FALSE(has_dir("cpu"));
}

TEST_F(V1Test, AddPidWithoutAnyCgroupFails) {
  auto m = make();
  auto st = m->add_pid(1);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::FailedPrecondition);
}

TEST_F(V1Test, FreezeWaitsUntilTheStateReadsFrozen) {
  auto m = make();
  ASSERT_TRUE(m->create());
  fake_.freezer_dir = dir("freezer");
  fake_.settle_after = 3;
  ASSERT_TRUE(m->freeze());
  EXPECT_EQ(fake_.polls, 4);  // attempts 0..2 saw FREEZING
  EXPECT_EQ(file("freezer", "freezer.state"), "FROZEN");
  EXPECT_TRUE(*m->frozen());
  ASSERT_TRUE(m->thaw());
  EXPECT_EQ(file("freezer", "freezer.state"), "THAWED");
  EXPECT_FALSE(*m->frozen());
}

TEST_F(V1Test, FreezeThatNeverSettlesThawsAndFails) {
  Options o;
  o.max_wait_attempts = 25;
  auto m = make("/berth/c1", o);
  ASSERT_TRUE(m->create());
  fake_.freezer_dir = dir("freezer");
  fake_.settle_after = -1;
  auto st = m->freeze();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::Unavailable);
  EXPECT_EQ(fake_.polls, 25);
  EXPECT_EQ(file("freezer", "freezer.state"), "THAWED");
}

TEST_F(V1Test, FreezeWithoutFreezerIsFailedPrecondition) {
  Options o;
  o.v1_base = {"memory"};
  auto m = make("/berth/c1", o);
  ASSERT_TRUE(m->create());
  auto st = m->freeze();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::FailedPrecondition);
}

TEST_F(V1Test, PidsListsTheCgroupAndItsDescendants) {
  auto m = make();
  ASSERT_TRUE(m->create());
  FakeCgroupfs::write(dir("freezer") + "/cgroup.procs", "12\n5\n");
  ASSERT_EQ(::mkdir((dir("freezer") + "/sub").c_str(), 0755), 0);
  FakeCgroupfs::write(dir("freezer") + "/sub/cgroup.procs", "7\n5\n");
  auto p = m->pids();
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(*p, (std::vector<pid_t>{5, 7, 12}));
}

TEST_F(V1Test, StatsReadEveryController) {
  auto m = make();
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 100;
  r.block_io = oci::BlockIoResources{};
  r.block_io->throttle_read_bps_device.push_back({8, 0, 1});
  ASSERT_TRUE(m->apply(r));
  FakeCgroupfs::write(dir("memory") + "/memory.usage_in_bytes", "1000\n");
  FakeCgroupfs::write(dir("memory") + "/memory.max_usage_in_bytes", "2000\n");
  FakeCgroupfs::write(dir("memory") + "/memory.limit_in_bytes", "4096\n");
  FakeCgroupfs::write(dir("memory") + "/memory.stat", "cache 300\nrss 700\ntotal_cache 300\n");
  FakeCgroupfs::write(dir("memory") + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  FakeCgroupfs::write(dir("cpuacct") + "/cpuacct.usage", "123456789\n");
  FakeCgroupfs::write(dir("cpuacct") + "/cpuacct.usage_percpu", "100 200 \n");
  FakeCgroupfs::write(dir("cpuacct") + "/cpuacct.stat", "user 5\nsystem 2\n");
  FakeCgroupfs::write(dir("cpu") + "/cpu.stat", "nr_periods 10\nnr_throttled 4\nthrottled_time 999\n");
  FakeCgroupfs::write(dir("pids") + "/pids.current", "3\n");
  FakeCgroupfs::write(dir("pids") + "/pids.max", "64\n");
  FakeCgroupfs::write(dir("blkio") + "/blkio.throttle.io_service_bytes_recursive",
                      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\nTotal 12288\n");
  FakeCgroupfs::write(dir("blkio") + "/blkio.throttle.io_serviced_recursive", "8:0 Read 1\n8:0 Write 2\nTotal 3\n");
  auto s = m->stats();
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->memory_usage, 1000u);
  EXPECT_EQ(s->memory_max_usage, 2000u);
  EXPECT_EQ(s->memory_limit, 4096u);
  EXPECT_EQ(s->memory_cache, 300u);
  EXPECT_EQ(s->memory_raw.at("rss"), 700u);
  EXPECT_EQ(s->oom_kill_count, 3u);
  EXPECT_EQ(s->cpu_usage_ns, 123456789u);
  EXPECT_EQ(s->percpu_usage_ns, (std::vector<uint64_t>{100, 200}));
  uint64_t tick = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  EXPECT_EQ(s->cpu_user_ns, 5 * tick);
  EXPECT_EQ(s->cpu_system_ns, 2 * tick);
  EXPECT_EQ(s->throttled_periods, 4u);
  EXPECT_EQ(s->throttled_time_ns, 999u);
  EXPECT_EQ(s->pids_current, 3u);
  EXPECT_EQ(s->pids_limit, 64u);
  ASSERT_EQ(s->blkio_bytes.size(), 3u);
  EXPECT_EQ(s->blkio_bytes[1].op, "Write");
  EXPECT_EQ(s->blkio_bytes[1].value, 8192u);
  EXPECT_EQ(s->blkio_bytes[1].major, 8u);
  ASSERT_EQ(s->blkio_ios.size(), 2u);
  EXPECT_EQ(s->blkio_ios[0].value, 1u);
}

TEST_F(V1Test, StatsPreferTheSchedulerBlkioFilesWhenTheyCount) {
  auto m = make();
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.block_io = oci::BlockIoResources{};
  r.block_io->throttle_read_bps_device.push_back({8, 0, 1});
  ASSERT_TRUE(m->apply(r));
  FakeCgroupfs::write(dir("blkio") + "/blkio.io_service_bytes_recursive", "8:16 Read 1\nTotal 1\n");
  FakeCgroupfs::write(dir("blkio") + "/blkio.throttle.io_service_bytes_recursive", "8:0 Read 4096\nTotal 4096\n");
  auto s = m->stats();
  ASSERT_TRUE(s);
  ASSERT_EQ(s->blkio_bytes.size(), 1u);
  EXPECT_EQ(s->blkio_bytes[0].minor, 16u);
}

TEST_F(V1Test, PidsLimitMaxReadsAsZero) {
  auto m = make();
  ASSERT_TRUE(m->create());
  auto s = m->stats();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->pids_limit, 0u);
}

TEST_F(V1Test, KillAllFreezesSignalsEveryPidAndThaws) {
  auto m = make();
  ASSERT_TRUE(m->create());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) ::pause();
  }
  // A pid that exited already must not be an error: use a reaped child's pid.
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  FakeCgroupfs::write(dir("freezer") + "/cgroup.procs", std::to_string(child) + "\n" + std::to_string(gone) + "\n");
  fake_.freezer_dir = dir("freezer");
  fake_.settle_after = 1;
  auto st = m->kill_all(SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_GE(fake_.polls, 2);  // froze (and thawed)
  EXPECT_EQ(file("freezer", "freezer.state"), "THAWED");
}

TEST_F(V1Test, KillAllLeavesAPausedContainerPausedUnlessSigkill) {
  auto m = make();
  ASSERT_TRUE(m->create());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) ::pause();
  }
  FakeCgroupfs::write(dir("freezer") + "/cgroup.procs", std::to_string(child) + "\n");
  fake_.freezer_dir = dir("freezer");
  ASSERT_TRUE(m->freeze());
  ASSERT_TRUE(m->kill_all(SIGCONT));  // harmless to the child
  EXPECT_EQ(file("freezer", "freezer.state"), "FROZEN");
  auto st = m->kill_all(SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(file("freezer", "freezer.state"), "THAWED");  // frozen tasks die only once thawed
}

TEST(ValidateResources, RefusesWithoutTouchingAnything) {
  oci::Resources r;
  EXPECT_TRUE(validate_resources(r, Mode::V1));
  r.unified["memory.high"] = "1";
  EXPECT_FALSE(validate_resources(r, Mode::V1));
  EXPECT_TRUE(validate_resources(r, Mode::Unified));
  r.unified.clear();
  r.cpu = oci::CpuResources{};
  r.cpu->realtime_runtime = 5;
  EXPECT_TRUE(validate_resources(r, Mode::V1));
  EXPECT_FALSE(validate_resources(r, Mode::Unified));
  r.cpu.reset();
  r.memory = oci::MemoryResources{};
  r.memory->limit = 100;
  r.memory->swap = 50;
  auto st = validate_resources(r, Mode::V1);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
}

TEST_F(V1Test, DestroyRemovesEveryHierarchysLeafOnly) {
  auto m = make();
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->cpus = "0";
  ASSERT_TRUE(m->apply(r));
  ASSERT_TRUE(m->destroy());
  for (const char* c : {"freezer", "memory", "pids", "cpuacct", "cpuset"}) {
    EXPECT_FALSE(has_dir(c)) << c;
    EXPECT_TRUE(has_dir(c, "berth")) << c;  // the parent stays, as with runc
  }
  // Missing directories are fine.
  ASSERT_TRUE(m->destroy());
  auto fresh = make();
  ASSERT_TRUE(fresh->destroy());
}

TEST_F(V1Test, DestroyRemovesChildCgroupsMadeInsideTheContainer) {
  auto m = make();
  ASSERT_TRUE(m->create());
  ASSERT_EQ(::mkdir((dir("memory") + "/inner").c_str(), 0755), 0);
  fake_.populate(dir("memory") + "/inner");
  ASSERT_TRUE(m->destroy());
  EXPECT_FALSE(has_dir("memory"));
}

}  // namespace
}  // namespace berth::runtime::cgroup
