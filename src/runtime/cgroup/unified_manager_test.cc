#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/testing/temp_dir.h"
#include "runtime/cgroup/controllers.h"
#include "runtime/cgroup/manager.h"
#include "runtime/cgroup/testing/fake_cgroupfs.h"

namespace berth::runtime::cgroup {
namespace {

using testing::FakeCgroupfs;

class V2Test : public ::testing::Test {
 protected:
  std::unique_ptr<Manager> make(const std::string& path = "/berth/c1", int max_wait = 0) {
    Options o = fake_.options();
    if (max_wait) o.max_wait_attempts = max_wait;
    o.install_device_filter = [this](const std::string& d, const std::vector<oci::DeviceCgroupRule>& rules) -> Status {
      filter_dir_ = d;
      filter_rules_ = rules;
      return ok();
    };
    auto layout = detect_layout(tmp_.path());
    EXPECT_TRUE(layout);
    auto m = make_manager(*layout, path, "c1", std::move(o));
    EXPECT_TRUE(m) << m.error().message();
    return std::move(*m);
  }
  std::string dir(const std::string& rel = "berth/c1") const { return tmp_.path() + "/" + rel; }
  std::string file(const std::string& name, const std::string& rel = "berth/c1") const {
    return FakeCgroupfs::trim(FakeCgroupfs::read(dir(rel) + "/" + name));
  }
  std::unique_ptr<Manager> created() {
    auto m = make();
    auto st = m->create();
    EXPECT_TRUE(st) << st.error().message();
    return m;
  }

  berth::testing::TempDir tmp_;
  FakeCgroupfs fake_{tmp_.path(), FakeCgroupfs::Kind::V2};
  std::string filter_dir_;
  std::vector<oci::DeviceCgroupRule> filter_rules_;
};

TEST_F(V2Test, CreateEnablesControllersInEveryAncestor) {
  auto m = created();
  EXPECT_TRUE(FakeCgroupfs::exists(dir()));
  EXPECT_EQ(FakeCgroupfs::trim(FakeCgroupfs::read(tmp_ / "cgroup.subtree_control")), "+cpuset +cpu +io +memory +hugetlb +pids");
  EXPECT_EQ(file("cgroup.subtree_control", "berth"), "+cpuset +cpu +io +memory +hugetlb +pids");
  EXPECT_EQ(file("cgroup.subtree_control"), "");  // the leaf keeps its processes: no subtree control
  EXPECT_EQ(m->paths(), (std::map<std::string, std::string>{{"", dir()}}));
  EXPECT_EQ(m->unified_path(), dir());
}

TEST_F(V2Test, CreateOnlyAddsWhatIsMissing) {
  FakeCgroupfs::write(tmp_ / "cgroup.subtree_control", "cpu memory pids\n");
  auto m = make("/c2");
  ASSERT_TRUE(m->create());
  EXPECT_EQ(FakeCgroupfs::trim(FakeCgroupfs::read(tmp_ / "cgroup.subtree_control")), "+cpuset +io +hugetlb");
}

TEST_F(V2Test, MemoryLimitSwapAndReservation) {
  auto m = created();
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 512 << 20;
  r.memory->swap = 1 << 30;  // memory+swap: swap alone is the difference
  r.memory->reservation = 128 << 20;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("memory.max"), "536870912");
  EXPECT_EQ(file("memory.swap.max"), "536870912");
  EXPECT_EQ(file("memory.low"), "134217728");
}

TEST_F(V2Test, UnlimitedMemoryIsMaxForBoth) {
  auto m = created();
  FakeCgroupfs::write(dir() + "/memory.swap.max", "0\n");
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = -1;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("memory.max"), "max");
  EXPECT_EQ(file("memory.swap.max"), "max");
}

TEST_F(V2Test, SwapWithoutLimitOrBelowLimitIsRefused) {
  auto m = created();
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->swap = 1 << 30;
  auto st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
  r.memory->limit = 2 << 30;
  st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
  EXPECT_EQ(file("memory.max"), "max");
}

TEST_F(V2Test, SwapAndLimitEqualMeansNoSwap) {
  auto m = created();
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 64 << 20;
  r.memory->swap = 64 << 20;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("memory.swap.max"), "0");
}

