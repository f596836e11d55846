// Our registry client against our registry server, on loopback with an ephemeral port, plus the server's
// protocol edges driven with the raw HTTP client.
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "image/registry/client.h"
#include "image/content/local/local_store.h"
#include "net/http/client.h"
#include "net/http/server.h"
#include "oci/image_spec.h"
#include "registry/htpasswd.h"
#include "registry/server.h"

namespace berth::registry {
namespace {

namespace http = berth::net::http;
using image::content::Store;
using image::registry::parse_reference;
using image::registry::ProgressEvent;
using image::registry::ProgressState;
using image::registry::RegistryClient;

struct Logged {
  std::string method, target, range;
  int status;
  std::string content_range;
};

// A TCP relay to the registry that cuts every connection once `cut_after` bytes have gone towards the
// registry in total (in the middle of whatever request is then under way), then relays normally.
class CuttingProxy {
 public:
  CuttingProxy(uint16_t target, int64_t cut_after) : target_(target), cut_after_(cut_after) {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(lfd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accepter_ = std::thread([this] { accept_loop(); });
  }
  ~CuttingProxy() {
    ::shutdown(lfd_, SHUT_RDWR);
    accepter_.join();
    {
      std::lock_guard lk(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : pumps_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(lfd_);
  }
  uint16_t port() const { return port_; }
  bool cut() const { return cut_; }

 private:
  void accept_loop() {
    for (;;) {
      int c = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(target_);
      if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
        ::close(c);
        ::close(s);
        continue;
      }
      std::lock_guard lk(mu_);
      fds_.push_back(c);
      fds_.push_back(s);
      pumps_.emplace_back([this, c, s] { pump(c, s, true); });
      pumps_.emplace_back([this, c, s] { pump(s, c, false); });
    }
  }
  void pump(int from, int to, bool upstream) {
    std::vector<char> buf(16384);
    for (;;) {
      ssize_t n = ::read(from, buf.data(), buf.size());
      if (n <= 0) break;
      if (upstream && !cut_) {
        int64_t before = sent_.fetch_add(n);
        if (before + n > cut_after_ && !cut_.exchange(true)) {
          (void)!::write(to, buf.data(), static_cast<size_t>(cut_after_ - before));
          ::shutdown(from, SHUT_RDWR);
          ::shutdown(to, SHUT_RDWR);
          return;
        }
      }
      if (::send(to, buf.data(), static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
    }
    ::shutdown(to, SHUT_WR);
  }

  uint16_t target_;
  int64_t cut_after_;
  int lfd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int64_t> sent_{0};
  std::atomic<bool> cut_{false};
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> pumps_;
  std::thread accepter_;
};

class Registry : public ::testing::Test {
 protected:
  void start(const std::string& htpasswd = "") {
    ServeOptions o;
    o.addr = "127.0.0.1:0";
    o.root = dir_ / "registry";
    o.htpasswd = htpasswd;
    o.observer = [this](const std::string& m, const std::string& t, const http::Headers& h, int status) {
      std::lock_guard lk(mu_);
      log_.push_back({m, t, h.get("Range").value_or(""), status, h.get("Content-Range").value_or("")});
    };
    srv_ = RegistryServer::start(o).value();
    host_ = fmt::format("127.0.0.1:{}", srv_->port());
  }
  std::vector<Logged> take_log() {
    std::lock_guard lk(mu_);
    return std::exchange(log_, {});
  }
  std::unique_ptr<Store> store(const std::string& name) {
    return image::content::LocalStore::open(dir_ / name).value();
  }

  // Builds an image of n random layers in s; returns the manifest digest.
  oci::Digest make_image(Store& s, int layers, size_t layer_size, uint32_t seed, std::string arch = "amd64") {
    std::mt19937 rng(seed);
    oci::Manifest m;
    m.media_type = std::string(oci::media::kOciManifest);
    for (int i = 0; i < layers; ++i) {
      std::string data(layer_size + static_cast<size_t>(i) * 1000, '\0');
      for (auto& c : data) c = static_cast<char>(rng());
      auto d = image::content::write_blob(s, data).value();
      m.layers.push_back({.media_type = std::string(oci::media::kOciLayerGzip), .digest = d,
                          .size = static_cast<int64_t>(data.size())});
    }
    std::string config = nlohmann::json{{"architecture", arch}, {"os", "linux"}, {"seed", seed},
                                        {"rootfs", {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}}}}
                             .dump();
    auto cd = image::content::write_blob(s, config).value();
    m.config = {.media_type = std::string(oci::media::kOciConfig), .digest = cd,
                .size = static_cast<int64_t>(config.size())};
    return image::content::write_blob(s, oci::to_json(m)).value();
  }

  http::ClientResponse raw(const std::string& method, const std::string& target, std::string body = {},
                           http::Headers h = {}) {
    http::ClientRequest q;
    q.method = method;
    q.url = http::parse_url(fmt::format("http://{}{}", host_, target)).value();
    q.body = std::move(body);
    q.headers = std::move(h);
    auto r = http_->send(q);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? *r : http::ClientResponse{};
  }

  static std::string code_of(const http::ClientResponse& r) {
    try {
      return nlohmann::json::parse(r.body)["errors"][0]["code"].get<std::string>();
    } catch (...) {
      return "";
    }
  }

  berth::testing::TempDir dir_;
  std::unique_ptr<RegistryServer> srv_;
  std::string host_;
  std::mutex mu_;
  std::vector<Logged> log_;
  std::unique_ptr<http::Client> http_ = http::Client::make();
};

TEST_F(Registry, PushThenPullRoundTripsEveryBlob) {
  start();
  auto src = store("src");
  auto md = make_image(*src, 3, 300 << 10, 1);
  RegistryClient client({});
  auto ref = parse_reference(host_ + "/team/app:v1").value();
  std::vector<ProgressEvent> events;
  image::registry::PushOptions po;
  po.progress = [&](const ProgressEvent& e) { events.push_back(e); };
  auto pushed = client.push(ref, *src, md, po).value();
  EXPECT_EQ(pushed.digest, md);
  EXPECT_EQ(pushed.blobs_uploaded, 4);
  EXPECT_EQ(pushed.blobs_existing, 0);
  EXPECT_EQ(std::count_if(events.begin(), events.end(), [](auto& e) { return e.state == ProgressState::Pushed; }), 4);

  // Pull into image/content's LocalStore (through the adapter), as `berth image pull` does.
  auto dst = image::content::LocalStore::open(dir_ / "content").value();
  events.clear();
  image::registry::PullOptions pl;
  pl.progress = [&](const ProgressEvent& e) { events.push_back(e); };
  auto pulled = client.pull(ref, *dst, pl).value();
  EXPECT_EQ(pulled.manifest_digest, md);
  EXPECT_EQ(pulled.resolved_digest, md);
  EXPECT_EQ(pulled.blobs_downloaded, 4);
  EXPECT_EQ(pulled.manifest.layers.size(), 3u);
  for (const auto& l : pulled.manifest.layers)
    EXPECT_EQ(image::content::read_blob(*dst, l.digest, 1 << 20).value(),
              image::content::read_blob(*src, l.digest, 1 << 20).value());
  EXPECT_EQ(image::content::read_blob(*dst, md).value(), image::content::read_blob(*src, md).value());
  EXPECT_EQ(std::count_if(events.begin(), events.end(),
                          [](auto& e) { return e.state == ProgressState::DownloadComplete; }),
            4);
  // Pushing again finds everything present: HEADs only, then the manifest.
  take_log();
  auto again = client.push(ref, *src, md).value();
  EXPECT_EQ(again.blobs_existing, 4);
  for (const auto& l : take_log()) EXPECT_TRUE(l.method == "HEAD" || l.method == "PUT") << l.method << " " << l.target;
  EXPECT_EQ(client.list_tags(ref).value(), std::vector<std::string>{"v1"});
}

TEST_F(Registry, PullFetchesOnlyMissingBlobs) {
  start();
  auto src = store("src");
  auto md = make_image(*src, 3, 100 << 10, 2);
  RegistryClient client({});
  auto ref = parse_reference(host_ + "/app:v1").value();
  ASSERT_TRUE(client.push(ref, *src, md));
  auto m = oci::parse_manifest(image::content::read_blob(*src, md).value()).value();
  auto dst = store("dst");
  // Two of the three layers are already local.
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(image::content::write_blob(*dst, image::content::read_blob(*src, m.layers[i].digest, 1 << 20).value()));
  take_log();
  auto pulled = client.pull(ref, *dst).value();
  EXPECT_EQ(pulled.blobs_present, 2);
  EXPECT_EQ(pulled.blobs_downloaded, 2);  // layer 3 and the config
  int blob_gets = 0;
  for (const auto& l : take_log())
    if (l.method == "GET" && l.target.find("/blobs/") != std::string::npos) {
      ++blob_gets;
      EXPECT_EQ(l.target.find(m.layers[0].digest.str()), std::string::npos);
      EXPECT_EQ(l.target.find(m.layers[1].digest.str()), std::string::npos);
    }
  EXPECT_EQ(blob_gets, 2);
}

TEST_F(Registry, ChunkedUploadAndCrossRepositoryMount) {
  start();
  auto src = store("src");
  auto md = make_image(*src, 2, 200 << 10, 3);
  RegistryClient client({});
  image::registry::PushOptions po;
  po.chunk_size = 64 << 10;
  take_log();
  ASSERT_TRUE(client.push(parse_reference(host_ + "/base:1").value(), *src, md, po));
  int patches = 0;
  for (const auto& l : take_log()) patches += l.method == "PATCH";
  EXPECT_GE(patches, 8);  // >= 2 x (200 KiB / 64 KiB) chunks
  po.chunk_size = 0;
  po.mount_from = {"base"};
  auto res = client.push(parse_reference(host_ + "/derived:1").value(), *src, md, po).value();
  EXPECT_EQ(res.blobs_mounted, 3);
  EXPECT_EQ(res.blobs_uploaded, 0);
  auto dst = store("dst");
  EXPECT_EQ(client.pull(parse_reference(host_ + "/derived:1").value(), *dst)->blobs_downloaded, 3);
}

TEST_F(Registry, InterruptedDownloadResumesWithRange) {
  start();
  auto src = store("src");
  auto md = make_image(*src, 1, 500 << 10, 4);
  RegistryClient client({});
  auto ref = parse_reference(host_ + "/app:v1").value();
  ASSERT_TRUE(client.push(ref, *src, md));
  auto m = oci::parse_manifest(image::content::read_blob(*src, md).value()).value();
  auto layer = image::content::read_blob(*src, m.layers[0].digest, 1 << 20).value();
  auto dst = store("dst");
  {
    // What an interrupted pull leaves behind: part of the layer in its ingest.
    auto w = dst->writer({.ref = "pull-" + m.layers[0].digest.str()}).value();
    ASSERT_TRUE(w->write(layer.substr(0, 200000)));
  }
  take_log();
  auto pulled = client.pull(ref, *dst).value();
  EXPECT_EQ(pulled.bytes_downloaded, static_cast<int64_t>(layer.size() - 200000 + m.config.size));
  bool ranged = false;
  for (const auto& l : take_log())
    if (l.target.find(m.layers[0].digest.str()) != std::string::npos) {
      EXPECT_EQ(l.range, "bytes=200000-");
      EXPECT_EQ(l.status, 206);
      ranged = true;
    }
  EXPECT_TRUE(ranged);
  EXPECT_EQ(image::content::read_blob(*dst, m.layers[0].digest, 1 << 20).value(), layer);
}

TEST_F(Registry, HtpasswdBasicAuth) {
  std::string pw_file = dir_ / "htpasswd";
  ASSERT_TRUE(write_file_atomic(pw_file, Htpasswd::make_entry("alice", "s3cret").value() + "\n"));
  start(pw_file);
  auto src = store("src");
  auto md = make_image(*src, 1, 10 << 10, 5);
  auto ref = parse_reference(host_ + "/private:v1").value();
  RegistryClient anon({});
  auto denied = anon.push(ref, *src, md);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code(), Errc::PermissionDenied);
  image::registry::ClientOptions wrong;
  wrong.credentials[host_] = {"alice", "nope", ""};
  EXPECT_EQ(RegistryClient(wrong).push(ref, *src, md).error().code(), Errc::PermissionDenied);
  image::registry::ClientOptions good;
  good.credentials[host_] = {"alice", "s3cret", ""};
  RegistryClient client(good);
  ASSERT_TRUE(client.push(ref, *src, md));
  auto dst = store("dst");
  EXPECT_EQ(client.pull(ref, *dst)->manifest_digest, md);
  auto r = raw("GET", "/v2/");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers.get("WWW-Authenticate"), "Basic realm=\"berth-registry\"");
  EXPECT_EQ(code_of(r), "UNAUTHORIZED");
}

// A token-auth front end (like a registry behind an auth server): /token checks Basic credentials and issues
// tokens; everything else needs "Bearer <issued token>" and is proxied to our registry server.
TEST_F(Registry, BearerTokenFromChallenge) {
  start();
  std::mutex tmu;
  std::vector<std::string> scopes;
  std::set<std::string> issued;
  auto upstream = http::Client::make();
  std::unique_ptr<http::Server> front;
  front = http::Server::start({}, [&](http::ServerRequest& q, http::ServerResponse& r) {
            auto t = http::parse_target(q.target());
            auto auth = q.headers().get("Authorization").value_or("");
            if (t.path == "/token") {
              if (auth != "Basic " + image::registry::base64_encode("alice:s3cret")) {
                (void)r.send(401, {}, "{}");
                return;
              }
              std::lock_guard lk(tmu);
              for (const auto& [k, v] : t.query)
                if (k == "scope") scopes.push_back(v);
              std::string tok = fmt::format("tok-{}", issued.size());
              issued.insert(tok);
              (void)r.send(200, {}, nlohmann::json{{"token", tok}, {"expires_in", 300}}.dump());
              return;
            }
            bool ok_token = false;
            {
              std::lock_guard lk(tmu);
              ok_token = auth.rfind("Bearer ", 0) == 0 && issued.count(auth.substr(7));
            }
            if (!ok_token) {
              http::Headers h;
              h.add("WWW-Authenticate", fmt::format("Bearer realm=\"http://127.0.0.1:{}/token\",service=\"berth-test\"",
                                                    front->port()));
              (void)r.send(401, h, R"({"errors":[{"code":"UNAUTHORIZED","message":"token required"}]})");
              return;
            }
            http::ClientRequest up;
            up.method = q.method();
            up.url = http::parse_url(fmt::format("http://{}{}", host_, q.target())).value();
            for (const auto& [k, v] : q.headers().items())
              if (!http::iequals(k, "Authorization") && !http::iequals(k, "Host") && !http::iequals(k, "Content-Length"))
                up.headers.add(k, v);
            up.body = q.read_all(64 << 20).value();
            up.max_redirects = 0;
            auto resp = upstream->send(up).value();
            http::Headers h;
            std::optional<uint64_t> len;
            for (const auto& [k, v] : resp.headers.items()) {
              if (http::iequals(k, "Content-Length")) len = std::stoull(v);
              else if (!http::iequals(k, "Connection")) h.add(k, v);
            }
            (void)r.send(resp.status, h, resp.body, len);
          }).value();
  std::string fhost = fmt::format("127.0.0.1:{}", front->port());
  auto src = store("src");
  auto md = make_image(*src, 2, 50 << 10, 11);
  auto ref = parse_reference(fhost + "/app:v1").value();
  image::registry::ClientOptions co;
  co.credentials[fhost] = {"alice", "s3cret", ""};
  RegistryClient client(co);
  auto pushed = client.push(ref, *src, md);
  ASSERT_TRUE(pushed) << pushed.error().message();
  auto dst = store("dst");
  auto pulled = client.pull(ref, *dst);
  ASSERT_TRUE(pulled) << pulled.error().message();
  EXPECT_EQ(pulled->manifest_digest, md);
  {
    std::lock_guard lk(tmu);
    EXPECT_NE(std::find(scopes.begin(), scopes.end(), "repository:app:pull,push"), scopes.end());
    EXPECT_NE(std::find(scopes.begin(), scopes.end(), "repository:app:pull"), scopes.end());
    // Tokens are cached per scope: one fetch per scope, not one per request.
    EXPECT_EQ(scopes.size(), 2u) << fmt::format("{}", fmt::join(scopes, " | "));
  }
  RegistryClient anon({});
  auto denied = anon.pull(ref, *store("dst2"));
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code(), Errc::PermissionDenied);
  front->stop();
}

TEST_F(Registry, IndexPullSelectsLinuxAmd64) {
  start();
  auto src = store("src");
  auto arm = make_image(*src, 1, 1000, 6, "arm64");
  auto amd = make_image(*src, 1, 1000, 7, "amd64");
  RegistryClient client({});
  ASSERT_TRUE(client.push(parse_reference(host_ + "/multi@" + arm.str()).value(), *src, arm));
  ASSERT_TRUE(client.push(parse_reference(host_ + "/multi@" + amd.str()).value(), *src, amd));
  oci::Index idx;
  idx.media_type = std::string(oci::media::kOciIndex);
  auto desc = [&](const oci::Digest& d, std::string a) {
    return oci::Descriptor{.media_type = std::string(oci::media::kOciManifest), .digest = d,
                           .size = static_cast<int64_t>(image::content::read_blob(*src, d)->size()),
                           .platform = oci::Platform{.architecture = a, .os = "linux"}};
  };
  idx.manifests = {desc(arm, "arm64"), desc(amd, "amd64")};
  auto id = image::content::write_blob(*src, oci::to_json(idx)).value();
  ASSERT_TRUE(client.push(parse_reference(host_ + "/multi:latest").value(), *src, id));
  auto dst = store("dst");
  auto pulled = client.pull(parse_reference(host_ + "/multi").value(), *dst).value();
  EXPECT_EQ(pulled.resolved_digest, id);
  EXPECT_EQ(pulled.resolved_media_type, oci::media::kOciIndex);
  EXPECT_EQ(pulled.manifest_digest, amd);
}

TEST_F(Registry, DockerHubNamesFailClearly) {
  RegistryClient client({});
  auto dst = store("dst");
  auto r = client.pull(parse_reference("busybox").value(), *dst);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::FailedPrecondition);
  EXPECT_NE(r.error().message().find("Docker Hub"), std::string::npos);
}

TEST_F(Registry, BlobProtocolEdges) {
  start();
  auto base = raw("GET", "/v2/");
  EXPECT_EQ(base.status, 200);
  EXPECT_EQ(base.headers.get("Docker-Distribution-API-Version"), "registry/2.0");

  std::string blob = "0123456789abcdefghij";
  auto d = oci::Digest::sha256_of(blob);
  // Monolithic POST with the wrong digest.
  auto bad = raw("POST", "/v2/r/blobs/uploads/?digest=" + oci::Digest::sha256_of("x").str(), blob);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(code_of(bad), "DIGEST_INVALID");
  // Session: POST, PATCH 0-9, out-of-order PATCH -> 416, PATCH 10-19, status, PUT.
  auto post = raw("POST", "/v2/r/blobs/uploads/");
  ASSERT_EQ(post.status, 202);
  std::string loc = post.headers.get("Location").value();
  EXPECT_FALSE(post.headers.get("Docker-Upload-UUID").value_or("").empty());
  http::Headers h1;
  h1.add("Content-Range", "0-9");
  auto p1 = raw("PATCH", loc, blob.substr(0, 10), h1);
  EXPECT_EQ(p1.status, 202);
  EXPECT_EQ(p1.headers.get("Range"), "0-9");
  http::Headers skip;
  skip.add("Content-Range", "15-19");
  auto ooo = raw("PATCH", loc, blob.substr(15), skip);
  EXPECT_EQ(ooo.status, 416);
  EXPECT_EQ(ooo.headers.get("Range"), "0-9");
  http::Headers h2;
  h2.add("Content-Range", "10-19");
  EXPECT_EQ(raw("PATCH", loc, blob.substr(10), h2).status, 202);
  auto status = raw("GET", loc);
  EXPECT_EQ(status.status, 204);
  EXPECT_EQ(status.headers.get("Range"), "0-19");
  auto put = raw("PUT", loc + "?digest=" + d.str());
  EXPECT_EQ(put.status, 201);
  EXPECT_EQ(put.headers.get("Docker-Content-Digest"), d.str());
  EXPECT_EQ(raw("GET", loc).status, 404);  // session gone

  auto get = raw("GET", "/v2/r/blobs/" + d.str());
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, blob);
  http::Headers rg;
  rg.add("Range", "bytes=5-9");
  auto part = raw("GET", "/v2/r/blobs/" + d.str(), "", rg);
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, "56789");
  EXPECT_EQ(part.headers.get("Content-Range"), "bytes 5-9/20");
  http::Headers past;
  past.add("Range", "bytes=20-");
  EXPECT_EQ(raw("GET", "/v2/r/blobs/" + d.str(), "", past).status, 416);
  auto head = raw("HEAD", "/v2/r/blobs/" + d.str());
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers.get("Content-Length"), "20");
  // Blobs are visible only in repositories that have them; mounting links them.
  EXPECT_EQ(code_of(raw("GET", "/v2/other/blobs/" + d.str())), "BLOB_UNKNOWN");
  EXPECT_EQ(raw("POST", "/v2/other/blobs/uploads/?mount=" + d.str() + "&from=nowhere").status, 202);
  auto mount = raw("POST", "/v2/other/blobs/uploads/?mount=" + d.str() + "&from=r");
  EXPECT_EQ(mount.status, 201);
  EXPECT_EQ(raw("HEAD", "/v2/other/blobs/" + d.str()).status, 200);
  // Cancel a session.
  auto post2 = raw("POST", "/v2/r/blobs/uploads/");
  EXPECT_EQ(raw("DELETE", post2.headers.get("Location").value()).status, 204);
  EXPECT_EQ(code_of(raw("PATCH", post2.headers.get("Location").value(), "x")), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(code_of(raw("GET", "/v2/Bad/blobs/" + d.str())), "NAME_INVALID");
  EXPECT_EQ(code_of(raw("GET", "/v2/r/blobs/sha256:zz")), "DIGEST_INVALID");
}

