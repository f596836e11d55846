#pragma once
// Restart policies (no, always, on-failure[:N], unless-stopped) and docker's back-off: the first restart
// waits 100 ms, each further one twice as long (at most 1 min); a container that ran >= 10 s resets the
// delay to 100 ms. `stop`/`rm` cancel any pending restart; `kill` marks the container manually stopped
// (unless-stopped then stays down, always still restarts), as dockerd does. Pure logic, no clock inside.

#include <chrono>
#include <string>

namespace berth::engine {

struct RestartPolicySpec {
  std::string name = "no";  // "" = no
  int maximum_retry_count = 0;
};

class RestartManager {
 public:
  explicit RestartManager(RestartPolicySpec p = {}) : policy_(std::move(p)) {}
  void set_policy(RestartPolicySpec p) { policy_ = std::move(p); }
  const RestartPolicySpec& policy() const { return policy_; }

  struct Decision {
    bool restart = false;
    std::chrono::milliseconds delay{0};
  };
  // After an exit: should the container start again, and after how long. restart_count is the number of
  // restarts so far (RestartCount); ran_for how long this run lasted.
  Decision should_restart(int exit_code, bool manually_stopped, int restart_count, std::chrono::milliseconds ran_for);
  // stop / rm / daemon shutdown: no restart until the next explicit start.
  void cancel() { canceled_ = true; }
  // An explicit start (API): the policy applies again.
  void reset() { canceled_ = false; }
  bool canceled() const { return canceled_; }
  std::chrono::milliseconds current_delay() const { return delay_; }

 private:
  RestartPolicySpec policy_;
  std::chrono::milliseconds delay_{0};
  bool canceled_ = false;
};

inline constexpr std::chrono::milliseconds kRestartFirstDelay{100};
inline constexpr std::chrono::milliseconds kRestartMaxDelay{60'000};
inline constexpr std::chrono::milliseconds kRestartResetAfter{10'000};

// At daemon start: should a container that is not running be started (always, or unless-stopped not stopped
// by hand)?
bool start_on_daemon_start(const RestartPolicySpec& p, bool manually_stopped);

}  // namespace berth::engine
