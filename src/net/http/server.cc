// The only server translation unit that includes Beast/Asio.
#include "net/http/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "base/log.h"

namespace berth::net::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

Result<std::string> ServerRequest::read_all(size_t max) {
  std::string out;
  if (content_length_ && *content_length_ > max)
    return fail(Errc::InvalidArgument, "request body of {} bytes exceeds {}", *content_length_, max);
  char buf[65536];
  for (;;) {
    size_t n = BERTH_TRY(read_body(buf, sizeof buf));
    if (n == 0) break;
    if (out.size() + n > max) return fail(Errc::InvalidArgument, "request body exceeds {} bytes", max);
    out.append(buf, n);
  }
  return out;
}

Status ServerResponse::begin_stream(int, const Headers&) {
  return fail(Errc::Unimplemented, "streaming responses are not supported here");
}
Status ServerResponse::write(std::string_view) {
  return fail(Errc::Unimplemented, "streaming responses are not supported here");
}
Status ServerResponse::end_stream() { return fail(Errc::Unimplemented, "streaming responses are not supported here"); }
Result<ServerResponse::Hijacked> ServerResponse::hijack(int, const Headers&) {
  return fail(Errc::Unimplemented, "connection hijacking is not supported here");
}

namespace {

constexpr size_t kHeaderLimit = 64 * 1024;
constexpr size_t kReadBuffer = 256 * 1024;
// How long a connection the server closes keeps draining what the client still sends (see linger_close).
constexpr int64_t kLingerMs = 1000;
constexpr size_t kLingerBytes = 1 << 20;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A connection as the acceptor thread sees it: it enforces the deadline by shutting the read side down, which
// ends whatever read or poll the connection thread is blocked in.
struct Conn {
  int fd = -1;
  // steady_clock milliseconds; 0 = none; kFired once the acceptor has shut the read side down.
  std::atomic<int64_t> deadline{0};
};
constexpr int64_t kFired = -1;

// What the connection threads share with the acceptor thread.
struct Shared {
  std::chrono::milliseconds idle{0}, header{0};  // ServerOptions' timeouts
  int wake_fd = -1;                              // write end of the acceptor's wake pipe
  // When the acceptor's poll() times out next (steady ms); INT64_MAX while it computes that or sleeps without
  // a timeout, so a deadline set meanwhile always wakes it.
  std::atomic<int64_t> next_wake{INT64_MAX};
  std::atomic<uint64_t> activity{0};  // bumped when a request starts and when it ends
  std::atomic<bool> quiet_armed{false};
  bool has_quiet = false;

  void wake() { (void)!::write(wake_fd, "w", 1); }

  // Sets the connection's deadline `ms` from now (0 = none). False when the previous one had already fired:
  // the connection is finished.
  bool arm(Conn& c, std::chrono::milliseconds ms) {
    int64_t want = ms.count() > 0 ? now_ms() + ms.count() : 0;
    int64_t cur = c.deadline.load();
    do {
      if (cur == kFired) return false;
    } while (!c.deadline.compare_exchange_weak(cur, want));
    if (want != 0 && want < next_wake.load()) wake();
    return true;
  }

