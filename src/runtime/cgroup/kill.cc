// kill_all without cgroup.kill: freeze (so nothing forks between listing and signalling), signal every
// pid, thaw.
#include <signal.h>

#include "base/log.h"
#include "runtime/cgroup/controllers.h"

namespace berth::runtime::cgroup::detail {

Status signal_all(Manager& m, bool can_freeze, int sig, const std::string& id) {
  bool was_frozen = false, froze = false;
  if (can_freeze) {
    auto f = m.frozen();
    was_frozen = f && *f;
    if (!was_frozen) {
      auto st = m.freeze();
      if (st) {
        froze = true;
      } else {
        log::warn("kill_all {}: freeze failed, signalling unfrozen: {}", id, st.error().message());
      }
    }
  }
  Status result = ok();
  auto pids = m.pids();
  if (pids) {
    for (pid_t p : *pids)
      if (::kill(p, sig) != 0 && errno != ESRCH && result) result = fail_errno("kill {} (signal {})", p, sig);
  } else {
    result = fail(std::move(pids).error());
  }
  // A paused container stays paused (its signals wait for resume), except that SIGKILL must reach it:
  // frozen tasks only die once thawed.
  if (froze || (was_frozen && sig == SIGKILL)) {
    auto st = m.thaw();
    if (!st && result) result = st;
  }
  return result;
}

}  // namespace berth::runtime::cgroup::detail
