// Real kernel: the host's v1 hierarchies (/sys/fs/cgroup/<controller>) and its empty cgroup2 at
// /sys/fs/cgroup/unified (freezer, cgroup.kill and eBPF device programs need no controllers there).
// Every cgroup is named berth-cgtest-<what>-<pid> and removed, and every child killed, even on failure.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/testing/root.h"
#include "runtime/cgroup/device_filter.h"
#include "runtime/cgroup/manager.h"

namespace berth::runtime::cgroup {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// A child that waits for the go byte on a pipe, then runs `body` and _exits with its result.
class Child {
 public:
  template <class F>
  explicit Child(F body) {
    int fds[2];
    BERTH_CHECK(::pipe2(fds, O_CLOEXEC) == 0, "pipe");
    pid_ = ::fork();
    BERTH_CHECK(pid_ >= 0, "fork");
    if (pid_ == 0) {
      ::close(fds[1]);
      char c;
      if (::read(fds[0], &c, 1) != 1) ::_exit(100);
      ::_exit(body());
    }
    ::close(fds[0]);
    go_ = fds[1];
  }
  ~Child() {
    if (go_ >= 0) ::close(go_);
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void go() {
    char c = 1;
    BERTH_CHECK(::write(go_, &c, 1) == 1, "go");
  }
  void wait_done() { reaped_ = true; }
  int wait() {
    int status = 0;
    BERTH_CHECK(::waitpid(pid_, &status, 0) == pid_, "waitpid");
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  bool reaped_ = false;
};

// Destroys the manager's cgroups at scope exit (after children are gone: declare it first).
struct DestroyGuard {
  Manager* m;
  ~DestroyGuard() {
    if (!m) return;
    (void)m->kill_all(SIGKILL);
    (void)m->destroy();
  }
};

std::string name(const char* what) { return "/berth-cgtest-" + std::string(what) + "-" + std::to_string(::getpid()); }

std::unique_ptr<Manager> v1_manager(const char* what) {
  auto layout = detect_layout();
  BERTH_CHECK(layout.has_value(), "detect_layout");
  auto m = make_manager(*layout, name(what), what);
  BERTH_CHECK(m.has_value(), "make_manager");
  return std::move(*m);
}

template <class Pred>
bool eventually(Pred p) {
  for (int i = 0; i < 500; ++i) {
    if (p()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return p();
}

TEST(CgroupRoot, HostLayoutIsHybridV1) {
  BERTH_REQUIRE_ROOT();
  auto l = detect_layout();
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(l->mode, Mode::V1);
  for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer"})
    EXPECT_EQ(l->v1_mounts.count(c), 1u) << c;
  for (const auto& [c, d] : l->v1_mounts) EXPECT_NE(d, "/sys/fs/cgroup/unified");
  auto u = detect_layout("/sys/fs/cgroup/unified");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->mode, Mode::Unified);
}

TEST(CgroupRoot, MemoryLimitOomKillsAProcessThatAllocatesPastIt) {
  BERTH_REQUIRE_ROOT();
  auto m = v1_manager("oom");
  DestroyGuard guard{m.get()};
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 32 << 20;
  r.memory->swap = 32 << 20;  // no swap beyond the limit
  auto st = m->apply(r);
  ASSERT_TRUE(st) << st.error().message();
  std::string dir = m->paths().at("memory");
  EXPECT_EQ(slurp(dir + "/memory.limit_in_bytes"), "33554432");
  EXPECT_EQ(slurp(dir + "/memory.memsw.limit_in_bytes"), "33554432");
  {
    Child c([] {
      // Touch 256 MiB, page by page.
      for (int i = 0; i < 256; ++i) {
        char* p = static_cast<char*>(::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (p == MAP_FAILED) return 2;
        for (int off = 0; off < (1 << 20); off += 4096) p[off] = 1;
      }
      return 0;
    });
    ASSERT_TRUE(m->add_pid(c.pid()));
    c.go();
    int status = c.wait();
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
  }
  auto s = m->stats();
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_GE(s->oom_kill_count, 1u);
  EXPECT_EQ(s->memory_limit, 32u << 20);
  EXPECT_GE(s->memory_max_usage, 16u << 20);
}

TEST(CgroupRoot, MemoryUpdatesInBothDirectionsRespectTheMemswOrder) {
  BERTH_REQUIRE_ROOT();
  auto m = v1_manager("memorder");
  DestroyGuard guard{m.get()};
  ASSERT_TRUE(m->create());
  std::string dir = m->paths().at("memory");
  auto set = [&](int64_t limit, int64_t swap) {
    oci::Resources r;
    r.memory = oci::MemoryResources{};
    r.memory->limit = limit;
    r.memory->swap = swap;
    return m->apply(r);
  };
  ASSERT_TRUE(set(64 << 20, 128 << 20));
  auto down = set(16 << 20, 32 << 20);  // new memsw below the current limit: limit must go first
  ASSERT_TRUE(down) << down.error().message();
  EXPECT_EQ(slurp(dir + "/memory.limit_in_bytes"), std::to_string(16 << 20));
  EXPECT_EQ(slurp(dir + "/memory.memsw.limit_in_bytes"), std::to_string(32 << 20));
  auto up = set(256 << 20, 512 << 20);  // new limit above the current memsw: memsw must go first
  ASSERT_TRUE(up) << up.error().message();
  EXPECT_EQ(slurp(dir + "/memory.limit_in_bytes"), std::to_string(256 << 20));
  auto unlimited = set(-1, 0);
  ASSERT_TRUE(unlimited) << unlimited.error().message();
  EXPECT_EQ(slurp(dir + "/memory.memsw.limit_in_bytes"), "9223372036854771712");
}

TEST(CgroupRoot, PidsLimitStopsFork) {
  BERTH_REQUIRE_ROOT();
  auto m = v1_manager("pids");
  DestroyGuard guard{m.get()};
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.pids = oci::PidsResources{4};
  ASSERT_TRUE(m->apply(r));
  Child c([] {
    int forked = 0;
    for (int i = 0; i < 20; ++i) {
      pid_t p = ::fork();
      if (p == 0) {
        for (;;) ::pause();
      }
      if (p < 0) return errno == EAGAIN ? forked : 200;
      ++forked;
    }
    return 100;
  });
  ASSERT_TRUE(m->add_pid(c.pid()));
  c.go();
  int status = c.wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);  // itself + 3 = pids.max
  auto s = m->stats();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->pids_limit, 4u);
  EXPECT_EQ(s->pids_current, 3u);  // the orphans, until the guard kills them
}

TEST(CgroupRoot, FreezeStopsAndThawResumesARealProcess) {
  BERTH_REQUIRE_ROOT();
  auto m = v1_manager("freeze");
  DestroyGuard guard{m.get()};
  ASSERT_TRUE(m->create());
  auto* counter = static_cast<std::atomic<uint64_t>*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(counter, MAP_FAILED);
  counter->store(0);
  Child c([counter] {
    for (;;) counter->fetch_add(1, std::memory_order_relaxed);
    return 0;
  });
  ASSERT_TRUE(m->add_pid(c.pid()));
  c.go();
  ASSERT_TRUE(eventually([&] { return counter->load() > 0; }));
  auto p = m->pids();
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, std::vector<pid_t>{c.pid()});

  auto st = m->freeze();
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_TRUE(*m->frozen());
  EXPECT_EQ(slurp(m->paths().at("freezer") + "/freezer.state"), "FROZEN");
  uint64_t at_freeze = counter->load();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(counter->load(), at_freeze);

  ASSERT_TRUE(m->thaw());
  EXPECT_FALSE(*m->frozen());
  EXPECT_TRUE(eventually([&] { return counter->load() > at_freeze; }));

  ASSERT_TRUE(m->kill_all(SIGKILL));
  int status = c.wait();
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  ::munmap(counter, 4096);
  ASSERT_TRUE(m->destroy());
  for (const auto& [ctrl, dir] : m->paths()) EXPECT_FALSE(exists(dir)) << dir;
}

TEST(CgroupRoot, SigkillReachesAPausedContainer) {
  BERTH_REQUIRE_ROOT();
  auto m = v1_manager("pausedkill");
  DestroyGuard guard{m.get()};
  ASSERT_TRUE(m->create());
  Child c([] {
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE(m->add_pid(c.pid()));
  c.go();
  ASSERT_TRUE(m->freeze());
  ASSERT_TRUE(m->kill_all(SIGTERM));
  EXPECT_TRUE(*m->frozen());  // still paused; SIGTERM waits for resume
  ASSERT_TRUE(m->kill_all(SIGKILL));
  int status = 0;
  ASSERT_TRUE(eventually([&] { return ::waitpid(c.pid(), &status, WNOHANG) == c.pid(); }));
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_TRUE(WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGKILL) << WTERMSIG(status);
  c.wait_done();
}

TEST(CgroupRoot, KillAllReachesForkedDescendantsAndDestroyRemovesEveryDir) {
  BERTH_REQUIRE_ROOT();
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);  // orphans come back to us, not to pid 1
  auto m = v1_manager("kill");
  DestroyGuard guard{m.get()};
  ASSERT_TRUE(m->create());
  auto paths = m->paths();
  Child c([] {
    for (int i = 0; i < 3; ++i)
      if (::fork() == 0) {
        for (;;) ::pause();
      }
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE(m->add_pid(c.pid()));
  c.go();
  ASSERT_TRUE(eventually([&] { auto p = m->pids(); return p && p->size() == 4; }));
  ASSERT_TRUE(m->kill_all(SIGTERM));
  int status = c.wait();
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  // Reap the grandchildren as they come back to us.
  EXPECT_TRUE(eventually([&] {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    auto p = m->pids();
    return p && p->empty();
  }));
  ASSERT_TRUE(m->destroy());
  for (const auto& [ctrl, dir] : paths) EXPECT_FALSE(exists(dir)) << dir;
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST(CgroupRoot, CpuCpusetAndDeviceRulesOnTheRealKernel) {
  BERTH_REQUIRE_ROOT();
  auto m = v1_manager("cpudev");
  DestroyGuard guard{m.get()};
  ASSERT_TRUE(m->create());
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->cpus = "0";
  r.cpu->mems = "0";
  r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  auto st = m->apply(r);
  ASSERT_TRUE(st) << st.error().message();
  auto paths = m->paths();
  EXPECT_EQ(slurp(paths.at("cpu") + "/cpu.shares"), "512");
  EXPECT_EQ(slurp(paths.at("cpu") + "/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(slurp(paths.at("cpuset") + "/cpuset.cpus"), "0");
  EXPECT_EQ(slurp(paths.at("devices") + "/devices.list"), "c 1:3 rwm");
  Child c([] {
    int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd < 0) return 1;
    int zero_fd = ::open("/dev/zero", O_RDONLY);
    if (zero_fd >= 0) return 2;
    return errno == EPERM ? 0 : 3;
  });
  auto added = m->add_pid(c.pid());
  ASSERT_TRUE(added) << added.error().message();
  c.go();
  int status = c.wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: /dev/null denied, 2: /dev/zero allowed, 3: wrong errno";
}

TEST(CgroupRoot, UnifiedFreezeKillAndEbpfDeviceFilter) {
  BERTH_REQUIRE_ROOT();
  auto layout = detect_layout("/sys/fs/cgroup/unified");
  ASSERT_TRUE(layout);
  ASSERT_EQ(layout->mode, Mode::Unified);
  auto mr = make_manager(*layout, name("v2"), "v2");
  ASSERT_TRUE(mr);
  auto m = std::move(*mr);
  DestroyGuard guard{m.get()};
  auto created = m->create();
  ASSERT_TRUE(created) << created.error().message();
  oci::Resources r;
  r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  r.devices.push_back({true, "c", 1, 5, "r"});
  auto st = m->apply(r);
  ASSERT_TRUE(st) << st.error().message();
  // Applying again replaces the program instead of stacking a second one.
  st = m->apply(r);
  ASSERT_TRUE(st) << st.error().message();

  Child c([] {
    int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd < 0) return 1;
    int zero_r = ::open("/dev/zero", O_RDONLY);
    if (zero_r < 0) return 2;
    int zero_w = ::open("/dev/zero", O_WRONLY);
    if (zero_w >= 0 || errno != EPERM) return 3;
    int full = ::open("/dev/full", O_RDONLY);
    if (full >= 0 || errno != EPERM) return 4;
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE(m->add_pid(c.pid()));
  c.go();
  // The child stays alive only if every device check passed.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int early = 0;
  ASSERT_EQ(::waitpid(c.pid(), &early, WNOHANG), 0) << "device check failed with " << WEXITSTATUS(early);

  auto fz = m->freeze();
  ASSERT_TRUE(fz) << fz.error().message();
  EXPECT_TRUE(*m->frozen());
  ASSERT_TRUE(m->thaw());
  EXPECT_FALSE(*m->frozen());
  auto p = m->pids();
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, std::vector<pid_t>{c.pid()});
  ASSERT_TRUE(m->kill_all(SIGKILL));  // cgroup.kill
  int status = c.wait();
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  ASSERT_TRUE(m->destroy());
  EXPECT_FALSE(exists(m->unified_path()));
}

// What the runtime applies for a plain `run`: deny-all plus the default device list, a memory and a
// pids limit.
oci::Resources typical_resources() {
  oci::Resources r;
  r.devices.push_back({false, "", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", std::nullopt, std::nullopt, "m"});
  r.devices.push_back({true, "b", std::nullopt, std::nullopt, "m"});
  for (auto [maj, min] : std::vector<std::pair<int, int>>{{1, 3}, {1, 8}, {1, 7}, {5, 0}, {1, 5}, {1, 9}, {5, 2}, {10, 200}})
    r.devices.push_back({true, "c", maj, min, "rwm"});
  r.devices.push_back({true, "c", 136, std::nullopt, "rwm"});
  r.memory = oci::MemoryResources{};
  r.memory->limit = 256 << 20;
  r.pids = oci::PidsResources{1024};
  return r;
}

TEST(CgroupRoot, TypicalResourcesCostAndCleanUp) {
  BERTH_REQUIRE_ROOT();
  auto layout = detect_layout();
  ASSERT_TRUE(layout);
  constexpr int kRounds = 100;
  using clock = std::chrono::steady_clock;
  std::vector<double> create_us, destroy_us;
  oci::Resources r = typical_resources();
  for (int i = 0; i < kRounds; ++i) {
    auto t0 = clock::now();
    auto m = make_manager(*layout, name("typical"), "typical");
    ASSERT_TRUE(m);
    ASSERT_TRUE((*m)->create());
    auto st = (*m)->apply(r);
    ASSERT_TRUE(st) << st.error().message();
    auto t1 = clock::now();
    ASSERT_TRUE((*m)->destroy());
    auto t2 = clock::now();
    create_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    destroy_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
  }
  std::sort(create_us.begin(), create_us.end());
  std::sort(destroy_us.begin(), destroy_us.end());
  RecordProperty("typical_create_median_us", std::to_string(create_us[kRounds / 2]));
  std::printf("cgroup v1 typical (13 device rules, memory, pids), median of %d: create+apply %.1f us, destroy %.1f us\n",
              kRounds, create_us[kRounds / 2], destroy_us[kRounds / 2]);
  for (const auto& [c, mount] : layout->v1_mounts) EXPECT_FALSE(exists(mount + name("typical"))) << c;
}

TEST(CgroupRoot, RepeatedCreateDestroyLeavesNothingBehind) {
  BERTH_REQUIRE_ROOT();
  auto layout = detect_layout();
  ASSERT_TRUE(layout);
  constexpr int kRounds = 200;
  using clock = std::chrono::steady_clock;
  std::vector<double> create_us, destroy_us;
  for (int i = 0; i < kRounds; ++i) {
    auto t0 = clock::now();
    auto m = make_manager(*layout, name("cost"), "cost");
    ASSERT_TRUE(m);
    ASSERT_TRUE((*m)->create());
    ASSERT_TRUE((*m)->apply(oci::Resources{}));
    auto t1 = clock::now();
    ASSERT_TRUE((*m)->destroy());
    auto t2 = clock::now();
    create_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    destroy_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
  }
  double total = 0;
  for (int i = 0; i < kRounds; ++i) total += create_us[i] + destroy_us[i];
  std::sort(create_us.begin(), create_us.end());
  std::sort(destroy_us.begin(), destroy_us.end());
  RecordProperty("create_median_us", std::to_string(create_us[kRounds / 2]));
  RecordProperty("destroy_median_us", std::to_string(destroy_us[kRounds / 2]));
  std::printf("max %.1f / %.1f us\n", create_us.back(), destroy_us.back());
  std::printf("cgroup v1 (default base set), %d rounds: median create+apply(empty) %.1f us, destroy %.1f us; "
              "p90 %.1f / %.1f us; mean create+destroy %.1f us\n",
              kRounds, create_us[kRounds / 2], destroy_us[kRounds / 2], create_us[kRounds * 9 / 10],
              destroy_us[kRounds * 9 / 10], total / kRounds);
  for (const auto& [c, mount] : layout->v1_mounts) EXPECT_FALSE(exists(mount + name("cost"))) << c;
}

}  // namespace
}  // namespace berth::runtime::cgroup
