// A spec from build_spec, run for real by berth-runtime on a busybox bundle (tests/helpers/mkrootfs.sh) with
// the probe as the process: what the container sees must be what Docker's defaults promise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "base/file.h"
#include "base/testing/root.h"
#include "base/testing/temp_dir.h"
#include "engine/spec/etc_files.h"
#include "engine/spec/spec_builder.h"
#include "runtime/testing/bundle.h"
#include "sys/caps.h"

namespace berth::engine::spec {
namespace {

using nlohmann::json;

using berth::testing::CmdResult;
using berth::testing::init_bin;
using berth::testing::probe_bin;
using berth::testing::run_cmd;
using berth::testing::runtime_bin;

uint64_t hex(const json& v) { return v.is_string() ? std::stoull(v.get<std::string>(), nullptr, 16) : ~0ULL; }

class SpecRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    for (const auto& b : {runtime_bin(), probe_bin(), init_bin()})
      if (::access(b.c_str(), X_OK) != 0) GTEST_SKIP() << b << " not built";
    rootfs_ = tmp_ / "rootfs";
    auto made = berth::testing::make_rootfs(rootfs_, probe_bin());
    ASSERT_TRUE(made) << made.error().message();
    ASSERT_EQ(::mkdir((tmp_ / "bundle").c_str(), 0700), 0);
  }
  void TearDown() override {
    for (const auto& id : ids_) run_cmd({runtime_bin(), "--root", tmp_ / "state", "delete", "--force", id}, tmp_.path());
  }

  // Builds the spec for a create body (+ the generated etc files) and runs it; returns the process output.
  CmdResult run(const std::string& body, std::string* hostname = nullptr) {
    auto req = parse_create_request(body);
    EXPECT_TRUE(req) << req.error().message();
    if (!req) return {};
    std::string id = "spec-" + std::to_string(::getpid()) + "-" + std::to_string(ids_.size());
    ids_.push_back(id);
    SpecInput in;
    in.id = id + std::string(64 - id.size(), '0');
    in.request = *req;
    in.rootfs = rootfs_;
    in.cgroups_path = "/" + id;
    in.init_path = init_bin();
    HostsInput hi;
    hi.hostname = in.request.config.hostname.empty() ? in.id.substr(0, 12) : in.request.config.hostname;
    if (hostname) *hostname = hi.hostname;
    auto hosts = hosts_file(hi);
    EXPECT_TRUE(hosts);
    EXPECT_TRUE(write_file_atomic(tmp_ / "hosts", *hosts));
    EXPECT_TRUE(write_file_atomic(tmp_ / "hostname", hostname_file(hi.hostname)));
    auto resolv = resolv_conf_file(in.request.host, read_file("/etc/resolv.conf").value_or(""), false);
    EXPECT_TRUE(resolv);
    EXPECT_TRUE(write_file_atomic(tmp_ / "resolv.conf", *resolv));
    in.hosts_path = tmp_ / "hosts";
    in.hostname_path = tmp_ / "hostname";
    in.resolv_conf_path = tmp_ / "resolv.conf";
    auto reqs = mount_requests(in.request.config, in.request.host);
    EXPECT_TRUE(reqs);
    for (const auto& m : *reqs) {
      EXPECT_NE(m.kind, MountKind::Volume) << "volumes need the engine";
      in.mounts.push_back(resolve_mount(m, m.source));
    }
    auto spec = build_spec(in);
    EXPECT_TRUE(spec) << spec.error().message();
    if (!spec) return {};
    EXPECT_TRUE(write_file_atomic(tmp_ / "bundle/config.json", oci::to_json(*spec)));
    return run_cmd({runtime_bin(), "--root", tmp_ / "state", "run", "--bundle", tmp_ / "bundle", id}, tmp_.path());
  }

  json probe(const std::string& body, std::string* hostname = nullptr) {
    CmdResult r = run(body, hostname);
    EXPECT_EQ(r.code, 0) << r.err << r.out;
    auto j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
    return j;
  }

  static const json* check(const json& j, std::string_view path) {
    for (const auto& c : j["checks"])
      if (c["path"] == path) return &c;
    return nullptr;
  }

  testing::TempDir tmp_;
  std::string rootfs_;
  std::vector<std::string> ids_;
};

