#pragma once
// Shared by the API's route files (api_server.cc: system and images; containers_routes.cc: containers and
// exec; objects_routes.cc: volumes, networks, events, system df, image transfer). Internal to api/server.

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "engine/engine.h"
#include "net/http/server.h"

namespace berth::api::detail {

using json = nlohmann::ordered_json;
namespace http = net::http;

// Request bodies most routes read are small JSON; routes that take archives stream them (see large_body_route).
inline constexpr size_t kMaxBody = 1 << 20;
// Go's zero time: the CLI parses every time field, so "" is not an option for unknown times.
inline constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

// One request being served: the route files read the parsed path and query and reply through `r`.
struct Ctx {
  engine::Engine& e;
  http::ServerRequest& q;
  http::ServerResponse& r;
  http::Target target;  // path (with the version prefix) + query
  std::string version;  // "1.41", or "" for an unversioned path
  std::string path;     // without the version prefix: "/containers/json"
  const std::string& method() const { return q.method(); }
  std::optional<std::string> param(std::string_view k) const { return target.param(k); }
};

http::Headers base_headers();
// JSON text for the wire: invalid UTF-8 (request text echoed in a message, file names) becomes U+FFFD
// instead of throwing.
std::string dump_json(const json& j);
void send_json(http::ServerResponse& r, int status, const json& j);
void send_error(http::ServerResponse& r, int status, std::string_view msg);
void send_error(http::ServerResponse& r, const Error& e);
void send_empty(http::ServerResponse& r, int status);
json str_list_or_null(const std::vector<std::string>& v);
json labels_or_null(const std::map<std::string, std::string>& m);
// "1", "true", "True", "yes".
bool truthy(const std::optional<std::string>& v);
// docker's filters query parameter: {"key":{"value":true}} (or the old {"key":["value"]}).
Result<std::map<std::string, std::vector<std::string>>> parse_filters(const std::optional<std::string>& q);
// Reads a JSON request body of at most kMaxBody bytes; an empty body gives an empty object.
// InvalidArgument (400) for malformed JSON, with the parser's position.
Result<json> read_json_body(http::ServerRequest& q);

// Routes whose bodies are archives (image load, archive PUT, build): exempt from the global kMaxBody check;
// they stream the body themselves.
bool large_body_route(std::string_view method, std::string_view path);

// Watches the client's socket from a thread of its own, blocked in poll() (no polling interval): calls
// on_gone() once the client closes or resets its side (POLLRDHUP/POLLHUP/POLLERR: what peer_gone() tests), so
// a long-lived response with nothing to write (wait, logs -f of a quiet container, events with nothing to
// report) ends as soon as nobody listens. on_gone runs on the watch thread. The destructor stops the watch and
// joins. Without a socket (peer_fd() < 0) it watches nothing.
class PeerWatch {
 public:
  PeerWatch(int peer_fd, std::function<void()> on_gone);
  ~PeerWatch();
  PeerWatch(const PeerWatch&) = delete;
  PeerWatch& operator=(const PeerWatch&) = delete;

 private:
  UniqueFd stop_;
  std::thread thread_;
};

// Each returns true when it handled (replied to) the request.
bool route_containers(Ctx& c);  // containers_routes.cc: /containers/..., /exec/...
bool route_objects(Ctx& c);     // objects_routes.cc: /volumes, /networks, /events, /system/df, /auth,
                                // /images/create, /images/{name}/push, /images/get, /images/load

}  // namespace berth::api::detail
