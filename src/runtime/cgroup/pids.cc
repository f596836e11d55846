// pids controller: pids.max / pids.current, the same files on v1 and v2.
#include <fmt/format.h>

#include "runtime/cgroup/cgroup_fs.h"
#include "runtime/cgroup/controllers.h"

namespace berth::runtime::cgroup::detail {

Status apply_pids(const std::string& dir, const oci::PidsResources& p) {
  // 0 is "unset" in what docker sends (runc skips it too); negative is unlimited.
  if (p.limit == 0) return ok();
  return fs::write(dir, "pids.max", p.limit > 0 ? fmt::format("{}", p.limit) : std::string("max"));
}

void pids_stats(const std::string& dir, Stats& s) {
  if (auto c = fs::read_u64(dir, "pids.current")) s.pids_current = *c;
  if (auto m = fs::read_u64(dir, "pids.max", 0)) s.pids_limit = *m;
}

}  // namespace berth::runtime::cgroup::detail
