#include "oci/state.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "oci/runtime_spec.h"

namespace berth::oci {
namespace {

TEST(State, RoundTrips) {
  State s;
  s.oci_version = std::string(kOciVersion);
  s.id = "oci-c1";
  s.status = ContainerStatus::Running;
  s.pid = 4422;
  s.bundle = "/var/lib/bundles/c1";
  s.annotations = {{"org.example", "v"}};
  std::string text = to_json(s);
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["ociVersion"], "1.1.0");
  EXPECT_EQ(j["id"], "oci-c1");
  EXPECT_EQ(j["status"], "running");
  EXPECT_EQ(j["pid"], 4422);
  EXPECT_EQ(j["bundle"], "/var/lib/bundles/c1");
  EXPECT_EQ(j["annotations"]["org.example"], "v");
  EXPECT_FALSE(j.contains("rootfs"));
  EXPECT_FALSE(j.contains("created"));

  auto back = parse_state(text);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->id, s.id);
  EXPECT_EQ(back->status, ContainerStatus::Running);
  EXPECT_EQ(back->pid, 4422);
  EXPECT_EQ(back->bundle, s.bundle);
  EXPECT_EQ(back->annotations, s.annotations);
  EXPECT_EQ(to_json(*back), text);
}

TEST(State, RuncExtrasRoundTrip) {
  const char* runc_state = R"({"ociVersion": "1.0.2-dev", "id": "x", "pid": 0, "status": "stopped",
      "bundle": "/b", "rootfs": "/b/rootfs", "created": "2026-11-25T08:00:00.123456789Z", "owner": "",
      "unknownKey": [1]})";
  auto s = parse_state(runc_state);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->status, ContainerStatus::Stopped);
  EXPECT_EQ(s->rootfs, "/b/rootfs");
  EXPECT_EQ(s->created, "2026-11-25T08:00:00.123456789Z");
  EXPECT_EQ(s->owner, "");
  auto again = parse_state(to_json(*s));
  ASSERT_TRUE(again);
  EXPECT_EQ(to_json(*again), to_json(*s));
}

TEST(State, StatusNames) {
  for (auto st : {ContainerStatus::Creating, ContainerStatus::Created, ContainerStatus::Running,
                  ContainerStatus::Stopped, ContainerStatus::Paused}) {
    auto name = container_status_name(st);
    EXPECT_EQ(container_status_from_name(name), st) << name;
  }
  EXPECT_EQ(container_status_name(ContainerStatus::Paused), "paused");
  EXPECT_EQ(container_status_from_name("exited"), std::nullopt);
}

TEST(State, RejectsBadState) {
  struct {
    const char* text;
    const char* want;
  } cases[] = {
      {R"({"id": "x", "status": "running"})", "ociVersion: required field is missing"},
      {R"({"ociVersion": "1", "status": "running"})", "id: required field is missing"},
      {R"({"ociVersion": "1", "id": "", "status": "running"})", "id: must not be empty"},
      {R"({"ociVersion": "1", "id": "x"})", "status: required field is missing"},
      {R"({"ociVersion": "1", "id": "x", "status": "exited"})", "status: unknown container status \"exited\""},
      {R"({"ociVersion": "1", "id": "x", "status": "created", "pid": -1})", "pid: -1 is out of range"},
      {R"({"ociVersion": "1", "id": "x", "status": "created", "pid": "1"})", "pid: expected integer, got string"},
      {R"({"ociVersion": "1", "id": "x", "status": "created", "bundle": "b"})", "bundle: path \"b\" must be absolute"},
      {R"({"ociVersion": "1", "id": "x", "status": "created", "annotations": {"a": 1}})",
       "annotations.a: expected string, got number"},
      {R"({"ociVersion": 1})", "ociVersion: expected string, got number"},
      {"[]", "state: expected object, got array"},
      {"{", "invalid JSON"},
  };
  for (const auto& c : cases) {
    auto r = parse_state(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
    EXPECT_NE(r.error().message().find(c.want), std::string::npos) << r.error().message() << " vs " << c.want;
  }
}

}  // namespace
}  // namespace berth::oci
