#include "engine/spec/spec_builder.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "sys/caps.h"

namespace berth::engine::spec {
namespace {

using nlohmann::json;

constexpr const char* kId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

class SpecBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rootfs_ = tmp_ / "rootfs";
    ASSERT_EQ(::mkdir(rootfs_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((rootfs_ + "/etc").c_str(), 0755), 0);
    ASSERT_TRUE(write_file_atomic(rootfs_ + "/etc/passwd",
                                  "root:x:0:0:root:/root:/bin/sh\n"
                                  "app:x:1000:1000:app:/home/app:/bin/sh\n"
                                  "nobody:x:65534:65534:nobody:/:/bin/false\n"));
    ASSERT_TRUE(write_file_atomic(rootfs_ + "/etc/group",
                                  "root:x:0:\n"
                                  "app:x:1000:\n"
                                  "extra:x:1001:app\n"
                                  "audio:x:29:\n"
                                  "nogroup:x:65534:\n"));
    input_.id = kId;
    input_.rootfs = rootfs_;
    input_.request.config.cmd = std::vector<std::string>{"sh"};
    input_.request.config.image = "busybox";
    input_.cgroups_path = std::string("/berth/") + kId;
  }

  // Parses a create body so the HostConfig gets dockerd's defaults as in production.
  void set_request(const std::string& body) {
    auto r = parse_create_request(body);
    ASSERT_TRUE(r) << r.error().message();
    input_.request = *r;
  }

  oci::Spec build() {
    auto s = build_spec(input_);
    EXPECT_TRUE(s) << s.error().message();
    if (!s) return {};
    // Whatever we produce, the runtime's own config.json parser accepts.
    auto back = oci::parse_runtime_spec(oci::to_json(*s));
    EXPECT_TRUE(back) << back.error().message();
    return *s;
  }

  const oci::Mount* mount_at(const oci::Spec& s, std::string_view dst) {
    for (const auto& m : s.mounts)
      if (m.destination == dst) return &m;
    return nullptr;
  }

  static bool has(const std::vector<std::string>& v, std::string_view x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  }

  static bool seccomp_allows(const oci::Seccomp& s, std::string_view name) {
    for (const auto& r : s.syscalls)
      if (r.action == "SCMP_ACT_ALLOW" && r.args.empty() && has(r.names, name)) return true;
    return false;
  }