TEST_F(Registry, ManifestsTagsCatalogReferrersAndGc) {
  start();
  auto src = store("src");
  RegistryClient client({});
  auto md = make_image(*src, 1, 1000, 8);
  std::string body = image::content::read_blob(*src, md).value();
  http::Headers ct;
  ct.add("Content-Type", std::string(oci::media::kOciManifest));
  // Referenced blobs must exist in the repository.
  auto missing = raw("PUT", "/v2/app/manifests/v1", body, ct);
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(code_of(missing), "MANIFEST_BLOB_UNKNOWN");
  EXPECT_EQ(code_of(raw("PUT", "/v2/app/manifests/v1", "{\"schemaVersion\":2,", ct)), "MANIFEST_INVALID");
  http::Headers s1;
  s1.add("Content-Type", std::string(oci::media::kDockerSchema1Signed));
  EXPECT_EQ(code_of(raw("PUT", "/v2/app/manifests/v1", "{\"schemaVersion\":1}", s1)), "MANIFEST_INVALID");
  for (const char* tag : {"v1", "v2", "v3", "a0"})
    ASSERT_TRUE(client.push(parse_reference(host_ + "/app:" + std::string(tag)).value(), *src, md));
  EXPECT_EQ(code_of(raw("PUT", "/v2/app/manifests/" + oci::Digest::sha256_of("x").str(), body, ct)), "DIGEST_INVALID");

  auto g = raw("GET", "/v2/app/manifests/v2");
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body, body);
  EXPECT_EQ(g.headers.get("Content-Type"), oci::media::kOciManifest);
  EXPECT_EQ(g.headers.get("Docker-Content-Digest"), md.str());
  EXPECT_EQ(raw("HEAD", "/v2/app/manifests/" + md.str()).headers.get("Content-Length"), std::to_string(body.size()));
  EXPECT_EQ(code_of(raw("GET", "/v2/app/manifests/nope")), "MANIFEST_UNKNOWN");

  auto page = raw("GET", "/v2/app/tags/list?n=2");
  EXPECT_EQ(nlohmann::json::parse(page.body)["tags"], nlohmann::json({"a0", "v1"}));
  EXPECT_EQ(page.headers.get("Link"), "</v2/app/tags/list?n=2&last=v1>; rel=\"next\"");
  auto page2 = raw("GET", "/v2/app/tags/list?n=2&last=v1");
  EXPECT_EQ(nlohmann::json::parse(page2.body)["tags"], nlohmann::json({"v2", "v3"}));
  EXPECT_EQ(code_of(raw("GET", "/v2/ghost/tags/list")), "NAME_UNKNOWN");
  ASSERT_TRUE(client.push(parse_reference(host_ + "/zeta/nested:1").value(), *src, md));
  EXPECT_EQ(nlohmann::json::parse(raw("GET", "/v2/_catalog").body)["repositories"],
            nlohmann::json({"app", "zeta/nested"}));
  auto cat = raw("GET", "/v2/_catalog?n=1");
  EXPECT_EQ(nlohmann::json::parse(cat.body)["repositories"], nlohmann::json({"app"}));
  EXPECT_TRUE(cat.headers.has("Link"));

  // A referrer (signature-like artifact) with subject = the image manifest.
  std::string sig = "signature bytes";
  auto sd = image::content::write_blob(*src, sig).value();
  auto empty_cfg = image::content::write_blob(*src, "{}").value();
  oci::Manifest art;
  art.media_type = std::string(oci::media::kOciManifest);
  art.artifact_type = "application/vnd.example.sig";
  art.config = {.media_type = std::string(oci::media::kOciEmpty), .digest = empty_cfg, .size = 2};
  art.layers = {{.media_type = "application/octet-stream", .digest = sd, .size = static_cast<int64_t>(sig.size())}};
  art.subject = oci::Descriptor{.media_type = std::string(oci::media::kOciManifest), .digest = md,
                                .size = static_cast<int64_t>(body.size())};
  auto ad = image::content::write_blob(*src, oci::to_json(art)).value();
  for (const auto& b : {sd, empty_cfg}) {
    auto blob = image::content::read_blob(*src, b).value();
    ASSERT_EQ(raw("POST", "/v2/app/blobs/uploads/?digest=" + b.str(), blob).status, 201);
  }
  auto put_art = raw("PUT", "/v2/app/manifests/" + ad.str(), oci::to_json(art), ct);
  EXPECT_EQ(put_art.status, 201);
  EXPECT_EQ(put_art.headers.get("OCI-Subject"), md.str());
  auto refs = raw("GET", "/v2/app/referrers/" + md.str());
  auto ri = nlohmann::json::parse(refs.body);
  EXPECT_EQ(refs.headers.get("Content-Type"), oci::media::kOciIndex);
  ASSERT_EQ(ri["manifests"].size(), 1u);
  EXPECT_EQ(ri["manifests"][0]["digest"], ad.str());
  EXPECT_EQ(ri["manifests"][0]["artifactType"], "application/vnd.example.sig");
  auto filtered = raw("GET", "/v2/app/referrers/" + md.str() + "?artifactType=other/type");
  EXPECT_EQ(filtered.headers.get("OCI-Filters-Applied"), "artifactType");
  EXPECT_TRUE(nlohmann::json::parse(filtered.body)["manifests"].empty());

  // Delete by tag, then the artifact by digest; gc then drops the signature blobs only.
  EXPECT_EQ(raw("DELETE", "/v2/app/manifests/a0").status, 202);
  EXPECT_EQ(code_of(raw("GET", "/v2/app/manifests/a0")), "MANIFEST_UNKNOWN");
  EXPECT_EQ(raw("DELETE", "/v2/app/manifests/" + ad.str()).status, 202);
  EXPECT_TRUE(nlohmann::json::parse(raw("GET", "/v2/app/referrers/" + md.str()).body)["manifests"].empty());
  // A blob uploaded but never referenced.
  ASSERT_EQ(raw("POST", "/v2/app/blobs/uploads/?digest=" + oci::Digest::sha256_of("orphan").str(), "orphan").status, 201);
  srv_->stop();
  auto st = Storage::open(dir_ / "registry").value();
  auto stats = st->gc(false).value();
  EXPECT_EQ(stats.blobs_removed, 4);  // signature, "{}" config, the artifact manifest, the orphan
  EXPECT_EQ(stats.blobs_kept, 3);     // image manifest, its config and layer
  EXPECT_TRUE(st->get_manifest("app", "v1"));
  EXPECT_EQ(st->stat_blob("app", sd).error().code(), Errc::NotFound);
}

