#pragma once
// EventBus: the daemon's event stream (`docker events`, GET /events). Every part of the engine publishes
// through one bus: containers (create, start, die, destroy, exec_*, health_status: ...), images (pull, push,
// tag, untag, delete, import, load, save), volumes (create, mount, unmount, destroy), networks (create,
// connect, disconnect, destroy), the daemon (reload).
//
// A bounded ring of recent events answers `since`; a subscriber replays the matching part of the ring, then
// receives live events in publish order until `until` passes or it goes away. Publishing never blocks on a
// slow subscriber: each subscription has a bounded queue, and when it overflows the oldest queued events are
// dropped (the subscriber can see how many through dropped()).
//
// Thread-safety: publish, subscribe and Subscription::next may be called from any thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::engine {

// Docker's events.Message: {Type, Action, Actor{ID, Attributes}, scope, time, timeNano} (+ the legacy
// status/id/from fields for container and image events, which api/server derives).
struct Event {
  std::string type;    // "container" | "image" | "volume" | "network" | "daemon"
  std::string action;  // "create", "start", "die", "exec_start: sh -c ...", "pull", ...
  std::string actor_id;
  std::map<std::string, std::string> attributes;  // name, image, exitCode, signal, container, driver, labels...
  std::string scope = "local";
  int64_t time = 0;       // unix seconds
  int64_t time_nano = 0;  // unix nanoseconds (filled by publish when 0)
};

// docker's event filters: type, event (the action; "exec_start" also matches "exec_start: cmd"), container
// (ID, ID prefix or name), image (ID or name, also the image of container events), volume, network, label
// (key or key=value against the attributes), daemon, scope. Keys AND together; values of one key OR.
struct EventFilter {
  std::map<std::string, std::vector<std::string>> filters;
  bool matches(const Event& e) const;
  // InvalidArgument naming an unknown key.
  Status validate() const;
};

class EventBus;

class EventSubscription {
 public:
  ~EventSubscription();
  EventSubscription(const EventSubscription&) = delete;
  EventSubscription& operator=(const EventSubscription&) = delete;

  // The next matching event, waiting at most `wait`. nullopt on timeout, or when the subscription is over
  // (`until` has passed, or the bus was closed); done() tells which.
  std::optional<Event> next(std::chrono::milliseconds wait);
  bool done() const;
  uint64_t dropped() const;
  // Ends the subscription from another thread (its reader went away): a next() waiting returns nullopt at
  // once, later ones too, and done() is true; queued events are dropped.
  void cancel();

 private:
  friend class EventBus;
  EventSubscription(EventBus& bus, EventFilter f, int64_t until_ns) : bus_(bus), filter_(std::move(f)), until_ns_(until_ns) {}
  EventBus& bus_;
  EventFilter filter_;
  int64_t until_ns_;  // 0 = no end
  std::deque<Event> queue_;  // guarded by bus_.mu_
  uint64_t dropped_ = 0;
  bool closed_ = false;
  bool cancelled_ = false;
};

class EventBus {
 public:
  // The ring keeps docker's 256 most recent events: at ~600 bytes each, 4096 were 2.5 MB of idle daemon heap.
  explicit EventBus(size_t ring_capacity = 256, size_t subscriber_queue = 4096);
  ~EventBus();

  // Stamps time/timeNano (when zero), appends to the ring and hands the event to every matching subscriber.
  void publish(Event e);
  void publish(std::string type, std::string action, std::string actor_id,
               std::map<std::string, std::string> attributes = {});

  // Events with since_ns <= timeNano (since_ns = 0: no replay) from the ring, then live ones; until_ns = 0
  // means no end. A subscription with until_ns in the past ends after the replay.
  std::unique_ptr<EventSubscription> subscribe(EventFilter filter, int64_t since_ns, int64_t until_ns);

  // The ring's events matching the filter within [since_ns, until_ns] (until 0 = now).
  std::vector<Event> recent(const EventFilter& filter, int64_t since_ns, int64_t until_ns) const;

  // Ends every subscription (daemon shutdown).
  void close();

  size_t subscribers() const;

 private:
  friend class EventSubscription;
  void unsubscribe(EventSubscription* s);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  size_t ring_cap_, queue_cap_;
  std::deque<Event> ring_;
  std::vector<EventSubscription*> subs_;
  bool closed_ = false;
};

// Unix nanoseconds now.
int64_t now_unix_nano();
// docker's time arguments for since/until: "1732531200", "1732531200.123456789", or RFC 3339.
// Returns unix nanoseconds; InvalidArgument otherwise.
Result<int64_t> parse_event_time(std::string_view s);

}  // namespace berth::engine