TEST_F(V2Test, CpuWeightFromSharesAndCpuMax) {
  auto m = created();
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 1024;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->burst = 2000;
  r.cpu->cpus = "0-1";
  r.cpu->mems = "0";
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("cpu.weight"), "39");  // 1 + (1022 * 9999) / 262142
  EXPECT_EQ(file("cpu.max"), "50000 100000");
  EXPECT_EQ(file("cpu.max.burst"), "2000");
  EXPECT_EQ(file("cpuset.cpus"), "0-1");
  EXPECT_EQ(file("cpuset.mems"), "0");
}

TEST_F(V2Test, CpuMaxWithoutQuotaOrPeriod) {
  auto m = created();
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->quota = -1;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("cpu.max"), "max");
  r.cpu->quota.reset();
  r.cpu->period = 20000;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("cpu.max"), "max 20000");
}

TEST(SharesToWeight, MatchesTheV1RangeEnds) {
  EXPECT_EQ(detail::shares_to_weight(2), 1u);
  EXPECT_EQ(detail::shares_to_weight(262144), 10000u);
  EXPECT_EQ(detail::shares_to_weight(1024), 39u);
  EXPECT_EQ(detail::shares_to_weight(0), 0u);
  EXPECT_EQ(detail::shares_to_weight(1), 1u);
  EXPECT_EQ(detail::shares_to_weight(1 << 30), 10000u);
}

TEST_F(V2Test, RealtimeIsRefused) {
  auto m = created();
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->realtime_runtime = 1000;
  auto st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
  EXPECT_NE(st.error().message().find("cgroup v2"), std::string::npos);
}

TEST_F(V2Test, PidsIoAndHugetlb) {
  auto m = created();
  oci::Resources r;
  r.pids = oci::PidsResources{50};
  r.block_io = oci::BlockIoResources{};
  r.block_io->weight = 500;
  r.block_io->throttle_write_bps_device.push_back({8, 0, 1048576});
  r.hugepage_limits.push_back({"2MB", 8 << 20});
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("pids.max"), "50");
  EXPECT_EQ(file("io.weight"), "default 4950");  // 1 + (500 - 10) * 9999 / 990
  EXPECT_EQ(file("io.max"), "8:0 wbps=1048576");
  EXPECT_EQ(file("hugetlb.2MB.max"), "8388608");
}

TEST_F(V2Test, BfqWeightIsWrittenAsIs) {
  auto m = created();
  FakeCgroupfs::write(dir() + "/io.bfq.weight", "default 100\n");
  oci::Resources r;
  r.block_io = oci::BlockIoResources{};
  r.block_io->weight = 500;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("io.bfq.weight"), "500");
  EXPECT_EQ(file("io.weight"), "default 100");
}

TEST_F(V2Test, UnifiedKeysAreWrittenLast) {
  auto m = created();
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 1 << 20;
  r.unified["memory.max"] = "2097152";
  r.unified["pids.max"] = "9";
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("memory.max"), "2097152");
  EXPECT_EQ(file("pids.max"), "9");
}

TEST_F(V2Test, UnknownOrEscapingUnifiedKeysAreRefused) {
  auto m = created();
  oci::Resources r;
  r.unified["rdma.max"] = "x";
  auto st = m->apply(r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
  EXPECT_NE(st.error().message().find("controller \"rdma\""), std::string::npos) << st.error().message();
  for (const char* k : {"../cgroup.procs", "/etc/passwd", ".hidden", "nodot", ""}) {
    oci::Resources b;
    b.unified[k] = "1";
    auto s = m->apply(b);
    ASSERT_FALSE(s) << k;
    EXPECT_EQ(s.error().code(), Errc::InvalidArgument) << k;
  }
}

TEST_F(V2Test, DeviceRulesGoToTheFilterInstaller) {
  auto m = created();
  ASSERT_TRUE(m->apply(oci::Resources{}));
  EXPECT_TRUE(filter_dir_.empty());
  oci::Resources r;
  r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rw"});
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(filter_dir_, dir());
  ASSERT_EQ(filter_rules_.size(), 2u);
  EXPECT_EQ(filter_rules_[1].major, 1);
}

TEST_F(V2Test, AddPid) {
  auto m = created();
  ASSERT_TRUE(m->add_pid(321));
  EXPECT_EQ(file("cgroup.procs"), "321");
}

TEST_F(V2Test, FreezeWaitsForCgroupEvents) {
  auto m = created();
  fake_.freezer_dir = dir();
  fake_.settle_after = 2;
  ASSERT_TRUE(m->freeze());
  EXPECT_EQ(fake_.polls, 3);
  EXPECT_EQ(file("cgroup.freeze"), "1");
  EXPECT_TRUE(*m->frozen());
  ASSERT_TRUE(m->thaw());
  EXPECT_EQ(file("cgroup.freeze"), "0");
  EXPECT_FALSE(*m->frozen());
}

TEST_F(V2Test, FreezeThatNeverSettlesIsUndone) {
  auto m = make("/berth/c1", 7);
  ASSERT_TRUE(m->create());
  fake_.freezer_dir = dir();
  fake_.settle_after = -1;
  auto st = m->freeze();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::Unavailable);
  EXPECT_EQ(fake_.polls, 7);
  EXPECT_EQ(file("cgroup.freeze"), "0");
}

