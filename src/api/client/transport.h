#pragma once
// HTTP/1.1 over one stream socket (unix or plain TCP), as the Docker Engine API needs it: keep-alive requests,
// response bodies read incrementally (Content-Length, chunked or until EOF), chunked request bodies (image load),
// and connection hijacking (`Upgrade: tcp` -> `101`, after which the socket is a raw bidirectional byte stream).
//
// Not thread-safe: one HttpConn per thread at a time. The ApiClient (client.h) opens extra connections for
// streams and hijacks, the way the docker CLI does.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"
#include "net/http/http.h"

namespace berth::api::client {

// TLS for tcp:// endpoints (the daemon's TCP listener requires mutual TLS): the CA that signs the daemon's
// certificate, and our client certificate and key.
struct TlsOptions {
  bool enabled = false;
  bool verify = true;  // check the daemon's certificate against ca_file and its host name
  std::string ca_file, cert_file, key_file;
};

// Where the daemon listens: `unix:///path`, `/path` (unix) or `tcp://host:port` (plain HTTP, or TLS).
struct Endpoint {
  std::string unix_path;
  std::string tcp_host;
  uint16_t tcp_port = 0;
  TlsOptions tls;
  std::string str() const;
};
Result<Endpoint> parse_endpoint(std::string_view host);
Result<UniqueFd> dial(const Endpoint& ep);

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";  // path and query, already encoded
  net::http::Headers headers;
  std::string body;
  bool send_length = false;  // Content-Length even when body is empty (POST/PUT)
  // When set, the body is sent with Transfer-Encoding: chunked: called for up to n bytes until it returns 0.
  std::function<Result<size_t>(char* buf, size_t n)> chunked_reader;
};

struct ResponseHead {
  int status = 0;
  std::string reason;
  net::http::Headers headers;
};

struct TlsSession;

class HttpConn {
 public:
  explicit HttpConn(UniqueFd fd) : fd_(std::move(fd)) {}
  ~HttpConn();
  int fd() const { return fd_.get(); }
  bool tls() const { return tls_ != nullptr; }

  Status send(const HttpRequest& req);
  // Reads the status line and headers. `head_request`: the response has no body (HEAD).
  Result<ResponseHead> read_head(bool head_request = false);
  // Next piece of the body; an empty view at its end. Valid until the next call.
  Result<std::string_view> read_some();
  // The rest of the body, at most max bytes.
  Result<std::string> read_all(size_t max = 64 << 20);
  // After a 101: the bytes already buffered beyond the head, and the socket itself.
  std::string take_buffered();
  UniqueFd release() { return std::move(fd_); }
  // Wraps the connection in TLS (client side; SNI and host-name check for `host`).
  Status start_tls(const TlsOptions& o, const std::string& host);
  // Raw byte stream after a hijack over TLS (the buffered bytes are taken first with take_buffered):
  // recv() returns 0 at the peer's end; has_pending() says decrypted bytes wait that poll() cannot see;
  // close_write() sends TLS close_notify and half-closes the socket (reading goes on).
  Result<size_t> recv(char* buf, size_t n);
  Status send_raw(std::string_view data) { return write(data); }
  bool has_pending() const;
  void close_write();
  // The body was read to its end and the server did not ask to close: the connection can carry another request.
  bool reusable() const { return body_done_ && keep_alive_; }

 private:
  Result<size_t> fill();
  Result<std::string> read_line();
  Status write(std::string_view data);

  TlsSession* tls_ = nullptr;

  UniqueFd fd_;
  std::string buf_;
  size_t pos_ = 0;
  std::string piece_;
  // body state
  bool body_done_ = true;
  bool keep_alive_ = true;
  bool chunked_ = false;
  bool until_eof_ = false;
  uint64_t remaining_ = 0;  // of the body (Content-Length) or of the current chunk
  bool in_chunk_ = false;
};

// dial() plus TLS when the endpoint asks for it.
Result<std::unique_ptr<HttpConn>> open_conn(const Endpoint& ep);

// Writes all of data to fd (MSG_NOSIGNAL on sockets, plain write otherwise).
Status write_all_fd(int fd, std::string_view data);

}  // namespace berth::api::client
