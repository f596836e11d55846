#include "oci/features.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "oci/runtime_spec.h"

namespace berth::oci {
namespace {

using json = nlohmann::json;

std::set<std::string> as_set(const json& a) { return {a.begin(), a.end()}; }

TEST(Features, Shape) {
  json j = json::parse(to_json(runtime_features()));
  EXPECT_EQ(j["ociVersionMin"], "1.0.0");
  EXPECT_EQ(j["ociVersionMax"], std::string(kOciVersion));
  EXPECT_EQ(j["hooks"], json({"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}));
  EXPECT_EQ(j["linux"]["namespaces"].size(), 8u);
  EXPECT_EQ(j["linux"]["capabilities"].size(), 41u);
  EXPECT_EQ(j["linux"]["capabilities"][40], "CAP_CHECKPOINT_RESTORE");
  EXPECT_EQ(j["linux"]["cgroup"], json::parse(R"({"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false})"));
  const json& sc = j["linux"]["seccomp"];
  EXPECT_TRUE(sc["enabled"]);
  EXPECT_EQ(sc["actions"].size(), 9u);
  EXPECT_EQ(sc["operators"].size(), 7u);
  EXPECT_EQ(sc["knownFlags"].size(), 4u);
  for (const auto& f : sc["supportedFlags"]) EXPECT_TRUE(as_set(sc["knownFlags"]).count(f)) << f;
  EXPECT_FALSE(j["linux"]["apparmor"]["enabled"]);
  EXPECT_FALSE(j["linux"]["selinux"]["enabled"]);
  EXPECT_FALSE(j["linux"]["intelRdt"]["enabled"]);
  EXPECT_FALSE(j["linux"]["mountExtensions"]["idmap"]["enabled"]);
  EXPECT_FALSE(j.contains("annotations"));

  Features f = runtime_features();
  f.annotations["io.github.seccomp.libseccomp.version"] = "2.5.4";
  EXPECT_EQ(json::parse(to_json(f))["annotations"]["io.github.seccomp.libseccomp.version"], "2.5.4");
}

// Everything advertised is accepted by the parser (one source of truth).
TEST(Features, ParserAcceptsEverythingAdvertised) {
  json fj = json::parse(to_json(runtime_features()));
  json c = json::parse(R"({"ociVersion": "1.1.0", "root": {"path": "r"}, "process": {"cwd": "/"}, "linux": {}})");
  c["process"]["capabilities"]["bounding"] = fj["linux"]["capabilities"];
  for (const auto& n : fj["linux"]["namespaces"]) c["linux"]["namespaces"].push_back({{"type", n}});
  c["linux"]["uidMappings"] = json::parse(R"([{"containerID": 0, "hostID": 1000, "size": 1}])");
  c["linux"]["gidMappings"] = c["linux"]["uidMappings"];
  c["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"}, {"listenerPath", "/s"},
                           {"architectures", fj["linux"]["seccomp"]["archs"]},
                           {"flags", fj["linux"]["seccomp"]["knownFlags"]}};
  for (const auto& a : fj["linux"]["seccomp"]["actions"]) {
    json call = {{"names", {"getpid"}}, {"action", a}};
    for (const auto& op : fj["linux"]["seccomp"]["operators"]) call["args"].push_back({{"index", 1}, {"value", 2}, {"op", op}});
    c["linux"]["seccomp"]["syscalls"].push_back(call);
  }
  for (const auto& h : fj["hooks"]) c["hooks"][h.get<std::string>()] = json::parse(R"([{"path": "/bin/true"}])");
  c["mounts"] = json::array({{{"destination", "/m"}, {"type", "bind"}, {"source", "/"}, {"options", fj["mountOptions"]}}});
  auto r = parse_runtime_spec(c.dump());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->linux->namespaces.size(), fj["linux"]["namespaces"].size());
  EXPECT_EQ(r->hooks.poststop.size(), 1u);
}

// runc's list of mount options is the reference for the flag names we interpret.
TEST(Features, MountOptionsCoverRunc) {
  FILE* p = popen("runc features 2>/dev/null", "r");
  if (!p) GTEST_SKIP() << "popen failed";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (pclose(p) != 0 || out.empty()) GTEST_SKIP() << "runc features is not available";
  json runc = json::parse(out);
  json ours = json::parse(to_json(runtime_features()));
  auto our_opts = as_set(ours["mountOptions"]);
  // acl/noacl (MS_POSIXACL) are the only runc flag options not interpreted here; they reach the filesystem
  // as data.
  for (const auto& o : runc["mountOptions"])
    if (o != "acl" && o != "noacl") {
      EXPECT_TRUE(our_opts.count(o)) << o;
    }
  EXPECT_TRUE(std::is_sorted(ours["mountOptions"].begin(), ours["mountOptions"].end()));
  EXPECT_EQ(as_set(ours["hooks"]), as_set(runc["hooks"]));
  auto our_caps = as_set(ours["linux"]["capabilities"]);
  for (const auto& cap : runc["linux"]["capabilities"]) EXPECT_TRUE(our_caps.count(cap)) << cap;
  for (const auto& a : runc["linux"]["seccomp"]["actions"]) EXPECT_TRUE(as_set(ours["linux"]["seccomp"]["actions"]).count(a)) << a;
  for (const auto& a : runc["linux"]["seccomp"]["archs"]) EXPECT_TRUE(as_set(ours["linux"]["seccomp"]["archs"]).count(a)) << a;
  for (const auto& a : runc["linux"]["seccomp"]["operators"])
    EXPECT_TRUE(as_set(ours["linux"]["seccomp"]["operators"]).count(a)) << a;
  for (const auto& ns : runc["linux"]["namespaces"]) EXPECT_TRUE(as_set(ours["linux"]["namespaces"]).count(ns)) << ns;
}

}  // namespace
}  // namespace berth::oci
