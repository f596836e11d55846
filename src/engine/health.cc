// Health checks: one probe thread per running container with a Healthcheck (from the image or the request).
// Docker's rules: the first probe runs one interval after start; a probe that fails (non-zero, or longer than
// the timeout) during the start period does not count; `retries` consecutive failures make the container
// unhealthy, one success healthy. The last 5 probes are kept in State.Health.Log. health_status events on
// every change of status.
#include "base/log.h"
#include "engine/containers_impl.h"

namespace berth::engine {

using namespace std::chrono_literals;

namespace {
constexpr int kHealthLogEntries = 5;
constexpr auto kDefaultInterval = 30s;
constexpr auto kDefaultTimeout = 30s;
constexpr int kDefaultRetries = 3;
}  // namespace

void ContainerService::Impl::start_health(const std::shared_ptr<Container>& c) {
  uint64_t seq;
  {
    std::lock_guard lk(c->mu);
    if (!c->config.healthcheck || c->config.healthcheck->test.empty()) return;
    const auto& t = c->config.healthcheck->test;
    if (t[0] == "NONE" || (t[0] != "CMD" && t[0] != "CMD-SHELL") || t.size() < 2) return;
    seq = c->exit_seq;
  }
  if (c->health.joinable()) {
    if (c->health.get_id() == std::this_thread::get_id()) c->health.detach();
    else c->health.join();  // the previous run's prober saw that run end
  }
  c->health = std::thread([this, c, seq] { health_loop(c, seq); });
}

void ContainerService::Impl::health_loop(std::shared_ptr<Container> c, uint64_t run_seq) {
  spec::HealthConfig hc;
  std::chrono::steady_clock::time_point started;
  {
    std::lock_guard lk(c->mu);
    hc = *c->config.healthcheck;
    started = c->started_mono;
  }
  auto interval = hc.interval > 0 ? std::chrono::nanoseconds(hc.interval) : std::chrono::nanoseconds(kDefaultInterval);
  auto timeout = hc.timeout > 0 ? std::chrono::nanoseconds(hc.timeout) : std::chrono::nanoseconds(kDefaultTimeout);
  auto start_period = std::chrono::nanoseconds(hc.start_period);
  int retries = hc.retries > 0 ? hc.retries : kDefaultRetries;
  std::vector<std::string> cmd;
  if (hc.test[0] == "CMD") cmd.assign(hc.test.begin() + 1, hc.test.end());
  else cmd = {"/bin/sh", "-c", hc.test[1]};
  for (;;) {
    {
      std::unique_lock lk(c->mu);
      auto done = [&] { return shutting_down || c->removing || c->exit_seq != run_seq || c->state.status != RunState::Running; };
      if (c->cv.wait_for(lk, interval, done)) {
        if (c->state.status == RunState::Paused && !shutting_down && !c->removing && c->exit_seq == run_seq) continue;
        return;
      }
    }
    std::string start = now_rfc3339_nano();
    auto r = run_probe(c, cmd, std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
    std::string end = now_rfc3339_nano();
    int code = r ? r->first : -1;
    std::string output = r ? r->second : r.error().message();
    std::string before, after;
    {
      std::lock_guard lk(c->mu);
      if (c->exit_seq != run_seq || c->removing) return;
      auto& h = c->state.health;
      before = h.status;
      h.log.push_back({start, end, code, output});
      while (h.log.size() > kHealthLogEntries) h.log.erase(h.log.begin());
      if (code == 0) {
        h.status = "healthy";
        h.failing_streak = 0;
      } else if (std::chrono::steady_clock::now() - started >= start_period) {
        h.failing_streak++;
        if (h.failing_streak >= retries) h.status = "unhealthy";
      }
      after = h.status;
      persist_locked(*c);
    }
    if (before != after) publish(*c, "health_status: " + after);
  }
}

}  // namespace berth::engine
