// Container and exec routes against a fake engine: status codes (201/204/304/400/404/409), the wait headers
// flushed before the condition is awaited, and attach/exec hijacks (101, half-close only ends stdin).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "api/server/api_server.h"
#include "api/server/testing/fakes.h"

namespace berth::api {
namespace {

using nlohmann::json;
namespace http = net::http;

using Req = testing::FakeRequest;
using Resp = testing::FakeResponse;

class FakeWaiter final : public engine::ContainerWaiter {
 public:
  FakeWaiter(Resp* r, std::atomic<bool>* headers_seen) : r_(r), seen_(headers_seen) {}
  engine::WaitResult get() override {
    std::lock_guard lk(r_->mu);
    *seen_ = r_->streaming;  // the headers must already be out when the engine starts waiting
    return {7, ""};
  }

 private:
  Resp* r_;
  std::atomic<bool>* seen_;
};

// A condition that never holds: get() blocks until cancel().
class BlockingWaiter final : public engine::ContainerWaiter {
 public:
  explicit BlockingWaiter(std::atomic<bool>* cancelled) : cancelled_(cancelled) {}
  engine::WaitResult get() override {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return cancel_; });
    *cancelled_ = true;
    return {-1, "client went away"};
  }
  void cancel() override {
    std::lock_guard lk(mu_);
    cancel_ = true;
    cv_.notify_all();
  }

 private:
  std::atomic<bool>* cancelled_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancel_ = false;
};

class FakeSession final : public engine::AttachSession {
 public:
  explicit FakeSession(int fd) : fd_(fd) {}
  bool tty() const override { return false; }
  Result<UniqueFd> connect() override {
    if (fd_ < 0) return fail(Errc::Canceled, "did not start");
    return UniqueFd(fd_);
  }

 private:
  int fd_;
};

class FakeEngine final : public engine::Engine {
 public:
  engine::VersionInfo version() override { return {}; }
  Result<engine::SystemInfo> info() override { return engine::SystemInfo{}; }
  Result<std::vector<engine::ImageSummary>> images() override { return std::vector<engine::ImageSummary>{}; }
  Result<engine::ImageDetail> image_inspect(const std::string& r) override { return fail(Errc::NotFound, "No such image: {}", r); }
  Result<std::vector<engine::HistoryEntry>> image_history(const std::string&) override { return fail(Errc::NotFound, "x"); }
  Status image_tag(const std::string&, const std::string&, const std::string&) override { return ok(); }
  Result<std::vector<engine::DeleteItem>> image_remove(const std::string&, bool) override {
    return std::vector<engine::DeleteItem>{};
  }
  Result<engine::PruneReport> image_prune(bool) override { return engine::PruneReport{}; }

