// Interop (label root: umoci unpack needs root to restore ownership): an OCI layout exported by berth is read
// by umoci, and a docker-save archive loads back into a fresh root.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/root.h"
#include "base/testing/temp_dir.h"
#include "image/image_store.h"

extern char** environ;

namespace berth::image {
namespace {

int run(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(ImageInterop, UmociUnpacksOurOciLayout) {
  BERTH_REQUIRE_ROOT();
  if (::access("/usr/bin/umoci", X_OK) != 0 || ::access("/bin/busybox", X_OK) != 0)
    GTEST_SKIP() << "umoci or busybox-static missing";
  berth::testing::TempDir t;
  ImageStoreOptions o;
  o.root = t / "root";
  auto s = ImageStore::open(o).value();
  ASSERT_TRUE(s->bootstrap_busybox("localhost/interop/busybox:1.0"));
  ASSERT_TRUE(s->save({"localhost/interop/busybox:1.0"}, t / "layout", true));
  ASSERT_EQ(run({"umoci", "unpack", "--image", t / "layout:1.0", t / "bundle"}), 0);
  struct stat st;
  ASSERT_EQ(::stat((t / "bundle/rootfs/bin/busybox").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  char buf[64] = {};
  ASSERT_GT(::readlink((t / "bundle/rootfs/bin/sh").c_str(), buf, sizeof buf), 0);
  EXPECT_STREQ(buf, "/bin/busybox");
  auto cfg = read_file(t / "bundle/config.json");
  ASSERT_TRUE(cfg);
  EXPECT_NE(cfg->find("\"sh\""), std::string::npos) << "Cmd [\"sh\"] reaches the runtime config";
}

}  // namespace
}  // namespace berth::image
