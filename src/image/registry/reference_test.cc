#include "image/registry/reference.h"

#include <gtest/gtest.h>

namespace berth::image::registry {
namespace {

TEST(Reference, RegistryPortTagAndDigest) {
  auto r = parse_reference("127.0.0.1:5000/team/app:v1.2").value();
  EXPECT_EQ(r.registry, "127.0.0.1:5000");
  EXPECT_EQ(r.repository, "team/app");
  EXPECT_EQ(r.tag, "v1.2");
  EXPECT_FALSE(r.digest);
  EXPECT_EQ(r.reference(), "v1.2");
  EXPECT_EQ(r.str(), "127.0.0.1:5000/team/app:v1.2");

  std::string hex(64, 'a');
  auto d = parse_reference("localhost/app@sha256:" + hex).value();
  EXPECT_EQ(d.registry, "localhost");
  EXPECT_EQ(d.repository, "app");
  EXPECT_TRUE(d.tag.empty());
  EXPECT_EQ(d.reference(), "sha256:" + hex);

  auto both = parse_reference("reg.example.com/a/b/c:t@sha256:" + hex).value();
  EXPECT_EQ(both.registry, "reg.example.com");
  EXPECT_EQ(both.repository, "a/b/c");
  EXPECT_EQ(both.tag, "t");
  EXPECT_EQ(both.reference(), "sha256:" + hex);  // the digest wins
}

TEST(Reference, DefaultsToDockerHubAndLatest) {
  auto r = parse_reference("busybox").value();
  EXPECT_TRUE(r.is_docker_hub());
  EXPECT_EQ(r.repository, "library/busybox");
  EXPECT_EQ(r.tag, "latest");
  auto u = parse_reference("someone/tool:1").value();
  EXPECT_TRUE(u.is_docker_hub());
  EXPECT_EQ(u.repository, "someone/tool");
  auto host = parse_reference("localhost:5000/x").value();
  EXPECT_FALSE(host.is_docker_hub());
  EXPECT_EQ(host.tag, "latest");
  auto v6 = parse_reference("[::1]:5000/x:y").value();
  EXPECT_EQ(v6.registry, "[::1]:5000");
  EXPECT_EQ(v6.tag, "y");
}

TEST(Reference, RejectsBadNames) {
  EXPECT_FALSE(parse_reference("Upper/case"));
  EXPECT_FALSE(parse_reference("reg:5000/a//b"));
  EXPECT_FALSE(parse_reference("reg:5000/a/../b"));
  EXPECT_FALSE(parse_reference("reg:5000/-a"));
  EXPECT_FALSE(parse_reference("reg:5000/a-"));
  EXPECT_FALSE(parse_reference("reg:5000/a:bad/tag"));
  EXPECT_FALSE(parse_reference("reg:5000/a:.tag"));
  EXPECT_FALSE(parse_reference("reg:5000/a@sha256:short"));
  EXPECT_FALSE(parse_reference("reg:5000/a:" + std::string(129, 't')));
  EXPECT_FALSE(parse_reference("reg:5000/" + std::string(250, 'a')));
  EXPECT_FALSE(parse_reference(""));
  EXPECT_FALSE(parse_reference("reg:abc/x"));
}

TEST(Reference, ComponentSeparators) {
  EXPECT_TRUE(valid_repository_name("a.b_c__d-e---f/g"));
  EXPECT_FALSE(valid_repository_name("a___b"));
  EXPECT_FALSE(valid_repository_name("a..b"));
  EXPECT_FALSE(valid_repository_name("a/"));
  EXPECT_FALSE(valid_repository_name("/a"));
  EXPECT_TRUE(valid_tag("latest"));
  EXPECT_TRUE(valid_tag("_x.Y-1"));
  EXPECT_FALSE(valid_tag("-x"));
}

TEST(Reference, Loopback) {
  EXPECT_TRUE(is_loopback_registry("localhost"));
  EXPECT_TRUE(is_loopback_registry("localhost:5000"));
  EXPECT_TRUE(is_loopback_registry("127.0.0.1:5000"));
  EXPECT_TRUE(is_loopback_registry("127.3.2.1"));
  EXPECT_TRUE(is_loopback_registry("[::1]:5000"));
  EXPECT_FALSE(is_loopback_registry("reg.example:5000"));
  EXPECT_FALSE(is_loopback_registry("10.0.0.1:5000"));
}

}  // namespace
}  // namespace berth::image::registry
