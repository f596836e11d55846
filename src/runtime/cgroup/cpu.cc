// cpu, cpuacct and cpuset. v1: cpu.shares, cpu.cfs_{period,quota,burst}_us, cpu.rt_{period,runtime}_us,
// cpu.idle; cpuacct.* for stats. v2: cpu.weight (from shares), cpu.max "quota period", cpu.max.burst,
// cpu.idle; cpu.stat for stats. cpuset.cpus / cpuset.mems have the same names on both.
#include <fmt/format.h>

#include <unistd.h>

#include "runtime/cgroup/cgroup_fs.h"
#include "runtime/cgroup/controllers.h"

namespace berth::runtime::cgroup::detail {

bool cpu_needed(const oci::CpuResources& c) {
  return (c.shares && *c.shares) || (c.quota && *c.quota) || (c.period && *c.period) || c.burst ||
         (c.realtime_runtime && *c.realtime_runtime) || (c.realtime_period && *c.realtime_period) || c.idle;
}

bool cpuset_needed(const oci::CpuResources& c) { return !c.cpus.empty() || !c.mems.empty(); }

Status validate_cpu(const oci::CpuResources& c, Mode mode) {
  if (mode == Mode::Unified && ((c.realtime_runtime && *c.realtime_runtime) || (c.realtime_period && *c.realtime_period)))
    return fail(Errc::InvalidArgument, "linux.resources.cpu.realtimeRuntime/realtimePeriod: not supported on cgroup v2");
  if (c.quota && *c.quota < -1) return fail(Errc::InvalidArgument, "linux.resources.cpu.quota: invalid value {}", *c.quota);
  if (c.idle && *c.idle != 0 && *c.idle != 1)
    return fail(Errc::InvalidArgument, "linux.resources.cpu.idle: must be 0 or 1, got {}", *c.idle);
  return ok();
}

Status apply_cpu_v1(const std::string& dir, const oci::CpuResources& c) {
  BERTH_TRY(validate_cpu(c, Mode::V1));
  if (c.shares && *c.shares) BERTH_TRY(fs::write(dir, "cpu.shares", fmt::format("{}", *c.shares)));
  bool quota = c.quota && *c.quota;
  if (c.period && *c.period) {
    auto st = fs::write(dir, "cpu.cfs_period_us", fmt::format("{}", *c.period));
    // A shorter period can be refused (EINVAL) while the old quota/period ratio breaks a parent's
    // bandwidth; the quota going in first makes it valid.
    if (!st && st.error().sys_errno() == EINVAL && quota) {
      BERTH_TRY(fs::write(dir, "cpu.cfs_quota_us", fmt::format("{}", *c.quota)));
      BERTH_TRY(fs::write(dir, "cpu.cfs_period_us", fmt::format("{}", *c.period)));
      quota = false;
    } else if (!st) {
      return st;
    }
  }
  if (quota) BERTH_TRY(fs::write(dir, "cpu.cfs_quota_us", fmt::format("{}", *c.quota)));
  if (c.burst) BERTH_TRY(fs::write(dir, "cpu.cfs_burst_us", fmt::format("{}", *c.burst)));
  if (c.realtime_period && *c.realtime_period)
    BERTH_TRY(fs::write(dir, "cpu.rt_period_us", fmt::format("{}", *c.realtime_period)));
  if (c.realtime_runtime && *c.realtime_runtime)
    BERTH_TRY(fs::write(dir, "cpu.rt_runtime_us", fmt::format("{}", *c.realtime_runtime)));
  if (c.idle) BERTH_TRY(fs::write(dir, "cpu.idle", fmt::format("{}", *c.idle)));
  return ok();
}

uint64_t shares_to_weight(uint64_t shares) {
  // v1 shares [2, 262144] map linearly onto v2 weight [1, 10000] (the conversion runc and crun use).
  if (shares == 0) return 0;
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

Status apply_cpu_v2(const std::string& dir, const oci::CpuResources& c) {
  BERTH_TRY(validate_cpu(c, Mode::Unified));
  if (c.shares && *c.shares) BERTH_TRY(fs::write(dir, "cpu.weight", fmt::format("{}", shares_to_weight(*c.shares))));
  bool quota = c.quota && *c.quota;
  bool period = c.period && *c.period;
  if (quota || period) {
    // "max" keeps no quota; the period is optional in the file's syntax and is kept when absent.
    std::string v = quota && *c.quota > 0 ? fmt::format("{}", *c.quota) : std::string("max");
    if (period) v += fmt::format(" {}", *c.period);
    BERTH_TRY(fs::write(dir, "cpu.max", v));
  }
  if (c.burst) BERTH_TRY(fs::write(dir, "cpu.max.burst", fmt::format("{}", *c.burst)));
  if (c.idle) BERTH_TRY(fs::write(dir, "cpu.idle", fmt::format("{}", *c.idle)));
  return ok();
}

Status apply_cpuset(const std::string& dir, const oci::CpuResources& c) {
  // mems before cpus does not matter to the kernel; both must be non-empty, which they are after
  // cpuset_inherit_v1 (v1) or by default (v2).
  if (!c.cpus.empty()) BERTH_TRY(fs::write(dir, "cpuset.cpus", c.cpus));
  if (!c.mems.empty()) BERTH_TRY(fs::write(dir, "cpuset.mems", c.mems));
  return ok();
}

namespace {
Status inherit_one(const std::string& mount, const std::string& dir, std::string_view file) {
  std::string cur = BERTH_TRY(fs::read_line(dir, file));
  if (!cur.empty() || dir.size() <= mount.size()) return ok();
  std::string parent = dir.substr(0, dir.rfind('/'));
  BERTH_TRY(inherit_one(mount, parent, file));
  std::string v = BERTH_TRY(fs::read_line(parent, file));
  return fs::write(dir, file, v);
}
}  // namespace

Status cpuset_inherit_v1(const std::string& mount, const std::string& dir) {
  BERTH_TRY(inherit_one(mount, dir, "cpuset.cpus"));
  BERTH_TRY(inherit_one(mount, dir, "cpuset.mems"));
  return ok();
}

void cpu_stats_v1(const std::string& cpu_dir, Stats& s) {
  if (auto st = fs::read(cpu_dir, "cpu.stat")) {
    auto kv = fs::parse_keyed(*st);
    s.cpu_periods = kv["nr_periods"];
    s.throttled_periods = kv["nr_throttled"];
    s.throttled_time_ns = kv["throttled_time"];
  }
}

void cpuacct_stats_v1(const std::string& dir, Stats& s) {
  if (auto u = fs::read_u64(dir, "cpuacct.usage")) s.cpu_usage_ns = *u;
  if (auto p = fs::read(dir, "cpuacct.usage_percpu")) s.percpu_usage_ns = fs::parse_numbers(*p);
  if (auto st = fs::read(dir, "cpuacct.stat")) {
    // cpuacct.stat counts USER_HZ ticks.
    auto kv = fs::parse_keyed(*st);
    static const uint64_t hz = static_cast<uint64_t>(sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100);
    s.cpu_user_ns = kv["user"] * (1000000000ull / hz);
    s.cpu_system_ns = kv["system"] * (1000000000ull / hz);
  }
}

void cpu_stats_v2(const std::string& dir, Stats& s) {
  if (auto st = fs::read(dir, "cpu.stat")) {
    auto kv = fs::parse_keyed(*st);
    s.cpu_usage_ns = kv["usage_usec"] * 1000;
    s.cpu_user_ns = kv["user_usec"] * 1000;
    s.cpu_system_ns = kv["system_usec"] * 1000;
    s.cpu_periods = kv["nr_periods"];
    s.throttled_periods = kv["nr_throttled"];
    s.throttled_time_ns = kv["throttled_usec"] * 1000;
  }
}

}  // namespace berth::runtime::cgroup::detail
