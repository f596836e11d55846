// Pure helpers of runtime/rootfs: mount option parsing, propagation, sysctl names and namespace rules.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "oci/runtime_spec.h"
#include "runtime/rootfs/internal.h"
#include "runtime/rootfs/mount_options.h"
#include "runtime/rootfs/sysctl.h"

namespace berth::runtime::rootfs {
namespace {

MountOptions parse(std::vector<std::string> opts) {
  auto r = parse_mount_options(opts);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
  return r ? *r : MountOptions{};
}

TEST(MountOptions, RuncSpecDefaults) {
  // The mounts `runc spec` prints.
  MountOptions proc = parse({});
  EXPECT_EQ(proc.flags, 0u);
  EXPECT_EQ(proc.data, "");

  MountOptions dev = parse({"nosuid", "strictatime", "mode=755", "size=65536k"});
  EXPECT_EQ(dev.flags, static_cast<unsigned long>(MS_NOSUID | MS_STRICTATIME));
  EXPECT_EQ(dev.data, "mode=755,size=65536k");

  MountOptions pts = parse({"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
  EXPECT_EQ(pts.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC));
  EXPECT_EQ(pts.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");

  MountOptions sys = parse({"nosuid", "noexec", "nodev", "ro"});
  EXPECT_EQ(sys.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY));
  EXPECT_TRUE(sys.data.empty());
  EXPECT_FALSE(sys.is_bind());
}

TEST(MountOptions, EveryFlagAndItsInverse) {
  struct Case {
    const char* set;
    const char* clear;
    unsigned long flag;
  };
  const Case cases[] = {
      {"ro", "rw", MS_RDONLY},
      {"nosuid", "suid", MS_NOSUID},
      {"nodev", "dev", MS_NODEV},
      {"noexec", "exec", MS_NOEXEC},
      {"sync", "async", MS_SYNCHRONOUS},
      {"mand", "nomand", MS_MANDLOCK},
      {"noatime", "atime", MS_NOATIME},
      {"nodiratime", "diratime", MS_NODIRATIME},
      {"relatime", "norelatime", MS_RELATIME},
      {"strictatime", "nostrictatime", MS_STRICTATIME},
      {"nosymfollow", "symfollow", MS_NOSYMFOLLOW},
      {"lazytime", "nolazytime", MS_LAZYTIME},
      {"silent", "loud", MS_SILENT},
      {"iversion", "noiversion", MS_I_VERSION},
  };
  for (const Case& c : cases) {
    MountOptions on = parse({c.set});
    EXPECT_EQ(on.flags, c.flag) << c.set;
    EXPECT_EQ(on.clear_flags, 0u) << c.set;
    MountOptions off = parse({c.clear});
    EXPECT_EQ(off.flags, 0u) << c.clear;
    EXPECT_EQ(off.clear_flags, c.flag) << c.clear;
    // The later option wins.
    MountOptions both = parse({c.set, c.clear});
    EXPECT_EQ(both.flags & c.flag, 0u) << c.set;
    EXPECT_EQ(both.clear_flags, c.flag) << c.set;
    MountOptions again = parse({c.clear, c.set});
    EXPECT_EQ(again.flags, c.flag) << c.set;
    EXPECT_EQ(again.clear_flags, 0u) << c.set;
  }
  EXPECT_EQ(parse({"dirsync"}).flags, static_cast<unsigned long>(MS_DIRSYNC));
  EXPECT_EQ(parse({"remount"}).flags, static_cast<unsigned long>(MS_REMOUNT));
  EXPECT_EQ(parse({"defaults"}).flags, 0u);
  EXPECT_TRUE(parse({"defaults"}).data.empty());
}

TEST(MountOptions, BindAndRbind) {
  MountOptions b = parse({"bind", "ro"});
  EXPECT_TRUE(b.is_bind());
  EXPECT_FALSE(b.is_recursive());
  EXPECT_EQ(b.flags, static_cast<unsigned long>(MS_BIND | MS_RDONLY));
  MountOptions rb = parse({"rbind", "nosuid"});
  EXPECT_TRUE(rb.is_bind());
  EXPECT_TRUE(rb.is_recursive());
}

TEST(MountOptions, PropagationInOrder) {
  MountOptions o = parse({"rbind", "rslave", "private", "shared", "runbindable"});
  ASSERT_EQ(o.propagation.size(), 4u);
  EXPECT_EQ(o.propagation[0], static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(o.propagation[1], static_cast<unsigned long>(MS_PRIVATE));
  EXPECT_EQ(o.propagation[2], static_cast<unsigned long>(MS_SHARED));
  EXPECT_EQ(o.propagation[3], static_cast<unsigned long>(MS_UNBINDABLE | MS_REC));
  EXPECT_TRUE(o.data.empty());
}

TEST(MountOptions, RecursiveAttributes) {
  MountOptions o = parse({"rbind", "rro", "rnosuid", "rnoatime"});
  EXPECT_EQ(o.rec_attr_set,
            static_cast<uint64_t>(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME));
  EXPECT_EQ(o.rec_attr_clr, static_cast<uint64_t>(MOUNT_ATTR__ATIME));
  MountOptions c = parse({"rro", "rrw", "rexec"});
  EXPECT_EQ(c.rec_attr_set, 0u);
  EXPECT_EQ(c.rec_attr_clr, static_cast<uint64_t>(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC));
  MountOptions a = parse({"rstrictatime", "ratime"});
  EXPECT_EQ(a.rec_attr_set, 0u);  // relatime, the kernel default
  EXPECT_EQ(a.rec_attr_clr, static_cast<uint64_t>(MOUNT_ATTR__ATIME));
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_BIND | MS_REC));  // none leak into the plain flags
}

TEST(MountOptions, ExtensionsAndData) {
  MountOptions t = parse({"tmpcopyup", "size=1m", "acl"});
  EXPECT_TRUE(t.tmpcopyup);
  EXPECT_EQ(t.data, "size=1m,acl");  // "acl" is a filesystem option, not MS_POSIXACL
  EXPECT_TRUE(parse({"idmap"}).idmap);
  EXPECT_TRUE(parse({"ridmap"}).idmap);
}

TEST(MountOptions, RejectsEmptyAndCommaOptions) {
  auto empty = parse_mount_options({"ro", ""});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), Errc::InvalidArgument);
  auto comma = parse_mount_options({"mode=755,uid=0"});
  ASSERT_FALSE(comma);
  EXPECT_NE(comma.error().message().find("mode=755,uid=0"), std::string::npos);
}