  // A request ended: the acceptor starts timing the quiet period (woken once per busy period).
  void touch() {
    activity.fetch_add(1);
    if (has_quiet && !quiet_armed.exchange(true)) wake();
  }
};

// Closing a socket whose receive queue holds unread bytes resets the connection: TCP sends RST, and a unix
// socket makes the peer's next read fail with ECONNRESET even after it has read all our output (the docker
// CLI then reports "connection reset by peer" for an exec that succeeded). So the write side is shut first
// (the client sees EOF after the last response byte) and input is discarded until the client closes too,
// bounded in time and bytes; stop() shuts the socket down, which ends this at once.
void linger_close(int fd) {
  ::shutdown(fd, SHUT_WR);
  char b[16384];
  size_t total = 0;
  int64_t end = now_ms() + kLingerMs;
  for (;;) {
    ssize_t r = ::recv(fd, b, sizeof b, MSG_DONTWAIT);
    if (r > 0) {
      total += static_cast<size_t>(r);
      if (total > kLingerBytes) return;
      continue;
    }
    if (r == 0) return;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return;
    int64_t left = end - now_ms();
    if (left <= 0) return;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return;
  }
}

// Size of the request line and header fields as sent, give or take optional whitespace.
size_t header_bytes(const bhttp::request_parser<bhttp::buffer_body>& p) {
  const auto& m = p.get();
  size_t n = m.method_string().size() + m.target().size() + 12;
  for (const auto& f : m) n += f.name_string().size() + f.value().size() + 4;
  return n + 2;
}

template <class Stream>
Status write_raw(Stream& s, std::string_view data) {
  beast::error_code ec;
  asio::write(s, asio::buffer(data.data(), data.size()), ec);
  if (ec) return fail(Errc::Unavailable, "write: {}", ec.message());
  return ok();
}


// Moves the bytes of a hijacked TLS connection between the TLS stream and `b` (the server's end of the
// socketpair whose other end the handler holds), on one thread: client data is read without blocking and
// queued for `b` (so a handler that is busy writing never deadlocks against us), handler output is written
// to the client. The client's close_notify (or a TCP FIN) is its EOF: `b` gets SHUT_WR once the queue is
// flushed, and output keeps flowing. When the handler's end is closed (EOF on `b`) the pump sends
// close_notify without waiting for the client's and returns; the caller then closes the socket.
void tls_pump(asio::ssl::stream<tcp::socket>& s, int b) {
  constexpr size_t kQueueLimit = 1 << 20;
  auto& sock = s.next_layer();
  int sfd = sock.native_handle();
  int fl = ::fcntl(b, F_GETFL);
  if (fl >= 0) (void)::fcntl(b, F_SETFL, fl | O_NONBLOCK);
  std::string to_b;
  bool client_in = true;  // the client may still send
  bool b_open = true;     // the handler still takes input
  bool b_shut = false;
  std::vector<char> buf(64 * 1024);
  beast::error_code ec;

  auto read_client = [&] {
    sock.non_blocking(true, ec);
    while (client_in && to_b.size() < kQueueLimit) {
      beast::error_code rec;
      size_t n = s.read_some(asio::buffer(buf.data(), buf.size()), rec);
      if (n > 0 && b_open) to_b.append(buf.data(), n);
      if (rec == asio::error::would_block || rec == asio::error::try_again) break;
      if (rec) client_in = false;  // close_notify, truncation or a broken connection: all mean EOF here
    }
    sock.non_blocking(false, ec);
  };
  auto flush_b = [&] {
    while (!to_b.empty() && b_open) {
      ssize_t w = ::send(b, to_b.data(), to_b.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (w <= 0) {
        b_open = false;  // the handler closed its end: client input has nowhere to go
        to_b.clear();
        return;
      }
      to_b.erase(0, static_cast<size_t>(w));
    }
  };

  for (;;) {
    if (client_in && to_b.size() < kQueueLimit) read_client();  // also what the TLS layer already buffered
    flush_b();
    if (!client_in && to_b.empty() && !b_shut) {
      ::shutdown(b, SHUT_WR);
      b_shut = true;
    }
    pollfd p[2] = {{client_in && to_b.size() < kQueueLimit ? sfd : -1, POLLIN, 0},
                   {b, static_cast<short>(POLLIN | (to_b.empty() || !b_open ? 0 : POLLOUT)), 0}};
    int n = ::poll(p, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = ::recv(b, buf.data(), buf.size(), MSG_DONTWAIT);
      if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (r <= 0) break;  // the handler is done
      asio::write(s, asio::buffer(buf.data(), static_cast<size_t>(r)), ec);
      if (ec) return;  // the client is gone
    }
  }
  // close_notify, without waiting for the client's: the socket stays non-blocking so the connection's
  // own shutdown afterwards does not wait either.
  sock.non_blocking(true, ec);
  s.shutdown(ec);
}

template <class Stream>
class Request final : public ServerRequest {
 public:
  Request(Stream& s, beast::flat_buffer& buf, bhttp::request_parser<bhttp::buffer_body>& p, std::string remote)
      : stream_(s), buf_(buf), parser_(p) {
    auto& m = p.get();
    method_ = std::string(m.method_string());
    target_ = std::string(m.target());
    remote_ = std::move(remote);
    for (const auto& f : m) headers_.add(std::string(f.name_string()), std::string(f.value()));
    if (auto cl = p.content_length()) content_length_ = *cl;
    if (auto e = headers_.get("Expect"); e && iequals(*e, "100-continue")) need_continue_ = true;
  }

  Result<size_t> read_body(char* out, size_t n) override {
    if (failed_) return fail(Errc::Unavailable, "connection failed");
    if (n == 0) return size_t{0};
    while (!parser_.is_done()) {
      if (need_continue_) {
        need_continue_ = false;
        BERTH_TRY(write_raw(stream_, "HTTP/1.1 100 Continue\r\n\r\n"));
      }
      parser_.get().body().data = out;
      parser_.get().body().size = n;
      parser_.get().body().more = true;
      beast::error_code ec;
      bhttp::read_some(stream_, buf_, parser_, ec);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) {
        failed_ = true;
        return fail(Errc::Unavailable, "read request body: {}", ec.message());
      }
      size_t got = n - parser_.get().body().size;
      if (got > 0) return got;
    }
    return size_t{0};
  }

  // Discards any unread body; false if the connection is unusable.
  bool drain() {
    if (failed_) return false;
    if (parser_.is_done()) return true;
    if (need_continue_) return false;  // the client never got 100; closing is the clean answer
    char tmp[65536];
    for (;;) {
      auto r = read_body(tmp, sizeof tmp);
      if (!r) return false;
      if (*r == 0) return true;
    }
  }

 private:
  Stream& stream_;
  beast::flat_buffer& buf_;
  bhttp::request_parser<bhttp::buffer_body>& parser_;
  bool need_continue_ = false;
  bool failed_ = false;
};

template <class Stream>
class Response final : public ServerResponse {
 public:
  Response(Stream& s, bool head, bool keep_alive, beast::flat_buffer* buf = nullptr)
      : stream_(s), head_(head), keep_alive_(keep_alive), buf_(buf) {}

