// Routing, version prefixes, headers and error mapping of the Engine API against a fake engine, through
// in-memory request/response objects (no sockets).
#include "api/server/api_server.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/server/testing/fakes.h"

namespace berth::api {
namespace {

using nlohmann::json;

using testing::FakeEngine;
using testing::FakeRequest;
using testing::FakeResponse;

FakeResponse call(engine::Engine& e, std::string method, std::string target) {
  FakeRequest q(std::move(method), std::move(target));
  FakeResponse r;
  ApiHandler h(e);
  h(q, r);
  return r;
}

TEST(SplitVersion, PrefixesAndLimits) {
  auto a = split_version("/v1.41/images/json").value();
  EXPECT_EQ(a.version, "1.41");
  EXPECT_EQ(a.path, "/images/json");
  auto b = split_version("/images/json").value();
  EXPECT_EQ(b.version, "");
  EXPECT_EQ(b.path, "/images/json");
  EXPECT_EQ(split_version("/v1.24/_ping").value().path, "/_ping");
  EXPECT_EQ(split_version("/v1.41").value().path, "/");
  // not a version: left as a path
  EXPECT_EQ(split_version("/volumes").value().path, "/volumes");
  EXPECT_EQ(split_version("/v1/x").value().path, "/v1/x");
  EXPECT_EQ(split_version("/v1.x/x").value().path, "/v1.x/x");
  auto hi = split_version("/v1.99/version");
  ASSERT_FALSE(hi);
  EXPECT_EQ(hi.error().code(), Errc::InvalidArgument);
  EXPECT_EQ(hi.error().message(), "client version 1.99 is too new. Maximum supported API version is 1.41");
  EXPECT_FALSE(split_version("/v2.0/version"));
  auto lo = split_version("/v1.12/version");
  ASSERT_FALSE(lo);
  EXPECT_NE(lo.error().message().find("is too old"), std::string::npos);
}

TEST(HttpStatus, ErrcMapping) {
  EXPECT_EQ(http_status(Errc::NotFound), 404);
  EXPECT_EQ(http_status(Errc::Conflict), 409);
  EXPECT_EQ(http_status(Errc::AlreadyExists), 409);
  EXPECT_EQ(http_status(Errc::FailedPrecondition), 409);
  EXPECT_EQ(http_status(Errc::InvalidArgument), 400);
  EXPECT_EQ(http_status(Errc::PermissionDenied), 403);
  EXPECT_EQ(http_status(Errc::Unimplemented), 501);
  EXPECT_EQ(http_status(Errc::Internal), 500);
  EXPECT_EQ(http_status(Errc::Unavailable), 500);
}

TEST(ApiHandler, PingHeadersAndBody) {
  FakeEngine e;
  for (auto target : {"/_ping", "/v1.41/_ping"}) {
    auto r = call(e, "GET", target);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "OK");
    EXPECT_EQ(r.headers.get("Api-Version"), "1.41");
    EXPECT_EQ(r.headers.get("Docker-Experimental"), "false");
    EXPECT_EQ(r.headers.get("Ostype"), "linux");
    EXPECT_EQ(r.headers.get("Cache-Control"), "no-cache, no-store, must-revalidate");
    EXPECT_EQ(r.headers.get("Pragma"), "no-cache");
  }
  auto h = call(e, "HEAD", "/_ping");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "");
  EXPECT_EQ(h.headers.get("Api-Version"), "1.41");
}

TEST(ApiHandler, UnknownEndpointsAndBadVersions) {
  FakeEngine e;
  auto r = call(e, "GET", "/v1.41/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body_json(), json({{"message", "page not found"}}));
  EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
  EXPECT_EQ(r.headers.get("Api-Version"), "1.41");  // on errors too
  EXPECT_EQ(call(e, "POST", "/version").status, 404);  // wrong method
  EXPECT_EQ(call(e, "GET", "/images/").status, 404);
  auto v = call(e, "GET", "/v1.99/version");
  EXPECT_EQ(v.status, 400);
  EXPECT_EQ(v.body_json()["message"], "client version 1.99 is too new. Maximum supported API version is 1.41");
}

TEST(ApiHandler, VersionAndInfo) {
  FakeEngine e;
  auto v = call(e, "GET", "/v1.41/version").body_json();
  EXPECT_EQ(v["ApiVersion"], "1.41");
  EXPECT_EQ(v["MinAPIVersion"], "1.24");
  EXPECT_EQ(v["Os"], "linux");
  EXPECT_EQ(v["Arch"], "amd64");
  EXPECT_EQ(v["KernelVersion"], "6.1.0-test");
  EXPECT_EQ(v["Components"][0]["Name"], "Engine");
  auto i = call(e, "GET", "/info").body_json();
  EXPECT_EQ(i["ID"], "fake-id");
  EXPECT_EQ(i["Images"], 2);
  EXPECT_EQ(i["Driver"], "overlay2");
  EXPECT_EQ(i["DockerRootDir"], "/data");
  EXPECT_EQ(i["NCPU"], 3);
  EXPECT_EQ(i["Runtimes"]["berth"]["path"], "/bin/berth-runtime");
  EXPECT_EQ(i["Swarm"]["LocalNodeState"], "inactive");
}

TEST(ApiHandler, ImagesListAndFilters) {
  FakeEngine e;
  auto all = call(e, "GET", "/v1.41/images/json").body_json();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["Id"], "sha256:1");
  EXPECT_EQ(all[0]["RepoTags"], json({"busybox:latest", "127.0.0.1:5000/bb:v1"}));
  EXPECT_TRUE(all[0]["RepoDigests"].is_null());
  EXPECT_EQ(all[0]["Size"], 2000);
  EXPECT_EQ(all[0]["SharedSize"], -1);
  EXPECT_EQ(all[0]["Containers"], -1);
  EXPECT_TRUE(all[1]["RepoTags"].is_null());
  EXPECT_EQ(all[1]["Labels"]["k"], "v");
  // filters={"dangling":{"true":true}}
  auto d = call(e, "GET", "/images/json?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D").body_json();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0]["Id"], "sha256:2");
  auto ref = call(e, "GET", "/images/json?filters=%7B%22reference%22%3A%5B%22busy%2A%22%5D%7D").body_json();
  ASSERT_EQ(ref.size(), 1u);
  EXPECT_EQ(ref[0]["Id"], "sha256:1");
  EXPECT_EQ(call(e, "GET", "/images/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D").status, 400);
  EXPECT_EQ(call(e, "GET", "/images/json?filters=notjson").status, 400);
}