TEST_F(Registry, InterruptedChunkedPushResumesAtTheRegistrysOffset) {
  start();
  auto src = store("src");
  auto md = make_image(*src, 1, 1 << 20, 9);
  auto m = oci::parse_manifest(image::content::read_blob(*src, md).value()).value();
  CuttingProxy proxy(srv_->port(), 400000);  // mid-way through the layer's chunks
  RegistryClient client({});
  auto ref = parse_reference(fmt::format("127.0.0.1:{}/app:v1", proxy.port())).value();
  image::registry::PushOptions po;
  po.chunk_size = 64 << 10;
  take_log();
  auto pushed = client.push(ref, *src, md, po);
  ASSERT_TRUE(pushed) << pushed.error().message();
  EXPECT_TRUE(proxy.cut());
  // After the cut: a GET of the upload session, then PATCHes that continue at the offset the registry reported:
  // the server answers 416 to a Content-Range that does not continue its session, so 202s prove it. (A 416 may
  // come first when the status was read while the server still appended the cut request's last bytes; the
  // client then asks again.)
  auto log = take_log();
  bool status_asked = false;
  int resumed = 0;
  std::string session;  // the interrupted upload (the config's upload runs alongside)
  auto path = [](const std::string& t) { return t.substr(0, t.find('?')); };
  for (const auto& l : log) {
    if (l.method == "GET" && l.target.find("/blobs/uploads/") != std::string::npos) {
      status_asked = true;
      session = path(l.target);
    }
    if (status_asked && l.method == "PATCH" && path(l.target) == session && !l.content_range.empty()) {
      EXPECT_GT(std::stoll(l.content_range), 0) << "never a restart from 0";
      resumed += l.status == 202;
    }
  }
  EXPECT_TRUE(status_asked);
  EXPECT_GT(resumed, 0);
  // The registry has exactly our bytes.
  auto dst = store("dst");
  auto direct = parse_reference(host_ + "/app:v1").value();
  ASSERT_TRUE(client.pull(direct, *dst));
  EXPECT_EQ(image::content::read_blob(*dst, m.layers[0].digest, 2 << 20).value(),
            image::content::read_blob(*src, m.layers[0].digest, 2 << 20).value());
}