TEST_F(V2Test, KillAllUsesCgroupKillForSigkill) {
  auto m = created();
  ASSERT_TRUE(m->kill_all(SIGKILL));
  EXPECT_EQ(file("cgroup.kill"), "1");
}

TEST_F(V2Test, KillAllSignalsEachPidOtherwise) {
  auto m = created();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) ::pause();
  }
  FakeCgroupfs::write(dir() + "/cgroup.procs", std::to_string(child) + "\n");
  fake_.freezer_dir = dir();
  auto st = m->kill_all(SIGUSR1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGUSR1);
  EXPECT_EQ(file("cgroup.kill"), "");
  EXPECT_EQ(file("cgroup.freeze"), "0");
}

TEST_F(V2Test, KillAllWithoutCgroupKillFallsBackToSignals) {
  auto m = created();
  ASSERT_EQ(::unlink((dir() + "/cgroup.kill").c_str()), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (;;) ::pause();
  }
  FakeCgroupfs::write(dir() + "/cgroup.procs", std::to_string(child) + "\n");
  fake_.freezer_dir = dir();
  auto st = m->kill_all(SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST_F(V2Test, Stats) {
  auto m = created();
  FakeCgroupfs::write(dir() + "/memory.current", "5000\n");
  FakeCgroupfs::write(dir() + "/memory.peak", "6000\n");
  FakeCgroupfs::write(dir() + "/memory.max", "max\n");
  FakeCgroupfs::write(dir() + "/memory.stat", "anon 100\nfile 400\n");
  FakeCgroupfs::write(dir() + "/memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n");
  FakeCgroupfs::write(dir() + "/cpu.stat", "usage_usec 10\nuser_usec 7\nsystem_usec 3\nnr_periods 5\nnr_throttled 1\nthrottled_usec 4\n");
  FakeCgroupfs::write(dir() + "/pids.current", "2\n");
  FakeCgroupfs::write(dir() + "/io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n");
  auto s = m->stats();
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->memory_usage, 5000u);
  EXPECT_EQ(s->memory_max_usage, 6000u);
  EXPECT_EQ(s->memory_limit, UINT64_MAX);
  EXPECT_EQ(s->memory_cache, 400u);
  EXPECT_EQ(s->oom_kill_count, 2u);
  EXPECT_EQ(s->cpu_usage_ns, 10000u);
  EXPECT_EQ(s->cpu_user_ns, 7000u);
  EXPECT_EQ(s->cpu_system_ns, 3000u);
  EXPECT_EQ(s->throttled_periods, 1u);
  EXPECT_EQ(s->throttled_time_ns, 4000u);
  EXPECT_EQ(s->pids_current, 2u);
  EXPECT_EQ(s->pids_limit, 0u);
  ASSERT_EQ(s->blkio_bytes.size(), 3u);
  EXPECT_EQ(s->blkio_bytes[0].op, "Read");
  EXPECT_EQ(s->blkio_bytes[0].value, 4096u);
  EXPECT_EQ(s->blkio_bytes[1].op, "Write");
  ASSERT_EQ(s->blkio_ios.size(), 3u);
  EXPECT_EQ(s->blkio_ios[1].value, 2u);
}

TEST_F(V2Test, StatsOfAMissingCgroupIsNotFound) {
  auto m = make();
  auto s = m->stats();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Errc::NotFound);
}

TEST_F(V2Test, DestroyRemovesTheLeaf) {
  auto m = created();
  ASSERT_TRUE(m->destroy());
  EXPECT_FALSE(FakeCgroupfs::exists(dir()));
  EXPECT_TRUE(FakeCgroupfs::exists(dir("berth")));
  ASSERT_TRUE(m->destroy());
}

}  // namespace
}  // namespace berth::runtime::cgroup
