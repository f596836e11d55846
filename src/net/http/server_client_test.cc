// Loopback tests of the server and client together (ephemeral port, no network beyond 127.0.0.1).
#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "net/http/client.h"
#include "net/http/server.h"

namespace berth::net::http {
namespace {

TEST(ServerClient, StreamsBodiesBothWaysWithKeepAlive) {
  berth::testing::TempDir dir;
  std::string blob(3 << 20, 'x');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7 % 251);
  ASSERT_TRUE(write_file_atomic(dir / "blob", blob));
  std::atomic<int> requests{0};
  std::set<std::string> remotes;
  std::mutex mu;
  auto srv = Server::start({}, [&](ServerRequest& req, ServerResponse& resp) {
               ++requests;
               {
                 std::lock_guard lk(mu);
                 remotes.insert(req.remote());
               }
               if (req.method() == "PUT") {
                 auto body = req.read_all(8 << 20);
                 ASSERT_TRUE(body) << body.error().message();
                 Headers h;
                 h.add("X-Len", std::to_string(body->size()));
                 (void)resp.send(201, h, *body == blob ? "same" : "different");
                 return;
               }
               int fd = ::open((dir / "blob").c_str(), O_RDONLY | O_CLOEXEC);
               Headers h;
               (void)resp.send_file(200, h, fd, 10, blob.size() - 10);
               ::close(fd);
             }).value();
  auto client = Client::make();
  ClientRequest put;
  put.method = "PUT";
  put.url = parse_url(fmt::format("http://127.0.0.1:{}/up", srv->port())).value();
  size_t off = 0;
  put.body_length = blob.size();
  put.body_reader = [&](char* b, size_t n) -> Result<size_t> {
    size_t k = std::min(n, blob.size() - off);
    memcpy(b, blob.data() + off, k);
    off += k;
    return k;
  };
  auto rr = client->send(put);
  ASSERT_TRUE(rr) << rr.error().message();
  auto r = *rr;
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "same");
  EXPECT_EQ(r.headers.get("x-len"), std::to_string(blob.size()));

  ClientRequest get;
  get.url = parse_url(fmt::format("http://127.0.0.1:{}/b", srv->port())).value();
  for (int i = 0; i < 3; ++i) {
    std::string got;
    auto gr = client->send(get, [&](std::string_view c) -> Status {
      got.append(c);
      return ok();
    });
    ASSERT_TRUE(gr) << gr.error().message();
    auto g = *gr;
    EXPECT_EQ(g.status, 200);
    EXPECT_EQ(got, blob.substr(10));
  }
  ClientRequest head = get;
  head.method = "HEAD";
  auto h = client->send(head).value();
  EXPECT_EQ(h.headers.get("Content-Length"), std::to_string(blob.size() - 10));
  EXPECT_TRUE(h.body.empty());
  EXPECT_EQ(requests.load(), 5);
  // The streamed PUT opened a fresh connection; it went back to the pool and carried every later request.
  EXPECT_EQ(remotes.size(), 1u);
  srv->stop();
}

TEST(ServerClient, ConnectionRefusedIsUnavailable) {
  uint16_t port;
  {
    auto srv = Server::start({}, [](ServerRequest&, ServerResponse& r) { (void)r.send(200, {}, ""); }).value();
    port = srv->port();
  }
  auto client = Client::make();
  ClientRequest get;
  get.url = parse_url(fmt::format("http://127.0.0.1:{}/", port)).value();
  auto r = client->send(get);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::Unavailable);
}

}  // namespace
}  // namespace berth::net::http
