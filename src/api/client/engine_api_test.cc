// Typed calls against a fake daemon on a unix socket: the exact methods, paths and queries docker's CLI sends,
// the Api-Version negotiation, a wait whose headers come before its body (so start can go in between), a 404
// that reads as NotFound, 304 as success, and a hijacked exec stream with stdcopy frames.
#include "api/client/engine_api.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include "api/client/stdcopy.h"
#include "base/testing/temp_dir.h"

namespace berth::api::client {
namespace {

struct Seen {
  std::string method, target, body;
};

// Serves each connection on its own thread; handler(request, fd) writes the whole reply (and may keep the fd).
class FakeDaemon {
 public:
  using Handler = std::function<void(const Seen&, int fd)>;
  explicit FakeDaemon(Handler h) : handler_(std::move(h)) {
    path_ = dir_ / "api.sock";
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path_.c_str(), sizeof sa.sun_path - 1);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    acceptor_ = std::thread([this] {
      for (;;) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        std::lock_guard lk(mu_);
        conns_.emplace_back([this, fd] { serve(fd); });
      }
    });
  }
  ~FakeDaemon() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    std::lock_guard lk(mu_);
    for (auto& t : conns_) t.join();
  }
  std::string host() const { return "unix://" + path_; }
  std::vector<std::string> log() {
    std::lock_guard lk(mu_);
    return log_;
  }

 private:
  void serve(int fd) {
    std::string buf;
    char tmp[4096];
    for (;;) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::read(fd, tmp, sizeof tmp);
        if (n <= 0) {
          ::close(fd);
          return;
        }
        buf.append(tmp, static_cast<size_t>(n));
      }
      std::string head = buf.substr(0, end);
      buf.erase(0, end + 4);
      Seen s;
      auto sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
      s.method = head.substr(0, sp1);
      s.target = head.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t len = 0;
      if (auto cl = head.find("Content-Length: "); cl != std::string::npos) len = std::stoul(head.substr(cl + 16));
      while (buf.size() < len) {
        ssize_t n = ::read(fd, tmp, sizeof tmp);
        if (n <= 0) break;
        buf.append(tmp, static_cast<size_t>(n));
      }
      s.body = buf.substr(0, len);
      buf.erase(0, len);
      {
        std::lock_guard lk(mu_);
        log_.push_back(s.method + " " + s.target);
      }
      handler_(s, fd);
      if (head.find("Upgrade: tcp") != std::string::npos) {
        ::close(fd);
        return;
      }
    }
  }

  berth::testing::TempDir dir_;
  std::string path_;
  int listen_fd_ = -1;
  Handler handler_;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> conns_;
  std::vector<std::string> log_;
};

void reply(int fd, int status, std::string_view body, std::string_view api_version = "1.41") {
  std::string r = fmt::format("HTTP/1.1 {} X\r\nApi-Version: {}\r\nContent-Length: {}\r\n\r\n", status, api_version,
                              body.size());
  r += body;
  ASSERT_TRUE(write_all_fd(fd, r));
}

