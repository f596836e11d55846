// The only client translation unit that includes Beast/Asio.
#include "net/http/client.h"

#include <openssl/ssl.h>
#include <poll.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fcntl.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <set>
#include <thread>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <vector>

namespace berth::net::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kMaxIdlePerOrigin = 8;

struct Conn {
  std::string origin;
  std::unique_ptr<tcp::socket> plain;
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls;
  beast::flat_buffer buf;
  int fd() { return plain ? plain->native_handle() : tls->next_layer().native_handle(); }
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A socket under a deadline: the client's watchdog shuts it down (so a blocked read or write returns) when the
// deadline passes; bump() moves the deadline on after progress.
struct Watch {
  int fd = -1;
  int64_t period_ms = 0;
  std::atomic<int64_t> deadline{0};
  std::atomic<bool> fired{false};
  void bump() {
    if (period_ms > 0) deadline = now_ms() + period_ms;
  }
};

// An idle keep-alive connection that is readable has been closed (or sent garbage) by the peer.
bool still_open(Conn& c) {
  if (c.buf.size() > 0) return false;
  pollfd p{c.fd(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

template <class Stream>
Status write_all(Stream& s, std::string_view data, Watch* w = nullptr) {
  beast::error_code ec;
  asio::write(s, asio::buffer(data.data(), data.size()), ec);
  if (ec) return fail(Errc::Unavailable, "send request: {}", ec.message());
  if (w) w->bump();
  return ok();
}

struct Outcome {
  ClientResponse resp;
  bool reusable = false;
  bool sent_nothing = false;  // failed before any response byte arrived (safe to retry idempotent requests)
};

template <class Stream>
Result<Outcome> exchange(Stream& s, Conn& c, const ClientRequest& req, const Url& url, const BodySink& sink,
                         size_t max_body, Watch* w) {
  Outcome out;
  out.resp.final_url = url;
  bool has_body = req.body_reader || !req.body.empty() || req.method == "POST" || req.method == "PUT" ||
                  req.method == "PATCH";
  uint64_t len = req.body_reader ? req.body_length : req.body.size();
  std::string head = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\n", req.method, url.target, url.host_header());
  bool ua = false;
  for (const auto& [k, v] : req.headers.items()) {
    if (iequals(k, "Host") || iequals(k, "Content-Length")) continue;
    if (iequals(k, "User-Agent")) ua = true;
    head += fmt::format("{}: {}\r\n", k, v);
  }
  if (!ua) head += "User-Agent: berth/0.1\r\n";
  if (has_body) head += fmt::format("Content-Length: {}\r\n", len);
  head += "\r\n";
  if (!req.body_reader && req.body.size() < 64 * 1024) {
    head += req.body;
    if (auto st = write_all(s, head); !st) {
      out.sent_nothing = true;
      return out;
    }
  } else {
    if (auto st = write_all(s, head); !st) {
      out.sent_nothing = true;
      return out;
    }
    if (req.body_reader) {
      std::vector<char> buf(256 * 1024);
      uint64_t sent = 0;
      for (;;) {
        size_t n = BERTH_TRY(req.body_reader(buf.data(), buf.size()));
        if (n == 0) break;
        sent += n;
        if (sent > len) return fail(Errc::Internal, "request body longer than its Content-Length {}", len);
        BERTH_TRY(write_all(s, std::string_view(buf.data(), n), w));
      }
      if (sent != len) return fail(Errc::Internal, "request body of {} bytes, Content-Length {}", sent, len);
    } else {
      BERTH_TRY(write_all(s, req.body));
    }
  }

  bhttp::response_parser<bhttp::buffer_body> p;
  p.body_limit(std::numeric_limits<std::uint64_t>::max());  // boost 1.74 mis-compares boost::none
  if (req.method == "HEAD") p.skip(true);
  beast::error_code ec;
  bhttp::read_header(s, c.buf, p, ec);
  if (ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset) {
      out.sent_nothing = true;
      return out;
    }
    return fail(Errc::Unavailable, "read response from {}: {}", url.origin(), ec.message());
  }
  auto& m = p.get();
  out.resp.status = static_cast<int>(m.result_int());
  for (const auto& f : m) out.resp.headers.add(std::string(f.name_string()), std::string(f.value()));
  bool stream = sink && out.resp.status / 100 == 2;
  bool redirect = out.resp.status / 100 == 3 && out.resp.headers.has("Location");
  if (req.on_headers && !redirect) BERTH_TRY(req.on_headers(out.resp.status, out.resp.headers));
  std::vector<char> buf(256 * 1024);
  while (!p.is_done()) {
    m.body().data = buf.data();
    m.body().size = buf.size();
    bhttp::read_some(s, c.buf, p, ec);
    if (w) w->bump();
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) return fail(Errc::Unavailable, "read response body from {}: {}", url.origin(), ec.message());
    size_t got = buf.size() - m.body().size;
    if (got == 0) continue;
    std::string_view chunk(buf.data(), got);
    if (stream) {
      BERTH_TRY(sink(chunk));
    } else {
      if (out.resp.body.size() + got > max_body)
        return fail(Errc::InvalidArgument, "response body from {} exceeds {} bytes", url.str(), max_body);
      out.resp.body.append(chunk);
    }
  }
  out.reusable = m.keep_alive();
  return out;
}

class ClientImpl final : public Client {
 public:
  explicit ClientImpl(ClientOptions o) : opts_(std::move(o)), tls_(asio::ssl::context::tls_client) {
    tls_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3);
    beast::error_code ec;
    tls_.set_default_verify_paths(ec);
    if (!opts_.ca_file.empty()) tls_.load_verify_file(opts_.ca_file, ec);
    tls_.set_verify_mode(opts_.tls_verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
  }

  ~ClientImpl() override {
    {
      std::lock_guard lk(wmu_);
      wstop_ = true;
    }
    wcv_.notify_all();
    if (wthread_.joinable()) wthread_.join();
  }

  Result<ClientResponse> send(const ClientRequest& req, const BodySink& sink) override {
    Url url = req.url;
    ClientRequest cur = req;
    for (int hop = 0;; ++hop) {
      auto r = send_once(cur, url, sink);
      if (!r) return fail(std::move(r).error().wrap(fmt::format("{} {}", cur.method, url.str())));
      int st = r->status;
      bool redirect = st == 301 || st == 302 || st == 303 || st == 307 || st == 308;
      auto loc = r->headers.get("Location");
      if (!redirect || !loc || (cur.method != "GET" && cur.method != "HEAD") || hop >= cur.max_redirects) return r;
      Url next = BERTH_TRY(resolve_url(url, *loc));
      if (next.origin() != url.origin()) cur.headers.remove("Authorization");
      url = next;
    }
  }

 private:
  Result<std::unique_ptr<Conn>> connect(const Url& url) {
    auto c = std::make_unique<Conn>();
    c->origin = url.origin();
    c->buf.reserve(256 * 1024);  // Beast reads at most the free capacity per recv(); see server.cc
    beast::error_code ec;
    if (!opts_.unix_socket.empty()) {
      // Plain HTTP over a unix socket (the Engine API); the stream rides in a tcp::socket object.
      if (url.scheme != "http") return fail(Errc::InvalidArgument, "unix socket transport is plain http only");
      sockaddr_un sa{};
      sa.sun_family = AF_UNIX;
      if (opts_.unix_socket.size() >= sizeof sa.sun_path)
        return fail(Errc::InvalidArgument, "unix socket path `{}` too long", opts_.unix_socket);
      std::memcpy(sa.sun_path, opts_.unix_socket.data(), opts_.unix_socket.size());
      int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return fail_errno("socket(AF_UNIX)");
      if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
        auto e = fail_errno("connect to {}", opts_.unix_socket);
        ::close(fd);
        return fail(Errc::Unavailable, "{}", e.value().message());
      }
      tcp::socket us(io_);
      us.assign(tcp::v4(), fd, ec);
      if (ec) {
        ::close(fd);
        return fail(Errc::Internal, "adopt unix socket: {}", ec.message());
      }
      c->plain = std::make_unique<tcp::socket>(std::move(us));
      return c;
    }
    tcp::resolver resolver(io_);
    auto eps = resolver.resolve(url.host, std::to_string(url.port), ec);
    if (ec) return fail(Errc::Unavailable, "resolve `{}`: {}", url.host, ec.message());
    tcp::socket sock(io_);
    if (opts_.connect_timeout_ms > 0) {
      BERTH_TRY(connect_with_timeout(sock, eps, url));
    } else {
      asio::connect(sock, eps, ec);
      if (ec) return fail(Errc::Unavailable, "connect to {}: {}", url.host_header(), ec.message());
    }
    sock.set_option(tcp::no_delay(true), ec);
    if (url.scheme == "https") {
      c->tls = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(sock), tls_);
      if (!SSL_set_tlsext_host_name(c->tls->native_handle(), url.host.c_str()))
        return fail(Errc::Internal, "TLS: set SNI for `{}`", url.host);
      if (opts_.tls_verify) c->tls->set_verify_callback(asio::ssl::host_name_verification(url.host));
      Watch w;
      w.fd = c->fd();
      w.period_ms = opts_.connect_timeout_ms;
      WatchGuard g(*this, w);
      c->tls->handshake(asio::ssl::stream_base::client, ec);
      if (w.fired) return fail(Errc::Unavailable, "TLS handshake with {}: timed out", url.host_header());
      if (ec) return fail(Errc::Unavailable, "TLS handshake with {}: {}", url.host_header(), ec.message());
    } else {
      c->plain = std::make_unique<tcp::socket>(std::move(sock));
    }
    return c;
  }

