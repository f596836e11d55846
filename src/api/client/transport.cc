#include "api/client/transport.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace berth::api::client {

namespace {
constexpr size_t kMaxHead = 1 << 20;
}

std::string Endpoint::str() const {
  return unix_path.empty() ? fmt::format("tcp://{}:{}", tcp_host, tcp_port) : "unix://" + unix_path;
}

Result<Endpoint> parse_endpoint(std::string_view host) {
  Endpoint ep;
  if (host.starts_with("unix://")) {
    ep.unix_path = host.substr(7);
  } else if (host.starts_with("/")) {
    ep.unix_path = host;
  } else if (host.starts_with("tcp://") || host.starts_with("http://")) {
    auto rest = host.substr(host.find("://") + 3);
    if (auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return fail(Errc::InvalidArgument, "-H {}: a tcp host needs a port", host);
    ep.tcp_host = rest.substr(0, colon);
    if (ep.tcp_host.starts_with("[") && ep.tcp_host.ends_with("]")) ep.tcp_host = ep.tcp_host.substr(1, ep.tcp_host.size() - 2);
    unsigned port = 0;
    auto p = rest.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc() || ptr != p.data() + p.size() || port == 0 || port > 65535)
      return fail(Errc::InvalidArgument, "-H {}: bad port", host);
    ep.tcp_port = static_cast<uint16_t>(port);
  } else {
    return fail(Errc::InvalidArgument, "-H {}: expected unix:///path or tcp://host:port", host);
  }
  if (!ep.unix_path.empty() && ep.unix_path.size() >= sizeof(sockaddr_un{}.sun_path))
    return fail(Errc::InvalidArgument, "unix socket path `{}` too long", ep.unix_path);
  return ep;
}

Result<UniqueFd> dial(const Endpoint& ep) {
  if (!ep.unix_path.empty()) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno("socket(AF_UNIX)");
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, ep.unix_path.data(), ep.unix_path.size());
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
      int e = errno;
      return fail(Errc::Unavailable, "Cannot connect to the berth daemon at {}: {} (is the daemon running?)",
                  ep.str(), std::strerror(e));
    }
    return fd;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(ep.tcp_host.c_str(), std::to_string(ep.tcp_port).c_str(), &hints, &res);
  if (rc != 0) return fail(Errc::Unavailable, "resolve `{}`: {}", ep.tcp_host, gai_strerror(rc));
  int last = ECONNREFUSED;
  for (auto* ai = res; ai; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) continue;
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
      int one = 1;
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::freeaddrinfo(res);
      return fd;
    }
    last = errno;
  }
  ::freeaddrinfo(res);
  return fail(Errc::Unavailable, "Cannot connect to the berth daemon at {}: {} (is the daemon running?)", ep.str(),
              std::strerror(last));
}

