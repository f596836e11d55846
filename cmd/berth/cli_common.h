#pragma once
// Shared pieces of the berth CLI's Engine API commands (cli_*.cc): connecting (-H / BERTH_HOST), flag and error
// conventions (usage errors exit 125 as docker's do, daemon errors print "Error response from daemon: ..."),
// --format output, and docker's human-readable sizes and times.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/client/client.h"
#include "api/client/flags.h"
#include "api/client/template.h"
#include "base/error.h"

namespace berth::cli {

using api::client::ApiClient;
using api::client::Body;
using api::client::FlagSet;
using api::client::Query;
using nlohmann::json;

inline constexpr const char* kDefaultHost = "unix:///run/berth/berth.sock";

// BERTH_HOST, else the default socket.
std::string default_host();
// TLS for tcp:// hosts, from the environment main() fills from the global flags (docker's names):
// --tls (BERTH_TLS), --tlsverify (BERTH_TLS_VERIFY), --tlscacert / --tlscert / --tlskey (BERTH_TLS_CACERT,
// BERTH_TLS_CERT, BERTH_TLS_KEY), else BERTH_CERT_PATH/{ca,cert,key}.pem.
api::client::TlsOptions tls_from_env();

// Flags every API command takes; parse() handles --help (exit 0) and usage errors (exit 125).
struct Command {
  FlagSet flags;
  std::string host = default_host();
  std::vector<std::string> args;
  explicit Command(std::string usage);
  // False when the command should exit now with *rc.
  bool parse(int argc, char** argv, int* rc, bool interspersed = true, size_t min_args = 0,
             size_t max_args = SIZE_MAX);
  Result<ApiClient*> api();

 private:
  std::unique_ptr<ApiClient> api_;
};

// Prints "berth: <message>" (or the daemon's error as docker prints it) to stderr; returns 1.
int report(const Error& e);

// Runs op on each argument (docker's "for each container/volume" commands), printing the argument on success
// and reporting each failure; returns 1 when any failed.
int for_each(Command& cmd, const std::function<Status(ApiClient&, const std::string&)>& op,
             bool print = true);

// The filters query parameter (docker's JSON filter map) for KEY=VALUE filters; none when there are none.
Status add_filters(Query& q, const std::vector<std::string>& filters);

// docker's prompt before a removal: "WARNING! This will remove<what>" then "Are you sure you want to
// continue? [y/N] "; true on y/Y. `what` carries its own lead (" all stopped containers." or ":\n  - ...").
bool confirm(std::string_view what);

// A list command (images, volume ls, network ls): -q/--quiet, -f/--filter and --format; fetch() GETs the list
// with the filters, print() renders the rows (the quiet template instead of --format with -q).
struct ListCommand : Command {
  bool quiet = false;
  std::vector<std::string> filters;
  std::string format;
  ListCommand(std::string usage, const char* quiet_help, const char* filter_help);
  Result<json> fetch(const std::string& path, Query q = {});
  int print(const std::vector<json>& rows, const char* quiet_format, const std::string& default_format,
            const std::vector<std::pair<std::string, std::string>>& headers);
};

// A prune command (container, image, volume, network prune): -f/--force and --filter, then run(): the prompt
// unless forced, POST `path` with the filters, and docker's report: "<title>:" and the deleted items (image
// items as "untagged: X" / "deleted: Y") and, unless the reply has no SpaceReclaimed (networks), "Total
// reclaimed space: ...".
struct PruneCommand : Command {
  bool force = false;
  std::vector<std::string> filters;
  explicit PruneCommand(std::string usage, const char* filter_help = "provide filter values");
  int run(std::string_view what, const std::string& path, const char* list_key, const char* title);
};
// The deleted-items part of a prune report (nothing for an empty list); `blank_after` adds the blank line
// docker prints before the total.
void print_deleted(const char* title, const json& items, bool blank_after = true);
bool is_tty(int fd);

std::string short_id(std::string_view id);
// Appends item to out, preceded by sep unless out is empty.
inline void join_to(std::string& out, std::string_view sep, std::string_view item) {
  if (!out.empty()) out.append(sep);
  out.append(item);
}
std::string strip_slash(std::string_view name);
// docker's units.HumanDuration ("Less than a second", "3 seconds", "About a minute", "2 hours", ...).
std::string human_duration(int64_t seconds);
std::string ago(int64_t unix_seconds);  // "3 minutes ago"
// RFC 3339 (with optional fraction and zone) to unix seconds; nullopt when it does not parse.
std::optional<int64_t> parse_rfc3339(std::string_view s);
// --since/--until values: "10m", "1h30m", unix seconds[.nanos] or RFC 3339 -> the daemon's "seconds[.nanos]".
Result<std::string> timestamp_param(std::string_view value);

// Renders items with --format (a template, "json", or "table ..."); without a format, default_format (a
// "table ..." format) is used. headers: field -> column title for table headers.
// format_items: the same text, returned instead of printed.
Result<std::string> format_items(const std::vector<json>& items, const std::string& format,
                                 const std::string& default_format,
                                 const std::vector<std::pair<std::string, std::string>>& headers);
Status print_formatted(const std::vector<json>& items, const std::string& format, const std::string& default_format,
                       const std::vector<std::pair<std::string, std::string>>& headers);

// Reads KEY=VALUE lines (docker --env-file / --label-file rules: # comments, blank lines, bare KEY takes the
// value from the environment).
Result<std::vector<std::string>> read_env_file(const std::string& path);

// X-Registry-Auth for a reference: from $DOCKER_CONFIG/config.json (or ~/.docker/config.json) auths, else "e30=".
std::string registry_auth_header(std::string_view reference);

// Pull with a progress display on stderr/stdout; used by pull and by run/create when the image is missing.
Status pull_image(ApiClient& api, const std::string& reference, bool quiet, FILE* out);

// Exit code docker's `run` derives from a start error's text: 127, 126 or 125.
int start_error_exit_code(std::string_view message);

}  // namespace berth::cli
