#include "runtime/hooks.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/testing/temp_dir.h"

namespace berth::runtime {
namespace {

oci::Hook script_hook(const testing::TempDir& d, const std::string& body) {
  std::string path = d / "hook.sh";
  EXPECT_TRUE(write_file_atomic(path, "#!/bin/sh\n" + body + "\n", 0755));
  oci::Hook h;
  h.path = path;
  return h;
}

TEST(Hooks, StateOnStdinArgsAndExactEnv) {
  testing::TempDir d;
  oci::Hook h = script_hook(d, "cat > \"$OUT\"; echo \"$0 $1 $2 ${HOME:-nohome}\" >> \"$OUT\"");
  h.args = {"myhook", "a", "b"};
  h.env = {"OUT=" + (d / "out")};
  ASSERT_TRUE(run_hook(h, R"({"id":"c1","status":"creating"})", "prestart"));
  // argv[0] is args[0]; the runtime's own environment (HOME) does not leak into the hook.
  EXPECT_EQ(read_file(d / "out").value_or(""), "{\"id\":\"c1\",\"status\":\"creating\"}" + h.path + " a b nohome\n");
}

TEST(Hooks, FailureNamesPhaseAndStatus) {
  testing::TempDir d;
  oci::Hook h = script_hook(d, "exit 4");
  auto st = run_hook(h, "{}", "poststart");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::FailedPrecondition);
  EXPECT_NE(st.error().message().find("poststart hook"), std::string::npos);
  EXPECT_NE(st.error().message().find("status 4"), std::string::npos);
  oci::Hook missing;
  missing.path = d / "none";
  EXPECT_FALSE(run_hook(missing, "{}", "prestart"));
}

TEST(Hooks, PhaseStopsAtFirstFailure) {
  testing::TempDir d;
  oci::Hook ok_hook = script_hook(d, "exit 0");
  oci::Hook bad;
  bad.path = "/bin/false";
  oci::Hook marker;
  marker.path = "/bin/sh";
  marker.args = {"sh", "-c", "touch " + (d / "ran")};
  EXPECT_FALSE(run_hooks({ok_hook, bad, marker}, "{}", "createRuntime"));
  struct stat st;
  EXPECT_NE(::stat((d / "ran").c_str(), &st), 0);
  EXPECT_TRUE(run_hooks({ok_hook, marker}, "{}", "createRuntime"));
  EXPECT_EQ(::stat((d / "ran").c_str(), &st), 0);
}

}  // namespace
}  // namespace berth::runtime
