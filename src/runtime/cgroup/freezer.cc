// freezer. v1: write FROZEN to freezer.state and poll it until it reads FROZEN (FREEZING meanwhile; a
// re-write of FROZEN makes the kernel retry tasks that were busy). v2: cgroup.freeze 1, then cgroup.events
// reports "frozen 1".
#include <time.h>

#include "runtime/cgroup/cgroup_fs.h"
#include "runtime/cgroup/controllers.h"

namespace berth::runtime::cgroup::detail {

void default_wait(int attempt) {
  if (attempt <= 0) return;
  // 20 us doubling up to 10 ms: most freezes settle within the first few polls.
  long ns = 20000L << (attempt < 10 ? attempt - 1 : 9);
  if (ns > 10000000L) ns = 10000000L;
  timespec ts{0, ns};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

namespace {

void wait_for(const Options& opt, int attempt) {
  if (opt.wait) {
    opt.wait(attempt);
  } else {
    default_wait(attempt);
  }
}

Result<bool> events_frozen(const std::string& dir) {
  std::string ev = BERTH_TRY(fs::read(dir, "cgroup.events"));
  auto kv = fs::parse_keyed(ev);
  auto it = kv.find("frozen");
  if (it == kv.end()) return fail(Errc::Internal, "no \"frozen\" key in {}/cgroup.events", dir);
  return it->second == 1;
}

}  // namespace

Status set_frozen_v1(const std::string& dir, bool frozen, const Options& opt) {
  const char* want = frozen ? "FROZEN" : "THAWED";
  BERTH_TRY(fs::write(dir, "freezer.state", want));
  for (int attempt = 0; attempt < opt.max_wait_attempts; ++attempt) {
    wait_for(opt, attempt);
    std::string state = BERTH_TRY(fs::read_line(dir, "freezer.state"));
    if (state == want) return ok();
    if (attempt % 10 == 9) BERTH_TRY(fs::write(dir, "freezer.state", want));
  }
  if (frozen) {
    // Do not leave the container half frozen.
    (void)fs::write(dir, "freezer.state", "THAWED");
  }
  return fail(Errc::Unavailable, "{} did not become {} in {}", "freezer.state", want, dir);
}

Result<bool> frozen_v1(const std::string& dir) {
  std::string state = BERTH_TRY(fs::read_line(dir, "freezer.state"));
  return state == "FROZEN";
}

Status set_frozen_v2(const std::string& dir, bool frozen, const Options& opt) {
  BERTH_TRY(fs::write(dir, "cgroup.freeze", frozen ? "1" : "0"));
  for (int attempt = 0; attempt < opt.max_wait_attempts; ++attempt) {
    wait_for(opt, attempt);
    if (BERTH_TRY(events_frozen(dir)) == frozen) return ok();
  }
  if (frozen) (void)fs::write(dir, "cgroup.freeze", "0");
  return fail(Errc::Unavailable, "cgroup.events did not report frozen {} in {}", frozen ? 1 : 0, dir);
}

Result<bool> frozen_v2(const std::string& dir) {
  std::string f = BERTH_TRY(fs::read_line(dir, "cgroup.freeze"));
  if (f != "1") return false;
  return events_frozen(dir);
}

}  // namespace berth::runtime::cgroup::detail
