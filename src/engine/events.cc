#include "engine/events.h"

#include <algorithm>
#include <charconv>
#include <ctime>

#include "engine/engine.h"

namespace berth::engine {

int64_t now_unix_nano() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<int64_t> parse_event_time(std::string_view s) {
  if (s.empty()) return fail(Errc::InvalidArgument, "empty timestamp");
  // seconds[.fraction]
  size_t dot = s.find('.');
  std::string_view secs = s.substr(0, dot);
  int64_t sec = 0;
  auto [p, ec] = std::from_chars(secs.data(), secs.data() + secs.size(), sec);
  if (ec == std::errc() && p == secs.data() + secs.size()) {
    int64_t nanos = 0;
    if (dot != std::string_view::npos) {
      std::string_view frac = s.substr(dot + 1);
      if (frac.empty() || frac.size() > 9 ||
          !std::all_of(frac.begin(), frac.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return fail(Errc::InvalidArgument, "invalid timestamp `{}`", s);
      std::string padded(frac);
      padded.resize(9, '0');
      nanos = std::stoll(padded);
    }
    return sec * 1'000'000'000 + nanos;
  }
  // RFC 3339 (fractional seconds kept)
  int64_t t = parse_rfc3339(s);
  if (t == 0) return fail(Errc::InvalidArgument, "invalid timestamp `{}`", s);
  int64_t nanos = 0;
  if (s.size() > 20 && s[19] == '.') {
    size_t i = 20;
    std::string digits;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && digits.size() < 9) digits += s[i++];
    digits.resize(9, '0');
    nanos = std::stoll(digits);
  }
  return t * 1'000'000'000 + nanos;
}

namespace {

bool any_of_values(const std::vector<std::string>& vals, const std::function<bool(const std::string&)>& f) {
  return std::any_of(vals.begin(), vals.end(), f);
}

std::string attr(const Event& e, const std::string& k) {
  auto it = e.attributes.find(k);
  return it == e.attributes.end() ? std::string() : it->second;
}

// A container's image attribute may be a name ("busybox", "busybox:latest") or an ID.
bool image_matches(const std::string& want, const std::string& have) {
  if (have.empty()) return false;
  if (want == have) return true;
  auto strip_latest = [](std::string n) {
    if (n.ends_with(":latest")) n.resize(n.size() - 7);
    return n;
  };
  if (strip_latest(want) == strip_latest(have)) return true;
  std::string w = want.starts_with("sha256:") ? want.substr(7) : want;
  std::string h = have.starts_with("sha256:") ? have.substr(7) : have;
  return w.size() >= 12 && h.starts_with(w);
}

}  // namespace

Status EventFilter::validate() const {
  static const char* kKeys[] = {"type", "event", "container", "image", "volume", "network", "label", "daemon", "scope",
                                "plugin", "node", "service", "secret", "config"};
  for (auto& [k, v] : filters)
    if (std::find(std::begin(kKeys), std::end(kKeys), k) == std::end(kKeys))
      return fail(Errc::InvalidArgument, "invalid filter '{}'", k);
  return ok();
}

bool EventFilter::matches(const Event& e) const {
  for (auto& [key, vals] : filters) {
    if (vals.empty()) continue;
    bool hit = false;
    if (key == "type") {
      hit = any_of_values(vals, [&](auto& v) { return v == e.type; });
    } else if (key == "event") {
      hit = any_of_values(vals, [&](auto& v) {
        if (v == e.action) return true;
        // "exec_start" matches "exec_start: sh -c ..."; "health_status" matches "health_status: healthy"
        return e.action.size() > v.size() && e.action.starts_with(v) && e.action[v.size()] == ':';
      });
    } else if (key == "container") {
      if (e.type != "container") return false;
      hit = any_of_values(vals, [&](auto& v) {
        return v == e.actor_id || v == attr(e, "name") || (v.size() >= 1 && e.actor_id.starts_with(v) && v.size() >= 12);
      });
    } else if (key == "image") {
      hit = any_of_values(vals, [&](auto& v) {
        if (e.type == "image") return image_matches(v, e.actor_id) || image_matches(v, attr(e, "name"));
        if (e.type == "container") return image_matches(v, attr(e, "image"));
        return false;
      });
    } else if (key == "volume") {
      hit = e.type == "volume" && any_of_values(vals, [&](auto& v) { return v == e.actor_id; });
    } else if (key == "network") {
      hit = e.type == "network" &&
            any_of_values(vals, [&](auto& v) { return v == e.actor_id || v == attr(e, "name") || (v.size() >= 12 && e.actor_id.starts_with(v)); });
    } else if (key == "label") {
      // every label filter must match (docker ANDs labels)
      hit = std::all_of(vals.begin(), vals.end(), [&](auto& v) {
        auto eq = v.find('=');
        auto it = e.attributes.find(v.substr(0, eq));
        if (it == e.attributes.end()) return false;
        return eq == std::string::npos || it->second == v.substr(eq + 1);
      });
    } else if (key == "daemon") {
      hit = e.type == "daemon" && any_of_values(vals, [&](auto& v) { return v == e.actor_id || v == attr(e, "name"); });
    } else if (key == "scope") {
      hit = any_of_values(vals, [&](auto& v) { return v == e.scope; });
    } else {
      hit = false;  // plugin, node, service, secret, config: no such events here
    }
    if (!hit) return false;
  }
  return true;
}

EventSubscription::~EventSubscription() { bus_.unsubscribe(this); }

std::optional<Event> EventSubscription::next(std::chrono::milliseconds wait) {
  std::unique_lock lk(bus_.mu_);
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    if (cancelled_) return std::nullopt;
    if (!queue_.empty()) {
      Event e = std::move(queue_.front());
      queue_.pop_front();
      return e;
    }
    if (closed_) return std::nullopt;
    int64_t now = now_unix_nano();
    if (until_ns_ && now > until_ns_) {
      closed_ = true;
      return std::nullopt;
    }
    auto until_wall = std::chrono::steady_clock::now() +
                      (until_ns_ ? std::chrono::nanoseconds(until_ns_ - now + 1) : std::chrono::hours(24));
    auto d = std::min(deadline, until_wall);
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    bus_.cv_.wait_until(lk, d);
  }
}

bool EventSubscription::done() const {
  std::lock_guard lk(bus_.mu_);
  return cancelled_ || (closed_ && queue_.empty());
}

void EventSubscription::cancel() {
  {
    std::lock_guard lk(bus_.mu_);
    cancelled_ = true;
    queue_.clear();
  }
  bus_.cv_.notify_all();
}

uint64_t EventSubscription::dropped() const {
  std::lock_guard lk(bus_.mu_);
  return dropped_;
}

EventBus::EventBus(size_t ring_capacity, size_t subscriber_queue)
    : ring_cap_(std::max<size_t>(ring_capacity, 1)), queue_cap_(std::max<size_t>(subscriber_queue, 1)) {}

EventBus::~EventBus() { close(); }

void EventBus::publish(std::string type, std::string action, std::string actor_id,
                       std::map<std::string, std::string> attributes) {
  Event e;
  e.type = std::move(type);
  e.action = std::move(action);
  e.actor_id = std::move(actor_id);
  e.attributes = std::move(attributes);
  publish(std::move(e));
}

void EventBus::publish(Event e) {
  {
    std::lock_guard lk(mu_);
    if (e.time_nano == 0) {
      e.time_nano = now_unix_nano();
      // keep the ring ordered even if the wall clock steps back
      if (!ring_.empty() && e.time_nano < ring_.back().time_nano) e.time_nano = ring_.back().time_nano;
    }
    if (e.time == 0) e.time = e.time_nano / 1'000'000'000;
    for (auto* s : subs_) {
      if (s->closed_ || s->cancelled_ || !s->filter_.matches(e)) continue;
      if (s->until_ns_ && e.time_nano > s->until_ns_) continue;
      if (s->queue_.size() >= queue_cap_) {
        s->queue_.pop_front();
        s->dropped_++;
      }
      s->queue_.push_back(e);
    }
    ring_.push_back(std::move(e));
    if (ring_.size() > ring_cap_) ring_.pop_front();
  }
  cv_.notify_all();
}

std::unique_ptr<EventSubscription> EventBus::subscribe(EventFilter filter, int64_t since_ns, int64_t until_ns) {
  std::unique_ptr<EventSubscription> s(new EventSubscription(*this, std::move(filter), until_ns));
  std::lock_guard lk(mu_);
  if (since_ns > 0)
    for (auto& e : ring_) {
      if (e.time_nano < since_ns) continue;
      if (until_ns && e.time_nano > until_ns) break;
      if (s->filter_.matches(e)) s->queue_.push_back(e);
    }
  if (closed_ || (until_ns && until_ns < now_unix_nano())) s->closed_ = true;
  subs_.push_back(s.get());
  return s;
}

std::vector<Event> EventBus::recent(const EventFilter& filter, int64_t since_ns, int64_t until_ns) const {
  std::lock_guard lk(mu_);
  std::vector<Event> out;
  for (auto& e : ring_) {
    if (e.time_nano < since_ns) continue;
    if (until_ns && e.time_nano > until_ns) break;
    if (filter.matches(e)) out.push_back(e);
  }
  return out;
}

void EventBus::close() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
    for (auto* s : subs_) s->closed_ = true;
  }
  cv_.notify_all();
}

size_t EventBus::subscribers() const {
  std::lock_guard lk(mu_);
  return subs_.size();
}

void EventBus::unsubscribe(EventSubscription* s) {
  std::lock_guard lk(mu_);
  subs_.erase(std::remove(subs_.begin(), subs_.end(), s), subs_.end());
}

}  // namespace berth::engine