Status write_all_fd(int fd, std::string_view data) {
  struct stat st {};
  bool sock = ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
  while (!data.empty()) {
    ssize_t n = sock ? ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) : ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

struct TlsSession {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  ~TlsSession() {
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    if (ctx) SSL_CTX_free(ctx);
  }
};

namespace {
std::string ssl_error() {
  unsigned long e = ERR_get_error();
  if (!e) return "the daemon closed the connection (was the client certificate refused?)";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}
}  // namespace

HttpConn::~HttpConn() { delete tls_; }

Status HttpConn::start_tls(const TlsOptions& o, const std::string& host) {
  auto* t = new TlsSession;
  tls_ = t;
  t->ctx = SSL_CTX_new(TLS_client_method());
  if (!t->ctx) return fail(Errc::Internal, "TLS: {}", ssl_error());
  SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
  if (o.verify) {
    int ok = o.ca_file.empty() ? SSL_CTX_set_default_verify_paths(t->ctx)
                               : SSL_CTX_load_verify_locations(t->ctx, o.ca_file.c_str(), nullptr);
    if (ok != 1) return fail(Errc::InvalidArgument, "TLS: load CA {}: {}", o.ca_file, ssl_error());
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (!o.cert_file.empty() || !o.key_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(t->ctx, o.cert_file.c_str()) != 1)
      return fail(Errc::InvalidArgument, "TLS: load certificate {}: {}", o.cert_file, ssl_error());
    if (SSL_CTX_use_PrivateKey_file(t->ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return fail(Errc::InvalidArgument, "TLS: load key {}: {}", o.key_file, ssl_error());
  }
  t->ssl = SSL_new(t->ctx);
  if (!t->ssl) return fail(Errc::Internal, "TLS: {}", ssl_error());
  SSL_set_fd(t->ssl, fd_.get());
  SSL_set_tlsext_host_name(t->ssl, host.c_str());
  if (o.verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(t->ssl);
    if (!X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())) X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  if (SSL_connect(t->ssl) != 1) return fail(Errc::Unavailable, "TLS handshake with {}: {}", host, ssl_error());
  return ok();
}

Status HttpConn::write(std::string_view data) {
  if (!tls_) return write_all_fd(fd_.get(), data);
  while (!data.empty()) {
    int n = SSL_write(tls_->ssl, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 30)));
    if (n <= 0) return fail(Errc::Unavailable, "TLS write: {}", ssl_error());
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

Result<size_t> HttpConn::recv(char* buf, size_t n) {
  for (;;) {
    if (tls_) {
      int r = SSL_read(tls_->ssl, buf, static_cast<int>(std::min<size_t>(n, 1 << 30)));
      if (r > 0) return static_cast<size_t>(r);
      int e = SSL_get_error(tls_->ssl, r);
      if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) return size_t{0};
      return fail(Errc::Unavailable, "TLS read: {}", ssl_error());
    }
    ssize_t r = ::read(fd_.get(), buf, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      if (errno == ECONNRESET) return size_t{0};
      return fail_errno("read from daemon");
    }
    return static_cast<size_t>(r);
  }
}

bool HttpConn::has_pending() const { return tls_ && SSL_pending(tls_->ssl) > 0; }

void HttpConn::close_write() {
  if (tls_) SSL_shutdown(tls_->ssl);  // sends close_notify; reading continues
  ::shutdown(fd_.get(), SHUT_WR);
}

Result<std::unique_ptr<HttpConn>> open_conn(const Endpoint& ep) {
  auto c = std::make_unique<HttpConn>(BERTH_TRY(dial(ep)));
  if (ep.tls.enabled) {
    if (!ep.unix_path.empty()) return fail(Errc::InvalidArgument, "TLS is for tcp:// hosts only");
    BERTH_TRY(c->start_tls(ep.tls, ep.tcp_host));
  }
  return c;
}

Status HttpConn::send(const HttpRequest& req) {
  std::string head = fmt::format("{} {} HTTP/1.1\r\nHost: api.moby.localhost\r\n", req.method, req.target);
  bool ua = false;
  for (const auto& [k, v] : req.headers.items()) {
    if (net::http::iequals(k, "User-Agent")) ua = true;
    head += fmt::format("{}: {}\r\n", k, v);
  }
  if (!ua) head += "User-Agent: berth-cli/0.1 (linux)\r\n";
  if (req.chunked_reader) {
    head += "Transfer-Encoding: chunked\r\n\r\n";
    BERTH_TRY(write(head));
    std::string buf(256 * 1024, '\0');
    for (;;) {
      size_t n = BERTH_TRY(req.chunked_reader(buf.data(), buf.size()));
      if (n == 0) break;
      BERTH_TRY(write(fmt::format("{:x}\r\n", n)));
      BERTH_TRY(write(std::string_view(buf.data(), n)));
      BERTH_TRY(write("\r\n"));
    }
    return write("0\r\n\r\n");
  }
  if (!req.body.empty() || req.send_length) head += fmt::format("Content-Length: {}\r\n", req.body.size());
  head += "\r\n";
  head += req.body;
  return write(head);
}

Result<size_t> HttpConn::fill() {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 64 * 1024) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  char tmp[64 * 1024];
  for (;;) {
    ssize_t n;
    if (tls_) {
      int r = SSL_read(tls_->ssl, tmp, sizeof tmp);
      if (r <= 0) {
        int e = SSL_get_error(tls_->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) return size_t{0};
        return fail(Errc::Unavailable, "TLS read: {}", ssl_error());
      }
      n = r;
    } else {
      n = ::read(fd_.get(), tmp, sizeof tmp);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read from daemon");
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return static_cast<size_t>(n);
  }
}

Result<std::string> HttpConn::read_line() {
  for (;;) {
    auto nl = buf_.find("\r\n", pos_);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(pos_, nl - pos_);
      pos_ = nl + 2;
      return line;
    }
    if (buf_.size() - pos_ > kMaxHead) return fail(Errc::InvalidArgument, "daemon sent an overlong line");
    if (BERTH_TRY(fill()) == 0) return fail(Errc::Unavailable, "daemon closed the connection");
  }
}

Result<ResponseHead> HttpConn::read_head(bool head_request) {
  ResponseHead h;
  for (;;) {
    auto line = BERTH_TRY(read_line());
    // "HTTP/1.1 200 OK"
    if (!line.starts_with("HTTP/1.")) return fail(Errc::InvalidArgument, "daemon sent a bad status line `{}`", line);
    auto sp = line.find(' ');
    if (sp == std::string::npos || line.size() < sp + 4) return fail(Errc::InvalidArgument, "bad status line `{}`", line);
    h.status = std::atoi(line.c_str() + sp + 1);
    h.reason = line.size() > sp + 5 ? line.substr(sp + 5) : "";
    for (;;) {
      auto hl = BERTH_TRY(read_line());
      if (hl.empty()) break;
      auto colon = hl.find(':');
      if (colon == std::string::npos) continue;
      std::string v = hl.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(0, 1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
      h.headers.add(hl.substr(0, colon), v);
    }
    if (h.status >= 100 && h.status < 200 && h.status != 101) {
      h = ResponseHead{};
      continue;  // 100 Continue and friends
    }
    break;
  }
  auto conn = h.headers.get("Connection");
  keep_alive_ = !(conn && net::http::iequals(*conn, "close"));
  chunked_ = false;
  until_eof_ = false;
  in_chunk_ = false;
  remaining_ = 0;
  body_done_ = false;
  if (head_request || h.status == 204 || h.status == 304 || h.status == 101) {
    body_done_ = true;
    return h;
  }
  auto te = h.headers.get("Transfer-Encoding");
  auto cl = h.headers.get("Content-Length");
  if (te && te->find("chunked") != std::string::npos) {
    chunked_ = true;
  } else if (cl) {
    remaining_ = std::strtoull(cl->c_str(), nullptr, 10);
    if (remaining_ == 0) body_done_ = true;
  } else {
    until_eof_ = true;
    keep_alive_ = false;
  }
  return h;
}

Result<std::string_view> HttpConn::read_some() {
  if (body_done_) return std::string_view();
  if (chunked_) {
    while (!in_chunk_) {
      auto line = BERTH_TRY(read_line());
      remaining_ = std::strtoull(line.c_str(), nullptr, 16);
      if (remaining_ == 0) {
        for (;;) {  // trailers
          auto t = BERTH_TRY(read_line());
          if (t.empty()) break;
        }
        body_done_ = true;
        return std::string_view();
      }
      in_chunk_ = true;
    }
  }
  if (pos_ == buf_.size()) {
    if (BERTH_TRY(fill()) == 0) {
      if (until_eof_) {
        body_done_ = true;
        return std::string_view();
      }
      return fail(Errc::Unavailable, "daemon closed the connection mid-response");
    }
  }
  size_t avail = buf_.size() - pos_;
  size_t n = until_eof_ ? avail : static_cast<size_t>(std::min<uint64_t>(avail, remaining_));
  piece_.assign(buf_, pos_, n);
  pos_ += n;
  if (!until_eof_) {
    remaining_ -= n;
    if (remaining_ == 0) {
      if (chunked_) {
        in_chunk_ = false;
        auto crlf = BERTH_TRY(read_line());
        if (!crlf.empty()) return fail(Errc::InvalidArgument, "daemon sent a bad chunk trailer");
      } else {
        body_done_ = true;
      }
    }
  }
  return std::string_view(piece_);
}

Result<std::string> HttpConn::read_all(size_t max) {
  std::string out;
  for (;;) {
    auto p = BERTH_TRY(read_some());
    if (p.empty() && body_done_) return out;
    if (out.size() + p.size() > max) return fail(Errc::InvalidArgument, "response body over {} bytes", max);
    out.append(p);
  }
}

std::string HttpConn::take_buffered() {
  std::string rest = buf_.substr(pos_);
  buf_.clear();
  pos_ = 0;
  return rest;
}

}  // namespace berth::api::client
