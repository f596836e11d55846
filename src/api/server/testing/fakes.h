#pragma once
// In-memory stand-ins for the HTTP side of the Engine API and a small image-only engine, shared by the
// api/server unit tests and the request fuzzer (tests/fuzz/fuzz_api_request.cc). Header-only; no sockets
// except the socketpair FakeResponse::hijack hands out (its far end closed, so a pump ends at once).
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "net/http/server.h"

namespace berth::api::testing {

// A request whose body comes from a string. `chunked` leaves Content-Length unset (as a chunked request
// does); `read_size` caps each read_body() (small reads, as a body arriving in pieces).
class FakeRequest : public net::http::ServerRequest {
 public:
  FakeRequest(std::string method, std::string target, std::string body = "", net::http::Headers headers = {},
              bool chunked = false, size_t read_size = 0)
      : body_(std::move(body)), read_size_(read_size) {
    method_ = std::move(method);
    target_ = std::move(target);
    remote_ = "test";
    headers_ = std::move(headers);
    if (!chunked) content_length_ = body_.size();
  }
  Result<size_t> read_body(char* buf, size_t n) override {
    size_t k = std::min(n, body_.size() - pos_);
    if (read_size_ > 0) k = std::min(k, read_size_);
    std::memcpy(buf, body_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  size_t consumed() const { return pos_; }

 private:
  std::string body_;
  size_t pos_ = 0;
  size_t read_size_ = 0;
};

// Records what the handler replied: a plain response, a stream (chunks), or a hijack. Safe to read under `mu`
// while a handler runs on another thread; `cv` is notified when the stream begins and at the hijack.
//
// hijack() hands out one end of a socketpair. By default the far end is closed at once (the client "sent" EOF
// and reads nothing, so a pump ends) and the response closes the handed-out end when destroyed, as the server
// does. With `keep_client` the test plays the client on `client_fd` and owns both ends (`server_fd` too), and
// `hijack_early` is what the client sent after the request (the route reads it first).
class FakeResponse final : public net::http::ServerResponse {
 public:
  FakeResponse() = default;
  FakeResponse(const FakeResponse&) = delete;
  FakeResponse& operator=(const FakeResponse&) = delete;
  FakeResponse(FakeResponse&& o) noexcept { *this = std::move(o); }
  FakeResponse& operator=(FakeResponse&& o) noexcept {
    if (this == &o) return *this;
    if (hijack_fd_ >= 0) ::close(hijack_fd_);
    status = o.status;
    headers = std::move(o.headers);
    body = std::move(o.body);
    chunks = std::move(o.chunks);
    sends = o.sends;
    streaming = o.streaming;
    ended = o.ended;
    hijacked = o.hijacked;
    peer_is_gone = o.peer_is_gone;
    peer_sock = o.peer_sock;
    keep_client = o.keep_client;
    hijack_early = std::move(o.hijack_early);
    client_fd = o.client_fd;
    server_fd = o.server_fd;
    hijack_fd_ = std::exchange(o.hijack_fd_, -1);
    return *this;
  }
  ~FakeResponse() override {
    if (hijack_fd_ >= 0) ::close(hijack_fd_);
  }

  Status send(int s, const net::http::Headers& h, std::string_view b, std::optional<uint64_t>) override {
    std::lock_guard lk(mu);
    status = s;
    headers = h;
    body = std::string(b);
    ++sends;
    return ok();
  }
  Status send_file(int, const net::http::Headers&, int, uint64_t, uint64_t) override {
    return fail(Errc::Unimplemented, "no files here");
  }
  bool sent() const override { return sends > 0 || streaming || hijacked; }
  Status begin_stream(int s, const net::http::Headers& h) override {
    std::lock_guard lk(mu);
    if (sent()) return fail(Errc::FailedPrecondition, "response already started");
    status = s;
    headers = h;
    streaming = true;
    cv.notify_all();
    return ok();
  }
  Status write(std::string_view d) override {
    std::lock_guard lk(mu);
    if (!streaming) return fail(Errc::FailedPrecondition, "write() before begin_stream()");
    chunks.emplace_back(d);
    body += d;
    return ok();
  }
  Status end_stream() override {
    std::lock_guard lk(mu);
    if (!streaming) return fail(Errc::FailedPrecondition, "end_stream() before begin_stream()");
    ended = true;
    return ok();
  }
  bool peer_gone() const override { return peer_is_gone; }
  int peer_fd() const override { return peer_sock; }
  Result<Hijacked> hijack(int s, const net::http::Headers& h) override {
    std::lock_guard lk(mu);
    if (sent()) return fail(Errc::FailedPrecondition, "response already started");
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return fail_errno("socketpair");
    if (keep_client) {
      client_fd = sv[1];
      server_fd = sv[0];
    } else {
      ::close(sv[1]);
      hijack_fd_ = sv[0];
    }
    status = s;
    headers = h;
    hijacked = true;
    cv.notify_all();
    return Hijacked{sv[0], hijack_early};
  }

  nlohmann::json body_json() const { return nlohmann::json::parse(body); }
  // A JSON-message stream: one object per line.
  std::vector<nlohmann::json> lines() const {
    std::vector<nlohmann::json> out;
    size_t p = 0;
    while (p < body.size()) {
      auto e = body.find('\n', p);
      auto l = body.substr(p, e == std::string::npos ? std::string::npos : e - p);
      if (!l.empty() && l != "\r") out.push_back(nlohmann::json::parse(l));
      p = e == std::string::npos ? body.size() : e + 1;
    }
    return out;
  }

  std::mutex mu;
  std::condition_variable cv;
  int status = 0;
  net::http::Headers headers;
  std::string body;
  std::vector<std::string> chunks;
  int sends = 0;  // more than one = a handler replied twice
  bool streaming = false, ended = false, hijacked = false;
  bool peer_is_gone = false;
  int peer_sock = -1;  // peer_fd(): a socket the test closes to play a client that hangs up (not owned)
  bool keep_client = false;
  std::string hijack_early;
  int client_fd = -1, server_fd = -1;

 private:
  int hijack_fd_ = -1;
};

// A client that hangs up in the middle of a stream, on a socketpair: runs handle() on a thread with
// r.peer_sock = the server's end (the route sees it as peer_fd()); once the stream's headers are out it calls
// before_hang_up(), then closes the client's end (or, with half_close, only shuts its write side: POLLRDHUP
// counts as gone too, as peer_gone() says) and joins. A route that misses the hang-up never returns, so the
// join itself is the check (ctest's timeout ends such a test). Returns false when the socketpair failed.
inline bool hang_up_mid_stream(FakeResponse& r, const std::function<void()>& handle, bool half_close,
                               const std::function<void()>& before_hang_up = {}) {
  int client[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, client) != 0) return false;
  r.peer_sock = client[0];
  std::thread t(handle);
  {
    std::unique_lock lk(r.mu);
    r.cv.wait(lk, [&] { return r.streaming; });  // headers out: the route now waits
  }
  if (before_hang_up) before_hang_up();
  if (half_close) {
    ::shutdown(client[1], SHUT_WR);
  } else {
    ::close(std::exchange(client[1], -1));
  }
  t.join();
  r.peer_sock = -1;
  for (int fd : client)
    if (fd >= 0) ::close(fd);
  return true;
}

// An engine with two images (busybox:latest also named 127.0.0.1:5000/bb:v1, and an untagged one) that
// records the last reference, tag and force flag it was called with. Everything beyond images is the
// Engine's default (Unimplemented) unless a subclass overrides it.
class FakeEngine : public engine::Engine {
 public:
  engine::VersionInfo version() override {
    engine::VersionInfo v;
    v.arch = "amd64";
    v.kernel_version = "6.1.0-test";
    return v;
  }
  Result<engine::SystemInfo> info() override {
    engine::SystemInfo s;
    s.id = "fake-id";
    s.images = static_cast<int64_t>(images_.size());
    s.driver = "overlay2";
    s.data_root = "/data";
    s.ncpu = 3;
    s.mem_total = 1 << 30;
    s.cgroup_version = "1";
    s.runtimes["berth"] = "/bin/berth-runtime";
    return s;
  }
  Result<std::vector<engine::ImageSummary>> images() override { return images_; }
  Result<engine::ImageDetail> image_inspect(const std::string& ref) override {
    last_ref = ref;
    for (auto& i : images_)
      for (auto& t : i.repo_tags)
        if (t == ref) {
          engine::ImageDetail d;
          d.summary = i;
          d.created_text = "2026-01-01T00:00:00Z";
          d.config_json = R"({"architecture":"amd64","os":"linux","config":{"Cmd":["sh"],"Env":["A=1"]},)"
                          R"("rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"comment":"hi"}]})";
          d.diff_ids = {"sha256:aa"};
          return d;
        }
    return fail(Errc::NotFound, "No such image: {}", ref);
  }
  Result<std::vector<engine::HistoryEntry>> image_history(const std::string& ref) override {
    last_ref = ref;
    return std::vector<engine::HistoryEntry>{{"sha256:1", 5, "/bin/sh", "", 10, {"a:b"}}};
  }
  Status image_tag(const std::string& ref, const std::string& repo, const std::string& tag) override {
    last_ref = ref;
    last_tag = repo + "|" + tag;
    if (repo.empty()) return fail(Errc::InvalidArgument, "repository name must have at least one component");
    return ok();
  }
  Result<std::vector<engine::DeleteItem>> image_remove(const std::string& ref, bool force) override {
    last_ref = ref;
    last_force = force;
    if (ref == "multi") return fail(Errc::Conflict, "conflict: unable to delete (must be forced)");
    return std::vector<engine::DeleteItem>{{"x:latest", ""}, {"", "sha256:1"}};
  }
  Result<engine::PruneReport> image_prune(bool dangling_only) override {
    last_force = dangling_only;
    return engine::PruneReport{{{"", "sha256:2"}}, 1234};
  }

  std::vector<engine::ImageSummary> images_ = {
      {"sha256:1", {"busybox:latest", "127.0.0.1:5000/bb:v1"}, {}, 100, 2000, {}},
      {"sha256:2", {}, {}, 50, 10, {{"k", "v"}}},
  };
  std::string last_ref, last_tag;
  bool last_force = false;
};

}  // namespace berth::api::testing
