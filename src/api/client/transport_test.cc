// HttpConn against canned server bytes on a socketpair: response heads, Content-Length / chunked / until-EOF
// bodies, a 101 upgrade with output already buffered, and the chunked request body it sends.
#include "api/client/transport.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/client/client.h"
#include "api/client/jsonmessage.h"

namespace berth::api::client {
namespace {

struct Pair {
  UniqueFd server;
  std::unique_ptr<HttpConn> conn;
  Pair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    server = UniqueFd(sv[0]);
    conn = std::make_unique<HttpConn>(UniqueFd(sv[1]));
  }
  void reply(std::string_view bytes) { ASSERT_TRUE(write_all_fd(server.get(), bytes)); }
  std::string request() {
    std::string got;
    char buf[4096];
    ::shutdown(conn->fd(), SHUT_WR);
    for (;;) {
      ssize_t n = ::read(server.get(), buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
};

TEST(Transport, ParsesEndpoints) {
  EXPECT_EQ(parse_endpoint("unix:///run/berth/berth.sock")->unix_path, "/run/berth/berth.sock");
  EXPECT_EQ(parse_endpoint("/tmp/x.sock")->unix_path, "/tmp/x.sock");
  auto t = parse_endpoint("tcp://127.0.0.1:2376");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->tcp_host, "127.0.0.1");
  EXPECT_EQ(t->tcp_port, 2376);
  EXPECT_EQ(parse_endpoint("tcp://[::1]:2375")->tcp_host, "::1");
  EXPECT_FALSE(parse_endpoint("tcp://host"));
  EXPECT_FALSE(parse_endpoint("tcp://host:99999"));
  EXPECT_FALSE(parse_endpoint("ssh://host"));
  EXPECT_FALSE(parse_endpoint("unix://" + std::string(200, 'a')));
}

TEST(Transport, ContentLengthThenKeepAlive) {
  Pair p;
  p.reply("HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 5\r\n\r\nhello"
          "HTTP/1.1 204 No Content\r\n\r\n");
  auto h = p.conn->read_head();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->headers.get("api-version").value_or(""), "1.41");
  EXPECT_EQ(*p.conn->read_all(), "hello");
  EXPECT_TRUE(p.conn->reusable());
  auto h2 = p.conn->read_head();
  ASSERT_TRUE(h2);
  EXPECT_EQ(h2->status, 204);
  EXPECT_EQ(*p.conn->read_all(), "");
}

TEST(Transport, ChunkedBodyWithTrailers) {
  Pair p;
  p.reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: y\r\n\r\n");
  ASSERT_TRUE(p.conn->read_head());
  EXPECT_EQ(*p.conn->read_all(), "Wikipedia in\r\n\r\nchunks.");
  EXPECT_TRUE(p.conn->reusable());
}

TEST(Transport, BodyUntilEofAndConnectionClose) {
  Pair p;
  p.reply("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nraw bytes");
  ::shutdown(p.server.get(), SHUT_WR);
  ASSERT_TRUE(p.conn->read_head());
  EXPECT_EQ(*p.conn->read_all(), "raw bytes");
  EXPECT_FALSE(p.conn->reusable());
}

TEST(Transport, TruncatedBodyFails) {
  Pair p;
  p.reply("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
  ::shutdown(p.server.get(), SHUT_WR);
  ASSERT_TRUE(p.conn->read_head());
  EXPECT_FALSE(p.conn->read_all());
}

TEST(Transport, UpgradeKeepsBytesAfterTheHead) {
  Pair p;
  p.reply("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + std::string("\x01\0\0\0\0\0\0\x03hi\n", 11));
  auto h = p.conn->read_head();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 101);
  // The head and the first frame may arrive in one read: the frame must not be lost.
  EXPECT_EQ(p.conn->take_buffered(), std::string("\x01\0\0\0\0\0\0\x03hi\n", 11));
}

TEST(Transport, SendsChunkedRequestBody) {
  Pair p;
  HttpRequest r;
  r.method = "POST";
  r.target = "/v1.41/images/load?quiet=1";
  int calls = 0;
  r.chunked_reader = [&](char* buf, size_t) -> Result<size_t> {
    if (calls++ > 0) return size_t{0};
    std::memcpy(buf, "tarbytes", 8);
    return size_t{8};
  };
  ASSERT_TRUE(p.conn->send(r));
  std::string got = p.request();
  EXPECT_EQ(got.rfind("POST /v1.41/images/load?quiet=1 HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(got.find("Transfer-Encoding: chunked\r\n\r\n8\r\ntarbytes\r\n0\r\n\r\n"), std::string::npos);
}

TEST(Transport, SendsContentLengthForEmptyPost) {
  Pair p;
  HttpRequest r;
  r.method = "POST";
  r.target = "/v1.41/containers/x/start";
  r.send_length = true;
  ASSERT_TRUE(p.conn->send(r));
  EXPECT_NE(p.request().find("Content-Length: 0\r\n\r\n"), std::string::npos);
}

TEST(ClientHelpers, ErrorsQueriesFilters) {
  auto e = reply_error(404, R"({"message":"No such container: x"})");
  EXPECT_EQ(e.code(), Errc::NotFound);
  EXPECT_EQ(e.message(), "Error response from daemon: No such container: x");
  EXPECT_EQ(reply_error(409, "plain text\n").message(), "Error response from daemon: plain text");
  EXPECT_EQ(reply_error(409, "").code(), Errc::Conflict);
  EXPECT_EQ(encode_query({{"fromImage", "127.0.0.1:5000/bb"}, {"tag", "v1"}}),
            "?fromImage=127.0.0.1%3A5000%2Fbb&tag=v1");
  EXPECT_EQ(*encode_filters({"name=web", "status=exited", "status=created"}),
            R"({"name":{"web":true},"status":{"created":true,"exited":true}})");
  EXPECT_FALSE(encode_filters({"novalue"}));
}

TEST(DetachKeys, ParseAndMatch) {
  EXPECT_EQ(*parse_detach_keys("ctrl-p,ctrl-q"), "\x10\x11");
  EXPECT_EQ(*parse_detach_keys("ctrl-@,ctrl-[,ctrl-_,a"), std::string("\0\x1b\x1f" "a", 4));
  EXPECT_FALSE(parse_detach_keys("ctrl-1"));
  EXPECT_FALSE(parse_detach_keys("ab"));
  DetachMatcher m("\x10\x11");
  EXPECT_EQ(m.feed("ls\x10"), "ls");        // a possible start is held back
  EXPECT_EQ(m.feed("x"), "\x10x");          // ... and let through when the sequence breaks
  EXPECT_EQ(m.feed("\x10\x10"), "\x10");   // a repeated first key restarts the match
  EXPECT_FALSE(m.matched());
  EXPECT_EQ(m.feed("\x11tail"), "");        // matched: nothing after it is forwarded
  EXPECT_TRUE(m.matched());
  DetachMatcher none("");
  EXPECT_EQ(none.feed("\x10\x11"), "\x10\x11");
  EXPECT_FALSE(none.matched());
}

TEST(Progress, NonTtyPrintsStatusChangesAndFailsOnError) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = ::open_memstream(&buf, &len);
  ProgressPrinter pp(f, false);
  ASSERT_TRUE(pp.feed("{\"status\":\"Pulling from bb\",\"id\":\"v1\"}\r\n{\"status\":\"Downloading\",\"progressDetail\""
                      ":{\"current\":5,\"total\":10},\"id\":\"abc\"}\r\n{\"status\":\"Pull com"));
  ASSERT_TRUE(pp.feed("plete\",\"id\":\"abc\"}\r\n{\"aux\":{\"Digest\":\"sha256:x\"}}\n"));
  auto st = pp.feed("{\"errorDetail\":{\"code\":3,\"message\":\"boom\"},\"error\":\"boom\"}\n");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message(), "boom");
  EXPECT_EQ(pp.error_code(), 3);
  ASSERT_EQ(pp.aux().size(), 1u);
  std::fclose(f);
  EXPECT_EQ(std::string(buf, len), "v1: Pulling from bb\nabc: Pull complete\n");
  std::free(buf);
  EXPECT_EQ(ProgressPrinter::progress_bar(5, 10, 80), "[==========>         ]  5B/10B");
  EXPECT_EQ(human_size(1234567), "1.235MB");
}

}  // namespace
}  // namespace berth::api::client