  // TCP connect to the first endpoint that answers within connect_timeout_ms each.
  Status connect_with_timeout(tcp::socket& sock, const tcp::resolver::results_type& eps, const Url& url) {
    std::string last = "no address";
    for (const auto& e : eps) {
      const auto& ep = e.endpoint();
      int fd = ::socket(ep.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) return fail_errno("socket");
      int r = ::connect(fd, ep.data(), static_cast<socklen_t>(ep.size()));
      if (r < 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int pr;
        do pr = ::poll(&p, 1, opts_.connect_timeout_ms);
        while (pr < 0 && errno == EINTR);
        int err = 0;
        socklen_t len = sizeof err;
        if (pr == 0) err = ETIMEDOUT;
        else if (pr < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        r = err ? -1 : 0;
        errno = err;
      }
      if (r < 0) {
        last = std::strerror(errno);
        ::close(fd);
        continue;
      }
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      beast::error_code ec;
      sock.assign(ep.protocol(), fd, ec);
      if (ec) {
        ::close(fd);
        return fail(Errc::Internal, "adopt socket: {}", ec.message());
      }
      return ok();
    }
    return fail(Errc::Unavailable, "connect to {}: {}", url.host_header(), last);
  }

  struct WatchGuard {
    ClientImpl& c;
    Watch& w;
    WatchGuard(ClientImpl& ci, Watch& wi) : c(ci), w(wi) {
      if (w.period_ms <= 0) return;
      w.bump();
      std::lock_guard lk(c.wmu_);
      c.watches_.insert(&w);
      if (!c.wthread_.joinable()) c.wthread_ = std::thread([&cl = c] { cl.watch_loop(); });
    }
    ~WatchGuard() {
      if (w.period_ms <= 0) return;
      std::lock_guard lk(c.wmu_);
      c.watches_.erase(&w);
    }
  };

  void watch_loop() {
    std::unique_lock lk(wmu_);
    while (!wstop_) {
      wcv_.wait_for(lk, std::chrono::milliseconds(50));
      int64_t now = now_ms();
      for (auto* w : watches_)
        if (!w->fired && now > w->deadline) {
          w->fired = true;
          ::shutdown(w->fd, SHUT_RDWR);  // the blocked read or write returns
        }
    }
  }

  std::unique_ptr<Conn> take_idle(const std::string& origin) {
    std::lock_guard lk(mu_);
    auto& v = idle_[origin];
    while (!v.empty()) {
      auto c = std::move(v.back());
      v.pop_back();
      if (still_open(*c)) return c;
    }
    return nullptr;
  }

  void put_idle(std::unique_ptr<Conn> c) {
    std::lock_guard lk(mu_);
    auto& v = idle_[c->origin];
    if (v.size() < kMaxIdlePerOrigin) v.push_back(std::move(c));
  }

  Result<ClientResponse> send_once(const ClientRequest& req, const Url& url, const BodySink& sink) {
    // A pooled connection may have been closed by the server between our poll and our write; retry once
    // on a fresh connection when nothing came back (streamed bodies cannot be replayed, so they never reuse).
    bool can_replay = !req.body_reader;
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<Conn> c = (can_replay && attempt == 0) ? take_idle(url.origin()) : nullptr;
      bool pooled = c != nullptr;
      if (!c) c = BERTH_TRY(connect(url));
      Watch w;
      w.fd = c->fd();
      w.period_ms = opts_.unix_socket.empty() ? opts_.io_timeout_ms : 0;
      WatchGuard g(*this, w);
      Result<Outcome> r = c->plain ? exchange(*c->plain, *c, req, url, sink, opts_.max_buffered_body, &w)
                                   : exchange(*c->tls, *c, req, url, sink, opts_.max_buffered_body, &w);
      if (w.fired)
        return fail(Errc::Unavailable, "{}: no progress for {} ms (I/O timeout)", url.host_header(), w.period_ms);
      if (!r) return fail(std::move(r).error());
      if (r->sent_nothing) {
        if (pooled) continue;
        return fail(Errc::Unavailable, "connection to {} closed before a response", url.host_header());
      }
      if (r->reusable) put_idle(std::move(c));
      return std::move(r->resp);
    }
    return fail(Errc::Unavailable, "connection to {} closed before a response", url.host_header());
  }

  ClientOptions opts_;
  asio::io_context io_;
  asio::ssl::context tls_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Conn>>> idle_;
  std::mutex wmu_;
  std::condition_variable wcv_;
  std::set<Watch*> watches_;
  std::thread wthread_;
  bool wstop_ = false;
};

}  // namespace

std::unique_ptr<Client> Client::make(ClientOptions opts) { return std::make_unique<ClientImpl>(std::move(opts)); }

}  // namespace berth::net::http
