#pragma once
// A container's state as the engine tracks and persists it, and the pure helpers around it: docker's state
// names, the persisted state JSON (= inspect's State object plus the engine's own keys), name validation,
// name / ID / prefix resolution and the `ps` filters. No I/O here (unit-tested in container_test.cc).

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::engine {

inline constexpr const char* kGoZeroTime = "0001-01-01T00:00:00Z";

// Created -> Running <-> Paused; Running -> Exited (-> Restarting -> Running); any -> Removing -> gone.
enum class RunState { Created, Running, Paused, Restarting, Removing, Exited, Dead };
std::string_view run_state_name(RunState s);  // docker's: created, running, paused, restarting, removing, exited, dead
std::optional<RunState> parse_run_state(std::string_view s);

struct HealthLogEntry {
  std::string start, end;  // RFC 3339 nanos
  int exit_code = 0;
  std::string output;
};

struct HealthState {
  std::string status;  // "" (no health check), "starting", "healthy", "unhealthy"
  int failing_streak = 0;
  std::vector<HealthLogEntry> log;  // the last 5 probes
};

struct ContainerState {
  RunState status = RunState::Created;
  bool oom_killed = false;
  int pid = 0;
  int exit_code = 0;
  std::string error;
  std::string started_at = kGoZeroTime, finished_at = kGoZeroTime;
  HealthState health;
  bool manually_stopped = false;  // docker's HasBeenManuallyStopped (unless-stopped, daemon start)
  bool running_like() const { return status == RunState::Running || status == RunState::Paused || status == RunState::Restarting; }
};

// docker's inspect State object ({Status, Running, Paused, Restarting, OOMKilled, Dead, Pid, ExitCode, Error,
// StartedAt, FinishedAt[, Health]}).
nlohmann::json state_inspect_json(const ContainerState& s);
// The persisted form: the inspect object plus "ManuallyStopped".
std::string state_to_json(const ContainerState& s);
Result<ContainerState> state_from_json(std::string_view text);

// docker's `ps` Status column: "Up 2 seconds", "Up 3 minutes (Paused)", "Exited (3) 1 second ago",
// "Created", "Restarting (1) 2 seconds ago", "Removal In Progress"; health appended "(healthy)".
std::string status_text(const ContainerState& s, int64_t now_unix);
// "1 second", "2 minutes", "About an hour", "3 days" (Go's units.HumanDuration).
std::string human_duration(int64_t seconds);

// Names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a leading "/" allowed). InvalidArgument with docker's message.
Status validate_name(std::string_view name);
// "web" -> "/web".
std::string canonical_name(std::string_view name);
// A random 64-hex id that is not all digits (docker avoids ids that parse as numbers).
std::string new_container_id();
// docker's random "adjective_surname" names.
std::string random_name();

// Resolution among candidates: exact id, exact name (with or without "/"), then unique id prefix.
struct IdName {
  std::string id, name;
};
// The id; NotFound "No such container: <ref>", InvalidArgument for an ambiguous prefix (docker's wording).
Result<std::string> resolve_ref(const std::vector<IdName>& all, std::string_view ref);

// What the list filters look at.
struct FilterView {
  std::string id, name;  // name with "/"
  RunState status = RunState::Created;
  int exit_code = 0;
  std::map<std::string, std::string> labels;
  std::string image;     // as written at create
  std::string image_id;  // sha256:...
  std::vector<std::string> image_names;  // every name of that image (familiar form)
  std::string health;    // "" none, starting, healthy, unhealthy
  std::vector<std::string> volumes;  // names and sources
  std::vector<std::string> networks;
  std::string created;  // RFC 3339 nanos (orders before/since)
};

// InvalidArgument for an unknown filter key or bad value ("invalid filter 'x'").
Status validate_filters(const std::map<std::string, std::vector<std::string>>& f);
// before/since are resolved by the caller into `created` bounds of those containers.
bool filter_match(const FilterView& c, const std::map<std::string, std::vector<std::string>>& f,
                  const std::string& before_created, const std::string& since_created);

}  // namespace berth::engine