TEST(EngineApi, RunSequenceWaitHeadersBeforeStart) {
  std::mutex mu;
  std::condition_variable cv;
  bool started = false;
  FakeDaemon d([&](const Seen& s, int fd) {
    if (s.method == "HEAD") return reply(fd, 200, "", "1.40");
    if (s.target.starts_with("/v1.40/containers/create")) {
      auto j = json::parse(s.body);
      if (j["Image"] == "missing") return reply(fd, 404, R"({"message":"No such image: missing:latest"})");
      return reply(fd, 201, R"({"Id":"c0ffee","Warnings":["low memory"]})");
    }
    if (s.target.starts_with("/v1.40/containers/c0ffee/wait")) {
      // Headers now, the body once start came in (as dockerd flushes them).
      ASSERT_TRUE(write_all_fd(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return started; });
      std::string b = R"({"Error":null,"StatusCode":3})";
      ASSERT_TRUE(write_all_fd(fd, fmt::format("{:x}\r\n{}\r\n0\r\n\r\n", b.size(), b)));
      return;
    }
    if (s.target == "/v1.40/containers/c0ffee/start") {
      {
        std::lock_guard lk(mu);
        started = true;
      }
      cv.notify_all();
      return reply(fd, 204, "");
    }
    if (s.target == "/v1.40/containers/c0ffee/stop?t=1") return reply(fd, 304, "");
    reply(fd, 500, R"({"message":"unexpected"})");
  });
  auto api = ApiClient::connect(d.host());
  ASSERT_TRUE(api) << api.error().message();
  EXPECT_EQ((*api)->api_version(), "1.40");  // the daemon's lower version wins

  auto missing = container_create(**api, {{"Image", "missing"}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::NotFound);
  EXPECT_NE(missing.error().message().find("No such image"), std::string::npos);

  auto created = container_create(**api, {{"Image", "busybox"}}, "web");
  ASSERT_TRUE(created) << created.error().message();
  EXPECT_EQ(created->id, "c0ffee");
  EXPECT_EQ(created->warnings, std::vector<std::string>{"low memory"});
  auto w = container_wait_begin(**api, "c0ffee", "next-exit");
  ASSERT_TRUE(w) << w.error().message();  // back with only the headers: start can go now
  ASSERT_TRUE(container_start(**api, "c0ffee"));
  auto code = wait_exit_code(**w);
  ASSERT_TRUE(code) << code.error().message();
  EXPECT_EQ(*code, 3);
  EXPECT_TRUE(container_stop(**api, "c0ffee", 1));  // 304 is success
  auto log = d.log();
  std::vector<std::string> want = {"HEAD /_ping",
                                   "POST /v1.40/containers/create",
                                   "POST /v1.40/containers/create?name=web",
                                   "POST /v1.40/containers/c0ffee/wait?condition=next-exit",
                                   "POST /v1.40/containers/c0ffee/start",
                                   "POST /v1.40/containers/c0ffee/stop?t=1"};
  EXPECT_EQ(log, want);
}

TEST(EngineApi, ExecHijackAndInspect) {
  FakeDaemon d([&](const Seen& s, int fd) {
    if (s.method == "HEAD") return reply(fd, 200, "");
    if (s.target == "/v1.41/containers/web/exec") {
      auto j = json::parse(s.body);
      EXPECT_EQ(j["Cmd"], json::array({"sh", "-c", "echo hi"}));
      EXPECT_EQ(j["Env"], json::array({"A=1"}));
      EXPECT_EQ(j["AttachStdin"], false);
      return reply(fd, 201, R"({"Id":"e1"})");
    }
    if (s.target == "/v1.41/exec/e1/start") {
      EXPECT_EQ(json::parse(s.body), json({{"Detach", false}, {"Tty", false}}));
      std::string r = "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" +
                      stdcopy_frame(1, "hi\n") + stdcopy_frame(2, "oops\n");
      ASSERT_TRUE(write_all_fd(fd, r));
      char c;
      EXPECT_EQ(::read(fd, &c, 1), 0);  // the client half-closes at once (no stdin)
      return;
    }
    if (s.target == "/v1.41/exec/e1/json") return reply(fd, 200, R"({"ExitCode":4,"Running":false})");
    reply(fd, 500, R"({"message":"unexpected"})");
  });
  auto api = ApiClient::connect(d.host());
  ASSERT_TRUE(api);
  ExecConfig ec;
  ec.cmd = {"sh", "-c", "echo hi"};
  ec.env = {"A=1"};
  auto id = exec_create(**api, "web", ec);
  ASSERT_TRUE(id) << id.error().message();
  auto hj = exec_start(**api, *id, false);
  ASSERT_TRUE(hj) << hj.error().message();
  int out[2], err[2];
  ASSERT_EQ(::pipe(out), 0);
  ASSERT_EQ(::pipe(err), 0);
  ASSERT_TRUE(pump_hijacked(*hj, -1, false, out[1], err[1]));
  ::close(out[1]);
  ::close(err[1]);
  char buf[64];
  ssize_t n = ::read(out[0], buf, sizeof buf);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))), "hi\n");
  n = ::read(err[0], buf, sizeof buf);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0))), "oops\n");
  ::close(out[0]);
  ::close(err[0]);
  auto ins = exec_inspect(**api, *id);
  ASSERT_TRUE(ins);
  EXPECT_EQ(ins->value("ExitCode", -1), 4);
}

TEST(EngineApi, QueriesForListsLogsAndImages) {
  FakeDaemon d([&](const Seen& s, int fd) {
    if (s.method == "HEAD") return reply(fd, 200, "");
    reply(fd, 200, "[]");
  });
  auto api = ApiClient::connect(d.host());
  ASSERT_TRUE(api);
  ASSERT_TRUE(container_list(**api, true, {"status=exited"}, 2));
  LogsOptions lo;
  lo.follow = true;
  lo.tail = "1";
  lo.timestamps = true;
  ASSERT_TRUE(container_logs(**api, "web", lo));
  ASSERT_TRUE(image_tag(**api, "busybox:local", "127.0.0.1:5000/bb", "v1"));
  ASSERT_TRUE(image_pull(**api, "127.0.0.1:5000/bb", "v1"));
  ASSERT_TRUE(container_remove(**api, "web", true, true));
  auto log = d.log();
  std::vector<std::string> want = {
      "HEAD /_ping",
      "GET /v1.41/containers/json?all=1&limit=2&filters=%7B%22status%22%3A%7B%22exited%22%3Atrue%7D%7D",
      "GET /v1.41/containers/web/logs?follow=1&stderr=1&stdout=1&tail=1&timestamps=1",
      "POST /v1.41/images/busybox:local/tag?repo=127.0.0.1%3A5000%2Fbb&tag=v1",
      "POST /v1.41/images/create?fromImage=127.0.0.1%3A5000%2Fbb&tag=v1",
      "DELETE /v1.41/containers/web?force=1&v=1"};
  EXPECT_EQ(log, want);
}

}  // namespace
}  // namespace berth::api::client
