// The server's limits, driven by a raw client on a unix socket: header size, idle and header-read timeouts
// (never applied to streaming or hijacked handlers), the close that lets a client read the answer to its end,
// the quiet hook, and stop() with connections in every state.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>

#include "base/testing/temp_dir.h"
#include "net/http/server.h"
#include "net/http/testing/raw_client.h"

namespace berth::net::http {
namespace {

using namespace std::chrono_literals;
using namespace berth::net::http::testing;

struct Fixture {
  berth::testing::TempDir dir;
  std::string sock = dir / "api.sock";
  std::unique_ptr<Server> srv;

  void start(ServerOptions o, Handler h) {
    o.addr = "unix://" + sock;
    auto s = Server::start(o, std::move(h));
    ASSERT_TRUE(s) << s.error().message();
    srv = std::move(*s);
  }
};

void echo_handler(ServerRequest& q, ServerResponse& r) { (void)r.send(200, Headers{}, "path=" + q.target()); }

TEST(ServerLimits, OversizedHeaderInOneWriteGets431) {
  Fixture f;
  f.start(ServerOptions{}, echo_handler);
  int fd = connect_unix(f.sock);
  ASSERT_GE(fd, 0);
  std::string req = "GET /big HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(108 * 1024, 'a') + "\r\n\r\n";
  ASSERT_TRUE(send_all(fd, req));  // one write: the whole header is in the server's first read
  int err = 0;
  std::string resp = read_to_eof(fd, &err);
  EXPECT_EQ(err, 0);
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 431 ")) << resp.substr(0, 200);
  EXPECT_NE(resp.find("request header exceeds 65536 bytes"), std::string::npos) << resp.substr(0, 200);
  EXPECT_EQ(resp.find("path=/big"), std::string::npos);
  ::close(fd);
}

TEST(ServerLimits, ManySmallFieldsInOneWriteGet431) {
  Fixture f;
  f.start(ServerOptions{}, echo_handler);
  int fd = connect_unix(f.sock);
  ASSERT_GE(fd, 0);
  std::string req = "GET /many HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 1100; i++) req += fmt::format("X-F{}: {}\r\n", i, std::string(100, 'b'));  // ~120 KB
  ASSERT_TRUE(send_all(fd, req + "\r\n"));
  std::string resp = read_to_eof(fd);
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 431 ")) << resp.substr(0, 200);
  EXPECT_EQ(resp.find("path=/many"), std::string::npos);
  ::close(fd);
}

TEST(ServerLimits, OversizedHeaderInManyWritesGets431AndManySmallFieldsToo) {
  Fixture f;
  f.start(ServerOptions{}, echo_handler);
  int fd = connect_unix(f.sock);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "GET /big HTTP/1.1\r\nHost: x\r\n"));
  for (int i = 0; i < 2000; i++)  // 2000 fields of ~40 bytes, none of them large
    if (!send_all(fd, fmt::format("X-Field-{}: {}\r\n", i, std::string(24, 'v')))) break;
  (void)send_all(fd, "\r\n");
  std::string resp = read_to_eof(fd);
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 431 ")) << resp.substr(0, 200);
  ::close(fd);

  // Just under the limit is served.
  fd = connect_unix(f.sock);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + std::string(60 * 1024, 'a') +
                               "\r\n\r\n"));
  resp = read_to_eof(fd);
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 200 ")) << resp.substr(0, 200);
  EXPECT_TRUE(resp.ends_with("path=/ok"));
  ::close(fd);
}

TEST(ServerLimits, IdleKeepAliveConnectionIsClosedAndStalledHeaderGets408) {
  Fixture f;
  ServerOptions o;
  o.idle_timeout = 1s;  // the client sends within it even on a loaded machine; waits for it are short
  o.header_timeout = 1s;
  f.start(o, echo_handler);
  // Idle after one request: the server closes without a word.
  int fd = connect_unix(f.sock);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"));
  int err = -1;
  std::string resp = read_to_eof(fd, &err);
  EXPECT_EQ(err, 0);
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 200 ")) << resp;
  EXPECT_TRUE(resp.ends_with("path=/one")) << resp;
  ::close(fd);
  // A connection that never sends anything is closed too.
  fd = connect_unix(f.sock);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_to_eof(fd, &err), "");
  EXPECT_EQ(err, 0);
  ::close(fd);
  // Half a header: 408.
  fd = connect_unix(f.sock);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n"));
  resp = read_to_eof(fd, &err);
  EXPECT_EQ(err, 0);
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 408 ")) << resp;
  ::close(fd);
}

// A connection opened after `fd` started waiting, left idle until the server closes it: once that happened,
// the idle timeout has passed for `fd` as well.
void wait_out_idle_timeout(const std::string& sock) {
  int idle = connect_unix(sock);
  ASSERT_GE(idle, 0);
  int err = -1;
  EXPECT_EQ(read_to_eof(idle, &err), "");
  EXPECT_EQ(err, 0);
  ::close(idle);
}