TEST(ApiHandler, ImageNamesWithSlashesAndColons) {
  FakeEngine e;
  auto r = call(e, "GET", "/v1.41/images/127.0.0.1:5000/bb:v1/json");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(e.last_ref, "127.0.0.1:5000/bb:v1");
  auto j = r.body_json();
  EXPECT_EQ(j["Id"], "sha256:1");
  EXPECT_EQ(j["Config"]["Cmd"], json({"sh"}));
  EXPECT_EQ(j["Config"]["Env"], json({"A=1"}));
  EXPECT_EQ(j["Config"]["Tty"], false);
  EXPECT_EQ(j["RootFS"]["Layers"], json({"sha256:aa"}));
  EXPECT_EQ(j["Comment"], "hi");
  EXPECT_EQ(j["Architecture"], "amd64");
  EXPECT_EQ(j["Created"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(j["Metadata"]["LastTagTime"], "0001-01-01T00:00:00Z");  // a time the CLI can parse
  auto nf = call(e, "GET", "/images/nosuch/json");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.body_json()["message"], "No such image: nosuch");
  EXPECT_EQ(call(e, "GET", "/images/a/b:c/history").status, 200);
  EXPECT_EQ(e.last_ref, "a/b:c");
}

TEST(ApiHandler, TagDeletePrune) {
  FakeEngine e;
  auto t = call(e, "POST", "/v1.41/images/busybox:latest/tag?repo=127.0.0.1%3A5000%2Fx&tag=v2");
  EXPECT_EQ(t.status, 201);
  EXPECT_EQ(e.last_ref, "busybox:latest");
  EXPECT_EQ(e.last_tag, "127.0.0.1:5000/x|v2");
  EXPECT_EQ(call(e, "POST", "/images/busybox/tag").status, 400);
  auto d = call(e, "DELETE", "/v1.41/images/127.0.0.1:5000/bb:v1?force=1");
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(e.last_ref, "127.0.0.1:5000/bb:v1");
  EXPECT_TRUE(e.last_force);
  EXPECT_EQ(d.body_json(), json::parse(R"([{"Untagged":"x:latest"},{"Deleted":"sha256:1"}])"));
  auto c = call(e, "DELETE", "/images/multi");
  EXPECT_EQ(c.status, 409);
  EXPECT_FALSE(e.last_force);
  auto p = call(e, "POST", "/images/prune");
  EXPECT_EQ(p.status, 200);
  EXPECT_TRUE(e.last_force);  // dangling only by default
  EXPECT_EQ(p.body_json()["SpaceReclaimed"], 1234);
  EXPECT_EQ(p.body_json()["ImagesDeleted"][0]["Deleted"], "sha256:2");
  call(e, "POST", "/images/prune?filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%7D");
  EXPECT_FALSE(e.last_force);
}

// Bodies of routes that are not archives are read ahead, at most 1 MiB: 413 (and the connection is closed
// rather than drained) by Content-Length or once a chunked body passes the limit.
TEST(ApiHandler, BodyLimit) {
  FakeEngine e;
  ApiHandler h(e);
  {
    FakeRequest q("POST", "/v1.41/images/prune", std::string((1 << 20) + 1, ' '));
    FakeResponse r;
    h(q, r);
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.headers.get("Connection"), "close");
    EXPECT_EQ(q.consumed(), 0u);  // refused before reading
    EXPECT_EQ(r.body_json()["message"], "request body exceeds 1048576 bytes");
  }
  {
    FakeRequest q("POST", "/v1.41/images/prune", std::string(3 << 20, ' '), {}, /*chunked=*/true, 1000);
    FakeResponse r;
    h(q, r);
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.headers.get("Connection"), "close");
    EXPECT_LE(q.consumed(), (1u << 20) + 1000);  // stopped at the limit
  }
  {
    // a chunked body within the limit reaches the route
    FakeRequest q("POST", "/v1.41/images/prune", std::string(1 << 20, ' '), {}, /*chunked=*/true, 1000);
    FakeResponse r;
    h(q, r);
    EXPECT_EQ(r.status, 200);
  }
}

}  // namespace
}  // namespace berth::api
