#pragma once
// Blocking HTTP/1.1 client with per-origin keep-alive connection pooling and TLS (system trust store,
// SNI and host-name verification; optionally an extra CA file or no verification for "insecure" registries).
//
// Thread-safety: one Client may be used from many threads at once; each request takes a pooled
// connection (or opens one) and returns it when the response is fully read.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/error.h"
#include "net/http/http.h"

namespace berth::net::http {

struct ClientRequest {
  std::string method = "GET";
  Url url;
  Headers headers;
  std::string body;  // used when body_reader is empty
  // Streaming body: called repeatedly for up to n bytes until it returns 0; body_length is sent as
  // Content-Length and must match what the reader produces.
  std::function<Result<size_t>(char* buf, size_t n)> body_reader;
  uint64_t body_length = 0;
  int max_redirects = 5;
  // Called once the status line and headers of the final response are in, before any body byte reaches the
  // sink; an error aborts the transfer.
  std::function<Status(int status, const Headers& headers)> on_headers;  // followed for GET/HEAD only; Authorization dropped when the origin changes
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;   // buffered body (error bodies, manifests); empty when streamed to a sink
  Url final_url;      // after redirects
};

// Receives the body of a successful (2xx) response chunk by chunk. An error aborts the transfer
// (the connection is then discarded).
using BodySink = std::function<Status(std::string_view chunk)>;

struct ClientOptions {
  bool tls_verify = true;
  std::string ca_file;  // extra trusted CA (PEM)
  size_t max_buffered_body = 16 << 20;
  // Timeouts in milliseconds (0 = none). connect: TCP connect plus TLS handshake. io: the longest wait without
  // a byte sent or received once a request is under way; a request that stalls longer fails Unavailable.
  int connect_timeout_ms = 0;
  int io_timeout_ms = 0;
  // When set, every connection goes to this unix socket (plain http; the URL's host is only the Host header).
  std::string unix_socket;
};

class Client {
 public:
  virtual ~Client() = default;
  static std::unique_ptr<Client> make(ClientOptions opts = {});
  // Sends the request. Non-2xx bodies (and 2xx bodies when sink is empty) are buffered into
  // response.body (up to max_buffered_body). Transport failures are Errc::Unavailable.
  virtual Result<ClientResponse> send(const ClientRequest& req, const BodySink& sink = {}) = 0;
};

}  // namespace berth::net::http
