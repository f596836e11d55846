// memory controller. v1: memory.limit_in_bytes, memory.memsw.limit_in_bytes (spec "swap" is memory+swap),
// memory.soft_limit_in_bytes, memory.swappiness, memory.oom_control. v2: memory.max, memory.swap.max (swap
// only, so spec swap - limit), memory.low.
#include <fmt/format.h>

#include "base/log.h"
#include "runtime/cgroup/cgroup_fs.h"
#include "runtime/cgroup/controllers.h"

namespace berth::runtime::cgroup::detail {
namespace {

// docker and containerd send 0 for "not set"; a 0 limit would kill everything, so 0 means unset (runc).
std::optional<int64_t> set_value(const std::optional<int64_t>& v) {
  if (v && *v != 0) return v;
  return std::nullopt;
}

std::string v1_value(int64_t v) { return fmt::format("{}", v); }  // v1 takes -1 for unlimited
std::string v2_value(int64_t v) { return v < 0 ? std::string("max") : fmt::format("{}", v); }

}  // namespace

Status validate_memory(const oci::MemoryResources& m, Mode mode) {
  auto limit = set_value(m.limit), swap = set_value(m.swap);
  if (limit && *limit < -1) return fail(Errc::InvalidArgument, "linux.resources.memory.limit: invalid value {}", *limit);
  if (swap && *swap < -1) return fail(Errc::InvalidArgument, "linux.resources.memory.swap: invalid value {}", *swap);
  if (limit && swap && *limit > 0 && *swap > 0 && *swap < *limit)
    return fail(Errc::InvalidArgument,
                "linux.resources.memory.swap ({}) must be >= memory.limit ({}): swap is memory+swap", *swap, *limit);
  if (m.swappiness && *m.swappiness > 100)
    return fail(Errc::InvalidArgument, "linux.resources.memory.swappiness: {} is not in 0..100", *m.swappiness);
  if (mode == Mode::Unified) BERTH_TRY(swap_max_v2(swap, limit));
  return ok();
}

Status apply_memory_v1(const std::string& dir, const oci::MemoryResources& m) {
  BERTH_TRY(validate_memory(m, Mode::V1));
  auto limit = set_value(m.limit), swap = set_value(m.swap);
  // "memory: unlimited" without a swap value means both unlimited, or the memsw limit would cap it.
  if (limit && *limit == -1 && !swap) swap = -1;
  if (swap && !fs::exists(dir, "memory.memsw.limit_in_bytes")) {
    if (*swap != -1)
      return fail(Errc::InvalidArgument,
                  "linux.resources.memory.swap: swap accounting is not enabled (no memory.memsw.limit_in_bytes)");
    swap.reset();
  }
  if (limit && swap) {
    // The kernel keeps limit <= memsw at every step. If the current limit fits under the new memsw, raise
    // (or set) memsw first; otherwise the limit must come down first.
    uint64_t cur = BERTH_TRY(fs::read_u64(dir, "memory.limit_in_bytes"));
    if (*swap == -1 || cur <= static_cast<uint64_t>(*swap)) {
      BERTH_TRY(fs::write(dir, "memory.memsw.limit_in_bytes", v1_value(*swap)));
      BERTH_TRY(fs::write(dir, "memory.limit_in_bytes", v1_value(*limit)));
    } else {
      BERTH_TRY(fs::write(dir, "memory.limit_in_bytes", v1_value(*limit)));
      BERTH_TRY(fs::write(dir, "memory.memsw.limit_in_bytes", v1_value(*swap)));
    }
  } else if (limit) {
    BERTH_TRY(fs::write(dir, "memory.limit_in_bytes", v1_value(*limit)));
  } else if (swap) {
    BERTH_TRY(fs::write(dir, "memory.memsw.limit_in_bytes", v1_value(*swap)));
  }
  if (auto r = set_value(m.reservation)) BERTH_TRY(fs::write(dir, "memory.soft_limit_in_bytes", v1_value(*r)));
  if (auto t = set_value(m.kernel_tcp)) BERTH_TRY(fs::write(dir, "memory.kmem.tcp.limit_in_bytes", v1_value(*t)));
  // memory.kmem.limit_in_bytes is deprecated (kernel 5.4+) and a no-op or error on 6.x: ignored like runc.
  if (m.swappiness) BERTH_TRY(fs::write(dir, "memory.swappiness", fmt::format("{}", *m.swappiness)));
  if (m.disable_oom_killer) BERTH_TRY(fs::write(dir, "memory.oom_control", *m.disable_oom_killer ? "1" : "0"));
  return ok();
}

Result<std::string> swap_max_v2(std::optional<int64_t> swap, std::optional<int64_t> limit) {
  if (!swap) return std::string(limit && *limit == -1 ? "max" : "");
  if (*swap == -1) return std::string("max");
  if (!limit || *limit == -1)
    return fail(Errc::InvalidArgument, "linux.resources.memory.swap: a swap limit needs a memory limit on cgroup v2");
  if (*swap < *limit)
    return fail(Errc::InvalidArgument, "linux.resources.memory.swap ({}) must be >= memory.limit ({})", *swap, *limit);
  return fmt::format("{}", *swap - *limit);
}

Status apply_memory_v2(const std::string& dir, const oci::MemoryResources& m) {
  BERTH_TRY(validate_memory(m, Mode::Unified));
  auto limit = set_value(m.limit), swap = set_value(m.swap);
  std::string swap_max = BERTH_TRY(swap_max_v2(swap, limit));
  // No ordering constraint on v2; swap first as memory.max may start reclaim.
  if (!swap_max.empty()) {
    if (fs::exists(dir, "memory.swap.max")) {
      BERTH_TRY(fs::write(dir, "memory.swap.max", swap_max));
    } else if (swap_max != "max") {
      return fail(Errc::InvalidArgument,
                  "linux.resources.memory.swap: swap accounting is not enabled (no memory.swap.max)");
    }
  }
  if (limit) BERTH_TRY(fs::write(dir, "memory.max", v2_value(*limit)));
  if (auto r = set_value(m.reservation)) BERTH_TRY(fs::write(dir, "memory.low", v2_value(*r)));
  // v2 has no per-cgroup swappiness, OOM-killer switch or tcp limit.
  if (m.swappiness) log::debug("cgroup v2: memory.swappiness ignored");
  if (m.disable_oom_killer && *m.disable_oom_killer) log::debug("cgroup v2: disableOOMKiller ignored");
  return ok();
}

namespace {
uint64_t read_or_zero(const std::string& dir, std::string_view name) {
  auto v = fs::read_u64(dir, name);
  return v ? *v : 0;
}
}  // namespace

void memory_stats_v1(const std::string& dir, Stats& s) {
  s.memory_usage = read_or_zero(dir, "memory.usage_in_bytes");
  s.memory_max_usage = read_or_zero(dir, "memory.max_usage_in_bytes");
  s.memory_limit = read_or_zero(dir, "memory.limit_in_bytes");
  s.memory_failcnt = read_or_zero(dir, "memory.failcnt");
  s.memory_swap_usage = read_or_zero(dir, "memory.memsw.usage_in_bytes");
  s.memory_swap_limit = read_or_zero(dir, "memory.memsw.limit_in_bytes");
  if (auto st = fs::read(dir, "memory.stat")) {
    s.memory_raw = fs::parse_keyed(*st);
    if (auto it = s.memory_raw.find("cache"); it != s.memory_raw.end()) s.memory_cache = it->second;
  }
  if (auto oc = fs::read(dir, "memory.oom_control")) {
    auto kv = fs::parse_keyed(*oc);
    if (auto it = kv.find("oom_kill"); it != kv.end()) s.oom_kill_count = it->second;
  }
}

void memory_stats_v2(const std::string& dir, Stats& s) {
  s.memory_usage = read_or_zero(dir, "memory.current");
  s.memory_max_usage = read_or_zero(dir, "memory.peak");  // kernel 5.19+
  s.memory_limit = read_or_zero(dir, "memory.max");
  s.memory_swap_usage = read_or_zero(dir, "memory.swap.current");
  s.memory_swap_limit = read_or_zero(dir, "memory.swap.max");
  if (auto st = fs::read(dir, "memory.stat")) {
    s.memory_raw = fs::parse_keyed(*st);
    if (auto it = s.memory_raw.find("file"); it != s.memory_raw.end()) s.memory_cache = it->second;
  }
  if (auto ev = fs::read(dir, "memory.events")) {
    auto kv = fs::parse_keyed(*ev);
    if (auto it = kv.find("oom_kill"); it != kv.end()) s.oom_kill_count = it->second;
    if (auto it = kv.find("max"); it != kv.end()) s.memory_failcnt = it->second;
  }
}

}  // namespace berth::runtime::cgroup::detail
