#pragma once
// A Docker Engine API client (the berth CLI's, and later the node agent's): one keep-alive connection for
// sequential calls, extra connections for streams (wait, logs, events, pull) and hijacks (attach, exec start),
// exactly as the docker CLI opens them. The API version is negotiated with `HEAD /_ping` (the daemon's
// Api-Version header, capped at ours).
//
// Errors: a non-2xx reply becomes an Error whose message is "Error response from daemon: <message>" and whose
// code follows the status (404 NotFound, 409 Conflict, 400 InvalidArgument, 401/403 PermissionDenied, 501
// Unimplemented, else Internal). 304 (already started / already stopped) counts as success, as in docker.

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/client/transport.h"
#include "base/error.h"

namespace berth::api::client {

inline constexpr const char* kClientApiVersion = "1.41";

using Query = std::vector<std::pair<std::string, std::string>>;

struct Reply {
  int status = 0;
  net::http::Headers headers;
  std::string body;
};

// A response whose headers are in and whose body is read as it comes.
class Stream {
 public:
  explicit Stream(std::unique_ptr<HttpConn> c, ResponseHead h) : conn_(std::move(c)), head_(std::move(h)) {}
  const ResponseHead& head() const { return head_; }
  Result<std::string_view> next() { return conn_->read_some(); }  // empty at the end
  Result<std::string> rest(size_t max = 64 << 20) { return conn_->read_all(max); }
  int fd() const { return conn_->fd(); }

 private:
  std::unique_ptr<HttpConn> conn_;
  ResponseHead head_;
};

// A hijacked connection (after `101 UPGRADED`): raw bytes both ways.
struct Hijacked {
  UniqueFd fd;          // plain connections
  std::unique_ptr<HttpConn> tls_conn;  // TLS connections (the fd stays inside)
  std::string initial;  // output bytes that arrived with the 101 head
};

struct Body {
  std::string data;
  std::string content_type = "application/json";
  static Body json(const nlohmann::json& j) { return Body{j.dump() + "\n", "application/json"}; }
};

class ApiClient {
 public:
  // Connects and negotiates the API version (HEAD /_ping).
  static Result<std::unique_ptr<ApiClient>> connect(std::string_view host, const TlsOptions& tls = {});

  const std::string& api_version() const { return version_; }
  const Endpoint& endpoint() const { return ep_; }

  // One request on the shared connection; any status is returned as is.
  Result<Reply> request(std::string_view method, std::string_view path, const Query& q = {},
                        const std::optional<Body>& body = std::nullopt, const net::http::Headers& extra = {});
  // request() + status check; the body parsed as JSON (null when empty).
  Result<nlohmann::json> call(std::string_view method, std::string_view path, const Query& q = {},
                              const std::optional<Body>& body = std::nullopt, const net::http::Headers& extra = {});
  Result<nlohmann::json> get(std::string_view path, const Query& q = {}) { return call("GET", path, q); }
  Result<nlohmann::json> post(std::string_view path, const Query& q = {},
                              const std::optional<Body>& body = std::nullopt) {
    return call("POST", path, q, body);
  }

  // A new connection; returns once the response headers are in (2xx) or with the daemon's error.
  // `upload`: a chunked request body (image load).
  Result<std::unique_ptr<Stream>> stream(std::string_view method, std::string_view path, const Query& q = {},
                                         const std::optional<Body>& body = std::nullopt,
                                         const net::http::Headers& extra = {},
                                         std::function<Result<size_t>(char*, size_t)> upload = {},
                                         std::string upload_type = "application/x-tar");
  // A new connection upgraded with `Connection: Upgrade, Upgrade: tcp`; fails unless the status is 101.
  Result<Hijacked> hijack(std::string_view path, const Query& q = {}, const std::optional<Body>& body = std::nullopt);

  std::string target(std::string_view path, const Query& q) const;

 private:
  ApiClient(Endpoint ep) : ep_(std::move(ep)) {}
  Result<HttpConn*> shared();

  Endpoint ep_;
  std::string version_ = kClientApiVersion;
  std::unique_ptr<HttpConn> conn_;
};

// "Error response from daemon: <message>" with the status's Errc.
Error reply_error(int status, std::string_view body);
// The daemon's `{"message": ...}` or the raw body.
std::string reply_message(std::string_view body);
std::string encode_query(const Query& q);
// Docker's filters parameter: {"key":{"value":true}} from "key=value" strings.
Result<std::string> encode_filters(const std::vector<std::string>& kv);

// Reads a hijacked stream to its end: output goes to the sinks (stdcopy-demultiplexed unless tty), input_fd
// (or -1) is copied to the connection and then half-closed (shutdown SHUT_WR). Returns when the daemon closes
// its side; the input copy is stopped then (it never waits for more input).
// detach_keys (non-empty): when that byte sequence is typed the pump stops at once and fails with
// Errc::Canceled "read escape sequence" (the container keeps running), as docker's ctrl-p,ctrl-q.
Status pump_hijacked(Hijacked& h, int input_fd, bool tty, int out_fd, int err_fd, const std::string& detach_keys = {});

// Scans input for a detach sequence; feed() returns the bytes to forward (a partial match is held back).
class DetachMatcher {
 public:
  explicit DetachMatcher(std::string keys) : keys_(std::move(keys)) {}
  std::string feed(std::string_view in);
  bool matched() const { return matched_; }

 private:
  std::string keys_;
  size_t held_ = 0;
  bool matched_ = false;
};
// "ctrl-p,ctrl-q" -> "\x10\x11"; ctrl-a..z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_ or single characters.
Result<std::string> parse_detach_keys(std::string_view spec);

}  // namespace berth::api::client
