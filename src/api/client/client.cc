#include "api/client/client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "api/client/stdcopy.h"

namespace berth::api::client {

namespace {

Errc errc_for_status(int status) {
  switch (status) {
    case 400: return Errc::InvalidArgument;
    case 401:
    case 403: return Errc::PermissionDenied;
    case 404: return Errc::NotFound;
    case 409: return Errc::Conflict;
    case 501: return Errc::Unimplemented;
    case 503: return Errc::Unavailable;
    default: return Errc::Internal;
  }
}

bool ok_status(int s) { return (s >= 200 && s < 300) || s == 304; }

void add_body_headers(HttpRequest& r, const std::optional<Body>& body) {
  if (body) {
    r.headers.add("Content-Type", body->content_type);
    r.body = body->data;
  }
  r.send_length = r.method == "POST" || r.method == "PUT";
}

}  // namespace

std::string reply_message(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
  std::string s(body);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

Error reply_error(int status, std::string_view body) {
  std::string msg = reply_message(body);
  if (msg.empty()) msg = fmt::format("{} {}", status, net::http::reason_phrase(status));
  return Error(errc_for_status(status), "Error response from daemon: " + msg);
}

std::string encode_query(const Query& q) {
  std::string out;
  for (const auto& [k, v] : q) {
    out += out.empty() ? '?' : '&';
    out += net::http::percent_encode(k);
    out += '=';
    out += net::http::percent_encode(v);
  }
  return out;
}

Result<std::string> encode_filters(const std::vector<std::string>& kv) {
  if (kv.empty()) return std::string();
  nlohmann::json f = nlohmann::json::object();
  for (const auto& s : kv) {
    auto eq = s.find('=');
    if (eq == std::string::npos) return fail(Errc::InvalidArgument, "bad format of filter (expected name=value)");
    f[s.substr(0, eq)][s.substr(eq + 1)] = true;
  }
  return f.dump();
}

std::string ApiClient::target(std::string_view path, const Query& q) const {
  return fmt::format("/v{}{}{}", version_, path, encode_query(q));
}

Result<std::unique_ptr<ApiClient>> ApiClient::connect(std::string_view host, const TlsOptions& tls) {
  auto ep = BERTH_TRY(parse_endpoint(host));
  ep.tls = tls;
  std::unique_ptr<ApiClient> c(new ApiClient(std::move(ep)));
  auto* conn = BERTH_TRY(c->shared());
  HttpRequest r;
  r.method = "HEAD";
  r.target = "/_ping";
  BERTH_TRY(conn->send(r));
  auto head = BERTH_TRY(conn->read_head(true));
  if (head.status == 200 || head.status == 500) {
    auto v = head.headers.get("Api-Version");
    std::string server = v ? *v : "1.24";
    auto num = [](const std::string& s) {
      auto dot = s.find('.');
      return dot == std::string::npos ? 0 : std::atoi(s.c_str()) * 1000 + std::atoi(s.c_str() + dot + 1);
    };
    if (num(server) > 0 && num(server) < num(kClientApiVersion)) c->version_ = server;
  }
  if (!conn->reusable()) c->conn_.reset();
  return c;
}

Result<HttpConn*> ApiClient::shared() {
  if (!conn_) conn_ = BERTH_TRY(open_conn(ep_));
  return conn_.get();
}

Result<Reply> ApiClient::request(std::string_view method, std::string_view path, const Query& q,
                                 const std::optional<Body>& body, const net::http::Headers& extra) {
  HttpRequest r;
  r.method = std::string(method);
  r.target = target(path, q);
  r.headers = extra;
  add_body_headers(r, body);
  for (int attempt = 0;; ++attempt) {
    bool reused = conn_ != nullptr;
    auto* conn = BERTH_TRY(shared());
    auto sent = conn->send(r);
    Result<ResponseHead> head = sent ? conn->read_head(method == "HEAD") : fail(sent.error());
    if (!head) {
      conn_.reset();
      if (reused && attempt == 0) continue;  // the daemon closed an idle keep-alive connection
      return fail(head.error());
    }
    Reply rep;
    rep.status = head->status;
    rep.headers = head->headers;
    rep.body = BERTH_TRY(conn->read_all());
    if (!conn->reusable()) conn_.reset();
    return rep;
  }
}

Result<nlohmann::json> ApiClient::call(std::string_view method, std::string_view path, const Query& q,
                                       const std::optional<Body>& body, const net::http::Headers& extra) {
  auto rep = BERTH_TRY(request(method, path, q, body, extra));
  if (!ok_status(rep.status)) return fail(reply_error(rep.status, rep.body));
  if (rep.body.empty()) return nlohmann::json();
  auto j = nlohmann::json::parse(rep.body, nullptr, false);
  if (j.is_discarded()) return fail(Errc::Internal, "daemon sent a body that is not JSON: {}", rep.body.substr(0, 200));
  return j;
}

Result<std::unique_ptr<Stream>> ApiClient::stream(std::string_view method, std::string_view path, const Query& q,
                                                  const std::optional<Body>& body, const net::http::Headers& extra,
                                                  std::function<Result<size_t>(char*, size_t)> upload,
                                                  std::string upload_type) {
  auto conn = BERTH_TRY(open_conn(ep_));
  HttpRequest r;
  r.method = std::string(method);
  r.target = target(path, q);
  r.headers = extra;
  if (upload) {
    r.headers.add("Content-Type", upload_type);
    r.chunked_reader = std::move(upload);
  } else {
    add_body_headers(r, body);
  }
  BERTH_TRY(conn->send(r));
  auto head = BERTH_TRY(conn->read_head(method == "HEAD"));
  if (!ok_status(head.status)) {
    auto b = conn->read_all(1 << 20);
    return fail(reply_error(head.status, b ? *b : ""));
  }
  return std::make_unique<Stream>(std::move(conn), std::move(head));
}

Result<Hijacked> ApiClient::hijack(std::string_view path, const Query& q, const std::optional<Body>& body) {
  auto conn = BERTH_TRY(open_conn(ep_));
  HttpRequest r;
  r.method = "POST";
  r.target = target(path, q);
  r.headers.add("Connection", "Upgrade");
  r.headers.add("Upgrade", "tcp");
  if (body) {
    add_body_headers(r, body);
  } else {
    r.headers.add("Content-Type", "text/plain");
    r.send_length = true;
  }
  BERTH_TRY(conn->send(r));
  auto head = BERTH_TRY(conn->read_head());
  if (head.status != 101) {
    if (head.status / 100 != 2) {
      auto b = conn->read_all(1 << 20);
      return fail(reply_error(head.status, b ? *b : ""));
    }
    return fail(Errc::Internal, "unable to upgrade to tcp, received {}", head.status);
  }
  Hijacked h;
  h.initial = conn->take_buffered();
  if (conn->tls()) {
    h.tls_conn = std::move(conn);
  } else {
    h.fd = conn->release();
  }
  return h;
}

std::string DetachMatcher::feed(std::string_view in) {
  std::string out;
  if (keys_.empty()) return std::string(in);
  for (char c : in) {
    if (matched_) break;
    if (c == keys_[held_]) {
      if (++held_ == keys_.size()) matched_ = true;
      continue;
    }
    out.append(keys_, 0, held_);  // a broken partial match goes through
    held_ = 0;
    if (c == keys_[0]) {
      held_ = 1;
      if (keys_.size() == 1) matched_ = true;
      continue;
    }
    out += c;
  }
  return out;
}

Result<std::string> parse_detach_keys(std::string_view spec) {
  std::string out;
  size_t i = 0;
  while (i <= spec.size()) {
    auto comma = spec.find(',', i);
    if (comma == std::string_view::npos) comma = spec.size();
    auto k = spec.substr(i, comma - i);
    if (k.size() == 1) {
      out += k[0];
    } else if (k.size() == 6 && k.starts_with("ctrl-")) {
      char c = k[5];
      if (c >= 'a' && c <= 'z') out += static_cast<char>(c - 'a' + 1);
      else if (c >= 'A' && c <= 'Z') out += static_cast<char>(c - 'A' + 1);
      else if (c == '@') out += '\0';
      else if (c >= '[' && c <= '_') out += static_cast<char>(c - '[' + 27);
      else return fail(Errc::InvalidArgument, "invalid detach key: {}", k);
    } else {
      return fail(Errc::InvalidArgument, "invalid detach keys ({}) provided", spec);
    }
    i = comma + 1;
  }
  return out;
}

namespace {

Status escaped() { return fail(Errc::Canceled, "read escape sequence"); }

// TLS: one thread, poll() over the socket and the input (an SSL object is not shared between threads).
Status pump_tls(Hijacked& h, int input_fd, const std::function<Status(std::string_view)>& out, DetachMatcher& dm) {
  HttpConn& c = *h.tls_conn;
  BERTH_TRY(out(h.initial));
  bool input_open = input_fd >= 0;
  if (!input_open) c.close_write();
  char buf[64 * 1024];
  for (;;) {
    if (!c.has_pending()) {
      pollfd p[2] = {{c.fd(), POLLIN, 0}, {input_open ? input_fd : -1, POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return fail_errno("poll");
      }
      if (input_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = ::read(input_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          input_open = false;
          c.close_write();
        } else {
          std::string fwd = dm.feed(std::string_view(buf, static_cast<size_t>(n)));
          if (!fwd.empty() && !c.send_raw(fwd)) input_open = false;
          if (dm.matched()) return escaped();
        }
      }
      if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    }
    size_t n = BERTH_TRY(c.recv(buf, sizeof buf));
    if (n == 0) return ok();
    BERTH_TRY(out(std::string_view(buf, n)));
  }
}

}  // namespace

Status pump_hijacked(Hijacked& h, int input_fd, bool tty, int out_fd, int err_fd, const std::string& detach_keys) {
  DetachMatcher dm(detach_keys);
  if (h.tls_conn) {
    StdcopyDemux demux([&](int stream, std::string_view p) -> Status {
      return write_all_fd(stream == 2 ? err_fd : out_fd, p);
    });
    return pump_tls(
        h, input_fd, [&](std::string_view data) -> Status { return tty ? write_all_fd(out_fd, data) : demux.feed(data); },
        dm);
  }
  int sock = h.fd.get();
  int cancel[2];
  if (::pipe2(cancel, O_CLOEXEC) < 0) return fail_errno("pipe");
  UniqueFd cancel_r(cancel[0]), cancel_w(cancel[1]);
  std::thread in([&] {
    if (input_fd >= 0) {
      char buf[32 * 1024];
      for (;;) {
        pollfd p[2] = {{input_fd, POLLIN, 0}, {cancel_r.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
          if (errno == EINTR) continue;
          break;
        }
        if (p[1].revents) return;  // output ended: stop copying, the connection is about to close
        ssize_t n = ::read(input_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        std::string fwd = dm.feed(std::string_view(buf, static_cast<size_t>(n)));
        if (!fwd.empty() && !write_all_fd(sock, fwd)) return;
        if (dm.matched()) {
          ::shutdown(sock, SHUT_RDWR);  // ends the output loop: detached
          return;
        }
      }
    }
    ::shutdown(sock, SHUT_WR);
  });
  StdcopyDemux demux([&](int stream, std::string_view p) -> Status {
    return write_all_fd(stream == 2 ? err_fd : out_fd, p);
  });
  auto out = [&](std::string_view data) -> Status {
    if (tty) return write_all_fd(out_fd, data);
    return demux.feed(data);
  };
  Status st = out(h.initial);
  char buf[64 * 1024];
  while (st) {
    ssize_t n = ::read(sock, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != ECONNRESET) st = fail_errno("read from daemon");
      break;
    }
    if (n == 0) break;
    st = out(std::string_view(buf, static_cast<size_t>(n)));
  }
  char one = 1;
  (void)!::write(cancel_w.get(), &one, 1);
  in.join();
  if (dm.matched()) return escaped();
  return st;
}

}  // namespace berth::api::client