  Status begin_stream(int status, const Headers& headers) override {
    if (sent_) return fail(Errc::FailedPrecondition, "response already started");
    sent_ = true;
    streaming_ = true;
    return record(write_raw(stream_, header_block(status, headers, std::nullopt)));
  }

  Status write(std::string_view data) override {
    if (!streaming_) return fail(Errc::FailedPrecondition, "write() before begin_stream()");
    if (head_ || data.empty()) return ok();
    std::string chunk = fmt::format("{:x}\r\n", data.size());
    chunk.append(data);
    chunk.append("\r\n");
    return record(write_raw(stream_, chunk));
  }

  Status end_stream() override {
    if (!streaming_) return fail(Errc::FailedPrecondition, "end_stream() before begin_stream()");
    streaming_ = false;
    if (head_) return ok();
    return record(write_raw(stream_, "0\r\n\r\n"));
  }

  int peer_fd() const override { return beast::get_lowest_layer(stream_).native_handle(); }

  bool peer_gone() const override {
    pollfd p{};
    p.fd = beast::get_lowest_layer(stream_).native_handle();
    p.events = POLLRDHUP;
    if (::poll(&p, 1, 0) <= 0) return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
  }

  Result<Hijacked> hijack(int status, const Headers& headers) override {
    if (sent_) return fail(Errc::FailedPrecondition, "response already started");
    sent_ = true;
    close_ = true;  // the connection is never reused for HTTP afterwards
    std::string h = fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
    for (const auto& [k, v] : headers.items()) h += fmt::format("{}: {}\r\n", k, v);
    h += "\r\n";
    BERTH_TRY(record(write_raw(stream_, h)));
    Hijacked out;
    if (buf_) {
      auto d = buf_->data();
      out.buffered.assign(static_cast<const char*>(d.data()), d.size());
      buf_->consume(d.size());
    }
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      out.fd = stream_.native_handle();
    } else {
      // TLS: the handler gets one end of a socketpair; a pump thread moves bytes between the other end and
      // the TLS stream until the handler's side is done (see tls_pump).
      int sp[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
        failed_ = true;
        return fail_errno("socketpair");
      }
      hijack_fd_ = sp[0];
      out.fd = sp[0];
      pump_ = std::thread([this, b = sp[1]] {
        tls_pump(stream_, b);
        ::close(b);
      });
    }
    return out;
  }