  testing::TempDir tmp_;
  std::string rootfs_;
  SpecInput input_;
};

TEST_F(SpecBuilderTest, DockerDefaults) {
  set_request(R"({"Image":"busybox","Cmd":["sh"]})");
  oci::Spec s = build();
  ASSERT_TRUE(s.process);
  ASSERT_TRUE(s.linux);
  EXPECT_EQ(s.root.path, rootfs_);
  EXPECT_FALSE(s.root.readonly);
  EXPECT_EQ(s.hostname, "0123456789ab");
  EXPECT_EQ(s.process->args, std::vector<std::string>{"sh"});
  EXPECT_EQ(s.process->cwd, "/");
  EXPECT_EQ(s.process->user.uid, 0u);
  EXPECT_EQ(s.process->env, (std::vector<std::string>{kDefaultPath, "HOSTNAME=0123456789ab"}));
  EXPECT_FALSE(s.process->terminal);
  EXPECT_FALSE(s.process->no_new_privileges);

  // 14 capabilities, nothing inheritable or ambient.
  const auto& caps = *s.process->capabilities;
  EXPECT_EQ(caps.bounding.size(), 14u);
  EXPECT_EQ(caps.bounding, default_capabilities());
  EXPECT_EQ(caps.effective, caps.bounding);
  EXPECT_EQ(caps.permitted, caps.bounding);
  EXPECT_TRUE(caps.inheritable.empty());
  EXPECT_TRUE(caps.ambient.empty());
  EXPECT_FALSE(has(caps.bounding, "CAP_SYS_ADMIN"));

  // Namespaces.
  for (auto t : {oci::NamespaceType::Pid, oci::NamespaceType::Ipc, oci::NamespaceType::Uts, oci::NamespaceType::Mount,
                 oci::NamespaceType::Network, oci::NamespaceType::Cgroup})
    EXPECT_TRUE(s.has_namespace(t)) << oci::namespace_type_name(t);
  EXPECT_FALSE(s.has_namespace(oci::NamespaceType::User));
  EXPECT_EQ(s.linux->cgroups_path, std::string("/berth/") + kId);

  // Mounts.
  auto* shm = mount_at(s, "/dev/shm");
  ASSERT_TRUE(shm);
  EXPECT_TRUE(has(shm->options, "size=67108864"));
  EXPECT_TRUE(has(shm->options, "noexec"));
  auto* sys = mount_at(s, "/sys");
  ASSERT_TRUE(sys);
  EXPECT_TRUE(has(sys->options, "ro"));
  auto* cg = mount_at(s, "/sys/fs/cgroup");
  ASSERT_TRUE(cg);
  EXPECT_TRUE(has(cg->options, "ro"));
  ASSERT_TRUE(mount_at(s, "/dev/mqueue"));
  ASSERT_TRUE(mount_at(s, "/dev/pts"));
  ASSERT_TRUE(mount_at(s, "/proc"));

  EXPECT_EQ(s.linux->masked_paths, default_masked_paths());
  EXPECT_EQ(s.linux->readonly_paths, default_readonly_paths());
  EXPECT_TRUE(has(s.linux->masked_paths, "/proc/kcore"));

  // Seccomp: Docker's default, EPERM by default, mount refused without CAP_SYS_ADMIN.
  ASSERT_TRUE(s.linux->seccomp);
  EXPECT_EQ(s.linux->seccomp->default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(s.linux->seccomp->default_errno_ret, 1u);
  EXPECT_TRUE(seccomp_allows(*s.linux->seccomp, "read"));
  EXPECT_FALSE(seccomp_allows(*s.linux->seccomp, "mount"));
  EXPECT_TRUE(seccomp_allows(*s.linux->seccomp, "ptrace"));  // kernel >= 4.8
  EXPECT_FALSE(seccomp_allows(*s.linux->seccomp, "kexec_load"));

  // Devices: deny all first, then docker's allow-list.
  const auto& rules = s.linux->resources->devices;
  ASSERT_GE(rules.size(), 2u);
  EXPECT_FALSE(rules[0].allow);
  EXPECT_EQ(rules[0].access, "rwm");
  EXPECT_TRUE(std::any_of(rules.begin(), rules.end(),
                          [](const oci::DeviceCgroupRule& r) { return r.allow && r.major == 1 && r.minor == 3; }));
  EXPECT_FALSE(std::any_of(rules.begin(), rules.end(),
                           [](const oci::DeviceCgroupRule& r) { return r.allow && r.type == "a"; }));

  // RLIMIT_NOFILE: docker's 1048576, capped at what this process can set without CAP_SYS_RESOURCE.
  ASSERT_FALSE(s.process->rlimits.empty());
  EXPECT_EQ(s.process->rlimits[0].type, "RLIMIT_NOFILE");
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  auto cur = sys::current_caps();
  bool can_raise = cur && ((cur->effective >> 24) & 1);
  EXPECT_LE(s.process->rlimits[0].hard, can_raise ? kDefaultNofile : std::min<uint64_t>(kDefaultNofile, rl.rlim_max));
  EXPECT_EQ(s.process->oom_score_adj, 0);
}

TEST_F(SpecBuilderTest, ImageMergeEntrypointCmdEnvWorkdir) {
  input_.image.config.entrypoint = std::vector<std::string>{"/docker-entrypoint.sh"};
  input_.image.config.cmd = std::vector<std::string>{"nginx", "-g", "daemon off;"};
  input_.image.config.env = {"PATH=/opt/bin:/usr/bin", "NGINX_VERSION=1"};
  input_.image.config.working_dir = "/srv";
  set_request(R"({"Image":"nginx","Env":["NGINX_VERSION=2","EXTRA=1"],"Tty":true})");
  oci::Spec s = build();
  EXPECT_EQ(s.process->args, (std::vector<std::string>{"/docker-entrypoint.sh", "nginx", "-g", "daemon off;"}));
  EXPECT_EQ(s.process->cwd, "/srv");
  EXPECT_TRUE(s.process->terminal);
  EXPECT_EQ(s.process->env, (std::vector<std::string>{"PATH=/opt/bin:/usr/bin", "HOSTNAME=0123456789ab",
                                                      "TERM=xterm", "NGINX_VERSION=2", "EXTRA=1"}));

  set_request(R"({"Image":"nginx","Entrypoint":["/bin/sh"],"WorkingDir":"/tmp/"})");
  s = build();
  EXPECT_EQ(s.process->args, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(s.process->cwd, "/tmp");

  set_request(R"({"Image":"nginx","Entrypoint":[""],"Cmd":["ls","-l"]})");
  s = build();
  EXPECT_EQ(s.process->args, (std::vector<std::string>{"ls", "-l"}));

  input_.image.config = {};
  set_request(R"({"Image":"nothing"})");
  auto bad = build_spec(input_);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "No command specified");
}

TEST_F(SpecBuilderTest, UserResolution) {
  struct Case {
    const char* user;
    uint32_t uid, gid;
    std::vector<uint32_t> groups;
  };
  for (const Case& c : std::vector<Case>{{"", 0, 0, {}},
                                         {"app", 1000, 1000, {1001}},
                                         {"1000", 1000, 1000, {1001}},
                                         {"app:extra", 1000, 1001, {}},
                                         {"1000:29", 1000, 29, {}},
                                         {"4242", 4242, 0, {}},
                                         {"4242:4343", 4242, 4343, {}},
                                         {"nobody", 65534, 65534, {}}}) {
    input_.request.config.user = c.user;
    oci::Spec s = build();
    EXPECT_EQ(s.process->user.uid, c.uid) << c.user;
    EXPECT_EQ(s.process->user.gid, c.gid) << c.user;
    EXPECT_EQ(s.process->user.additional_gids, c.groups) << c.user;
  }
  input_.request.config.user = "ghost";
  auto r = build_spec(input_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::NotFound);
  EXPECT_NE(r.error().message().find("ghost"), std::string::npos);
  input_.request.config.user = "app:nogroupthere";
  r = build_spec(input_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::NotFound);

  // GroupAdd: names from the image's /etc/group and numbers.
  input_.request.config.user = "app";
  input_.request.host.group_add = std::vector<std::string>{"audio", "555", "extra"};
  oci::Spec s = build();
  EXPECT_EQ(s.process->user.additional_gids, (std::vector<uint32_t>{1001, 29, 555}));
  input_.request.host.group_add = std::vector<std::string>{"video"};
  r = build_spec(input_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("Unable to find group video"), std::string::npos);
}

TEST_F(SpecBuilderTest, HostileSymlinkedPasswdIsNotReadFromTheHost) {
  // A file outside the rootfs that names a user; the image's /etc/passwd and /etc/group are symlinks that
  // point at it (relative and absolute). Resolution must stay inside the rootfs and not find the user.
  ASSERT_TRUE(write_file_atomic(tmp_ / "outside-passwd", "berthevil:x:4242:4242::/:/bin/sh\n"));
  ASSERT_TRUE(write_file_atomic(tmp_ / "outside-group", "berthevilgrp:x:4343:\n"));
  ASSERT_EQ(::unlink((rootfs_ + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::unlink((rootfs_ + "/etc/group").c_str()), 0);
  ASSERT_EQ(::symlink("../../outside-passwd", (rootfs_ + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::symlink((tmp_ / "outside-group").c_str(), (rootfs_ + "/etc/group").c_str()), 0);
  input_.request.config.user = "berthevil";
  auto r = build_spec(input_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::NotFound) << r.error().message();
  input_.request.config.user = "0:berthevilgrp";
  r = build_spec(input_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::NotFound) << r.error().message();
  // A symlink to the host's own /etc/passwd resolves inside the rootfs (to itself: a loop), so the host's
  // root entry is never found.
  ASSERT_EQ(::unlink((rootfs_ + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (rootfs_ + "/etc/passwd").c_str()), 0);
  input_.request.config.user = "root";
  r = build_spec(input_);
  ASSERT_FALSE(r);
  // A FIFO as /etc/passwd is refused, not read (it would block).
  ASSERT_EQ(::unlink((rootfs_ + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::mkfifo((rootfs_ + "/etc/passwd").c_str(), 0644), 0);
  input_.request.config.user = "app";
  r = build_spec(input_);
  ASSERT_FALSE(r);
}

TEST_F(SpecBuilderTest, AllCapabilitiesIsWhatPrivilegedGets) {
  auto all = all_capabilities();
  // every capability this build and the kernel know that our bounding set holds, in number order
  auto mine = sys::current_caps().value();
  std::vector<std::string> want;
  for (int i = 0; i <= std::min(sys::cap_last_cap(), sys::kCapMax); ++i)
    if (mine.bounding & (uint64_t{1} << i)) want.emplace_back(sys::kCapNames[static_cast<size_t>(i)]);
  EXPECT_EQ(all, want);
  set_request(R"({"Image":"b","Cmd":["sh"],"HostConfig":{"Privileged":true}})");
  oci::Spec s = build();
  EXPECT_EQ(s.process->capabilities->bounding, all);
  EXPECT_EQ(s.process->capabilities->effective, all);
}

TEST_F(SpecBuilderTest, PrivilegedAndCapabilities) {
  set_request(R"({"Image":"b","Cmd":["sh"],"HostConfig":{"Privileged":true}})");
  oci::Spec s = build();
  const auto& caps = *s.process->capabilities;
  EXPECT_GT(caps.bounding.size(), 35u);
  EXPECT_TRUE(has(caps.bounding, "CAP_SYS_ADMIN"));
  EXPECT_FALSE(s.linux->seccomp);
  EXPECT_TRUE(s.linux->masked_paths.empty());
  EXPECT_TRUE(s.linux->readonly_paths.empty());
  EXPECT_TRUE(has(mount_at(s, "/sys")->options, "rw"));
  const auto& rules = s.linux->resources->devices;
  EXPECT_TRUE(std::any_of(rules.begin(), rules.end(),
                          [](const oci::DeviceCgroupRule& r) { return r.allow && r.type == "a" && r.access == "rwm"; }));
  EXPECT_TRUE(std::any_of(s.linux->devices.begin(), s.linux->devices.end(),
                          [](const oci::Device& d) { return d.path == "/dev/null"; }));

  set_request(R"({"Image":"b","Cmd":["sh"],"HostConfig":{"CapAdd":["sys_admin"],"CapDrop":["NET_RAW","chown"]}})");
  s = build();
  EXPECT_TRUE(has(s.process->capabilities->bounding, "CAP_SYS_ADMIN"));
  EXPECT_FALSE(has(s.process->capabilities->bounding, "CAP_NET_RAW"));
  EXPECT_FALSE(has(s.process->capabilities->bounding, "CAP_CHOWN"));
  EXPECT_EQ(s.process->capabilities->bounding.size(), 13u);
  // The seccomp profile follows the capabilities: mount and unrestricted clone with CAP_SYS_ADMIN.
  EXPECT_TRUE(seccomp_allows(*s.linux->seccomp, "mount"));
  EXPECT_TRUE(seccomp_allows(*s.linux->seccomp, "clone"));

  set_request(R"({"Image":"b","Cmd":["sh"],"HostConfig":{"CapDrop":["ALL"],"CapAdd":["CAP_KILL"]}})");
  s = build();
  EXPECT_EQ(s.process->capabilities->bounding, std::vector<std::string>{"CAP_KILL"});

  set_request(R"({"Image":"b","Cmd":["sh"],"HostConfig":{"CapAdd":["ALL"],"CapDrop":["MKNOD"]}})");
  s = build();
  EXPECT_TRUE(has(s.process->capabilities->bounding, "CAP_SYS_MODULE"));
  EXPECT_FALSE(has(s.process->capabilities->bounding, "CAP_MKNOD"));
}

TEST_F(SpecBuilderTest, SecurityOpts) {
  set_request(R"({"Image":"b","Cmd":["sh"],"HostConfig":{"SecurityOpt":["seccomp=unconfined","no-new-privileges"]}})");
  oci::Spec s = build();
  EXPECT_FALSE(s.linux->seccomp);
  EXPECT_TRUE(s.process->no_new_privileges);

  json prof = {{"defaultAction", "SCMP_ACT_ALLOW"},
               {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 13}}}}};
  json body = {{"Image", "b"}, {"Cmd", {"sh"}}, {"HostConfig", {{"SecurityOpt", {"seccomp=" + prof.dump()}}}}};
  set_request(body.dump());
  s = build();
  ASSERT_TRUE(s.linux->seccomp);
  EXPECT_EQ(s.linux->seccomp->default_action, "SCMP_ACT_ALLOW");
  ASSERT_EQ(s.linux->seccomp->syscalls.size(), 1u);
  EXPECT_EQ(s.linux->seccomp->syscalls[0].errno_ret, 13u);

  set_request(R"({"Image":"b","Cmd":["sh"],"HostConfig":{"SecurityOpt":["systempaths=unconfined"]}})");
  s = build();
  EXPECT_TRUE(s.linux->masked_paths.empty());
  EXPECT_TRUE(s.linux->seccomp);
}

TEST_F(SpecBuilderTest, ResourcesAndLimits) {
  set_request(R"({"Image":"b","Cmd":["sh"],"HostConfig":{"Memory":67108864,"MemoryReservation":33554432,
      "NanoCpus":500000000,"CpuShares":512,"CpusetCpus":"0","PidsLimit":64,"BlkioWeight":300,"OomKillDisable":true,
      "MemorySwappiness":10,"OomScoreAdj":500,"ShmSize":1048576,
      "Ulimits":[{"Name":"nproc","Soft":100,"Hard":200},{"Name":"nofile","Soft":512,"Hard":1024}],
      "Sysctls":{"net.ipv4.ip_unprivileged_port_start":"0","kernel.shmmax":"4096"}}})");
  oci::Spec s = build();
  const auto& r = *s.linux->resources;
  EXPECT_EQ(r.memory->limit, 64 << 20);
  EXPECT_EQ(r.memory->swap, 128 << 20);
  EXPECT_EQ(r.memory->reservation, 32 << 20);
  EXPECT_EQ(r.memory->swappiness, 10u);
  EXPECT_EQ(r.memory->disable_oom_killer, true);
  EXPECT_EQ(r.cpu->quota, 50000);
  EXPECT_EQ(r.cpu->period, 100000u);
  EXPECT_EQ(r.cpu->shares, 512u);
  EXPECT_EQ(r.cpu->cpus, "0");
  EXPECT_EQ(r.pids->limit, 64);
  EXPECT_EQ(r.block_io->weight, 300);
  EXPECT_EQ(s.process->oom_score_adj, 500);
  EXPECT_TRUE(has(mount_at(s, "/dev/shm")->options, "size=1048576"));
  EXPECT_EQ(s.linux->sysctl.at("kernel.shmmax"), "4096");
  ASSERT_EQ(s.process->rlimits.size(), 2u);
  EXPECT_EQ(s.process->rlimits[0].type, "RLIMIT_NPROC");
  EXPECT_EQ(s.process->rlimits[0].soft, 100u);
  EXPECT_EQ(s.process->rlimits[1].type, "RLIMIT_NOFILE");
  EXPECT_EQ(s.process->rlimits[1].hard, 1024u);

  set_request(R"({"Image":"b","Cmd":["sh"],"HostConfig":{"Memory":67108864,"MemorySwap":-1,"CpuQuota":20000,"CpuPeriod":50000}})");
  s = build();
  EXPECT_EQ(s.linux->resources->memory->swap, -1);
  EXPECT_EQ(s.linux->resources->cpu->quota, 20000);
  EXPECT_EQ(s.linux->resources->cpu->period, 50000u);
}

TEST_F(SpecBuilderTest, UlimitAboveOurHardLimitNeedsCapSysResource) {
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  auto cur = sys::current_caps();
  ASSERT_TRUE(cur);
  bool can_raise = (cur->effective >> 24) & 1;
  if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1ULL << 40)) GTEST_SKIP() << "no finite nofile hard limit";
  uint64_t above = rl.rlim_max + 1;
  set_request(fmt::format(R"({{"Image":"b","Cmd":["sh"],"HostConfig":{{"Ulimits":[{{"Name":"nofile","Soft":{},"Hard":{}}}]}}}})",
                          rl.rlim_max, above));
  auto s = build_spec(input_);
  if (can_raise) {
    ASSERT_TRUE(s) << s.error().message();
  } else {
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code(), Errc::InvalidArgument);
    EXPECT_NE(s.error().message().find("CAP_SYS_RESOURCE"), std::string::npos) << s.error().message();
  }
}

TEST_F(SpecBuilderTest, MountsNetworkInitAndReadonlyRootfs) {
  set_request(R"({"Image":"b","Cmd":["sh","-c","x"],"Hostname":"web","Domainname":"example.org",
      "HostConfig":{"ReadonlyRootfs":true,"Init":true,"Binds":["/srv/a:/data/sub:ro"],"Tmpfs":{"/dev/shm":"size=1m"}}})");
  input_.hosts_path = "/var/lib/berth/containers/x/hosts";
  input_.hostname_path = "/var/lib/berth/containers/x/hostname";
  input_.resolv_conf_path = "/var/lib/berth/containers/x/resolv.conf";
  input_.init_path = "/usr/libexec/berth-init";
  auto reqs = mount_requests(input_.request.config, input_.request.host);
  ASSERT_TRUE(reqs);
  for (const auto& m : *reqs) input_.mounts.push_back(resolve_mount(m, m.source));
  oci::Spec s = build();
  EXPECT_TRUE(s.root.readonly);
  EXPECT_EQ(s.hostname, "web");
  EXPECT_EQ(s.domainname, "example.org");
  EXPECT_EQ(s.process->args,
            (std::vector<std::string>{"/sbin/docker-init", "--", "sh", "-c", "x"}));
  auto* init = mount_at(s, "/sbin/docker-init");
  ASSERT_TRUE(init);
  EXPECT_EQ(init->source, "/usr/libexec/berth-init");
  EXPECT_TRUE(has(init->options, "ro"));
  auto* hosts = mount_at(s, "/etc/hosts");
  ASSERT_TRUE(hosts);
  EXPECT_EQ(hosts->source, input_.hosts_path);
  EXPECT_TRUE(has(hosts->options, "ro"));  // read-only rootfs: the generated files too
  auto* data = mount_at(s, "/data/sub");
  ASSERT_TRUE(data);
  EXPECT_EQ(data->type, "bind");
  EXPECT_EQ(data->options, (std::vector<std::string>{"rbind", "rprivate", "ro"}));
  // The user's tmpfs at /dev/shm replaces the default one (exactly one mount there), after /dev.
  int shm = 0;
  size_t shm_at = 0, dev_at = 0;
  for (size_t i = 0; i < s.mounts.size(); ++i) {
    if (s.mounts[i].destination == "/dev/shm") ++shm, shm_at = i;
    if (s.mounts[i].destination == "/dev") dev_at = i;
  }
  EXPECT_EQ(shm, 1);
  EXPECT_GT(shm_at, dev_at);
  EXPECT_TRUE(has(mount_at(s, "/dev/shm")->options, "size=1024k"));

