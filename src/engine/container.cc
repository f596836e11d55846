#include "engine/container.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <regex>

#include "engine/engine.h"

namespace berth::engine {

using json = nlohmann::json;

std::string_view run_state_name(RunState s) {
  switch (s) {
    case RunState::Created: return "created";
    case RunState::Running: return "running";
    case RunState::Paused: return "paused";
    case RunState::Restarting: return "restarting";
    case RunState::Removing: return "removing";
    case RunState::Exited: return "exited";
    case RunState::Dead: return "dead";
  }
  return "dead";
}

std::optional<RunState> parse_run_state(std::string_view s) {
  for (auto st : {RunState::Created, RunState::Running, RunState::Paused, RunState::Restarting, RunState::Removing,
                  RunState::Exited, RunState::Dead})
    if (run_state_name(st) == s) return st;
  return std::nullopt;
}

json state_inspect_json(const ContainerState& s) {
  json j = json::object();
  j["Status"] = run_state_name(s.status);
  j["Running"] = s.status == RunState::Running || s.status == RunState::Paused;
  j["Paused"] = s.status == RunState::Paused;
  j["Restarting"] = s.status == RunState::Restarting;
  j["OOMKilled"] = s.oom_killed;
  j["Dead"] = s.status == RunState::Dead;
  j["Pid"] = s.pid;
  j["ExitCode"] = s.exit_code;
  j["Error"] = s.error;
  j["StartedAt"] = s.started_at;
  j["FinishedAt"] = s.finished_at;
  if (!s.health.status.empty()) {
    json log = json::array();
    for (auto& e : s.health.log)
      log.push_back({{"Start", e.start}, {"End", e.end}, {"ExitCode", e.exit_code}, {"Output", e.output}});
    j["Health"] = {{"Status", s.health.status}, {"FailingStreak", s.health.failing_streak}, {"Log", log}};
  }
  return j;
}

std::string state_to_json(const ContainerState& s) {
  json j = state_inspect_json(s);
  j["ManuallyStopped"] = s.manually_stopped;
  return j.dump();
}

Result<ContainerState> state_from_json(std::string_view text) {
  ContainerState s;
  try {
    json j = json::parse(text);
    auto st = parse_run_state(j.value("Status", "created"));
    if (!st) return fail(Errc::InvalidArgument, "state: unknown status {}", j.value("Status", ""));
    s.status = *st;
    s.oom_killed = j.value("OOMKilled", false);
    s.pid = j.value("Pid", 0);
    s.exit_code = j.value("ExitCode", 0);
    s.error = j.value("Error", "");
    s.started_at = j.value("StartedAt", kGoZeroTime);
    s.finished_at = j.value("FinishedAt", kGoZeroTime);
    s.manually_stopped = j.value("ManuallyStopped", false);
    if (j.contains("Health") && j["Health"].is_object()) {
      auto& h = j["Health"];
      s.health.status = h.value("Status", "");
      s.health.failing_streak = h.value("FailingStreak", 0);
      if (h.contains("Log") && h["Log"].is_array())
        for (auto& e : h["Log"])
          s.health.log.push_back({e.value("Start", ""), e.value("End", ""), e.value("ExitCode", 0), e.value("Output", "")});
    }
  } catch (const std::exception& e) {
    return fail(Errc::InvalidArgument, "state: {}", e.what());
  }
  return s;
}

std::string human_duration(int64_t seconds) {
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return fmt::format("{} seconds", seconds);
  int64_t minutes = seconds / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return fmt::format("{} minutes", minutes);
  int64_t hours = (seconds + 1800) / 3600;
  if (hours == 1) return "About an hour";
  if (hours < 48) return fmt::format("{} hours", hours);
  if (hours < 24 * 7 * 2) return fmt::format("{} days", hours / 24);
  if (hours < 24 * 30 * 2) return fmt::format("{} weeks", hours / 24 / 7);
  if (hours < 24 * 365 * 2) return fmt::format("{} months", hours / 24 / 30);
  return fmt::format("{} years", seconds / 3600 / 24 / 365);
}

std::string status_text(const ContainerState& s, int64_t now) {
  auto since = [&](const std::string& t) { return human_duration(std::max<int64_t>(0, now - parse_rfc3339(t))); };
  std::string health;
  if (s.health.status == "starting") health = " (health: starting)";
  else if (!s.health.status.empty()) health = " (" + s.health.status + ")";
  switch (s.status) {
    case RunState::Running: return "Up " + since(s.started_at) + health;
    case RunState::Paused: return "Up " + since(s.started_at) + " (Paused)";
    case RunState::Restarting: return fmt::format("Restarting ({}) {} ago", s.exit_code, since(s.finished_at));
    case RunState::Removing: return "Removal In Progress";
    case RunState::Dead: return "Dead";
    case RunState::Created: return "Created";
    case RunState::Exited: return fmt::format("Exited ({}) {} ago", s.exit_code, since(s.finished_at));
  }
  return "";
}

Status validate_name(std::string_view name) {
  std::string_view n = name;
  if (n.starts_with("/")) n.remove_prefix(1);
  auto ok_first = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  auto ok_rest = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; };
  if (n.size() < 2 || n.size() > 255 || !ok_first(n[0]) || !std::all_of(n.begin() + 1, n.end(), ok_rest))
    return fail(Errc::InvalidArgument, "Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name);
  return ok();
}

std::string canonical_name(std::string_view name) {
  return name.starts_with("/") ? std::string(name) : "/" + std::string(name);
}

namespace {
std::mt19937_64& rng() {
  thread_local std::mt19937_64 g([] {
    uint64_t seed = 0;
    int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (::read(fd, &seed, sizeof seed) != sizeof seed) seed = 0;
      ::close(fd);
    }
    return seed ^ static_cast<uint64_t>(::getpid()) ^ reinterpret_cast<uintptr_t>(&seed);
  }());
  return g;
}
}  // namespace