TEST(ServerLimits, StreamingAndHijackedHandlersAreNeverTimedOut) {
  Fixture f;
  ServerOptions o;
  o.idle_timeout = 1s;  // the client sends within it even on a loaded machine
  o.header_timeout = 1s;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  f.start(o, [&](ServerRequest& q, ServerResponse& r) {
    if (q.target() == "/stream") {
      ASSERT_TRUE(r.begin_stream(200, Headers{}));
      ASSERT_TRUE(r.write("first"));
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return release; });
      ASSERT_TRUE(r.write("second"));
      return;
    }
    if (q.target() != "/attach") return echo_handler(q, r);
    Headers h;
    h.add("Connection", "Upgrade");
    h.add("Upgrade", "tcp");
    auto hj = r.hijack(101, h);
    ASSERT_TRUE(hj);
    char c;
    ASSERT_EQ(::read(hj->fd, &c, 1), 1);  // blocks across the idle timeout
    std::string out = std::string("echo:") + c;
    ASSERT_EQ(::write(hj->fd, out.data(), out.size()), static_cast<ssize_t>(out.size()));
  });
  int s = connect_unix(f.sock);
  ASSERT_GE(s, 0);
  ASSERT_TRUE(send_all(s, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(read_until(s, "first").find("first"), std::string::npos);
  int h = connect_unix(f.sock);
  ASSERT_GE(h, 0);
  ASSERT_TRUE(send_all(h, "POST /attach HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"));
  EXPECT_NE(read_until(h, "\r\n\r\n").find("101"), std::string::npos);
  wait_out_idle_timeout(f.sock);
  ASSERT_TRUE(send_all(h, "z"));
  EXPECT_EQ(read_to_eof(h), "echo:z");
  ::close(h);
  {
    std::lock_guard lk(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(send_all(s, "GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string rest = read_to_eof(s);
  EXPECT_NE(rest.find("second"), std::string::npos) << rest;
  EXPECT_NE(rest.find("path=/after"), std::string::npos) << rest;
  ::close(s);
}

TEST(ServerLimits, UnreadClientBytesDoNotResetTheConnection) {
  Fixture f;
  f.start(ServerOptions{}, [](ServerRequest&, ServerResponse& r) {
    Headers h;
    h.add("Connection", "Upgrade");
    h.add("Upgrade", "tcp");
    auto hj = r.hijack(101, h);
    ASSERT_TRUE(hj);
    pollfd p{hj->fd, POLLIN, 0};  // the client's bytes have arrived; the handler never reads them
    ASSERT_EQ(::poll(&p, 1, 20'000), 1);
    ASSERT_EQ(::write(hj->fd, "bye", 3), 3);
  });
  int fd = connect_unix(f.sock);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "POST /exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"));
  std::string head = read_until(fd, "\r\n\r\n");
  ASSERT_NE(head.find("101"), std::string::npos);
  ASSERT_TRUE(send_all(fd, "unread input"));
  int err = -1;
  std::string rest = head.substr(head.find("\r\n\r\n") + 4) + read_to_eof(fd, &err);
  EXPECT_EQ(rest, "bye");
  EXPECT_EQ(err, 0) << std::strerror(err);
  ::close(fd);
}

TEST(ServerLimits, QuietHookRunsAfterRequestsStop) {
  Fixture f;
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  ServerOptions o;
  o.quiet_after = 20ms;
  o.on_quiet = [&] {
    std::lock_guard lk(mu);
    calls++;
    cv.notify_all();
  };
  f.start(o, echo_handler);
  for (int round = 1; round <= 2; round++) {
    int fd = connect_unix(f.sock);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    EXPECT_TRUE(read_to_eof(fd).ends_with("path=/x"));
    ::close(fd);
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, 20s, [&] { return calls >= round; }));
  }
}

TEST(ServerLimits, StopEndsIdleKeepAliveHalfHeaderAndHijackedConnections) {
  Fixture f;
  ServerOptions o;
  o.idle_timeout = 0ms;  // never: only stop() can end these
  o.header_timeout = 0ms;
  f.start(o, [](ServerRequest& q, ServerResponse& r) {
    if (q.target() != "/attach") return echo_handler(q, r);
    auto hj = r.hijack(101, Headers{});
    ASSERT_TRUE(hj);
    char c;
    (void)!::read(hj->fd, &c, 1);  // until the server shuts the socket down
  });
  int keep = connect_unix(f.sock), half = connect_unix(f.sock), hij = connect_unix(f.sock), none = connect_unix(f.sock);
  ASSERT_TRUE(send_all(keep, "GET /k HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(read_until(keep, "path=/k").find("path=/k"), std::string::npos);
  ASSERT_TRUE(send_all(half, "GET /h HTTP/1.1\r\nHo"));
  ASSERT_TRUE(send_all(hij, "POST /attach HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(read_until(hij, "\r\n\r\n").find("101"), std::string::npos);
  f.srv->stop();  // returns: every connection thread has ended
  for (int fd : {keep, half, hij, none}) {
    int err = -1;
    (void)read_to_eof(fd, &err);
    EXPECT_NE(err, ETIMEDOUT);
    ::close(fd);
  }
}

}  // namespace
}  // namespace berth::net::http