  input_.network = NetworkMode::Host;
  s = build();
  EXPECT_FALSE(s.has_namespace(oci::NamespaceType::Network));
  input_.network = NetworkMode::Join;
  input_.netns_path = "/proc/4242/ns/net";
  s = build();
  ASSERT_TRUE(s.find_namespace(oci::NamespaceType::Network));
  EXPECT_EQ(s.find_namespace(oci::NamespaceType::Network)->path, "/proc/4242/ns/net");

  input_.init_path.clear();
  auto r = build_spec(input_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("Init"), std::string::npos);
}

TEST_F(SpecBuilderTest, HostNamespaceModesAndDevices) {
  set_request(R"({"Image":"b","Cmd":["sh"],"HostConfig":{"PidMode":"host","IpcMode":"host","UTSMode":"host",
      "CgroupnsMode":"host","Devices":[{"PathOnHost":"/dev/null","PathInContainer":"/dev/mynull","CgroupPermissions":"rw"}],
      "DeviceCgroupRules":["c 10:229 rwm"]}})");
  oci::Spec s = build();
  EXPECT_FALSE(s.has_namespace(oci::NamespaceType::Pid));
  EXPECT_FALSE(s.has_namespace(oci::NamespaceType::Ipc));
  EXPECT_FALSE(s.has_namespace(oci::NamespaceType::Uts));
  EXPECT_FALSE(s.has_namespace(oci::NamespaceType::Cgroup));
  EXPECT_TRUE(s.hostname.empty());  // no UTS namespace: the runtime must not set one
  ASSERT_EQ(s.linux->devices.size(), 1u);
  EXPECT_EQ(s.linux->devices[0].path, "/dev/mynull");
  EXPECT_EQ(s.linux->devices[0].major, 1);
  EXPECT_EQ(s.linux->devices[0].minor, 3);
  const auto& rules = s.linux->resources->devices;
  EXPECT_TRUE(std::any_of(rules.begin(), rules.end(), [](const oci::DeviceCgroupRule& r) {
    return r.allow && r.major == 1 && r.minor == 3 && r.access == "rw";
  }));
  EXPECT_TRUE(std::any_of(rules.begin(), rules.end(), [](const oci::DeviceCgroupRule& r) {
    return r.allow && r.major == 10 && r.minor == 229;
  }));

  set_request(R"({"Image":"b","Cmd":["sh"],"HostConfig":{"Devices":[{"PathOnHost":"/dev/berth-no-such-device"}]}})");
  auto r = build_spec(input_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("error gathering device information"), std::string::npos);
}

