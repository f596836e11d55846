#include "image/registry/auth.h"

#include <gtest/gtest.h>

#include "base/file.h"
#include "base/testing/temp_dir.h"

namespace berth::image::registry {
namespace {

TEST(Challenge, BearerWithQuotedParams) {
  auto c = parse_challenges(
               R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")")
               .value();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].param("realm"), "https://auth.example/token");
  EXPECT_EQ(c[0].param("service"), "registry.example");
  EXPECT_EQ(c[0].param("scope"), "repository:a/b:pull,push");  // comma inside quotes kept
}

TEST(Challenge, SeveralSchemesTokensAndEscapes) {
  auto c = parse_challenges(R"(Basic realm="Registry \"R\"", Bearer realm=https://a/t, error=invalid_token)").value();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].scheme, "basic");
  EXPECT_EQ(c[0].param("realm"), "Registry \"R\"");
  EXPECT_EQ(c[1].scheme, "bearer");
  EXPECT_EQ(c[1].param("realm"), "https://a/t");
  EXPECT_EQ(c[1].param("error"), "invalid_token");
  auto bare = parse_challenges("Basic").value();
  ASSERT_EQ(bare.size(), 1u);
  EXPECT_TRUE(bare[0].params.empty());
  EXPECT_FALSE(parse_challenges(R"(Bearer realm="unterminated)"));
  EXPECT_TRUE(parse_challenges("")->empty());
}

TEST(Base64, RoundTripsAllPaddings) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "user:p@ss:w0rd"}) {
    EXPECT_EQ(base64_decode(base64_encode(s)).value(), s);
  }
  EXPECT_EQ(base64_encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_FALSE(base64_decode("!!!!"));
}

TEST(DockerConfig, AuthsEntries) {
  auto m = parse_docker_config(R"({
    "auths": {
      "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
      "127.0.0.1:5000": {"auth": "dXNlcjpwYTpzcw=="},
      "http://reg.example:8443/path": {"username": "u2", "password": "p2"},
      "helper-only.example": {}
    },
    "credsStore": "desktop"
  })").value();
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m["docker.io"].username, "hub");
  EXPECT_EQ(m["docker.io"].password, "secret");
  EXPECT_EQ(m["127.0.0.1:5000"].username, "user");
  EXPECT_EQ(m["127.0.0.1:5000"].password, "pa:ss");  // only the first ':' splits
  EXPECT_EQ(m["reg.example:8443"].username, "u2");
  EXPECT_FALSE(m.count("helper-only.example"));
  EXPECT_FALSE(parse_docker_config(R"({"auths": {"x": {"auth": "bm9jb2xvbg=="}}})"));  // "nocolon"
  EXPECT_FALSE(parse_docker_config("{"));
  EXPECT_TRUE(parse_docker_config("{}")->empty());
}

TEST(DockerConfig, StoreThenLoad) {
  berth::testing::TempDir dir;
  std::string path = dir / "docker/config.json";
  EXPECT_TRUE(load_docker_config(path)->empty());
  ASSERT_TRUE(store_docker_credentials(path, "127.0.0.1:5000", {"alice", "s3cret", ""}));
  ASSERT_TRUE(store_docker_credentials(path, "reg.example", {"bob", "pw", ""}));
  auto m = load_docker_config(path).value();
  EXPECT_EQ(m["127.0.0.1:5000"].username, "alice");
  EXPECT_EQ(m["127.0.0.1:5000"].password, "s3cret");
  EXPECT_EQ(m["reg.example"].username, "bob");
}

}  // namespace
}  // namespace berth::image::registry