  Result<engine::ContainerCreateResult> container_create(const std::string& name, const std::string& body) override {
    last_body = body;
    if (name == "taken")
      return fail(Errc::AlreadyExists, "Conflict. The container name \"/taken\" is already in use by container \"abc\".");
    if (json::parse(body).value("Image", "") == "nosuch") return fail(Errc::NotFound, "No such image: nosuch");
    return engine::ContainerCreateResult{"c0ffee", {"w1"}};
  }
  Result<engine::ContainerRef> container_resolve(const std::string& ref) override {
    if (ref == "nosuch") return fail(Errc::NotFound, "No such container: nosuch");
    return engine::ContainerRef{"c0ffee", "/web", false, false, "running"};
  }
  Result<bool> container_start(const std::string& ref) override {
    if (ref == "bad") return fail(Errc::InvalidArgument, "exec: \"nosuchcmd\": executable file not found in $PATH");
    return ref != "running";
  }
  Result<bool> container_stop(const std::string& ref, std::optional<int> t, const std::string&) override {
    last_timeout = t;
    return ref != "stopped";
  }
  Status container_kill(const std::string& ref, const std::string& sig) override {
    last_signal = sig;
    if (ref == "stopped") return fail(Errc::Conflict, "Cannot kill container: stopped: Container x is not running");
    return ok();
  }
  Result<std::unique_ptr<engine::ContainerWaiter>> container_wait(const std::string& ref, engine::WaitCondition c) override {
    if (ref == "nosuch") return fail(Errc::NotFound, "No such container: nosuch");
    last_condition = c;
    if (ref == "forever")
      return std::unique_ptr<engine::ContainerWaiter>(new BlockingWaiter(&wait_cancelled));
    return std::unique_ptr<engine::ContainerWaiter>(new FakeWaiter(resp, &headers_before_wait));
  }
  // A quiet container: `follow` blocks until the cancel fd reports the client gone (its write end closed).
  Status container_logs(const std::string&, const engine::LogsOptions& o, int cancel_fd,
                        const engine::ByteSink& sink) override {
    if (!o.follow) return sink("x") ? ok() : fail(Errc::Canceled, "gone");
    pollfd p{cancel_fd, POLLIN, 0};
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    logs_cancelled = (p.revents & (POLLIN | POLLHUP)) != 0;
    return ok();
  }
  Result<std::unique_ptr<engine::AttachSession>> container_attach(const std::string&, const engine::AttachOptions& o) override {
    last_attach = o;
    return std::unique_ptr<engine::AttachSession>(new FakeSession(shim_fd));
  }
  Status container_remove(const std::string& ref, bool force, bool) override {
    if (ref == "running" && !force) return fail(Errc::Conflict, "You cannot remove a running container");
    return ok();
  }
  Result<std::string> container_list(const engine::ListOptions& o) override {
    last_list = o;
    return std::string("[]");
  }
  Result<std::string> exec_create(const std::string&, const std::string&) override { return std::string("e1"); }
  Result<engine::ExecStream> exec_start(const std::string& id, bool detach) override {
    if (id == "nosuch") return fail(Errc::NotFound, "No such exec instance: nosuch");
    last_detach = detach;
    engine::ExecStream s;
    if (!detach) s.fd = UniqueFd(shim_fd);
    return s;
  }
  Result<std::string> exec_inspect(const std::string& id) override {
    if (id == "nosuch") return fail(Errc::NotFound, "No such exec instance: nosuch");
    return std::string(R"({"ID":"e1","ExitCode":3})");
  }

  Resp* resp = nullptr;
  int shim_fd = -1;
  std::string last_body;
  std::optional<int> last_timeout;
  std::string last_signal;
  engine::WaitCondition last_condition = engine::WaitCondition::NotRunning;
  engine::AttachOptions last_attach;
  engine::ListOptions last_list;
  bool last_detach = false;
  std::atomic<bool> headers_before_wait{false};
  std::atomic<bool> wait_cancelled{false};
  std::atomic<bool> logs_cancelled{false};
};

struct Served {
  int status;
  std::string body;
};

Served serve(FakeEngine& e, const std::string& method, const std::string& target, const std::string& body = "") {
  Req q(method, target, body);
  Resp r;
  e.resp = &r;
  ApiHandler h(e);
  h(q, r);
  return {r.status, r.body};
}

TEST(ContainerRoutes, CreateStatusCodes) {
  FakeEngine e;
  auto s = serve(e, "POST", "/v1.41/containers/create?name=web", R"({"Image":"busybox"})");
  EXPECT_EQ(s.status, 201);
  EXPECT_EQ(json::parse(s.body)["Id"], "c0ffee");
  EXPECT_EQ(json::parse(s.body)["Warnings"], json::array({"w1"}));
  EXPECT_EQ(json::parse(e.last_body)["Image"], "busybox") << "the body reaches the engine as sent";
  s = serve(e, "POST", "/v1.41/containers/create?name=taken", R"({"Image":"busybox"})");
  EXPECT_EQ(s.status, 409);
  EXPECT_NE(json::parse(s.body)["message"].get<std::string>().find("is already in use"), std::string::npos);
  s = serve(e, "POST", "/v1.41/containers/create", R"({"Image":"nosuch"})");
  EXPECT_EQ(s.status, 404) << "404 makes docker run pull the image";
  EXPECT_EQ(json::parse(s.body)["message"], "No such image: nosuch");
}