  // After the handler returned: closes the handler's end of a TLS hijack and waits until the pump has
  // flushed everything to the client and sent close_notify.
  void finish_hijack() {
    if (hijack_fd_ >= 0) {
      ::close(hijack_fd_);
      hijack_fd_ = -1;
    }
    if (pump_.joinable()) pump_.join();
  }
  ~Response() override { finish_hijack(); }

  Status send(int status, const Headers& headers, std::string_view body,
              std::optional<uint64_t> head_length = std::nullopt) override {
    std::string h = header_block(status, headers, head_ && head_length ? *head_length : body.size());
    sent_ = true;
    if (!head_ && body.size() < 64 * 1024) {
      h.append(body);
      return record(write_raw(stream_, h));
    }
    BERTH_TRY(record(write_raw(stream_, h)));
    if (head_) return ok();
    return record(write_raw(stream_, body));
  }

  Status send_file(int status, const Headers& headers, int fd, uint64_t offset, uint64_t len) override {
    sent_ = true;
    BERTH_TRY(record(write_raw(stream_, header_block(status, headers, len))));
    if (head_) return ok();
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      off_t off = static_cast<off_t>(offset);
      uint64_t left = len;
      while (left > 0) {
        ssize_t w = ::sendfile(stream_.native_handle(), fd, &off, std::min<uint64_t>(left, 1 << 30));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          failed_ = true;
          return fail_errno("sendfile");
        }
        left -= static_cast<uint64_t>(w);
      }
      return ok();
    } else {
      std::vector<char> buf(256 * 1024);
      uint64_t left = len;
      off_t off = static_cast<off_t>(offset);
      while (left > 0) {
        ssize_t r = ::pread(fd, buf.data(), std::min<uint64_t>(left, buf.size()), off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
          failed_ = true;
          return fail(Errc::Internal, "read file body: short read");
        }
        BERTH_TRY(record(write_raw(stream_, std::string_view(buf.data(), static_cast<size_t>(r)))));
        left -= static_cast<uint64_t>(r);
        off += r;
      }
      return ok();
    }
  }

  bool sent() const override { return sent_; }
  bool failed() const { return failed_; }
  bool close_after() const { return close_; }
  bool streaming() const { return streaming_; }

 private:
  // length nullopt = chunked.
  std::string header_block(int status, const Headers& headers, std::optional<uint64_t> length) {
    std::string h = fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
    for (const auto& [k, v] : headers.items()) {
      if (iequals(k, "Content-Length") || iequals(k, "Transfer-Encoding")) continue;
      if (iequals(k, "Connection") && iequals(v, "close")) close_ = true;
      h += fmt::format("{}: {}\r\n", k, v);
    }
    if (length)
      h += fmt::format("Content-Length: {}\r\n", *length);
    else
      h += "Transfer-Encoding: chunked\r\n";
    if (!keep_alive_) h += "Connection: close\r\n";
    h += "\r\n";
    return h;
  }
  Status record(Status s) {
    if (!s) failed_ = true;
    return s;
  }

  Stream& stream_;
  bool head_;
  bool keep_alive_;
  beast::flat_buffer* buf_;
  int hijack_fd_ = -1;
  std::thread pump_;
  bool streaming_ = false;
  bool sent_ = false;
  bool failed_ = false;
  bool close_ = false;
};

