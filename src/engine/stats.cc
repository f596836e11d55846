// top (ps of the container's cgroup) and stats (cgroup counters in docker's JSON shape).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>
#include <thread>

#include "base/file.h"
#include "engine/containers_impl.h"
#include "engine/stats.h"
#include "runtime/cgroup/manager.h"

extern char** environ;

namespace berth::engine {

namespace cg = runtime::cgroup;
using namespace std::chrono_literals;

namespace {

Result<std::unique_ptr<cg::Manager>> manager_for(const std::string& cgroup_root, const std::string& id) {
  auto layout = BERTH_TRY(cg::detect_layout(cgroup_root));
  return cg::make_manager(layout, "/berth/" + id, id);
}

// Runs argv, returns its stdout (capped).
Result<std::string> run_capture(const std::vector<std::string>& argv) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return fail_errno("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(p[1]);
  if (rc != 0) {
    ::close(p[0]);
    return fail_errno_n(rc, "spawn {}", argv[0]);
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() < (8 << 20)) out.append(buf, static_cast<size_t>(n));
  }
  ::close(p[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return fail(Errc::Internal, "{} failed (status {})", argv[0], status);
  return out;
}

std::vector<std::string> split_ws(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

uint64_t system_cpu_ns() {
  auto text = read_file("/proc/stat", 1 << 20);
  if (!text) return 0;
  auto line = text->substr(0, text->find('\n'));
  auto f = split_ws(line);
  uint64_t ticks = 0;
  for (size_t i = 1; i < f.size() && i <= 8; i++) ticks += std::strtoull(f[i].c_str(), nullptr, 10);
  return ticks * (1'000'000'000 / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)));
}

}  // namespace

uint64_t reported_memory_limit(uint64_t cgroup_limit, uint64_t host_mem_total) {
  if (host_mem_total > 0 && cgroup_limit > host_mem_total) return host_mem_total;
  return cgroup_limit;
}

uint64_t host_mem_total() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

njson stats_json(const cg::Stats& s, uint64_t sys_ns, uint64_t host_mem, const std::string& name, const std::string& id) {
  njson percpu = njson::array();
  for (auto v : s.percpu_usage_ns) percpu.push_back(v);
  njson mem_stats = njson::object();
  for (auto& [k, v] : s.memory_raw) mem_stats[k] = v;
  auto blk = [](const std::vector<cg::Stats::BlkioEntry>& v) {
    njson a = njson::array();
    for (auto& e : v) a.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
    return a;
  };
  return njson{
      {"read", now_rfc3339_nano()},
      {"preread", "0001-01-01T00:00:00Z"},
      {"pids_stats", {{"current", s.pids_current}, {"limit", s.pids_limit}}},
      {"blkio_stats",
       {{"io_service_bytes_recursive", blk(s.blkio_bytes)}, {"io_serviced_recursive", blk(s.blkio_ios)},
        {"io_queue_recursive", njson::array()}, {"io_service_time_recursive", njson::array()},
        {"io_wait_time_recursive", njson::array()}, {"io_merged_recursive", njson::array()},
        {"io_time_recursive", njson::array()}, {"sectors_recursive", njson::array()}}},
      {"num_procs", 0},
      {"storage_stats", njson::object()},
      {"cpu_stats",
       {{"cpu_usage",
         {{"total_usage", s.cpu_usage_ns}, {"percpu_usage", percpu}, {"usage_in_kernelmode", s.cpu_system_ns},
          {"usage_in_usermode", s.cpu_user_ns}}},
        {"system_cpu_usage", sys_ns},
        {"online_cpus", ::sysconf(_SC_NPROCESSORS_ONLN)},
        {"throttling_data",
         {{"periods", s.cpu_periods}, {"throttled_periods", s.throttled_periods}, {"throttled_time", s.throttled_time_ns}}}}},
      {"precpu_stats", njson::object()},
      {"memory_stats",
       {{"usage", s.memory_usage}, {"max_usage", s.memory_max_usage}, {"stats", mem_stats}, {"failcnt", s.memory_failcnt},
        {"limit", reported_memory_limit(s.memory_limit, host_mem)}}},
      {"name", name},
      {"id", id}};
}

Result<std::string> ContainerService::top(const std::string& ref, const std::string& ps_args) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  {
    std::lock_guard lk(c->mu);
    if (c->state.status != RunState::Running && c->state.status != RunState::Paused)
      return fail(Errc::Conflict, "Container {} is not running", c->id);
  }
  auto mgr = BERTH_TRY(manager_for(m.opt.cgroup_root, c->id));
  auto pids = BERTH_TRY(mgr->pids());
  std::vector<std::string> argv = {"ps"};
  auto extra = split_ws(ps_args.empty() ? "-ef" : ps_args);
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto out = BERTH_TRY(run_capture(argv));
  std::istringstream in(out);
  std::string header;
  std::getline(in, header);
  auto titles = split_ws(header);
  auto pid_col = std::find(titles.begin(), titles.end(), "PID");
  if (pid_col == titles.end()) return fail(Errc::InvalidArgument, "Couldn't find PID field in ps output");
  size_t pc = static_cast<size_t>(pid_col - titles.begin());
  njson procs = njson::array();
  std::string line;
  while (std::getline(in, line)) {
    auto f = split_ws(line);
    if (f.size() < titles.size() || f.empty()) continue;
    pid_t pid = std::atoi(f[pc].c_str());
    if (!std::binary_search(pids.begin(), pids.end(), pid)) continue;
    // the last column (CMD) keeps its spaces
    std::vector<std::string> row(f.begin(), f.begin() + static_cast<long>(titles.size()) - 1);
    std::string rest;
    for (size_t i = titles.size() - 1; i < f.size(); i++) rest += (rest.empty() ? "" : " ") + f[i];
    row.push_back(rest);
    procs.push_back(row);
  }
  return njson{{"Titles", titles}, {"Processes", procs}}.dump();
}

Status ContainerService::stats(const std::string& ref, bool stream, const ByteSink& sink) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::string name, id = c->id;
  {
    std::lock_guard lk(c->mu);
    name = c->name;
  }
  njson prev = njson::object();
  const uint64_t host_mem = host_mem_total();
  for (int i = 0;; i++) {
    bool running;
    {
      std::lock_guard lk(c->mu);
      running = c->state.running_like() && !c->removed;
    }
    cg::Stats s;
    if (running) {
      auto mgr = manager_for(m.opt.cgroup_root, id);
      if (mgr)
        if (auto st = (*mgr)->stats()) s = *st;
    }
    auto j = stats_json(s, system_cpu_ns(), host_mem, name, id);
    if (prev.contains("read")) {
      j["preread"] = prev["read"];
      j["precpu_stats"] = prev["cpu_stats"];
    } else if (!stream) {
      // one-shot: docker's first sample still needs precpu to compute a percentage; take a second one
      std::this_thread::sleep_for(100ms);
    }
    if (!stream && i == 0 && !prev.contains("read")) {
      prev = j;
      continue;
    }
    if (!sink(j.dump() + "\n")) return ok();
    if (!stream || !running) return ok();
    prev = j;
    {
      std::unique_lock lk(c->mu);
      c->cv.wait_for(lk, 1s, [&] { return m.shutting_down || c->removed; });
      if (m.shutting_down || c->removed) return ok();
    }
  }
}

}  // namespace berth::engine