TEST(ContainerRoutes, StartStopKillRemove) {
  FakeEngine e;
  EXPECT_EQ(serve(e, "POST", "/v1.41/containers/web/start").status, 204);
  EXPECT_EQ(serve(e, "POST", "/v1.41/containers/running/start").status, 304);
  auto s = serve(e, "POST", "/v1.41/containers/bad/start");
  EXPECT_EQ(s.status, 400);
  EXPECT_NE(s.body.find("executable file not found"), std::string::npos) << "the CLI maps this text to 127";
  EXPECT_EQ(serve(e, "POST", "/v1.41/containers/web/stop?t=1").status, 204);
  EXPECT_EQ(e.last_timeout, 1);
  EXPECT_EQ(serve(e, "POST", "/v1.41/containers/stopped/stop").status, 304);
  EXPECT_FALSE(e.last_timeout.has_value());
  EXPECT_EQ(serve(e, "POST", "/v1.41/containers/web/kill?signal=WINCH").status, 204);
  EXPECT_EQ(e.last_signal, "WINCH");
  EXPECT_EQ(serve(e, "POST", "/v1.41/containers/stopped/kill").status, 409);
  EXPECT_EQ(serve(e, "DELETE", "/v1.41/containers/running").status, 409);
  EXPECT_EQ(serve(e, "DELETE", "/v1.41/containers/running?force=1&v=1").status, 204);
  EXPECT_EQ(serve(e, "GET", "/v1.41/containers/nosuch/logs?stdout=1").status, 404);
  EXPECT_EQ(serve(e, "GET", "/v1.41/containers/web/logs").status, 400) << "no stream chosen";
}

TEST(ContainerRoutes, ListPassesFiltersAndRejectsBadOnes) {
  FakeEngine e;
  auto s = serve(e, "GET", "/v1.41/containers/json?all=1&limit=2&filters=%7B%22status%22%3A%7B%22exited%22%3Atrue%7D%7D");
  EXPECT_EQ(s.status, 200);
  EXPECT_TRUE(e.last_list.all);
  EXPECT_EQ(e.last_list.limit, 2);
  ASSERT_EQ(e.last_list.filters.count("status"), 1u);
  EXPECT_EQ(e.last_list.filters["status"], std::vector<std::string>{"exited"});
  EXPECT_EQ(serve(e, "GET", "/v1.41/containers/json?filters=notjson").status, 400);
}

TEST(ContainerRoutes, WaitFlushesHeadersBeforeWaiting) {
  FakeEngine e;
  auto s = serve(e, "POST", "/v1.41/containers/web/wait?condition=next-exit");
  EXPECT_EQ(s.status, 200);
  EXPECT_TRUE(e.headers_before_wait) << "docker run sends start only after the wait headers arrive";
  EXPECT_EQ(e.last_condition, engine::WaitCondition::NextExit);
  auto j = json::parse(s.body);
  EXPECT_EQ(j["StatusCode"], 7);
  EXPECT_TRUE(j["Error"].is_null());
  serve(e, "POST", "/v1.41/containers/web/wait?condition=removed");
  EXPECT_EQ(e.last_condition, engine::WaitCondition::Removed);
  serve(e, "POST", "/v1.41/containers/web/wait");
  EXPECT_EQ(e.last_condition, engine::WaitCondition::NotRunning);
  EXPECT_EQ(serve(e, "POST", "/v1.41/containers/web/wait?condition=bogus").status, 400);
  EXPECT_EQ(serve(e, "POST", "/v1.41/containers/nosuch/wait").status, 404) << "404 before any header";
}

// A wait (and a logs -f of a quiet container) whose client hangs up ends at once: the route watches the
// client's socket and cancels the wait / closes the logs reader's cancel fd. The handler returning at all is
// the check (a route that missed the hang-up would block here until ctest's timeout).
void serve_until_hang_up(FakeEngine& e, const std::string& method, const std::string& target,
                         bool half_close) {
  Req q(method, target);
  Resp r;
  ApiHandler handler(e);
  ASSERT_TRUE(testing::hang_up_mid_stream(
      r, [&] { handler(q, r); }, half_close, [&] { EXPECT_FALSE(e.wait_cancelled || e.logs_cancelled); }));
  EXPECT_TRUE(r.ended);
}

TEST(ContainerRoutes, WaitEndsWhenTheClientHangsUp) {
  FakeEngine e;
  serve_until_hang_up(e, "POST", "/v1.41/containers/forever/wait?condition=next-exit", false);
  EXPECT_TRUE(e.wait_cancelled);
}

TEST(ContainerRoutes, LogsFollowEndsWhenTheClientHangsUp) {
  FakeEngine e;
  serve_until_hang_up(e, "GET", "/v1.41/containers/web/logs?follow=1&stdout=1", true);
  EXPECT_TRUE(e.logs_cancelled);
}

