#pragma once
// Typed Engine API calls on top of ApiClient (client.h): one function per endpoint the berth CLI and the node
// agent use, with docker's query conventions (1/0 booleans, JSON filters), 304 as success, 404 as NotFound.
// Bodies and replies stay JSON (the daemon's shapes are docker's; see docs/design/engine.md), except where a
// call has a natural small result (IDs, exit codes).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/client/client.h"

namespace berth::api::client {

using nlohmann::json;

// ---- containers ----
struct CreateResult {
  std::string id;
  std::vector<std::string> warnings;
};
// POST /containers/create[?name=]: body = Config + HostConfig + NetworkingConfig. 404 "No such image" is NotFound.
Result<CreateResult> container_create(ApiClient& api, const json& body, const std::string& name = {},
                                      const std::string& platform = {});
Status container_start(ApiClient& api, const std::string& id);
// stop / restart: timeout_s < 0 leaves the daemon's default; signal empty leaves the container's StopSignal.
Status container_stop(ApiClient& api, const std::string& id, int timeout_s = -1, const std::string& signal = {});
Status container_restart(ApiClient& api, const std::string& id, int timeout_s = -1, const std::string& signal = {});
Status container_kill(ApiClient& api, const std::string& id, const std::string& signal = {});
Status container_remove(ApiClient& api, const std::string& id, bool force = false, bool volumes = false);
Status container_pause(ApiClient& api, const std::string& id);
Status container_unpause(ApiClient& api, const std::string& id);
Status container_rename(ApiClient& api, const std::string& id, const std::string& new_name);
Status container_resize(ApiClient& api, const std::string& id, int height, int width);
Result<json> container_inspect(ApiClient& api, const std::string& id, bool size = false);
Result<json> container_list(ApiClient& api, bool all = false, const std::vector<std::string>& filters = {},
                            int limit = -1, bool size = false);
Result<json> container_top(ApiClient& api, const std::string& id, const std::string& ps_args = {});
Result<json> container_stats_once(ApiClient& api, const std::string& id);
Result<json> container_changes(ApiClient& api, const std::string& id);
Result<json> container_prune(ApiClient& api, const std::vector<std::string>& filters = {});

// POST /containers/{id}/wait?condition=: returns once the daemon has answered with the headers; read the exit
// code with wait_exit_code() (the body arrives when the condition is met).
Result<std::unique_ptr<Stream>> container_wait_begin(ApiClient& api, const std::string& id,
                                                     const std::string& condition = {});
Result<int> wait_exit_code(Stream& s);
// Blocking wait (not-running by default).
Result<int> container_wait(ApiClient& api, const std::string& id, const std::string& condition = {});

struct AttachOptions {
  bool stdin = false, stdout = true, stderr = true, stream = true, logs = false;
  std::string detach_keys;
};
Result<Hijacked> container_attach(ApiClient& api, const std::string& id, const AttachOptions& o);

struct LogsOptions {
  bool follow = false, timestamps = false, stdout = true, stderr = true, details = false;
  std::string since, until, tail = "all";  // since/until in the daemon's "seconds[.nanos]" form
};
Result<std::unique_ptr<Stream>> container_logs(ApiClient& api, const std::string& id, const LogsOptions& o);

// ---- exec ----
struct ExecConfig {
  std::vector<std::string> cmd, env;
  std::string user, working_dir;
  bool tty = false, attach_stdin = false, attach_stdout = true, attach_stderr = true, privileged = false,
       detach = false;
};
Result<std::string> exec_create(ApiClient& api, const std::string& container, const ExecConfig& c);
// Detached start (no hijack, 200).
Status exec_start_detached(ApiClient& api, const std::string& exec_id, bool tty);
Result<Hijacked> exec_start(ApiClient& api, const std::string& exec_id, bool tty);
Status exec_resize(ApiClient& api, const std::string& exec_id, int height, int width);
Result<json> exec_inspect(ApiClient& api, const std::string& exec_id);

// ---- images ----
Result<json> image_list(ApiClient& api, bool all = false, const std::vector<std::string>& filters = {});
Result<json> image_inspect(ApiClient& api, const std::string& name);
Result<json> image_history(ApiClient& api, const std::string& name);
Status image_tag(ApiClient& api, const std::string& source, const std::string& repo, const std::string& tag);
Result<json> image_remove(ApiClient& api, const std::string& name, bool force = false, bool no_prune = false);
Result<json> image_prune(ApiClient& api, const std::vector<std::string>& filters = {});
// JSON-message streams: read with Stream::next() (ProgressPrinter renders them). auth: X-Registry-Auth.
Result<std::unique_ptr<Stream>> image_pull(ApiClient& api, const std::string& name, const std::string& tag,
                                           const std::string& auth = "e30=", const std::string& platform = {});
Result<std::unique_ptr<Stream>> image_push(ApiClient& api, const std::string& name, const std::string& tag,
                                           const std::string& auth = "e30=");

// ---- volumes ----
Result<json> volume_create(ApiClient& api, const json& body);
Result<json> volume_list(ApiClient& api, const std::vector<std::string>& filters = {});
Result<json> volume_inspect(ApiClient& api, const std::string& name);
Status volume_remove(ApiClient& api, const std::string& name, bool force = false);
Result<json> volume_prune(ApiClient& api, const std::vector<std::string>& filters = {});

// ---- networks ----
Result<json> network_create(ApiClient& api, const json& body);
Result<json> network_list(ApiClient& api, const std::vector<std::string>& filters = {});
Result<json> network_inspect(ApiClient& api, const std::string& name);
Status network_remove(ApiClient& api, const std::string& name);
Status network_connect(ApiClient& api, const std::string& network, const std::string& container,
                       const json& endpoint = json::object());
Status network_disconnect(ApiClient& api, const std::string& network, const std::string& container,
                          bool force = false);
Result<json> network_prune(ApiClient& api, const std::vector<std::string>& filters = {});

// ---- system ----
Result<json> system_version(ApiClient& api);
Result<json> system_info(ApiClient& api);
Result<json> system_df(ApiClient& api);
// GET /events: line-delimited JSON until `until` (or forever).
Result<std::unique_ptr<Stream>> system_events(ApiClient& api, const std::string& since = {},
                                              const std::string& until = {},
                                              const std::vector<std::string>& filters = {});

}  // namespace berth::api::client
