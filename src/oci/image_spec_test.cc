#include "oci/image_spec.h"

#include <gtest/gtest.h>

namespace berth::oci {
namespace {

std::string d(char c) { return "sha256:" + std::string(64, c); }

std::string oci_manifest() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + d('a') + R"(","size":123},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + d('b') + R"(","size":456},
              {"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":")" + d('c') + R"(","size":7,
               "annotations":{"k":"v"}}],
    "annotations":{"org.opencontainers.image.ref.name":"1.0"}, "unknownField": [1,2,3]})";
}

TEST(ImageSpec, ParsesOciManifest) {
  auto r = parse_manifest_or_index(oci_manifest());
  ASSERT_TRUE(r) << r.error().message();
  auto& m = std::get<Manifest>(*r);
  EXPECT_EQ(m.config.digest.str(), d('a'));
  EXPECT_EQ(m.config.size, 123);
  ASSERT_EQ(m.layers.size(), 2u);
  EXPECT_EQ(m.layers[1].annotations.at("k"), "v");
  EXPECT_EQ(*layer_compression(m.layers[0].media_type), Compression::Gzip);
  EXPECT_EQ(*layer_compression(m.layers[1].media_type), Compression::Zstd);
  EXPECT_EQ(m.annotations.at("org.opencontainers.image.ref.name"), "1.0");
}

TEST(ImageSpec, RoundTripsManifest) {
  auto m = parse_manifest(oci_manifest());
  ASSERT_TRUE(m) << m.error().message();
  auto text = to_json(*m);
  auto m2 = parse_manifest(text);
  ASSERT_TRUE(m2) << m2.error().message();
  EXPECT_EQ(to_json(*m2), text);
  EXPECT_EQ(m2->layers.size(), 2u);
}

TEST(ImageSpec, ParsesDockerManifestListAndSelectsPlatform) {
  std::string list = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests":[
     {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" + d('1') + R"(","size":1,
      "platform":{"architecture":"arm","os":"linux","variant":"v7"}},
     {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" + d('2') + R"(","size":2,
      "platform":{"architecture":"amd64","os":"linux"}},
     {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":")" + d('3') + R"(","size":3,
      "platform":{"architecture":"arm64","os":"linux"}}]})";
  auto r = parse_manifest_or_index(list);
  ASSERT_TRUE(r) << r.error().message();
  auto& idx = std::get<Index>(*r);
  auto amd = select_platform(idx, Platform::parse("linux/amd64").value());
  ASSERT_TRUE(amd);
  EXPECT_EQ(amd->digest.str(), d('2'));
  auto arm = select_platform(idx, Platform::parse("linux/arm/v7").value());
  ASSERT_TRUE(arm);
  EXPECT_EQ(arm->digest.str(), d('1'));
  auto arm64 = select_platform(idx, Platform::parse("linux/aarch64/v8").value());
  ASSERT_TRUE(arm64);
  EXPECT_EQ(arm64->digest.str(), d('3'));
  auto none = select_platform(idx, Platform::parse("linux/s390x").value());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Errc::NotFound);
  EXPECT_NE(none.error().message().find("linux/arm/v7"), std::string::npos) << none.error().message();
}

TEST(ImageSpec, SkipsAttestationManifests) {
  std::string idx = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
     {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + d('1') + R"(","size":1,
      "platform":{"architecture":"unknown","os":"unknown"},
      "annotations":{"vnd.docker.reference.type":"attestation-manifest"}},
     {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + d('2') + R"(","size":1,
      "platform":{"architecture":"amd64","os":"linux"}}]})";
  auto x = parse_index(idx);
  ASSERT_TRUE(x) << x.error().message();
  EXPECT_EQ(select_platform(*x, Platform::host())->digest.str(), d('2'));
}

TEST(ImageSpec, RefusesSchema1) {
  auto r = parse_manifest_or_index(R"({"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::Unimplemented);
  EXPECT_NE(r.error().message().find("schema 1"), std::string::npos);
  auto r2 = parse_manifest_or_index(R"({"schemaVersion":1})", media::kDockerSchema1Signed);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code(), Errc::Unimplemented);
}

struct BadCase {
  std::string doc;
  std::string want;  // substring of the error
};

TEST(ImageSpec, ErrorsNameTheField) {
  std::string cfg = R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + d('a') +
                    R"(","size":1})";
  std::vector<BadCase> cases = {
      {"[1]", "document: expected an object"},
      {"{", "malformed JSON"},
      {R"({"schemaVersion":3,"layers":[],)" + cfg + "}", "schemaVersion: unsupported value 3"},
      {R"({"schemaVersion":2,"layers":[]})", "config: required field missing"},
      {R"({"schemaVersion":2,)" + cfg + "}", "layers: required field missing"},
      {R"({"schemaVersion":2,"layers":{},)" + cfg + "}", "layers: expected an array"},
      {R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"mediaType":"x","digest":"sha256:zz","size":1}]})",
       "layers[0].digest"},
      {R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"mediaType":"x","digest":")" + d('b') + R"(","size":-1}]})",
       "layers[0].size: negative size"},
      {R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"mediaType":"x","digest":")" + d('b') + R"(","size":"1"}]})",
       "layers[0].size: expected an integer"},
      {R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"digest":")" + d('b') + R"(","size":1}]})",
       "layers[0].mediaType: required field missing"},
      {R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":")" + d('b') +
           R"(","size":1,"platform":{"os":"linux"}}]})",
       "manifests[0].platform.architecture: required field missing"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","config":{}})",
       "manifests: required field missing"},
  };
  for (auto& c : cases) {
    auto r = parse_manifest_or_index(c.doc);
    ASSERT_FALSE(r) << c.doc;
    EXPECT_NE(r.error().message().find(c.want), std::string::npos) << "got: " << r.error().message();
  }
  auto mismatch = parse_manifest_or_index(oci_manifest(), media::kOciIndex);
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().message().find("served as"), std::string::npos);
}