// The attach stream: 101 with Upgrade, early client bytes and later stdin reach the monitor, client half-close
// becomes SHUT_WR towards the monitor while output keeps flowing, and the monitor's EOF ends the call.
TEST(ContainerRoutes, AttachHijackHalfClose) {
  FakeEngine e;
  int shim[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, shim), 0);
  e.shim_fd = shim[0];  // the route's upstream; the test plays the monitor on shim[1]
  http::Headers h;
  h.add("Connection", "Upgrade");
  h.add("Upgrade", "tcp");
  Req q("POST", "/v1.41/containers/web/attach?stream=1&stdin=1&stdout=1&stderr=1", "", h);
  Resp r;
  r.keep_client = true;
  r.hijack_early = "early-stdin";
  e.resp = &r;
  ApiHandler handler(e);
  std::thread t([&] { handler(q, r); });
  {
    std::unique_lock lk(r.mu);
    r.cv.wait(lk, [&] { return r.client_fd >= 0; });
  }
  EXPECT_EQ(r.status, 101);
  EXPECT_EQ(r.headers.get("Upgrade"), "tcp");
  EXPECT_TRUE(e.last_attach.stdin && e.last_attach.stdout && e.last_attach.stderr);
  int client = r.client_fd;
  auto read_n = [](int fd, size_t n) {
    std::string out;
    char buf[256];
    while (out.size() < n) {
      ssize_t k = ::read(fd, buf, std::min(sizeof buf, n - out.size()));
      if (k <= 0) break;
      out.append(buf, static_cast<size_t>(k));
    }
    return out;
  };
  EXPECT_EQ(read_n(shim[1], 11), "early-stdin") << "bytes the client sent with the request go to stdin first";
  ASSERT_EQ(::write(client, "more", 4), 4);
  EXPECT_EQ(read_n(shim[1], 4), "more");
  ::shutdown(client, SHUT_WR);  // the CLI without -i does this right after the 101
  char c;
  EXPECT_EQ(::read(shim[1], &c, 1), 0) << "client EOF reaches the monitor as stdin EOF";
  const char frame[] = "\x01\x00\x00\x00\x00\x00\x00\x03hi\n";
  ASSERT_EQ(::write(shim[1], frame, 11), 11);
  EXPECT_EQ(read_n(client, 11), std::string(frame, 11)) << "output still flows after the half-close";
  ::close(shim[1]);  // the container exited: the monitor closes
  t.join();
  ::close(r.server_fd);
  EXPECT_EQ(::read(client, &c, 1), 0);
  ::close(client);
}

TEST(ContainerRoutes, AttachToAStartThatFailedClosesTheStream) {
  FakeEngine e;
  e.shim_fd = -1;  // connect() fails: the start that was awaited failed
  http::Headers h;
  h.add("Upgrade", "tcp");
  Req q("POST", "/v1.41/containers/web/attach?stream=1&stdout=1", "", h);
  Resp r;
  r.keep_client = true;
  e.resp = &r;
  ApiHandler handler(e);
  handler(q, r);
  EXPECT_EQ(r.status, 101);
  ::close(r.server_fd);  // what the server does when the handler returns
  char c;
  EXPECT_EQ(::read(r.client_fd, &c, 1), 0) << "the client sees EOF and goes on to read the wait result";
  ::close(r.client_fd);
}

TEST(ContainerRoutes, ExecCreateStartInspect) {
  FakeEngine e;
  auto s = serve(e, "POST", "/v1.41/containers/web/exec", R"({"Cmd":["sh"]})");
  EXPECT_EQ(s.status, 201);
  EXPECT_EQ(json::parse(s.body)["Id"], "e1");
  s = serve(e, "POST", "/v1.41/exec/e1/start", R"({"Detach":true,"Tty":false})");
  EXPECT_EQ(s.status, 200) << "a detached exec start is a plain 200";
  EXPECT_TRUE(e.last_detach);
  EXPECT_EQ(serve(e, "POST", "/v1.41/exec/nosuch/start", R"({"Detach":false})").status, 404);
  EXPECT_EQ(json::parse(serve(e, "GET", "/v1.41/exec/e1/json").body)["ExitCode"], 3);
  EXPECT_EQ(serve(e, "GET", "/v1.41/exec/nosuch/json").status, 404);
  EXPECT_EQ(serve(e, "POST", "/v1.41/exec/e1/resize?h=x&w=1").status, 400);
}

TEST(ContainerRoutes, UnimplementedEngineIs501NotACrash) {
  FakeEngine e;
  EXPECT_EQ(serve(e, "POST", "/v1.41/containers/web/pause").status, 501);
  EXPECT_EQ(serve(e, "GET", "/v1.41/containers/web/json").status, 501);
}

}  // namespace
}  // namespace berth::api