TEST_F(SpecRootTest, DockerDefaultsFromInside) {
  std::string hostname;
  json j = probe(R"({"Image":"busybox","Cmd":["/probe","json","/proc/keys","/proc/timer_list","/proc/sys","/proc/fs",
      "/dev/shm","/etc/hosts","/etc/hostname","/sys/firmware","/dev/mqueue"],
      "HostConfig":{"Ulimits":[{"Name":"nproc","Soft":100,"Hard":200},{"Name":"core","Soft":0,"Hard":0}],
      "Memory":67108864,"PidsLimit":50}})",
                 &hostname);
  ASSERT_TRUE(j.is_object());
  // Capabilities: exactly docker's 14 in bounding, effective and permitted; none inheritable or ambient.
  auto want = sys::caps_mask_from_names(default_capabilities());
  ASSERT_TRUE(want);
  EXPECT_EQ(hex(j["caps"]["CapBnd"]), *want);
  EXPECT_EQ(hex(j["caps"]["CapEff"]), *want);
  EXPECT_EQ(hex(j["caps"]["CapPrm"]), *want);
  EXPECT_EQ(hex(j["caps"]["CapInh"]), 0u);
  EXPECT_EQ(hex(j["caps"]["CapAmb"]), 0u);
  EXPECT_EQ(j["seccomp"], "2");  // filter mode
  EXPECT_EQ(j["hostname"], hostname);
  EXPECT_EQ(j["uid"], 0);

  // rlimits as asked; nofile docker's default, capped at what the host allows.
  EXPECT_EQ(j["rlimits"]["RLIMIT_NPROC"], json::array({100, 200}));
  EXPECT_EQ(j["rlimits"]["RLIMIT_CORE"], json::array({0, 0}));
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  int64_t nofile_hard = j["rlimits"]["RLIMIT_NOFILE"][1];
  EXPECT_GT(nofile_hard, 0);
  EXPECT_LE(static_cast<uint64_t>(nofile_hard), std::max<uint64_t>(rl.rlim_max, kDefaultNofile));

  // Resources reached the cgroup (v1 here; v2 files when the host is unified).
  const json& cg = j["cgroup"];
  if (cg["v1:memory.limit_in_bytes"].is_string()) {
    EXPECT_EQ(cg["v1:memory.limit_in_bytes"], "67108864");
    EXPECT_EQ(cg["v1:pids.max"], "50");
  } else {
    EXPECT_EQ(cg["v2:memory.max"], "67108864");
    EXPECT_EQ(cg["v2:pids.max"], "50");
  }
  // Masked paths: /dev/null over files, an empty read-only tmpfs over directories.
  // (This kernel has no /proc/kcore or /proc/sysrq-trigger; /proc/keys and /proc/timer_list are masked too.)
  for (const char* p : {"/proc/keys", "/proc/timer_list"}) {
    const json* m = check(j, p);
    ASSERT_TRUE(m);
    if ((*m)["exists"] == false) continue;
    EXPECT_EQ((*m)["type"], "char") << p;
    EXPECT_EQ((*m)["rdev"], "1:3") << p;
  }
  const json* fw = check(j, "/sys/firmware");
  ASSERT_TRUE(fw);
  if ((*fw)["exists"] == true) {
    EXPECT_EQ((*fw)["entries"], 0);
  }
  // Read-only paths.
  const json* psys = check(j, "/proc/sys");
  ASSERT_TRUE(psys);
  EXPECT_EQ((*psys)["writable"], false);
  const json* pfs = check(j, "/proc/fs");
  ASSERT_TRUE(pfs);
  EXPECT_EQ((*pfs)["writable"], false);
  // The generated files and the IPC mounts.
  const json* hosts = check(j, "/etc/hosts");
  ASSERT_TRUE(hosts);
  EXPECT_EQ((*hosts)["head"], "127.0.0.1\tlocalhost");
  const json* hn = check(j, "/etc/hostname");
  ASSERT_TRUE(hn);
  EXPECT_EQ((*hn)["head"], hostname);
  const json* shm = check(j, "/dev/shm");
  ASSERT_TRUE(shm);
  EXPECT_EQ((*shm)["type"], "dir");
  EXPECT_EQ((*shm)["writable"], true);
  const json* mq = check(j, "/dev/mqueue");
  ASSERT_TRUE(mq);
  EXPECT_EQ((*mq)["type"], "dir");
}

TEST_F(SpecRootTest, SeccompAndCapsRefuseMountAndNamespaces) {
  for (const char* sc : {"mount", "unshare", "sethostname"}) {
    json j = probe(fmt::format(R"({{"Image":"b","Cmd":["/probe","syscall","{}"]}})", sc));
    EXPECT_EQ(j["ret"], -1) << sc;
    EXPECT_EQ(j["errno"], EPERM) << sc;
  }
  // chroot needs CAP_SYS_CHROOT, a default capability: allowed.
  json ok = probe(R"({"Image":"b","Cmd":["/probe","syscall","chroot"]})");
  EXPECT_EQ(ok["ret"], 0);
  // Dropping it makes both the capability and the seccomp rule go.
  json no = probe(R"({"Image":"b","Cmd":["/probe","syscall","chroot"],"HostConfig":{"CapDrop":["SYS_CHROOT"]}})");
  EXPECT_EQ(no["ret"], -1);
  EXPECT_EQ(no["errno"], EPERM);
}

TEST_F(SpecRootTest, UserGroupsReadonlyRootfsAndInit) {
  json j = probe(R"({"Image":"b","User":"app","Cmd":["/probe","json","/"],
      "HostConfig":{"ReadonlyRootfs":true,"Init":true,"GroupAdd":["nogroup"],"SecurityOpt":["no-new-privileges"]}})");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["uid"], 1000);
  EXPECT_EQ(j["gid"], 1000);
  auto groups = j["groups"].get<std::vector<int>>();
  EXPECT_NE(std::find(groups.begin(), groups.end(), 1001), groups.end());   // "extra" lists app
  EXPECT_NE(std::find(groups.begin(), groups.end(), 65534), groups.end());  // GroupAdd
  EXPECT_EQ(hex(j["caps"]["CapEff"]), 0u);                              // non-root: no effective caps
  EXPECT_EQ(j["no_new_privs"], "1");
  EXPECT_EQ(j["root_readonly"], true);
  EXPECT_EQ(j["pid"], 2);   // berth-init is PID 1
  EXPECT_EQ(j["ppid"], 1);
}

TEST_F(SpecRootTest, InitForwardsTheExitCode) {
  CmdResult r = run(R"({"Image":"b","Cmd":["/probe","exit","7"],"HostConfig":{"Init":true}})");
  EXPECT_EQ(r.code, 7) << r.err;
}

}  // namespace
}  // namespace berth::engine::spec