TEST(MountOptions, MsToMountAttr) {
  bool given = true;
  EXPECT_EQ(
      ms_to_mount_attr(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, &given),
      static_cast<uint64_t>(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  EXPECT_FALSE(given);
  EXPECT_EQ(ms_to_mount_attr(MS_STRICTATIME, &given), static_cast<uint64_t>(MOUNT_ATTR_STRICTATIME));
  EXPECT_TRUE(given);
  EXPECT_EQ(ms_to_mount_attr(MS_NOATIME | MS_RELATIME, &given), static_cast<uint64_t>(MOUNT_ATTR_NOATIME));
  EXPECT_EQ(ms_to_mount_attr(MS_RELATIME, &given), static_cast<uint64_t>(MOUNT_ATTR_RELATIME));
  EXPECT_TRUE(given);
  EXPECT_EQ(ms_to_mount_attr(MS_NODIRATIME | MS_NOSYMFOLLOW),
            static_cast<uint64_t>(MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW));
  EXPECT_EQ(ms_to_mount_attr(MS_BIND | MS_REC | MS_SYNCHRONOUS), 0u);
}

TEST(MountOptions, FlagsString) {
  EXPECT_EQ(mount_flags_string(MS_RDONLY | MS_NOSUID | MS_NODEV), "ro,nosuid,nodev");
  EXPECT_EQ(mount_flags_string(0), "");
}

TEST(Propagation, Parse) {
  EXPECT_EQ(*parse_propagation(""), 0u);
  EXPECT_EQ(*parse_propagation("private"), static_cast<unsigned long>(MS_PRIVATE));
  EXPECT_EQ(*parse_propagation("rprivate"), static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(*parse_propagation("slave"), static_cast<unsigned long>(MS_SLAVE));
  EXPECT_EQ(*parse_propagation("rslave"), static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(*parse_propagation("shared"), static_cast<unsigned long>(MS_SHARED));
  EXPECT_EQ(*parse_propagation("rshared"), static_cast<unsigned long>(MS_SHARED | MS_REC));
  EXPECT_EQ(*parse_propagation("unbindable"), static_cast<unsigned long>(MS_UNBINDABLE));
  EXPECT_EQ(*parse_propagation("runbindable"), static_cast<unsigned long>(MS_UNBINDABLE | MS_REC));
  auto bad = parse_propagation("rsharedd");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::InvalidArgument);
  EXPECT_NE(bad.error().message().find("rootfsPropagation"), std::string::npos);
}

TEST(Sysctl, Normalize) {
  EXPECT_EQ(normalize_sysctl_key("net.ipv4.ip_forward"), "net.ipv4.ip_forward");
  EXPECT_EQ(normalize_sysctl_key("net/ipv4/ip_forward"), "net.ipv4.ip_forward");
  EXPECT_EQ(normalize_sysctl_key("net/ipv4/conf/eth0.100/forwarding"), "net.ipv4.conf.eth0/100.forwarding");
}

TEST(Sysctl, RelativePath) {
  EXPECT_EQ(*sysctl_relative_path("net.ipv4.ip_forward"), "net/ipv4/ip_forward");
  EXPECT_EQ(*sysctl_relative_path("kernel.shm_rmid_forced"), "kernel/shm_rmid_forced");
  EXPECT_EQ(*sysctl_relative_path("net.ipv4.conf.eth0/100.forwarding"), "net/ipv4/conf/eth0.100/forwarding");
  EXPECT_EQ(*sysctl_relative_path("net/ipv4/conf/eth0.100/forwarding"), "net/ipv4/conf/eth0.100/forwarding");
}

TEST(Sysctl, RelativePathRefusesEscapes) {
  for (const char* key : {"", ".", "..", "net..ipv4", ".net.ipv4", "net.ipv4.", "net.../kernel.x",
                          "net/../../etc/passwd", "net.ipv4./..", "kernel/./x", "../../etc/shadow"}) {
    auto r = sysctl_relative_path(key);
    EXPECT_FALSE(r) << key << " -> " << (r ? *r : "");
    if (!r) {
      EXPECT_EQ(r.error().code(), Errc::InvalidArgument) << key;
    }
  }
  auto nul = sysctl_relative_path(std::string_view("net.ipv4\0x", 10));
  EXPECT_FALSE(nul);
}

// Exhaustive over short keys of '.', '/' and 'a': whatever is accepted stays below /proc/sys.
TEST(Sysctl, RelativePathNeverEscapes) {
  const char alphabet[] = {'.', '/', 'a'};
  size_t accepted = 0, total = 0;
  for (size_t len = 0; len <= 7; ++len) {
    size_t combos = 1;
    for (size_t i = 0; i < len; ++i) combos *= 3;
    for (size_t n = 0; n < combos; ++n) {
      std::string key;
      for (size_t i = 0, v = n; i < len; ++i, v /= 3) key += alphabet[v % 3];
      ++total;
      auto r = sysctl_relative_path(key);
      if (!r) continue;
      ++accepted;
      ASSERT_FALSE(r->empty()) << key;
      ASSERT_NE(r->front(), '/') << key;
      ASSERT_NE(r->back(), '/') << key;
      size_t pos = 0;
      while (pos <= r->size()) {
        size_t slash = r->find('/', pos);
        std::string comp = r->substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
        ASSERT_FALSE(comp.empty() || comp == "." || comp == "..") << key << " -> " << *r;
        if (slash == std::string::npos) break;
        pos = slash + 1;
      }
    }
  }
  EXPECT_EQ(total, 3280u);
  EXPECT_GT(accepted, 0u);
}

TEST(Sysctl, NamespaceRules) {
  SysctlNamespaces none;
  SysctlNamespaces all{true, true, true, true};
  for (const char* key : {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                          "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", "fs.mqueue.msg_max"}) {
    EXPECT_TRUE(check_sysctl_allowed(key, SysctlNamespaces{.ipc = true})) << key;
    auto r = check_sysctl_allowed(key, none);
    ASSERT_FALSE(r) << key;
    EXPECT_NE(r.error().message().find("ipc"), std::string::npos);
  }
  EXPECT_TRUE(check_sysctl_allowed("net.ipv4.ip_forward", SysctlNamespaces{.net = true}));
  EXPECT_TRUE(check_sysctl_allowed("net/ipv4/ip_forward", SysctlNamespaces{.net = true}));
  EXPECT_FALSE(check_sysctl_allowed("net.ipv4.ip_forward", SysctlNamespaces{.ipc = true, .uts = true}));
  EXPECT_TRUE(check_sysctl_allowed("kernel.domainname", SysctlNamespaces{.uts = true}));
  EXPECT_FALSE(check_sysctl_allowed("kernel.domainname", none));
  EXPECT_FALSE(check_sysctl_allowed("kernel.hostname", all));  // conflicts with the hostname field
  EXPECT_TRUE(check_sysctl_allowed("user.max_user_namespaces", SysctlNamespaces{.user = true}));
  EXPECT_FALSE(check_sysctl_allowed("user.max_user_namespaces", none));
  for (const char* key : {"kernel.pid_max", "vm.overcommit_memory", "kernel.core_pattern", "fs.file-max",
                          "kernel.msgmaxx", "kernel", "fs.mqueue"}) {
    auto r = check_sysctl_allowed(key, all);
    ASSERT_FALSE(r) << key;
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
    EXPECT_NE(r.error().message().find(normalize_sysctl_key(key)), std::string::npos) << r.error().message();
  }
}

TEST(Sysctl, CheckSpec) {
  oci::Spec spec;
  spec.linux.emplace();
  spec.linux->sysctl["net.ipv4.ip_forward"] = "1";
  auto no_netns = check_sysctls(spec);
  ASSERT_FALSE(no_netns);
  EXPECT_NE(no_netns.error().message().find("linux.sysctl"), std::string::npos);
  spec.linux->namespaces.push_back({oci::NamespaceType::Network, ""});
  EXPECT_TRUE(check_sysctls(spec));
  // Joining the runtime's own network namespace by path is the host's.
  spec.linux->namespaces.back().path = "/proc/self/ns/net";
  EXPECT_FALSE(check_sysctls(spec));
  spec.linux->namespaces.back().path = "";
  spec.linux->sysctl["net.ipv4/../../kernel.x"] = "1";
  EXPECT_FALSE(check_sysctls(spec));
}

TEST(MountInfo, ParsesFieldsAndEscapes) {
  // A real line plus one with optional fields and an escaped space.
  berth::testing::TempDir dir;
  std::string text =
      "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
      "40 31 0:37 /sub /sys/fs/cgroup/with\\040space rw,relatime shared:5 master:2 - cgroup cgroup "
      "rw,name=systemd\n";
  ASSERT_TRUE(write_file_atomic(dir / "mountinfo", text));
  auto mi = detail::read_mountinfo(dir / "mountinfo");
  ASSERT_TRUE(mi) << mi.error().message();
  ASSERT_EQ(mi->size(), 2u);
  EXPECT_EQ((*mi)[0].mountpoint, "/proc");
  EXPECT_EQ((*mi)[0].fstype, "proc");
  EXPECT_EQ((*mi)[1].root, "/sub");
  EXPECT_EQ((*mi)[1].mountpoint, "/sys/fs/cgroup/with space");
  EXPECT_EQ((*mi)[1].fstype, "cgroup");
  EXPECT_EQ((*mi)[1].super_options, "rw,name=systemd");
}

}  // namespace
}  // namespace berth::runtime::rootfs