template <class Stream>
void serve_connection(Stream& stream, const Handler& handler, const std::string& remote, Conn& conn, Shared& sh) {
  // Beast sizes each socket read by the buffer's free capacity (min 512 bytes): without a reserve, bodies
  // arrive ~1 KiB per recv() and uploads crawl at ~40 MB/s.
  beast::flat_buffer buf;
  buf.reserve(kReadBuffer);
  int fd = beast::get_lowest_layer(stream).native_handle();
  for (;;) {
    // Idle (no request in progress): wait for the first byte of the next request, then for the whole header.
    // Over TLS the socket's readiness says nothing about bytes the TLS layer has already taken in, so there
    // the idle deadline covers the whole header.
    if (!sh.arm(conn, sh.idle)) return;
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      if (buf.size() == 0) {
        pollfd p{fd, POLLIN, 0};
        while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
        }
      }
      if (!sh.arm(conn, sh.header)) return;  // idle too long: closed without a word, as keep-alive allows
    }
    bhttp::request_parser<bhttp::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // boost 1.74 mis-compares boost::none
    parser.header_limit(kHeaderLimit);
    beast::error_code ec;
    bhttp::read_header(stream, buf, parser, ec);
    bool fired = !sh.arm(conn, std::chrono::milliseconds(0));
    // Beast checks its header limit only while the header is incomplete: one read holding a whole oversized
    // header passes it, so the size is checked again here.
    if (!ec && header_bytes(parser) > kHeaderLimit) ec = bhttp::error::header_limit;
    if (fired || ec) {
      if (fired) {
        if (parser.got_some())
          (void)write_raw(stream, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      if (ec == bhttp::error::header_limit) {
        std::string msg = fmt::format("request header exceeds {} bytes\n", kHeaderLimit);
        (void)write_raw(stream, fmt::format("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: "
                                            "text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                                            msg.size(), msg));
        return;
      }
      if (ec != bhttp::error::end_of_stream && ec != asio::error::eof && ec != asio::error::connection_reset &&
          ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor && ec != asio::error::shut_down)
        log::debug("http server: {}: read request: {}", remote, ec.message());
      if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() && ec != bhttp::error::end_of_stream)
        (void)write_raw(stream, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    sh.activity.fetch_add(1);
    bool keep_alive = parser.get().keep_alive();
    bool head = parser.get().method() == bhttp::verb::head;
    Request<Stream> req(stream, buf, parser, remote);
    Response<Stream> resp(stream, head, keep_alive, &buf);
    handler(req, resp);
    resp.finish_hijack();
    if (!resp.sent()) (void)resp.send(500, Headers{}, "");
    if (resp.streaming() && !resp.failed()) (void)resp.end_stream();
    sh.touch();
    if (resp.failed() || resp.close_after() || !keep_alive) return;
    if (!req.drain()) return;
  }
}

class ServerImpl final : public Server {
 public:
  ServerImpl(Handler h) : handler_(std::move(h)), acceptor_(io_) {}
  ~ServerImpl() override { stop(); }

  Status init(const ServerOptions& o) {
    if (o.addr.starts_with("unix://")) {
      BERTH_TRY(listen_unix(o.addr.substr(7), o.unix_mode));
    } else {
      BERTH_TRY(listen_tcp(o));
    }
    if (!o.tls_cert.empty() || !o.tls_key.empty()) {
      tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
      tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      beast::error_code ec;
      tls_->use_certificate_chain_file(o.tls_cert, ec);
      if (ec) return fail(Errc::InvalidArgument, "TLS certificate `{}`: {}", o.tls_cert, ec.message());
      tls_->use_private_key_file(o.tls_key, asio::ssl::context::pem, ec);
      if (ec) return fail(Errc::InvalidArgument, "TLS key `{}`: {}", o.tls_key, ec.message());
      if (!o.tls_client_ca.empty()) {
        tls_->load_verify_file(o.tls_client_ca, ec);
        if (ec) return fail(Errc::InvalidArgument, "TLS client CA `{}`: {}", o.tls_client_ca, ec.message());
        tls_->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
      }
    } else if (!o.tls_client_ca.empty()) {
      return fail(Errc::InvalidArgument, "a TLS client CA needs a server certificate and key");
    }
    sh_.idle = o.idle_timeout;
    sh_.header = o.header_timeout;
    on_quiet_ = o.on_quiet;
    sh_.has_quiet = static_cast<bool>(on_quiet_);
    quiet_after_ = o.quiet_after;
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) < 0) return fail_errno("pipe2");
    sh_.wake_fd = wake_[1];
    if (unix_fd_ < 0) {
      beast::error_code ec;
      acceptor_.non_blocking(true, ec);
      if (ec) return fail(Errc::Internal, "listener: {}", ec.message());
    }
    accept_thread_ = std::thread([this] { accept_loop(); });
    return ok();
  }

  Status listen_unix(const std::string& path, unsigned mode) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof sa.sun_path)
      return fail(Errc::InvalidArgument, "unix socket path `{}`: empty or too long", path);
    std::memcpy(sa.sun_path, path.data(), path.size());
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) return fail(Errc::AlreadyExists, "`{}` exists and is not a socket", path);
      // A socket someone still accepts on belongs to a live server: never take it over.
      int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (probe < 0) return fail_errno("socket(AF_UNIX)");
      bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
      ::close(probe);
      if (live) return fail(Errc::AlreadyExists, "`{}` is in use by a running server", path);
      ::unlink(path.c_str());  // a stale socket from a previous run
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail_errno("socket(AF_UNIX)");
    unix_fd_ = fd;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return fail_errno("bind {}", path);
    unix_path_ = path;
    if (::chmod(path.c_str(), mode) < 0) return fail_errno("chmod {}", path);
    if (::listen(fd, SOMAXCONN) < 0) return fail_errno("listen {}", path);
    return ok();
  }

  Status listen_tcp(const ServerOptions& o) {
    std::string host = o.addr;
    std::string port = "0";
    if (auto c = o.addr.rfind(':'); c != std::string::npos) {
      host = o.addr.substr(0, c);
      port = o.addr.substr(c + 1);
    }
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    if (host.empty()) host = "0.0.0.0";
    beast::error_code ec;
    auto addr = asio::ip::make_address(host, ec);
    if (ec) return fail(Errc::InvalidArgument, "listen address `{}`: {}", o.addr, ec.message());
    int portn = 0;
    try {
      portn = std::stoi(port);
    } catch (...) {
      return fail(Errc::InvalidArgument, "listen address `{}`: bad port", o.addr);
    }
    if (portn < 0 || portn > 65535) return fail(Errc::InvalidArgument, "listen address `{}`: bad port", o.addr);
    tcp::endpoint ep(addr, static_cast<uint16_t>(portn));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail(Errc::Unavailable, "listen on `{}`: {}", o.addr, ec.message());
    port_ = acceptor_.local_endpoint().port();
    return ok();
  }

  uint16_t port() const override { return port_; }

  void stop() override {
    {
      std::lock_guard lk(mu_);
      if (stopped_) return;
      stopped_ = true;
      if (wake_[1] >= 0) (void)!::write(wake_[1], "x", 1);
      ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
      for (auto& c : conns_)
        if (c.fd >= 0) ::shutdown(c.fd, SHUT_RDWR);
    }
    cv_.notify_all();
    if (accept_thread_.joinable()) accept_thread_.join();
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return active_ == 0; });
    }
    beast::error_code ec;
    acceptor_.close(ec);
    if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
    for (int* fd : {&unix_fd_, &wake_[0], &wake_[1]})
      if (*fd >= 0) {
        ::close(*fd);
        *fd = -1;
      }
  }

  void wait() override {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return stopped_; });
  }

 private:
  // The acceptor thread also enforces the connections' deadlines and calls the quiet hook: it sleeps in poll()
  // until a connection arrives, the nearest deadline passes, the quiet time is up, or the wake pipe is written.
  void accept_loop() {
    int lfd = unix_fd_ >= 0 ? unix_fd_ : acceptor_.native_handle();
    uint64_t seen = sh_.activity.load();
    int64_t changed = now_ms();
    for (;;) {
      sh_.next_wake.store(INT64_MAX);
      int64_t now = now_ms();
      int64_t timeout = -1;
      auto sooner = [&](int64_t ms) { timeout = timeout < 0 ? ms : std::min(timeout, ms); };
      {
        std::lock_guard lk(mu_);
        if (stopped_) return;
        for (auto& c : conns_) {
          int64_t d = c.deadline.load();
          if (d <= 0 || c.fd < 0) continue;
          if (d > now)
            sooner(d - now);
          else if (c.deadline.compare_exchange_strong(d, kFired))
            ::shutdown(c.fd, SHUT_RD);  // the connection thread wakes up and closes
        }
      }
      if (sh_.quiet_armed.load()) {
        if (uint64_t a = sh_.activity.load(); a != seen) {
          seen = a;
          changed = now;
        }
        if (now - changed >= quiet_after_.count()) {
          sh_.quiet_armed.store(false);
          // A request that finished since `seen` was read may have found the hook still armed and not woken us.
          if (sh_.activity.load() != seen) {
            sh_.quiet_armed.store(true);
            seen = sh_.activity.load();
            changed = now;
            sooner(quiet_after_.count());
          } else {
            on_quiet_();
          }
        } else {
          sooner(changed + quiet_after_.count() - now);
        }
      }
      if (timeout >= 0) sh_.next_wake.store(now + timeout);
      pollfd p[2] = {{lfd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      int n = ::poll(p, 2, static_cast<int>(timeout));
      if (n < 0 && errno != EINTR) return;
      if (n <= 0) continue;
      if (p[1].revents & POLLIN) {
        char b[64];
        while (::read(wake_[0], b, sizeof b) > 0) {
        }
      }
      if (p[0].revents & POLLIN) accept_one();
    }
  }

  void accept_one() {
    tcp::socket sock(io_);
    if (unix_fd_ >= 0) {
      int fd = ::accept4(unix_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          log::warn("http server: accept: {}", std::strerror(errno));
          std::this_thread::yield();
        }
        return;
      }
      // Beast only needs a stream socket: the unix connection rides in a tcp::socket object (no TCP
      // options are ever set on it).
      beast::error_code ec;
      sock.assign(tcp::v4(), fd, ec);
      if (ec) {
        ::close(fd);
        return;
      }
    } else {
      beast::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec) {
        if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
          log::warn("http server: accept: {}", ec.message());
          std::this_thread::yield();
        }
        return;
      }
      sock.non_blocking(false, ec);
      sock.set_option(tcp::no_delay(true), ec);
    }
    std::lock_guard lk(mu_);
    if (stopped_) return;
    Conn& c = conns_.emplace_back();
    c.fd = sock.native_handle();
    ++active_;
    std::thread([this, s = std::move(sock), &c]() mutable { run_connection(std::move(s), c); }).detach();
  }

  void run_connection(tcp::socket sock, Conn& conn) {
    {
      beast::error_code ec;
      auto ep = sock.remote_endpoint(ec);
      std::string remote = unix_fd_ >= 0 ? "unix" : ec ? "?" : fmt::format("{}:{}", ep.address().to_string(), ep.port());
      if (tls_) {
        asio::ssl::stream<tcp::socket> ss(std::move(sock), *tls_);
        if (sh_.arm(conn, sh_.header)) ss.handshake(asio::ssl::stream_base::server, ec);
        if (!ec && sh_.arm(conn, std::chrono::milliseconds(0))) {
          serve_connection(ss, handler_, remote, conn, sh_);
          // close_notify, without waiting for the client's (linger_close reads whatever it still sends).
          ss.next_layer().non_blocking(true, ec);
          ss.shutdown(ec);
        } else {
          log::debug("http server: {}: TLS handshake: {}", remote, ec ? ec.message() : "timed out");
        }
        close_socket(conn, ss.next_layer());
      } else {
        serve_connection(sock, handler_, remote, conn, sh_);
        close_socket(conn, sock);
      }
    }
    // Notify under the lock: once it is released, stop() may destroy *this.
    std::lock_guard lk(mu_);
    for (auto it = conns_.begin(); it != conns_.end(); ++it)
      if (&*it == &conn) {
        conns_.erase(it);
        break;
      }
    --active_;
    cv_.notify_all();
  }

  void close_socket(Conn& conn, tcp::socket& sock) {
    linger_close(conn.fd);
    std::lock_guard lk(mu_);
    conn.fd = -1;  // under the lock: neither the acceptor nor stop() may touch the number once it is reused
    beast::error_code ec;
    sock.close(ec);
  }

  Handler handler_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::unique_ptr<asio::ssl::context> tls_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::list<Conn> conns_;  // one per connection thread; guarded by mu_
  size_t active_ = 0;
  Shared sh_;
  std::function<void()> on_quiet_;
  std::chrono::milliseconds quiet_after_{1000};
  int unix_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::string unix_path_;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::start(const ServerOptions& opts, Handler handler) {
  auto s = std::make_unique<ServerImpl>(std::move(handler));
  BERTH_TRY(s->init(opts));
  return std::unique_ptr<Server>(std::move(s));
}

}  // namespace berth::net::http
