// The server on a unix socket, chunked streaming responses and connection hijacking, driven by a raw client
// so the bytes on the wire are checked exactly.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "base/testing/temp_dir.h"
#include "net/http/client.h"
#include "net/http/server.h"
#include "net/http/testing/raw_client.h"

namespace berth::net::http {
namespace {

using namespace berth::net::http::testing;

TEST(ServerUnix, ServesOnUnixSocketWithModeAndRemovesItOnStop) {
  berth::testing::TempDir dir;
  std::string sock = dir / "api.sock";
  ServerOptions o;
  o.addr = "unix://" + sock;
  o.unix_mode = 0600;
  auto srv = Server::start(o, [](ServerRequest& q, ServerResponse& r) {
    (void)r.send(200, Headers{}, "path=" + q.target() + " remote=" + q.remote());
  });
  ASSERT_TRUE(srv) << srv.error().message();
  struct stat st {};
  ASSERT_EQ(::lstat(sock.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  int fd = connect_unix(sock);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string r1 = read_until(fd, "remote=unix");
  EXPECT_NE(r1.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << r1;
  EXPECT_NE(r1.find("path=/a remote=unix"), std::string::npos) << r1;
  // keep-alive: a second request on the same connection
  ASSERT_TRUE(send_all(fd, "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string r2 = read_to_eof(fd);
  EXPECT_NE(r2.find("path=/b"), std::string::npos) << r2;
  ::close(fd);

  (*srv)->stop();
  EXPECT_NE(::lstat(sock.c_str(), &st), 0);
  EXPECT_LT(connect_unix(sock), 0);
}

TEST(ServerUnix, ReplacesStaleSocketButNotLiveOnesOrOtherFiles) {
  berth::testing::TempDir dir;
  std::string sock = dir / "s.sock";
  ServerOptions o;
  o.addr = "unix://" + sock;
  {
    auto a = Server::start(o, [](ServerRequest&, ServerResponse& r) { (void)r.send(204, Headers{}, ""); });
    ASSERT_TRUE(a);
    // simulate a crash: the socket file stays behind
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::string stale = dir / "stale.sock";
    std::memcpy(sa.sun_path, stale.data(), stale.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ::close(fd);
    ServerOptions o2;
    o2.addr = "unix://" + stale;
    auto b = Server::start(o2, [](ServerRequest&, ServerResponse& r) { (void)r.send(204, Headers{}, ""); });
    EXPECT_TRUE(b) << b.error().message();
    // a live server's socket is never taken over
    auto dup = Server::start(o, [](ServerRequest&, ServerResponse& r) { (void)r.send(204, Headers{}, ""); });
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), Errc::AlreadyExists);
    int fd2 = connect_unix(sock);
    EXPECT_GE(fd2, 0);  // the first server still owns it
    ::close(fd2);
  }
  std::string plain = dir / "plain";
  ASSERT_EQ(::close(::creat(plain.c_str(), 0644)), 0);
  ServerOptions o3;
  o3.addr = "unix://" + plain;
  auto c = Server::start(o3, [](ServerRequest&, ServerResponse& r) { (void)r.send(204, Headers{}, ""); });
  EXPECT_FALSE(c);
  struct stat st {};
  EXPECT_EQ(::lstat(plain.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(ServerUnix, ChunkedStreamingThenKeepAlive) {
  berth::testing::TempDir dir;
  std::string sock = dir / "api.sock";
  ServerOptions o;
  o.addr = "unix://" + sock;
  auto srv = Server::start(o, [](ServerRequest& q, ServerResponse& r) {
    if (q.target() == "/stream") {
      Headers h;
      h.add("Content-Type", "application/json");
      ASSERT_TRUE(r.begin_stream(200, h));
      ASSERT_TRUE(r.write("{\"a\":1}\n"));
      ASSERT_TRUE(r.write(""));  // empty writes must not end the body
      ASSERT_TRUE(r.write("hello"));
      ASSERT_TRUE(r.end_stream());
      return;
    }
    if (q.target() == "/unfinished") {  // the server ends a stream the handler left open
      ASSERT_TRUE(r.begin_stream(200, Headers{}));
      ASSERT_TRUE(r.write("x"));
      return;
    }
    (void)r.send(200, Headers{}, "plain");
  });
  ASSERT_TRUE(srv) << srv.error().message();
  int fd = connect_unix(sock);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string r1 = read_until(fd, "0\r\n\r\n");
  EXPECT_NE(r1.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << r1;
  EXPECT_EQ(r1.find("Content-Length"), std::string::npos) << r1;
  auto body = r1.substr(r1.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, "8\r\n{\"a\":1}\n\r\n5\r\nhello\r\n0\r\n\r\n");
  ASSERT_TRUE(send_all(fd, "GET /unfinished HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string r2 = read_until(fd, "0\r\n\r\n");
  EXPECT_EQ(r2.substr(r2.find("\r\n\r\n") + 4), "1\r\nx\r\n0\r\n\r\n");
  ASSERT_TRUE(send_all(fd, "GET /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string r3 = read_to_eof(fd);
  EXPECT_NE(r3.find("Content-Length: 5\r\n"), std::string::npos) << r3;
  EXPECT_TRUE(r3.ends_with("\r\n\r\nplain")) << r3;
  ::close(fd);
}

TEST(ServerUnix, HijackHandsOverRawSocketWithHalfClose) {
  berth::testing::TempDir dir;
  std::string sock = dir / "api.sock";
  ServerOptions o;
  o.addr = "unix://" + sock;
  auto srv = Server::start(o, [](ServerRequest& q, ServerResponse& r) {
    Headers h;
    h.add("Connection", "Upgrade");
    h.add("Upgrade", q.headers().get("Upgrade").value_or("?"));
    auto hj = r.hijack(101, h);
    ASSERT_TRUE(hj) << hj.error().message();
    EXPECT_EQ(r.begin_stream(200, Headers{}).error().code(), Errc::FailedPrecondition);
    // Everything the client sends until its half-close, then the answer on the still-open write side.
    std::string got = hj->buffered + read_to_eof(hj->fd);
    ASSERT_TRUE(send_all(hj->fd, "got:" + got));
  });
  ASSERT_TRUE(srv) << srv.error().message();
  int fd = connect_unix(sock);
  ASSERT_GE(fd, 0);
  // The first raw bytes ride in the same write as the request, so the server has buffered them already.
  ASSERT_TRUE(send_all(
      fd,
      "POST /attach HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
      "early-"));
  std::string head = read_until(fd, "\r\n\r\n");
  EXPECT_EQ(head, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
  ASSERT_TRUE(send_all(fd, "late"));
  ASSERT_EQ(::shutdown(fd, SHUT_WR), 0);
  EXPECT_EQ(read_to_eof(fd), "got:early-late");
  ::close(fd);
}

TEST(ServerUnix, ClientOverUnixSocketWithKeepAlive) {
  berth::testing::TempDir dir;
  std::string sock = dir / "api.sock";
  ServerOptions o;
  o.addr = "unix://" + sock;
  auto srv = Server::start(o, [](ServerRequest& q, ServerResponse& r) {
    (void)r.send(200, Headers{},
                 q.method() + " " + q.target() + " host=" + q.headers().get("Host").value_or(""));
  });
  ASSERT_TRUE(srv) << srv.error().message();
  ClientOptions co;
  co.unix_socket = sock;
  auto c = Client::make(co);
  for (int i = 0; i < 2; i++) {
    ClientRequest req;
    req.url = parse_url("http://api.berth.localhost/v1.41/version").value();
    auto resp = c->send(req);
    ASSERT_TRUE(resp) << resp.error().message();
    EXPECT_EQ(resp->status, 200);
    EXPECT_EQ(resp->body, "GET /v1.41/version host=api.berth.localhost");
  }
  ClientOptions bad;
  bad.unix_socket = dir / "missing.sock";
  ClientRequest req;
  req.url = parse_url("http://x/_ping").value();
  auto r = Client::make(bad)->send(req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::Unavailable);
}

}  // namespace
}  // namespace berth::net::http