const char* kDockerConfig = R"({
  "architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z",
  "config":{"User":"1000:1000","ExposedPorts":{"80/tcp":{},"53/udp":{}},"Env":["PATH=/usr/bin","A=b=c"],
    "Entrypoint":["/entry"],"Cmd":null,"Volumes":{"/data":{}},"WorkingDir":"/srv","Labels":{"a":"b"},
    "StopSignal":"SIGQUIT",
    "Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000,"Timeout":1000000000,"Retries":3}},
  "container_config":{"Hostname":"ignored"},
  "rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]},
  "history":[{"created":"2024-01-02T03:04:05Z","created_by":"ADD x /"},{"created_by":"CMD","empty_layer":true}]})";

TEST(ImageSpec, ParsesImageConfig) {
  auto c = parse_image_config(kDockerConfig);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->architecture, "amd64");
  EXPECT_EQ(c->config.user, "1000:1000");
  EXPECT_EQ(c->config.exposed_ports, (std::set<std::string>{"53/udp", "80/tcp"}));
  EXPECT_EQ(c->config.env.size(), 2u);
  ASSERT_TRUE(c->config.entrypoint);
  EXPECT_EQ((*c->config.entrypoint)[0], "/entry");
  EXPECT_FALSE(c->config.cmd);
  EXPECT_EQ(c->config.volumes.count("/data"), 1u);
  EXPECT_EQ(c->config.working_dir, "/srv");
  EXPECT_EQ(c->config.labels.at("a"), "b");
  EXPECT_EQ(c->config.stop_signal, "SIGQUIT");
  ASSERT_TRUE(c->config.healthcheck);
  EXPECT_EQ(c->config.healthcheck->interval_ns, 30000000000);
  EXPECT_EQ(c->config.healthcheck->retries, 3);
  ASSERT_EQ(c->diff_ids.size(), 1u);
  ASSERT_EQ(c->history.size(), 2u);
  EXPECT_TRUE(c->history[1].empty_layer);

  auto again = parse_image_config(to_json(*c));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(to_json(*again), to_json(*c));
  EXPECT_EQ(again->config.healthcheck->test, c->config.healthcheck->test);
}

TEST(ImageSpec, ImageConfigErrors) {
  std::vector<BadCase> cases = {
      {R"({"os":"linux","rootfs":{"type":"layers","diff_ids":[]}})", "architecture: required field missing"},
      {R"({"os":"linux","architecture":"amd64"})", "rootfs: required field missing"},
      {R"({"os":"linux","architecture":"amd64","rootfs":{"type":"zfs","diff_ids":[]}})", "rootfs.type"},
      {R"({"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":["nope"]}})",
       "rootfs.diff_ids[0]"},
      {R"({"os":"linux","architecture":"amd64","config":{"Env":["NOEQUALS"]},"rootfs":{"type":"layers"}})",
       "config.Env[0]"},
      {R"({"os":"linux","architecture":"amd64","config":{"Cmd":"sh"},"rootfs":{"type":"layers"}})",
       "config.Cmd: expected an array"},
      {R"({"os":"linux","architecture":"amd64","config":{"ExposedPorts":["80"]},"rootfs":{"type":"layers"}})",
       "config.ExposedPorts: expected an object"},
      {R"({"os":"linux","architecture":"amd64","config":{"Healthcheck":{"Test":["BOGUS"]}},"rootfs":{"type":"layers"}})",
       "config.Healthcheck.Test[0]"},
      {R"({"os":"linux","architecture":"amd64","rootfs":{"type":"layers"},"history":[{"empty_layer":"yes"}]})",
       "history[0].empty_layer: expected a boolean"},
  };
  for (auto& c : cases) {
    auto r = parse_image_config(c.doc);
    ASSERT_FALSE(r) << c.doc;
    EXPECT_NE(r.error().message().find(c.want), std::string::npos) << "got: " << r.error().message();
  }
}

TEST(ImageSpec, ValidateImageCountsLayers) {
  auto m = parse_manifest(oci_manifest()).value();
  auto c = parse_image_config(kDockerConfig).value();
  auto st = validate_image(m, c);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("2 layers"), std::string::npos);
  c.diff_ids.push_back(c.diff_ids[0]);
  EXPECT_TRUE(validate_image(m, c));
  m.layers[0].media_type = "application/x-foo";
  EXPECT_FALSE(validate_image(m, c));
}

TEST(ImageSpec, PlatformParse) {
  EXPECT_EQ(Platform::parse("linux/x86_64")->architecture, "amd64");
  EXPECT_EQ(Platform::parse("linux/arm/v7")->variant, "v7");
  EXPECT_EQ(Platform::parse("linux/amd64")->str(), "linux/amd64");
  EXPECT_FALSE(Platform::parse("linux"));
  EXPECT_FALSE(Platform::parse("linux//v7"));
  EXPECT_FALSE(Platform::parse("a/b/c/d"));
  EXPECT_EQ(Platform::host().str(), "linux/amd64");
}

TEST(ImageSpec, UnknownLayerType) {
  auto r = layer_compression("application/x-tar+bzip2");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::Unimplemented);
  EXPECT_EQ(*layer_compression(media::kDockerLayerGzip), Compression::Gzip);
  EXPECT_EQ(*layer_compression(media::kOciLayer), Compression::None);
}

}  // namespace
}  // namespace berth::oci
