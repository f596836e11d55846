#include "api/server/common.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "api/server/api_server.h"

namespace berth::api::detail {

http::Headers base_headers() {
  http::Headers h;
  h.add("Api-Version", engine::kApiVersion);
  h.add("Docker-Experimental", "false");
  h.add("Ostype", "linux");
  h.add("Server", fmt::format("Berth/{} (linux)", engine::kEngineVersion));
  return h;
}

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_json(http::ServerResponse& r, int status, const json& j) {
  auto h = base_headers();
  h.add("Content-Type", "application/json");
  (void)r.send(status, h, dump_json(j) + "\n");
}

void send_error(http::ServerResponse& r, int status, std::string_view msg) {
  send_json(r, status, json{{"message", msg}});
}

void send_error(http::ServerResponse& r, const Error& e) { send_error(r, http_status(e.code()), e.message()); }

PeerWatch::PeerWatch(int peer_fd, std::function<void()> on_gone) {
  if (peer_fd < 0) return;
  stop_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!stop_) return;
  thread_ = std::thread([this, peer_fd, on_gone = std::move(on_gone)] {
    pollfd p[2] = {{peer_fd, POLLRDHUP, 0}, {stop_.get(), POLLIN, 0}};
    for (;;) {
      int n = ::poll(p, 2, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || p[1].revents) return;
      if (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return on_gone();
    }
  });
}

PeerWatch::~PeerWatch() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof one);
  thread_.join();
}

void send_empty(http::ServerResponse& r, int status) { (void)r.send(status, base_headers(), ""); }

json str_list_or_null(const std::vector<std::string>& v) {
  if (v.empty()) return nullptr;
  return json(v);
}

json labels_or_null(const std::map<std::string, std::string>& m) {
  if (m.empty()) return nullptr;
  json j = json::object();
  for (auto& [k, v] : m) j[k] = v;
  return j;
}

bool truthy(const std::optional<std::string>& v) {
  return v && (*v == "1" || *v == "true" || *v == "True" || *v == "yes");
}


// docker's filters query parameter: {"key":{"value":true}} (or the old {"key":["value"]}).
Result<std::map<std::string, std::vector<std::string>>> parse_filters(const std::optional<std::string>& q) {
  std::map<std::string, std::vector<std::string>> out;
  if (!q || q->empty()) return out;
  json j = json::parse(*q, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(Errc::InvalidArgument, "invalid filter: not a JSON object");
  for (auto& [k, v] : j.items()) {
    if (v.is_object()) {
      for (auto& [val, b] : v.items()) out[k].push_back(val);
    } else if (v.is_array()) {
      for (auto& val : v)
        if (val.is_string()) out[k].push_back(val.get<std::string>());
    } else {
      return fail(Errc::InvalidArgument, "invalid filter '{}'", k);
    }
  }
  return out;
}

Result<json> read_json_body(http::ServerRequest& q) {
  auto body = q.read_all(kMaxBody);
  if (!body) return tl::unexpected(body.error());
  if (body->find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  try {
    return json::parse(*body);
  } catch (const json::parse_error& e) {
    return fail(Errc::InvalidArgument, "invalid JSON body: {}", e.what());
  }
}

bool large_body_route(std::string_view method, std::string_view path) {
  if (method == "POST" && (path == "/images/load" || path == "/build")) return true;
  if (method == "POST" && path == "/images/create") return true;  // fromSrc=- (import): a rootfs tarball
  if (method == "PUT" && path.starts_with("/containers/") && path.ends_with("/archive")) return true;
  return false;
}

}  // namespace berth::api::detail