TEST(RegistryClientTimeouts, StalledServerAndUnansweredConnectFail) {
  // A listener that accepts and then says nothing.
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(lfd, 8), 0);
  socklen_t len = sizeof a;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  image::registry::ClientOptions co;
  co.io_timeout_ms = 300;
  co.connect_timeout_ms = 300;
  RegistryClient client(co);
  auto st = client.ping(fmt::format("127.0.0.1:{}", ntohs(a.sin_port)));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::Unavailable);
  EXPECT_NE(st.error().message().find("I/O timeout"), std::string::npos) << st.error().message();
  ::close(lfd);

  // A listener whose accept queue is full: the SYN is dropped, the connect never completes.
  int full = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  a.sin_port = 0;
  ASSERT_EQ(::bind(full, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(full, 0), 0);
  len = sizeof a;
  ::getsockname(full, reinterpret_cast<sockaddr*>(&a), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 3; ++i) {
    int f = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    (void)::connect(f, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(f);
  }
  auto c = client.ping(fmt::format("127.0.0.1:{}", ntohs(a.sin_port)));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Errc::Unavailable);
  EXPECT_NE(c.error().message().find("timed out"), std::string::npos) << c.error().message();
  for (int f : fillers) ::close(f);
  ::close(full);
}

}  // namespace
}  // namespace berth::registry
