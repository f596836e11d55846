#include "engine/restart.h"

namespace berth::engine {

RestartManager::Decision RestartManager::should_restart(int exit_code, bool manually_stopped, int restart_count,
                                                        std::chrono::milliseconds ran_for) {
  Decision d;
  if (canceled_) return d;
  if (ran_for >= kRestartResetAfter) delay_ = std::chrono::milliseconds(0);
  if (delay_.count() == 0) {
    delay_ = kRestartFirstDelay;
  } else if (delay_ < kRestartMaxDelay) {
    delay_ *= 2;
  }
  if (delay_ > kRestartMaxDelay) delay_ = kRestartMaxDelay;
  const std::string& n = policy_.name;
  if (n == "always") {
    d.restart = true;
  } else if (n == "unless-stopped") {
    d.restart = !manually_stopped;
  } else if (n == "on-failure") {
    int max = policy_.maximum_retry_count;
    if (max == 0 || restart_count < max) d.restart = exit_code != 0;
  }
  d.delay = delay_;
  return d;
}

bool start_on_daemon_start(const RestartPolicySpec& p, bool manually_stopped) {
  if (p.name == "always") return true;
  if (p.name == "unless-stopped") return !manually_stopped;
  return false;
}

}  // namespace berth::engine
