// The server over mutual TLS, driven by a raw OpenSSL client: connection hijacking (early bytes, the client's
// close_notify as its EOF while output keeps flowing, large output) and a plain request on the same listener.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/testing/temp_dir.h"
#include "net/http/server.h"
#include "net/http/testing/raw_client.h"

namespace berth::net::http {
namespace {

using namespace berth::net::http::testing;

// One self-signed CA certificate used as the server's certificate, the client's and the trusted CA.
struct Pem {
  std::string cert, key;
};

Pem make_cert(const berth::testing::TempDir& dir) {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24);
  X509_set_pubkey(x, pkey);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("berth-test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, val] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                          std::pair{NID_subject_alt_name, "IP:127.0.0.1"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, val);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, pkey, EVP_sha256());
  Pem p{dir / "cert.pem", dir / "key.pem"};
  FILE* f = std::fopen(p.cert.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(p.key.c_str(), "w");
  PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(pkey);
  return p;
}

class TlsClient {
 public:
  TlsClient(const Pem& pem, uint16_t port) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_use_certificate_file(ctx_, pem.cert.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(ctx_, pem.key.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_load_verify_locations(ctx_, pem.cert.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    ok_ = SSL_connect(ssl_) == 1;
  }
  ~TlsClient() {
    if (ssl_) SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  bool write(std::string_view s) {
    while (!s.empty()) {
      int w = SSL_write(ssl_, s.data(), static_cast<int>(s.size()));
      if (w <= 0) return false;
      s.remove_prefix(static_cast<size_t>(w));
    }
    return true;
  }
  // Reads until `want` appears (empty: until close_notify or EOF). Sets clean_eof_ on close_notify.
  std::string read(std::string_view want = {}) {
    std::string out;
    char buf[65536];
    while (want.empty() || out.find(want) == std::string::npos) {
      int r = SSL_read(ssl_, buf, sizeof buf);
      if (r <= 0) {
        clean_eof_ = SSL_get_error(ssl_, r) == SSL_ERROR_ZERO_RETURN;
        break;
      }
      out.append(buf, static_cast<size_t>(r));
    }
    return out;
  }
  // Sends close_notify: the client's half-close.
  void close_notify() { SSL_shutdown(ssl_); }
  bool clean_eof() const { return clean_eof_; }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool ok_ = false;
  bool clean_eof_ = false;
};

std::unique_ptr<Server> start_tls(const Pem& pem, Handler h, ServerOptions o = {}) {
  o.addr = "127.0.0.1:0";
  o.tls_cert = pem.cert;
  o.tls_key = pem.key;
  o.tls_client_ca = pem.cert;
  auto srv = Server::start(o, std::move(h));
  EXPECT_TRUE(srv) << srv.error().message();
  return srv ? std::move(*srv) : nullptr;
}

constexpr std::string_view kUpgrade =
    "POST /attach HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";

TEST(ServerTls, HijackWithEarlyBytesAndCloseNotifyAsHalfClose) {
  berth::testing::TempDir dir;
  Pem pem = make_cert(dir);
  auto srv = start_tls(pem, [](ServerRequest& q, ServerResponse& r) {
    Headers h;
    h.add("Connection", "Upgrade");
    h.add("Upgrade", q.headers().get("Upgrade").value_or("?"));
    auto hj = r.hijack(101, h);
    ASSERT_TRUE(hj) << hj.error().message();
    EXPECT_EQ(r.begin_stream(200, Headers{}).error().code(), Errc::FailedPrecondition);
    // Output before the client's EOF, then everything it sent, on the still-open write side.
    EXPECT_TRUE(send_all(hj->fd, "ready;"));
    std::string got = hj->buffered + read_to_eof(hj->fd);
    EXPECT_TRUE(send_all(hj->fd, "got:" + got));
  });
  ASSERT_TRUE(srv);
  TlsClient c(pem, srv->port());
  ASSERT_TRUE(c.ok());
  // The first raw bytes ride in the same write as the request, so the server has buffered them already.
  ASSERT_TRUE(c.write(std::string(kUpgrade) + "early-"));
  std::string head = c.read("ready;");
  EXPECT_EQ(head, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nready;");
  ASSERT_TRUE(c.write("late"));
  c.close_notify();
  EXPECT_EQ(c.read(), "got:early-late");
  EXPECT_TRUE(c.clean_eof());  // the server ends with its own close_notify
}

TEST(ServerTls, HijackLargeOutputAndInputBothWays) {
  berth::testing::TempDir dir;
  Pem pem = make_cert(dir);
  constexpr size_t kOut = 24 << 20;
  constexpr size_t kIn = 3 << 20;
  std::string out_data(kOut, '\0');
  for (size_t i = 0; i < kOut; ++i) out_data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  std::string in_data(kIn, '\0');
  for (size_t i = 0; i < kIn; ++i) in_data[i] = static_cast<char>('A' + (i * 3 + i / 1000) % 26);
  std::string received;
  auto srv = start_tls(pem, [&](ServerRequest&, ServerResponse& r) {
    auto hj = r.hijack(200, Headers{});
    ASSERT_TRUE(hj) << hj.error().message();
    // Reads all input first (the client writes it all before reading), then writes the large output.
    received = hj->buffered + read_to_eof(hj->fd);
    EXPECT_TRUE(send_all(hj->fd, out_data));
  });
  ASSERT_TRUE(srv);
  TlsClient c(pem, srv->port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.write(std::string(kUpgrade) + in_data));
  c.close_notify();
  std::string got = c.read();
  EXPECT_TRUE(c.clean_eof());
  auto body = got.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got.substr(0, 200);
  EXPECT_EQ(got.size() - body - 4, kOut);
  EXPECT_TRUE(got.substr(body + 4) == out_data);
  EXPECT_EQ(received.size(), kIn);
  EXPECT_TRUE(received == in_data);
}

TEST(ServerTls, HandlerEndingFirstClosesTheConnectionAndPlainRequestsStillWork) {
  berth::testing::TempDir dir;
  Pem pem = make_cert(dir);
  auto srv = start_tls(pem, [](ServerRequest& q, ServerResponse& r) {
    if (q.target() == "/plain") {
      (void)r.send(200, Headers{}, "hello");
      return;
    }
    auto hj = r.hijack(200, Headers{});
    ASSERT_TRUE(hj) << hj.error().message();
    // The "container" exits without reading stdin: the client's input is dropped, output ends the call.
    EXPECT_TRUE(send_all(hj->fd, "bye"));
  });
  ASSERT_TRUE(srv);
  {
    TlsClient c(pem, srv->port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.write(std::string(kUpgrade) + "unread input"));
    std::string got = c.read();
    EXPECT_TRUE(got.ends_with("\r\n\r\nbye")) << got;
    EXPECT_TRUE(c.clean_eof());
  }
  TlsClient c(pem, srv->port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.write("GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string got = c.read();
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_TRUE(got.ends_with("\r\n\r\nhello")) << got;
}

TEST(ServerTls, IdleConnectionAndStalledHandshakeAreClosedKeepAliveServedFirst) {
  using namespace std::chrono_literals;
  berth::testing::TempDir dir;
  Pem pem = make_cert(dir);
  ServerOptions o;
  o.idle_timeout = 1s;  // the client sends within it even on a loaded machine; waits for it are short
  o.header_timeout = 1s;
  auto srv = start_tls(pem, [](ServerRequest& q, ServerResponse& r) { (void)r.send(200, Headers{}, q.target()); }, o);
  ASSERT_TRUE(srv);
  // Two requests on one connection, then silence: the server ends it (close_notify, then EOF).
  TlsClient c(pem, srv->port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.write("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(c.read("/a").ends_with("\r\n\r\n/a"));
  ASSERT_TRUE(c.write("GET /b HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string rest = c.read();  // to the end: the idle timeout closes the connection
  EXPECT_TRUE(rest.ends_with("\r\n\r\n/b")) << rest;
  EXPECT_TRUE(c.clean_eof());
  // A TCP connection that never starts the handshake is closed too.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(srv->port());
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  EXPECT_EQ(read_to_eof(fd), "");
  ::close(fd);
}

}  // namespace
}  // namespace berth::net::http