std::string new_container_id() {
  for (;;) {
    std::string id;
    for (int i = 0; i < 4; i++) id += fmt::format("{:016x}", rng()());
    if (!std::all_of(id.begin(), id.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) return id;
  }
}

std::string random_name() {
  static const char* kLeft[] = {"admiring", "brave", "clever", "dazzling", "eager", "focused", "gallant", "happy",
                                "jolly", "keen", "loving", "modest", "nifty", "optimistic", "quirky", "serene",
                                "tender", "upbeat", "vibrant", "wizardly", "zealous", "bold", "calm", "epic"};
  static const char* kRight[] = {"turing", "hopper", "lovelace", "knuth", "ritchie", "thompson", "torvalds", "curie",
                                 "noether", "euler", "gauss", "darwin", "galileo", "hamilton", "kepler", "pascal",
                                 "shannon", "tesla", "wozniak", "yalow", "bohr", "dijkstra", "feynman", "hawking"};
  auto& g = rng();
  return fmt::format("{}_{}", kLeft[g() % std::size(kLeft)], kRight[g() % std::size(kRight)]);
}

Result<std::string> resolve_ref(const std::vector<IdName>& all, std::string_view ref) {
  if (ref.empty()) return fail(Errc::NotFound, "No such container: {}", ref);
  for (auto& c : all)
    if (c.id == ref) return c.id;
  std::string cname = canonical_name(ref);
  for (auto& c : all)
    if (c.name == cname) return c.id;
  const IdName* found = nullptr;
  for (auto& c : all)
    if (c.id.starts_with(ref)) {
      if (found) return fail(Errc::InvalidArgument, "Multiple IDs found with provided prefix: {}", ref);
      found = &c;
    }
  if (found) return found->id;
  return fail(Errc::NotFound, "No such container: {}", ref);
}

Status validate_filters(const std::map<std::string, std::vector<std::string>>& f) {
  static const char* kKeys[] = {"id", "name", "label", "status", "exited", "ancestor", "before", "since",
                                "health", "volume", "network", "is-task", "publish", "expose", "isolation"};
  for (auto& [k, vals] : f) {
    if (std::find(std::begin(kKeys), std::end(kKeys), k) == std::end(kKeys))
      return fail(Errc::InvalidArgument, "invalid filter '{}'", k);
    for (auto& v : vals) {
      if (k == "status" && !parse_run_state(v))
        return fail(Errc::InvalidArgument, "invalid filter 'status={}'", v);
      if (k == "health" && v != "starting" && v != "healthy" && v != "unhealthy" && v != "none")
        return fail(Errc::InvalidArgument, "Unrecognised filter value for health: {}", v);
      if (k == "exited") {
        if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '-'; }))
          return fail(Errc::InvalidArgument, "invalid filter 'exited={}'", v);
      }
    }
  }
  return ok();
}

namespace {
bool any_of(const std::map<std::string, std::vector<std::string>>& f, const std::string& key,
            const std::function<bool(const std::string&)>& pred) {
  auto it = f.find(key);
  if (it == f.end() || it->second.empty()) return true;  // no such filter: passes
  return std::any_of(it->second.begin(), it->second.end(), pred);
}
}  // namespace

bool filter_match(const FilterView& c, const std::map<std::string, std::vector<std::string>>& f,
                  const std::string& before_created, const std::string& since_created) {
  if (!any_of(f, "id", [&](const std::string& v) { return c.id.starts_with(v); })) return false;
  if (!any_of(f, "name", [&](const std::string& v) {
        try {
          std::regex re(v);
          return std::regex_search(c.name, re);
        } catch (const std::regex_error&) {
          return c.name.find(v) != std::string::npos;
        }
      }))
    return false;
  if (!any_of(f, "status", [&](const std::string& v) { return run_state_name(c.status) == v; })) return false;
  if (!any_of(f, "exited", [&](const std::string& v) {
        return c.status == RunState::Exited && std::to_string(c.exit_code) == v;
      }))
    return false;
  // label filters must all hold
  if (auto it = f.find("label"); it != f.end())
    for (auto& l : it->second) {
      auto eq = l.find('=');
      auto li = c.labels.find(l.substr(0, eq));
      if (li == c.labels.end()) return false;
      if (eq != std::string::npos && li->second != l.substr(eq + 1)) return false;
    }
  if (!any_of(f, "ancestor", [&](const std::string& v) {
        if (v == c.image || c.image_id == v || (v.size() >= 4 && c.image_id.compare(7, v.size(), v) == 0) ||
            c.image_id == "sha256:" + v)
          return true;
        for (auto& n : c.image_names) {
          if (n == v || n == v + ":latest") return true;
          auto colon = n.rfind(':');
          if (colon != std::string::npos && n.substr(0, colon) == v) return true;
        }
        return false;
      }))
    return false;
  if (!any_of(f, "health", [&](const std::string& v) { return (c.health.empty() ? "none" : c.health) == v; }))
    return false;
  if (!any_of(f, "volume", [&](const std::string& v) {
        return std::find(c.volumes.begin(), c.volumes.end(), v) != c.volumes.end();
      }))
    return false;
  if (!any_of(f, "network", [&](const std::string& v) {
        return std::find(c.networks.begin(), c.networks.end(), v) != c.networks.end();
      }))
    return false;
  if (auto it = f.find("is-task"); it != f.end() && !it->second.empty() && it->second.front() == "true") return false;
  if (!before_created.empty() && !(c.created < before_created)) return false;
  if (!since_created.empty() && !(c.created > since_created)) return false;
  return true;
}

}  // namespace berth::engine
