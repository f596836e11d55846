// Container and exec routes of the Engine API (owner: the containers work).
//
// Streams: `wait` flushes its headers at once (the CLI sends `start` only after it has them) and writes the
// body when the condition holds; `attach` and `exec start` hijack the connection (101 UPGRADED) and pump
// bytes between the client and the container's monitor stream: the monitor already frames output (stdcopy
// unless TTY); client EOF (half-close) only ends stdin, the output keeps flowing until the monitor closes.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <functional>
#include <optional>
#include <thread>

#include "api/server/common.h"
#include "base/log.h"
#include "base/unique_fd.h"

namespace berth::api::detail {

namespace {

std::string base64(std::string_view in) {
  static constexpr char kTab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kTab[v >> 18];
    out += kTab[(v >> 12) & 63];
    out += kTab[(v >> 6) & 63];
    out += kTab[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kTab[v >> 18];
    out += kTab[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kTab[v >> 18];
    out += kTab[(v >> 12) & 63];
    out += kTab[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<int> int_param(const Ctx& c, std::string_view k) {
  auto v = c.param(k);
  if (!v || v->empty()) return std::nullopt;
  int n = 0;
  auto r = std::from_chars(v->data(), v->data() + v->size(), n);
  if (r.ec != std::errc() || r.ptr != v->data() + v->size()) return std::nullopt;
  return n;
}

bool send_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Copies client -> upstream (stdin) and upstream -> client (output) until the upstream closes or the client
// goes away. Client EOF (SHUT_WR) is passed on as SHUT_WR; a client that closes both ways (POLLHUP) ends it.
void pump(int client, const std::string& buffered, int upstream) {
  bool client_in = true;
  if (!buffered.empty() && !send_all(upstream, buffered.data(), buffered.size())) client_in = false;
  char buf[64 * 1024];
  for (;;) {
    pollfd p[2] = {{upstream, POLLIN, 0}, {client, static_cast<short>(client_in ? POLLIN : 0), 0}};
    int n = ::poll(p, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = ::read(upstream, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return;  // the container exited and its output is drained
      if (!send_all(client, buf, static_cast<size_t>(r))) return;
    }
    if (client_in && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = ::read(client, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        client_in = false;
        ::shutdown(upstream, SHUT_WR);
      } else if (!send_all(upstream, buf, static_cast<size_t>(r))) {
        client_in = false;
      }
    } else if (!client_in && (p[1].revents & (POLLHUP | POLLERR))) {
      return;  // the client is gone both ways
    }
  }
}

http::Headers hijack_headers(bool upgrade, bool tty) {
  auto h = base_headers();
  h.add("Content-Type", tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream");
  if (upgrade) {
    h.add("Connection", "Upgrade");
    h.add("Upgrade", "tcp");
  }
  return h;
}

bool wants_upgrade(const Ctx& c) {
  auto u = c.q.headers().get("Upgrade");
  return u.has_value() && !u->empty();
}

void send_raw_json(http::ServerResponse& r, int status, const std::string& body) {
  auto h = base_headers();
  h.add("Content-Type", "application/json");
  (void)r.send(status, h, body + "\n");
}

class ContainerCall {
 public:
  explicit ContainerCall(Ctx& c) : c_(c), e_(c.e), r_(c.r) {}

  bool run() {
    const std::string& p = c_.path;
    const std::string& m = c_.method();
    if (p == "/containers/create" && m == "POST") return create(), true;
    if (p == "/containers/json" && m == "GET") return list(), true;
    if (p == "/containers/prune" && m == "POST") return prune(), true;
    if (p.starts_with("/containers/")) {
      std::string rest = p.substr(12);
      auto slash = rest.find('/');
      std::string ref = rest.substr(0, slash);
      std::string op = slash == std::string::npos ? "" : rest.substr(slash + 1);
      if (ref.empty()) return false;
      if (op.empty() && m == "DELETE") return remove(ref), true;
      return container_op(ref, op, m);
    }
    if (p.starts_with("/exec/")) {
      std::string rest = p.substr(6);
      auto slash = rest.find('/');
      if (slash == std::string::npos) return false;
      std::string id = rest.substr(0, slash), op = rest.substr(slash + 1);
      if (op == "start" && m == "POST") return exec_start(id), true;
      if (op == "resize" && m == "POST") return exec_resize(id), true;
      if (op == "json" && m == "GET") return exec_inspect(id), true;
    }
    return false;
  }

 private:
  bool container_op(const std::string& ref, const std::string& op, const std::string& m) {
    if (m == "GET") {
      if (op == "json") return inspect(ref), true;
      if (op == "logs") return logs(ref), true;
      if (op == "top") return simple_json(e_.container_top(ref, c_.param("ps_args").value_or(""))), true;
      if (op == "stats") return stats(ref), true;
      if (op == "changes") return simple_json(e_.container_changes(ref)), true;
      if (op == "export") return export_(ref), true;
      if (op == "archive") return archive_get(ref), true;
    }
    if (m == "HEAD" && op == "archive") return archive_head(ref), true;
    if (m == "PUT" && op == "archive") return archive_put(ref), true;
    if (m != "POST") return false;
    if (op == "start") return start(ref), true;
    if (op == "stop") return stop(ref), true;
    if (op == "restart") return status204(e_.container_restart(ref, int_param(c_, "t"), c_.param("signal").value_or(""))), true;
    if (op == "kill") return status204(e_.container_kill(ref, c_.param("signal").value_or(""))), true;
    if (op == "pause") return status204(e_.container_pause(ref)), true;
    if (op == "unpause") return status204(e_.container_unpause(ref)), true;
    if (op == "wait") return wait(ref), true;
    if (op == "attach") return attach(ref), true;
    if (op == "resize") return resize(ref), true;
    if (op == "rename") return rename(ref), true;
    if (op == "update") return update(ref), true;
    if (op == "exec") return exec_create(ref), true;
    return false;
  }

  Result<std::string> body() { return c_.q.read_all(kMaxBody); }

  void status204(const Status& st) {
    if (!st) return send_error(r_, st.error());
    send_empty(r_, 204);
  }

  void simple_json(const Result<std::string>& j) {
    if (!j) return send_error(r_, j.error());
    send_raw_json(r_, 200, *j);
  }

  void create() {
    auto b = body();
    if (!b) return send_error(r_, b.error());
    auto res = e_.container_create(c_.param("name").value_or(""), *b);
    if (!res) return send_error(r_, res.error());
    send_json(r_, 201, json{{"Id", res->id}, {"Warnings", res->warnings}});
  }

  void list() {
    auto f = parse_filters(c_.param("filters"));
    if (!f) return send_error(r_, f.error());
    engine::ListOptions o;
    o.all = truthy(c_.param("all"));
    o.size = truthy(c_.param("size"));
    o.limit = int_param(c_, "limit").value_or(-1);
    o.filters = std::move(*f);
    simple_json(e_.container_list(o));
  }

  void prune() {
    auto f = parse_filters(c_.param("filters"));
    if (!f) return send_error(r_, f.error());
    auto rep = e_.container_prune(*f);
    if (!rep) return send_error(r_, rep.error());
    send_json(r_, 200, json{{"ContainersDeleted", str_list_or_null(rep->deleted)},
                            {"SpaceReclaimed", rep->space_reclaimed}});
  }

  void remove(const std::string& ref) {
    status204(e_.container_remove(ref, truthy(c_.param("force")), truthy(c_.param("v"))));
  }

  void inspect(const std::string& ref) { simple_json(e_.container_inspect(ref, truthy(c_.param("size")))); }

  void start(const std::string& ref) {
    auto r = e_.container_start(ref);
    if (!r) return send_error(r_, r.error());
    send_empty(r_, *r ? 204 : 304);
  }

  void stop(const std::string& ref) {
    auto r = e_.container_stop(ref, int_param(c_, "t"), c_.param("signal").value_or(""));
    if (!r) return send_error(r_, r.error());
    send_empty(r_, *r ? 204 : 304);
  }

  void wait(const std::string& ref) {
    std::string cond = c_.param("condition").value_or("");
    engine::WaitCondition wc;
    if (cond.empty() || cond == "not-running") {
      wc = engine::WaitCondition::NotRunning;
    } else if (cond == "next-exit") {
      wc = engine::WaitCondition::NextExit;
    } else if (cond == "removed") {
      wc = engine::WaitCondition::Removed;
    } else {
      return send_error(r_, 400, fmt::format("invalid condition: \"{}\"", cond));
    }
    auto w = e_.container_wait(ref, wc);
    if (!w) return send_error(r_, w.error());
    // Headers now: `docker run` sends start only once it has them.
    auto h = base_headers();
    h.add("Content-Type", "application/json");
    if (!r_.begin_stream(200, h)) return;
    engine::ContainerWaiter& waiter = **w;
    PeerWatch watch(r_.peer_fd(), [&waiter] { waiter.cancel(); });
    auto res = waiter.get();
    json out{{"Error", res.error.empty() ? json(nullptr) : json{{"Message", res.error}}}, {"StatusCode", res.status_code}};
    (void)r_.write(dump_json(out) + "\n");
    (void)r_.end_stream();
  }

  void attach(const std::string& ref) {
    engine::AttachOptions o;
    o.stdin = truthy(c_.param("stdin"));
    o.stdout = truthy(c_.param("stdout"));
    o.stderr = truthy(c_.param("stderr"));
    auto s = e_.container_attach(ref, o);
    if (!s) return send_error(r_, s.error());
    bool upgrade = wants_upgrade(c_);
    auto hj = r_.hijack(upgrade ? 101 : 200, hijack_headers(upgrade, (*s)->tty()));
    if (!hj) {
      log::warn("api: attach {}: {}", ref, hj.error().message());
      return;
    }
    auto fd = (*s)->connect();
    if (!fd) {
      log::debug("api: attach {}: {}", ref, fd.error().message());
      return;  // the server closes the connection: the client sees EOF
    }
    pump(hj->fd, hj->buffered, fd->get());
  }

  void resize(const std::string& ref) {
    auto h = int_param(c_, "h"), w = int_param(c_, "w");
    if (!h || !w || *h < 0 || *w < 0) return send_error(r_, 400, "invalid resize parameters: h and w must be numbers");
    auto st = e_.container_resize(ref, *h, *w);
    if (!st) return send_error(r_, st.error());
    send_empty(r_, 200);
  }

  void logs(const std::string& ref) {
    auto cr = e_.container_resolve(ref);
    if (!cr) return send_error(r_, cr.error());
    engine::LogsOptions o;
    o.stdout_stream = truthy(c_.param("stdout"));
    o.stderr_stream = truthy(c_.param("stderr"));
    if (!o.stdout_stream && !o.stderr_stream)
      return send_error(r_, 400, "Bad parameters: you must choose at least one stream");
    o.follow = truthy(c_.param("follow"));
    o.timestamps = truthy(c_.param("timestamps"));
    o.since = c_.param("since").value_or("");
    o.until = c_.param("until").value_or("");
    o.tail = c_.param("tail").value_or("all");
    if (o.tail.empty()) o.tail = "all";
    auto h = base_headers();
    h.add("Content-Type", cr->tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream");
    if (!r_.begin_stream(200, h)) return;
    // --follow: a pipe whose write end closes when the client goes away is the reader's cancel fd
    int cancel[2] = {-1, -1};
    std::optional<PeerWatch> watch;
    if (o.follow && ::pipe2(cancel, O_CLOEXEC) == 0)
      watch.emplace(r_.peer_fd(), [&cancel] { ::close(std::exchange(cancel[1], -1)); });
    auto st = e_.container_logs(cr->id, o, cancel[0], [&](std::string_view d) { return bool(r_.write(d)); });
    watch.reset();  // joined: cancel[1] is ours again
    for (int fd : cancel)
      if (fd >= 0) ::close(fd);
    if (!st) log::debug("api: logs {}: {}", ref, st.error().message());
    (void)r_.end_stream();
  }

  void stats(const std::string& ref) {
    auto cr = e_.container_resolve(ref);
    if (!cr) return send_error(r_, cr.error());
    bool stream = !c_.param("stream") || truthy(c_.param("stream"));
    if (truthy(c_.param("one-shot"))) stream = false;
    auto h = base_headers();
    h.add("Content-Type", "application/json");
    if (!r_.begin_stream(200, h)) return;
    auto st = e_.container_stats(cr->id, stream, [&](std::string_view d) { return bool(r_.write(d)); });
    if (!st) log::debug("api: stats {}: {}", ref, st.error().message());
    (void)r_.end_stream();
  }

  void export_(const std::string& ref) {
    auto cr = e_.container_resolve(ref);
    if (!cr) return send_error(r_, cr.error());
    auto h = base_headers();
    h.add("Content-Type", "application/x-tar");
    if (!r_.begin_stream(200, h)) return;
    auto st = e_.container_export(cr->id, [&](std::string_view d) { return bool(r_.write(d)); });
    if (!st) log::warn("api: export {}: {}", ref, st.error().message());
    (void)r_.end_stream();
  }

  static std::string stat_header(const engine::PathStat& s) {
    json j{{"name", s.name}, {"size", s.size}, {"mode", s.mode}, {"mtime", s.mtime}, {"linkTarget", s.link_target}};
    return base64(dump_json(j));
  }

  std::optional<std::string> archive_path() {
    auto p = c_.param("path");
    if (!p || p->empty()) {
      send_error(r_, 400, "bad parameter: path cannot be empty");
      return std::nullopt;
    }
    return p;
  }

  void archive_head(const std::string& ref) {
    auto path = archive_path();
    if (!path) return;
    auto st = e_.container_archive_stat(ref, *path);
    if (!st) return send_error(r_, st.error());
    auto h = base_headers();
    h.add("X-Docker-Container-Path-Stat", stat_header(*st));
    (void)r_.send(200, h, "");
  }

  void archive_get(const std::string& ref) {
    auto path = archive_path();
    if (!path) return;
    auto st = e_.container_archive_stat(ref, *path);
    if (!st) return send_error(r_, st.error());
    auto h = base_headers();
    h.add("Content-Type", "application/x-tar");
    h.add("X-Docker-Container-Path-Stat", stat_header(*st));
    if (!r_.begin_stream(200, h)) return;
    auto s = e_.container_archive_get(ref, *path, [&](std::string_view d) { return bool(r_.write(d)); });
    if (!s) log::warn("api: archive {} {}: {}", ref, *path, s.error().message());
    (void)r_.end_stream();
  }

  void archive_put(const std::string& ref) {
    auto path = archive_path();
    if (!path) return;
    bool no_overwrite = truthy(c_.param("noOverwriteDirNonDir"));
    auto st = e_.container_archive_put(ref, *path, no_overwrite,
                                       [&](char* b, size_t n) { return c_.q.read_body(b, n); });
    if (!st) return send_error(r_, st.error());
    send_empty(r_, 200);
  }

  void rename(const std::string& ref) {
    auto n = c_.param("name");
    if (!n || n->empty()) return send_error(r_, 400, "bad parameter: name cannot be empty");
    status204(e_.container_rename(ref, *n));
  }

  void update(const std::string& ref) {
    auto b = body();
    if (!b) return send_error(r_, b.error());
    auto w = e_.container_update(ref, *b);
    if (!w) return send_error(r_, w.error());
    send_json(r_, 200, json{{"Warnings", *w}});
  }

  void exec_create(const std::string& ref) {
    auto b = body();
    if (!b) return send_error(r_, b.error());
    auto id = e_.exec_create(ref, *b);
    if (!id) return send_error(r_, id.error());
    send_json(r_, 201, json{{"Id", *id}});
  }

  void exec_start(const std::string& id) {
    auto b = read_json_body(c_.q);
    if (!b) return send_error(r_, b.error());
    if (b->is_object() && b->contains("Detach") && !(*b)["Detach"].is_boolean()) return send_error(r_, 400, "invalid exec start request: Detach must be a boolean");
    bool detach = b->is_object() && b->value("Detach", false);
    auto es = e_.exec_start(id, detach);
    if (!es) return send_error(r_, es.error());
    if (detach) return send_empty(r_, 200);
    bool upgrade = wants_upgrade(c_);
    auto hj = r_.hijack(upgrade ? 101 : 200, hijack_headers(upgrade, es->tty));
    if (!hj) {
      log::warn("api: exec start {}: {}", id, hj.error().message());
      return;
    }
    pump(hj->fd, hj->buffered, es->fd.get());
  }

  void exec_resize(const std::string& id) {
    auto h = int_param(c_, "h"), w = int_param(c_, "w");
    if (!h || !w || *h < 0 || *w < 0) return send_error(r_, 400, "invalid resize parameters: h and w must be numbers");
    auto st = e_.exec_resize(id, *h, *w);
    if (!st) return send_error(r_, st.error());
    send_empty(r_, 200);
  }

  void exec_inspect(const std::string& id) { simple_json(e_.exec_inspect(id)); }

  Ctx& c_;
  engine::Engine& e_;
  http::ServerResponse& r_;
};

}  // namespace

bool route_containers(Ctx& c) { return ContainerCall(c).run(); }

}  // namespace berth::api::detail
