#pragma once
// A small blocking HTTP/1.1 server: one acceptor thread, one thread per connection, keep-alive, optional TLS.
// Request bodies stream to the handler (chunked or Content-Length, 100-continue answered on first read);
// responses are written with a Content-Length, and file bodies go out with sendfile(2) on plain TCP.
//
// Limits: request headers above 64 KiB get 431; idle connections and stalled headers are closed after
// ServerOptions' timeouts. Connections the server closes itself linger briefly (write side shut, unread input
// drained) so a client that sent bytes nobody read still sees EOF after the response, not a reset.
//
// Lifecycle: Server::start binds and begins accepting; stop() (or the destructor) shuts every socket down
// and joins all threads. The handler runs concurrently on connection threads and must be thread-safe.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/error.h"
#include "net/http/http.h"

namespace berth::net::http {

class ServerRequest {
 public:
  virtual ~ServerRequest() = default;
  const std::string& method() const { return method_; }
  const std::string& target() const { return target_; }
  const Headers& headers() const { return headers_; }
  // Content-Length if the client sent one (nullopt for chunked bodies).
  std::optional<uint64_t> content_length() const { return content_length_; }
  const std::string& remote() const { return remote_; }

  // Reads up to n body bytes; 0 means the body is complete. Errors are connection failures.
  virtual Result<size_t> read_body(char* buf, size_t n) = 0;
  // Reads the whole body; InvalidArgument when it exceeds max bytes.
  Result<std::string> read_all(size_t max);

 protected:
  std::string method_, target_, remote_;
  Headers headers_;
  std::optional<uint64_t> content_length_;
};

class ServerResponse {
 public:
  virtual ~ServerResponse() = default;
  // Sends status, headers and body with Content-Length = body.size(). For HEAD requests the body is not
  // written but Content-Length still describes it unless `head_length` overrides it.
  virtual Status send(int status, const Headers& headers, std::string_view body,
                      std::optional<uint64_t> head_length = std::nullopt) = 0;
  // Sends `len` bytes of fd starting at offset (not written for HEAD).
  virtual Status send_file(int status, const Headers& headers, int fd, uint64_t offset, uint64_t len) = 0;
  virtual bool sent() const = 0;

  // Streaming: status and headers go out at once (flushed) with Transfer-Encoding: chunked; each write() is
  // one chunk, end() sends the last chunk. For HEAD no body is written. Unimplemented unless overridden.
  virtual Status begin_stream(int status, const Headers& headers);
  virtual Status write(std::string_view data);
  virtual Status end_stream();
  // True once the client has closed (or reset) its side of the connection: lets a long-lived stream with
  // nothing to write (events, logs -f) notice that nobody is listening. Never blocks; false when unknown.
  virtual bool peer_gone() const { return false; }
  // The connection's socket, for a handler that blocks until the client goes away (poll for POLLRDHUP: the
  // same condition peer_gone() tests) instead of asking peer_gone() over and over. Only to watch: never read,
  // written or closed. -1 when there is none.
  virtual int peer_fd() const { return -1; }

  // Connection hijacking: sends the status line and headers (e.g. 101 with Connection/Upgrade), then hands
  // over a raw byte stream for the rest of the handler call: `fd` is readable and writable (both directions,
  // shutdown(SHUT_WR) allowed) and `buffered` holds bytes the client sent after the request that were already
  // read. The server closes the fd once the handler returns. On plain connections `fd` is the socket; over
  // TLS it is one end of a socketpair that the server pumps to and from the TLS stream (the client's
  // close_notify reads as EOF while output still flows; close_notify goes out after the handler returns).
  struct Hijacked {
    int fd = -1;
    std::string buffered;
  };
  virtual Result<Hijacked> hijack(int status, const Headers& headers);
};

using Handler = std::function<void(ServerRequest&, ServerResponse&)>;

struct ServerOptions {
  std::string addr = "127.0.0.1:0";  // host:port (port 0 picks an ephemeral port), or unix:///path/to/socket
  std::string tls_cert;              // PEM files; both empty = plain HTTP
  std::string tls_key;
  std::string tls_client_ca;         // PEM CA bundle: when set, clients must present a certificate it signed
  unsigned unix_mode = 0660;         // permissions of a unix socket; the socket file is removed by stop()
  // A connection with no request in progress (a fresh one, or keep-alive between requests) is closed after
  // this long without the first byte of a request; 0 = never. Handlers that stream or hijack are never timed
  // out: the limits only apply while the server waits for a request header.
  std::chrono::milliseconds idle_timeout{60'000};
  // Once a request's first byte has arrived, its header must be complete within this (answered with 408 and
  // closed otherwise); it also bounds a TLS handshake. Over TLS the idle timeout covers the whole header
  // instead (the socket cannot tell whether the TLS layer holds request bytes already). 0 = no limit.
  std::chrono::milliseconds header_timeout{30'000};
  // Called on the acceptor thread when no request has started or finished for `quiet_after` since the last
  // one did (at most once per busy period), e.g. to hand freed memory back to the kernel.
  std::function<void()> on_quiet;
  std::chrono::milliseconds quiet_after{1'000};
};

class Server {
 public:
  virtual ~Server() = default;
  static Result<std::unique_ptr<Server>> start(const ServerOptions& opts, Handler handler);
  virtual uint16_t port() const = 0;
  // Stops accepting, closes every connection, joins threads. Idempotent.
  virtual void stop() = 0;
  // Blocks until stop() is called from another thread.
  virtual void wait() = 0;
};

}  // namespace berth::net::http