TEST(FindInitBinary, NotBesideTheTestBinary) {
  // build/src/engine/spec/engine_spec_test has no berth-init beside it: the error names where it looked.
  auto p = find_init_binary();
  if (p) {
    EXPECT_NE(p->find("berth-init"), std::string::npos);
  } else {
    EXPECT_EQ(p.error().code(), Errc::NotFound);
    EXPECT_NE(p.error().message().find("/berth-init"), std::string::npos);
  }
}

TEST_F(SpecBuilderTest, ResolveMountKinds) {
  auto v = parse_bind("vol:/data:ro");
  ASSERT_TRUE(v);
  ResolvedMount rv = resolve_mount(*v, "/var/lib/berth/volumes/vol/_data");
  EXPECT_EQ(rv.type, "bind");
  EXPECT_EQ(rv.source, "/var/lib/berth/volumes/vol/_data");
  EXPECT_EQ(rv.options, (std::vector<std::string>{"rbind", "rprivate", "ro"}));
  auto t = parse_tmpfs("/run", "size=2m,mode=700");
  ASSERT_TRUE(t);
  ResolvedMount rt = resolve_mount(*t, "");
  EXPECT_EQ(rt.type, "tmpfs");
  EXPECT_EQ(rt.options, (std::vector<std::string>{"noexec", "nosuid", "nodev", "size=2048k", "mode=700"}));
}

}  // namespace
}  // namespace berth::engine::spec
