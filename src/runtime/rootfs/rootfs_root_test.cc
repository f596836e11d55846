// Real-kernel tests of runtime/rootfs: a busybox rootfs in a temp dir, prepare/enter/finalize run in a
// grandchild that is PID 1 of new mount, pid, ipc, uts and network namespaces (as the container's init is).
// The grandchild reports "key=value" lines through a pipe; the parent asserts. Every mount lives in the
// child's mount namespace and dies with it; the temp dirs are removed by TempDir.
#include "base/testing/root.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "oci/runtime_spec.h"
#include "runtime/rootfs/rootfs.h"

namespace berth::runtime::rootfs {
namespace {

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif

class Report {
 public:
  explicit Report(int fd) : fd_(fd) {}
  void put(std::string_view key, std::string_view value) {
    std::string v(value);
    for (char& c : v)
      if (c == '\n') c = ' ';
    (void)write_all(fd_, fmt::format("{}={}\n", key, v));
  }
  void check(std::string_view key, bool ok, std::string_view why = "") {
    put(key, ok ? std::string("ok") : fmt::format("FAIL {}", why));
  }
  void status(std::string_view key, const Status& s) {
    put(key, s ? std::string("ok") : s.error().message());
  }

 private:
  int fd_;
};

using Body = std::function<void(Report&)>;

struct Isolation {
  bool userns = false;  // a user namespace (identity map of all ids) owning the other namespaces
  bool netns = true;
  bool cgroupns = false;
  std::function<void()> before_userns;  // runs in the child, as real root, after its own unshare(CLONE_NEWNS)
};

// fork -> [unshare(user), parent maps ids] -> unshare(namespaces) -> fork (PID 1 of the new pid namespace)
// -> body. Returns the reported lines.
std::map<std::string, std::string> run_isolated(const Body& body, Isolation iso = {}) {
  int p[2], go[2];
  EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
  EXPECT_EQ(pipe2(go, O_CLOEXEC), 0);
  pid_t child = fork();
  if (child == 0) {
    close(p[0]);
    close(go[1]);
    if (iso.before_userns) {
      if (unshare(CLONE_NEWNS) < 0 || mount(nullptr, "/", nullptr, MS_PRIVATE | MS_REC, nullptr) < 0)
        _exit(8);
      iso.before_userns();
    }
    if (iso.userns) {
      if (unshare(CLONE_NEWUSER) < 0) _exit(9);
      (void)!write(p[1], "u", 1);  // not a report line: no '='
      char c;
      if (read(go[0], &c, 1) != 1) _exit(9);
      if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) _exit(9);
    }
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (iso.netns) flags |= CLONE_NEWNET;
    if (iso.cgroupns) flags |= CLONE_NEWCGROUP;
    if (unshare(flags) < 0) _exit(10);
    pid_t init = fork();
    if (init == 0) {
      Report r(p[1]);
      body(r);
      r.put("done", "1");
      _exit(0);
    }
    int st = 0;
    if (init < 0 || waitpid(init, &st, 0) < 0) _exit(11);
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 12);
  }
  close(go[0]);
  if (iso.userns) {
    char c = 0;
    EXPECT_EQ(read(p[0], &c, 1), 1);
    for (const char* map : {"uid_map", "gid_map"}) {
      std::string path = fmt::format("/proc/{}/{}", child, map);
      int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
      EXPECT_GE(fd, 0) << path;
      EXPECT_TRUE(write_all(fd, "0 0 4294967295\n")) << path;
      close(fd);
    }
    EXPECT_EQ(write(go[1], "g", 1), 1);
  }
  close(go[1]);
  close(p[1]);
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = read(p[0], buf, sizeof(buf));
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(p[0]);
  int st = 0;
  waitpid(child, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "child status " << st;
  std::map<std::string, std::string> kv;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    size_t eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  EXPECT_EQ(kv["done"], "1") << "the container side did not finish:\n" << text;
  return kv;
}

// Asserts that every key reported "ok" (with the reported text as the failure message).
void expect_ok(const std::map<std::string, std::string>& kv, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    auto it = kv.find(k);
    if (it == kv.end()) {
      ADD_FAILURE() << k << ": not reported";
    } else {
      EXPECT_EQ(it->second, "ok") << k;
    }
  }
}

void copy_file(const std::string& from, const std::string& to, mode_t mode) {
  auto data = read_file(from, 64 << 20);
  ASSERT_TRUE(data) << data.error().message();
  int fd = open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(write_all(fd, *data));
  close(fd);
}

// A minimal busybox rootfs: /bin/busybox plus a few applet links, /etc, /tmp.
void make_rootfs(const std::string& dir) {
  ASSERT_TRUE(mkdir_all(dir + "/bin"));
  ASSERT_TRUE(mkdir_all(dir + "/etc"));
  copy_file("/bin/busybox", dir + "/bin/busybox", 0755);
  for (const char* applet : {"sh", "cat", "ls", "mount", "touch", "echo"})
    ASSERT_EQ(symlink("busybox", (dir + "/bin/" + applet).c_str()), 0);
  ASSERT_TRUE(write_file_atomic(dir + "/etc/hostname", "container\n"));
}

std::string read_or_error(const std::string& path) {
  auto r = read_file(path, 1 << 20);
  return r ? *r : "ERR " + r.error().message();
}

bool is_fs(const std::string& path, long magic) {
  struct statfs s {};
  return statfs(path.c_str(), &s) == 0 && static_cast<long>(s.f_type) == magic;
}

bool has_vfs_flag(const std::string& path, unsigned long flag) {
  struct statvfs s {};
  return statvfs(path.c_str(), &s) == 0 && (s.f_flag & flag) == flag;
}

int write_errno(const std::string& path, bool create = false) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
  if (fd < 0) return errno;
  ssize_t n = write(fd, "1\n", 2);
  int e = n < 0 ? errno : 0;
  close(fd);
  return e;
}

class RootfsRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    if (access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs /bin/busybox (busybox-static)";
    rootfs_ = tmp_ / "rootfs";
    make_rootfs(rootfs_);
    opts_.bundle = tmp_.path();
  }

  berth::testing::TempDir tmp_;
  std::string rootfs_;
  Options opts_;
};

TEST_F(RootfsRootTest, DefaultSpecContainer) {
  ASSERT_TRUE(mkdir_all(tmp_ / "bindsrc"));
  ASSERT_TRUE(write_file_atomic(tmp_ / "bindsrc/file", "hello"));
  oci::Spec spec = oci::default_spec();
  spec.mounts.push_back(
      {.destination = "/mnt/ro", .type = "bind", .source = "bindsrc", .options = {"rbind", "ro", "noatime"}});
  spec.mounts.push_back({.destination = "/mnt/strict",
                         .type = "bind",
                         .source = "bindsrc",
                         .options = {"bind", "strictatime", "nodev"}});
  spec.mounts.push_back({.destination = "/tmp",
                         .type = "tmpfs",
                         .source = "tmpfs",
                         .options = {"nosuid", "nodev", "noexec", "mode=1770", "size=1m"}});
  spec.mounts.push_back({.destination = "/etc/hostname2",
                         .type = "none",
                         .source = tmp_ / "bindsrc/file",
                         .options = {"bind", "nosuid"}});
  spec.linux->sysctl["kernel.shmmax"] = "123456789";
  spec.linux->devices.push_back({.type = "c",
                                 .path = "/dev/fuse-like",
                                 .major = 1,
                                 .minor = 7,
                                 .file_mode = 0640,
                                 .uid = 1000,
                                 .gid = 1001});

  auto kv = run_isolated([&](Report& r) {
    Status st = prepare(spec, rootfs_, opts_);
    r.status("prepare", st);
    if (!st) return;
    r.status("enter", enter(rootfs_, opts_));
    r.status("finalize", finalize(spec, opts_));

    r.check("proc", is_fs("/proc", PROC_SUPER_MAGIC));
    r.check("proc_is_ours", read_or_error("/proc/self/stat").rfind("1 ", 0) == 0,
            read_or_error("/proc/self/stat"));
    struct stat s {};
    r.check("dev_null", stat("/dev/null", &s) == 0 && S_ISCHR(s.st_mode) && s.st_rdev == makedev(1, 3) &&
                            (s.st_mode & 0777) == 0666);
    for (const char* d : {"/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"})
      r.check(fmt::format("dev{}", d), stat(d, &s) == 0 && S_ISCHR(s.st_mode));
    r.check("spec_device", stat("/dev/fuse-like", &s) == 0 && S_ISCHR(s.st_mode) &&
                               s.st_rdev == makedev(1, 7) && (s.st_mode & 07777) == 0640 &&
                               s.st_uid == 1000 && s.st_gid == 1001);
    char link[64] = {};
    r.check("ptmx_link",
            readlink("/dev/ptmx", link, sizeof(link) - 1) > 0 && std::string(link) == "pts/ptmx");
    std::memset(link, 0, sizeof(link));
    r.check("fd_link",
            readlink("/dev/fd", link, sizeof(link) - 1) > 0 && std::string(link) == "/proc/self/fd");
    std::memset(link, 0, sizeof(link));
    r.check("stderr_link",
            readlink("/dev/stderr", link, sizeof(link) - 1) > 0 && std::string(link) == "/proc/self/fd/2");
    r.check("devpts", is_fs("/dev/pts", DEVPTS_SUPER_MAGIC));
    r.check("dev_tmpfs", is_fs("/dev", TMPFS_MAGIC) && has_vfs_flag("/dev", ST_NOSUID));
    r.check("shm",
            is_fs("/dev/shm", TMPFS_MAGIC) && has_vfs_flag("/dev/shm", ST_NOSUID | ST_NODEV | ST_NOEXEC));
    r.check("mqueue", is_fs("/dev/mqueue", MQUEUE_MAGIC));
    r.check("sysfs_ro", is_fs("/sys", SYSFS_MAGIC) && has_vfs_flag("/sys", ST_RDONLY));
    r.check("cgroup_ro",
            has_vfs_flag("/sys/fs/cgroup", ST_RDONLY) && write_errno("/sys/fs/cgroup/x", true) == EROFS);
    r.check("cgroup_memory", access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0 ||
                                 access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0);
    r.check("kcore_masked", access("/proc/kcore", F_OK) != 0 || read_or_error("/proc/kcore").empty());
    r.check("firmware_masked",
            access("/sys/firmware", F_OK) != 0 ||
                (is_fs("/sys/firmware", TMPFS_MAGIC) && has_vfs_flag("/sys/firmware", ST_RDONLY)));
    r.check("proc_sys_ro", write_errno("/proc/sys/kernel/shmmax") == EROFS);
    r.check("sysctl_applied", read_or_error("/proc/sys/kernel/shmmax") == "123456789\n",
            read_or_error("/proc/sys/kernel/shmmax"));
    r.check("root_ro", write_errno("/newfile", true) == EROFS);
    r.check("bind_ro_reads", read_or_error("/mnt/ro/file") == "hello");
    r.check("bind_ro_refuses", write_errno("/mnt/ro/file") == EROFS);
    r.check("bind_noatime", has_vfs_flag("/mnt/ro", ST_NOATIME));
    r.check("bind_strictatime", has_vfs_flag("/mnt/strict", ST_NODEV) &&
                                    !has_vfs_flag("/mnt/strict", ST_NOATIME) &&
                                    !has_vfs_flag("/mnt/strict", ST_RELATIME));
    r.check("file_bind",
            read_or_error("/etc/hostname2") == "hello" && has_vfs_flag("/etc/hostname2", ST_NOSUID));
    r.check("tmpfs_mode", stat("/tmp", &s) == 0 && (s.st_mode & 07777) == 01770);
    struct statfs fs {};
    r.check("tmpfs_size", statfs("/tmp", &fs) == 0 && fs.f_blocks * fs.f_bsize == (1u << 20));
    r.check("tmpfs_flags",
            has_vfs_flag("/tmp", ST_NOSUID | ST_NODEV | ST_NOEXEC) && !has_vfs_flag("/tmp", ST_RDONLY));
    r.check("tmpfs_writable", write_errno("/tmp/x", true) == 0);
    char cwd[256] = {};
    r.check("cwd", getcwd(cwd, sizeof(cwd)) && std::string(cwd) == "/");
    r.check("busybox_visible", access("/bin/busybox", X_OK) == 0);
  });
  expect_ok(kv, {"prepare",
                 "enter",
                 "finalize",
                 "proc",
                 "proc_is_ours",
                 "dev_null",
                 "dev/dev/zero",
                 "dev/dev/full",
                 "dev/dev/random",
                 "dev/dev/urandom",
                 "dev/dev/tty",
                 "spec_device",
                 "ptmx_link",
                 "fd_link",
                 "stderr_link",
                 "devpts",
                 "dev_tmpfs",
                 "shm",
                 "mqueue",
                 "sysfs_ro",
                 "cgroup_ro",
                 "cgroup_memory",
                 "kcore_masked",
                 "firmware_masked",
                 "proc_sys_ro",
                 "sysctl_applied",
                 "root_ro",
                 "bind_ro_reads",
                 "bind_ro_refuses",
                 "bind_noatime",
                 "bind_strictatime",
                 "file_bind",
                 "tmpfs_mode",
                 "tmpfs_size",
                 "tmpfs_flags",
                 "tmpfs_writable",
                 "cwd",
                 "busybox_visible"});
  // Nothing was written through to the host.
  EXPECT_EQ(read_or_error(tmp_ / "bindsrc/file"), "hello");
  EXPECT_NE(access((tmp_ / "rootfs/newfile").c_str(), F_OK), 0);
}

// CVE-2021-30465 class: mount destinations whose path runs through symlinks pointing out of the rootfs
// (absolute, two-step relative chain, plain "..") must land inside the rootfs; the host directory they name
// must stay untouched.
TEST_F(RootfsRootTest, SymlinkDestinationsStayInsideRootfs) {
  const std::string host = tmp_.path();
  for (const char* d : {"target1", "target2", "target3", "target4"}) {
    ASSERT_TRUE(mkdir_all(host + "/" + d));
    ASSERT_TRUE(write_file_atomic(host + "/" + d + "/marker", "host"));
  }
  ASSERT_TRUE(mkdir_all(tmp_ / "bindsrc"));
  ASSERT_TRUE(write_file_atomic(tmp_ / "bindsrc/file", "bound"));
  ASSERT_EQ(symlink("/", (rootfs_ + "/evil").c_str()), 0);
  ASSERT_EQ(symlink("b", (rootfs_ + "/a").c_str()), 0);
  ASSERT_EQ(symlink("../../../../../../../../..", (rootfs_ + "/b").c_str()), 0);
  ASSERT_EQ(symlink(host.c_str(), (rootfs_ + "/hostlink").c_str()), 0);

  oci::Spec spec;
  spec.root.path = rootfs_;
  spec.linux.emplace();
  spec.mounts = {
      {.destination = "/evil" + host + "/target1",
       .type = "tmpfs",
       .source = "tmpfs",
       .options = {"size=1m"}},
      {.destination = "/a" + host + "/target2", .type = "tmpfs", .source = "tmpfs", .options = {}},
      {.destination = "/../../../.." + host + "/target3", .type = "tmpfs", .source = "tmpfs", .options = {}},
      {.destination = "/hostlink/target4", .type = "bind", .source = tmp_ / "bindsrc", .options = {"bind"}},
  };
  auto kv = run_isolated([&](Report& r) {
    r.status("prepare", prepare(spec, rootfs_, opts_));
    // Still in the host's view (before pivot): the host directories are not covered...
    for (const char* d : {"target1", "target2", "target3", "target4"}) {
      std::string h = host + "/" + d;
      r.check(fmt::format("host_{}", d), read_or_error(h + "/marker") == "host" && !is_fs(h, TMPFS_MAGIC));
    }
    // ...and the mounts are where the kernel's in-root resolution put them.
    std::string in = rootfs_ + host;
    r.check("in_target1", is_fs(in + "/target1", TMPFS_MAGIC));
    r.check("in_target2", is_fs(in + "/target2", TMPFS_MAGIC));
    r.check("in_target3", is_fs(in + "/target3", TMPFS_MAGIC));
    r.check("in_target4", read_or_error(in + "/target4/file") == "bound");
  });
  expect_ok(kv, {"prepare", "host_target1", "host_target2", "host_target3", "host_target4", "in_target1",
                 "in_target2", "in_target3", "in_target4"});
  for (const char* d : {"target1", "target2", "target3", "target4"})
    EXPECT_EQ(read_or_error(tmp_.path() + "/" + d + "/marker"), "host");
}

// CVE-2023-27561 class: /proc (or /sys) that is a symlink is refused, not followed.
TEST_F(RootfsRootTest, ProcOrSysSymlinkRefused) {
  ASSERT_TRUE(mkdir_all(tmp_ / "elsewhere"));
  ASSERT_EQ(symlink((tmp_ / "elsewhere").c_str(), (rootfs_ + "/proc").c_str()), 0);
  ASSERT_EQ(symlink("/etc", (rootfs_ + "/sys").c_str()), 0);
  oci::Spec proc_spec;
  proc_spec.mounts = {{.destination = "/proc", .type = "proc", .source = "proc"}};
  oci::Spec sys_spec;
  sys_spec.mounts = {{.destination = "/sys", .type = "sysfs", .source = "sysfs", .options = {"ro"}}};
  auto kv = run_isolated([&](Report& r) {
    Status p = prepare(proc_spec, rootfs_, opts_);
    r.check("proc_refused", !p && p.error().code() == Errc::PermissionDenied,
            p ? "accepted" : p.error().message());
    r.put("proc_message", p ? "" : p.error().message());
    r.check("elsewhere_untouched", !is_fs(tmp_ / "elsewhere", PROC_SUPER_MAGIC));
    Status s = prepare(sys_spec, rootfs_, opts_);
    r.check("sys_refused", !s && s.error().code() == Errc::PermissionDenied,
            s ? "accepted" : s.error().message());
    r.check("etc_untouched", !is_fs(rootfs_ + "/etc", SYSFS_MAGIC));
  });
  expect_ok(kv, {"proc_refused", "elsewhere_untouched", "sys_refused", "etc_untouched"});
  EXPECT_NE(kv["proc_message"].find("/proc"), std::string::npos) << kv["proc_message"];
}

// Mounting over anything below /proc (other than the lxcfs files) is refused, as is a non-procfs on /proc.
TEST_F(RootfsRootTest, MountsIntoProcRefused) {
  ASSERT_TRUE(write_file_atomic(tmp_ / "pattern", "|/bin/evil"));
  oci::Spec spec;
  spec.mounts = {{.destination = "/proc", .type = "proc", .source = "proc"},
                 {.destination = "/proc/sys/kernel/core_pattern",
                  .type = "bind",
                  .source = tmp_ / "pattern",
                  .options = {"bind"}}};
  oci::Spec tmpfs_on_proc;
  tmpfs_on_proc.mounts = {{.destination = "/proc", .type = "tmpfs", .source = "tmpfs"}};
  auto kv = run_isolated([&](Report& r) {
    Status st = prepare(spec, rootfs_, opts_);
    r.check("core_pattern_refused", !st, "accepted");
    r.put("message", st ? "" : st.error().message());
    Status t = prepare(tmpfs_on_proc, rootfs_, opts_);
    r.check("tmpfs_on_proc_refused", !t, "accepted");
  });
  expect_ok(kv, {"core_pattern_refused", "tmpfs_on_proc_refused"});
  EXPECT_NE(kv["message"].find("/proc/sys/kernel/core_pattern"), std::string::npos) << kv["message"];
}

// A masked path that is a symlink to a host file masks (at most) the file of that name inside the rootfs.
TEST_F(RootfsRootTest, MaskedSymlinkDoesNotReachHost) {
  const std::string host_secret = tmp_ / "secret";
  ASSERT_TRUE(write_file_atomic(host_secret, "HOST"));
  ASSERT_EQ(symlink(host_secret.c_str(), (rootfs_ + "/etc/evil").c_str()), 0);
  ASSERT_TRUE(mkdir_all(rootfs_ + tmp_.path()));
  ASSERT_TRUE(write_file_atomic(rootfs_ + tmp_.path() + "/other", "CONTAINER"));
  ASSERT_EQ(symlink((tmp_.path() + "/other").c_str(), (rootfs_ + "/etc/evil2").c_str()), 0);
  oci::Spec spec = oci::default_spec();
  spec.root.readonly = false;
  spec.linux->masked_paths = {"/etc/evil", "/etc/evil2", "/proc/kcore"};
  auto kv = run_isolated([&](Report& r) {
    // The host file is visible from here until the pivot; hold it open to compare after.
    int host_fd = open(host_secret.c_str(), O_RDONLY | O_CLOEXEC);
    r.status("prepare", prepare(spec, rootfs_, opts_));
    r.status("enter", enter(rootfs_, opts_));
    r.status("finalize", finalize(spec, opts_));
    // The dangling in-rootfs target was not created, nor masked.
    r.check("evil_dangling", access("/etc/evil", F_OK) != 0 && errno == ENOENT);
    // The link that resolves inside the rootfs masked the rootfs's file.
    r.check("evil2_masked", read_or_error("/etc/evil2").empty());
    char buf[16] = {};
    r.check("host_readable",
            host_fd >= 0 && pread(host_fd, buf, sizeof(buf), 0) == 4 && std::string(buf) == "HOST");
  });
  expect_ok(kv, {"prepare", "enter", "finalize", "evil_dangling", "evil2_masked", "host_readable"});
  EXPECT_EQ(read_or_error(host_secret), "HOST");
  EXPECT_EQ(read_or_error(rootfs_ + tmp_.path() + "/other"), "CONTAINER");
}

// Masking needs a real /dev/null: a regular file planted at /dev/null (no /dev tmpfs, so the rootfs's own
// /dev is used) makes finalize fail rather than bind the planted file over masked paths.
TEST_F(RootfsRootTest, FakeDevNullRefused) {
  ASSERT_TRUE(mkdir_all(rootfs_ + "/dev"));
  ASSERT_TRUE(write_file_atomic(rootfs_ + "/dev/null", "not null"));
  oci::Spec spec;
  spec.mounts = {{.destination = "/proc", .type = "proc", .source = "proc"}};
  spec.linux.emplace();
  spec.linux->masked_paths = {"/proc/kcore", "/proc/keys"};
  auto kv = run_isolated([&](Report& r) {
    r.status("prepare", prepare(spec, rootfs_, opts_));
    r.status("enter", enter(rootfs_, opts_));
    Status f = finalize(spec, opts_);
    r.check("refused", !f && f.error().code() == Errc::PermissionDenied,
            f ? "accepted" : f.error().message());
    r.check("keys_unmasked",
            access("/proc/keys", F_OK) != 0 || !read_or_error("/proc/keys").starts_with("not null"));
  });
  expect_ok(kv, {"prepare", "enter", "refused", "keys_unmasked"});
}

// Sysctl keys that would leave /proc/sys, and keys outside the container's namespaces, are refused.
TEST_F(RootfsRootTest, SysctlChecks) {
  oci::Spec spec = oci::default_spec();
  spec.root.readonly = false;
  auto kv = run_isolated([&](Report& r) {
    r.status("prepare", prepare(spec, rootfs_, opts_));
    r.status("enter", enter(rootfs_, opts_));
    for (const char* key : {"kernel/../../../etc/x", "net.ipv4/../../kernel.x", "..", "kernel..shmmax"}) {
      Status s = apply_sysctls({{key, "1"}});
      r.check(fmt::format("dotdot {}", key), !s && s.error().code() == Errc::InvalidArgument,
              s ? "accepted" : s.error().message());
    }
    r.check("no_file", access("/etc/x", F_OK) != 0);
    oci::Spec host_wide = spec;
    host_wide.linux->sysctl = {{"kernel.pid_max", "4096"}};
    Status f = finalize(host_wide, opts_);
    r.check("pid_max_refused", !f && f.error().message().find("kernel.pid_max") != std::string::npos,
            f ? "accepted" : f.error().message());
    r.status("net_allowed", apply_sysctls({{"net.ipv4.ip_forward", "1"}}));
    r.check("net_applied", read_or_error("/proc/sys/net/ipv4/ip_forward") == "1\n");
  });
  expect_ok(
      kv, {"prepare", "enter", "dotdot kernel/../../../etc/x", "dotdot net.ipv4/../../kernel.x", "dotdot ..",
           "dotdot kernel..shmmax", "no_file", "pid_max_refused", "net_allowed", "net_applied"});
}

// The console is bound from a verified pty slave; anything else is refused.
TEST_F(RootfsRootTest, Console) {
  oci::Spec spec = oci::default_spec();
  auto kv = run_isolated([&](Report& r) {
    r.status("prepare", prepare(spec, rootfs_, opts_));
    r.status("enter", enter(rootfs_, opts_));
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    Status bad = setup_console(null_fd);
    r.check("non_pty_refused", !bad && bad.error().code() == Errc::PermissionDenied,
            bad ? "accepted" : bad.error().message());
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    bool pty_ok = master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0;
    const char* name = pty_ok ? ptsname(master) : nullptr;
    int slave = name ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
    r.check("pty", slave >= 0, name ? name : "no ptsname");
    r.status("setup_console", setup_console(slave));
    struct stat a {
    }, b{};
    r.check("console_is_slave", stat("/dev/console", &a) == 0 && fstat(slave, &b) == 0 &&
                                    a.st_rdev == b.st_rdev && S_ISCHR(a.st_mode));
    // A /dev/console that is a symlink (a rootfs's own /dev) is refused, not followed to its target.
    int step = umount2("/dev/console", MNT_DETACH) != 0 ? 1
               : unlink("/dev/console") != 0                ? 2
               : !write_file_atomic("/dev/console-target", "x") ? 3
               : symlink("/dev/console-target", "/dev/console") != 0 ? 4
                                                                     : 0;
    r.check("console_swapped", step == 0, fmt::format("step {}: {}", step, strerror(errno)));
    Status linked = setup_console(slave);
    struct stat t {};
    r.check("symlink_refused", !linked && linked.error().code() == Errc::PermissionDenied,
            linked ? "accepted" : linked.error().message());
    r.check("target_untouched", stat("/dev/console-target", &t) == 0 && S_ISREG(t.st_mode));
    r.status("finalize", finalize(spec, opts_));
    r.check("dev_ro_after_finalize", write_errno("/dev/newfile", true) == EROFS);
  });
  expect_ok(kv,
            {"prepare", "enter", "non_pty_refused", "pty", "setup_console", "console_is_slave", "console_swapped",
             "symlink_refused", "target_untouched", "finalize"});
  // /dev is not read-only in the default spec; only checked to be reported.
  EXPECT_TRUE(kv.count("dev_ro_after_finalize"));
}

// --no-pivot: MS_MOVE + chroot instead of pivot_root; the host's procfs is no longer reachable.
TEST_F(RootfsRootTest, NoPivot) {
  oci::Spec spec = oci::default_spec();
  Options opts = opts_;
  opts.no_pivot = true;
  auto kv = run_isolated([&](Report& r) {
    r.status("prepare", prepare(spec, rootfs_, opts));
    r.status("enter", enter(rootfs_, opts));
    r.status("finalize", finalize(spec, opts));
    r.check("proc", is_fs("/proc", PROC_SUPER_MAGIC));
    r.check("rootfs", access("/bin/busybox", X_OK) == 0);
    r.check("root_ro", write_errno("/newfile", true) == EROFS);
  });
  expect_ok(kv, {"prepare", "enter", "finalize", "proc", "rootfs", "root_ro"});
}

// Bind options: propagation, recursive read-only, and an error that names the mount.
TEST_F(RootfsRootTest, BindPropagationAndErrors) {
  ASSERT_TRUE(mkdir_all(tmp_ / "tree/sub"));
  ASSERT_TRUE(write_file_atomic(tmp_ / "tree/sub/f", "x"));
  oci::Spec spec;
  spec.mounts = {
      {.destination = "/proc", .type = "proc", .source = "proc"},
      {.destination = "/data",
       .type = "bind",
       .source = tmp_ / "tree",
       .options = {"rbind", "rro", "rslave"}},
      {.destination = "/shared", .type = "tmpfs", .source = "tmpfs", .options = {"shared"}},
      {.destination = "/remounted", .type = "tmpfs", .source = "tmpfs", .options = {"size=1m"}},
      {.destination = "/remounted", .type = "tmpfs", .source = "tmpfs", .options = {"remount", "size=2m"}},
  };
  oci::Spec missing;
  missing.mounts = {
      {.destination = "/x", .type = "bind", .source = tmp_ / "does-not-exist", .options = {"bind"}}};
  oci::Spec badfs;
  badfs.mounts = {{.destination = "/y", .type = "tmpfs", .source = "tmpfs", .options = {"mode=notanumber"}}};
  auto kv = run_isolated([&](Report& r) {
    Status m = prepare(missing, rootfs_, opts_);
    r.put("missing", m ? "accepted" : m.error().message());
    Status b = prepare(badfs, rootfs_, opts_);
    r.put("badfs", b ? "accepted" : b.error().message());
    r.status("prepare", prepare(spec, rootfs_, opts_));
    r.status("enter", enter(rootfs_, opts_));
    r.check("rro", write_errno("/data/sub/f") == EROFS && read_or_error("/data/sub/f") == "x");
    std::string mi = read_or_error("/proc/self/mountinfo");
    auto line_of = [&](std::string_view mp) {
      size_t p = mi.find(fmt::format(" {} ", mp));
      if (p == std::string::npos) return std::string();
      size_t s = mi.rfind('\n', p);
      size_t e = mi.find('\n', p);
      return mi.substr(s == std::string::npos ? 0 : s + 1, e - (s == std::string::npos ? 0 : s + 1));
    };
    struct statfs fs {};
    r.check("remount", statfs("/remounted", &fs) == 0 && fs.f_blocks * fs.f_bsize == (2u << 20));
    r.check("shared", line_of("/shared").find("shared:") != std::string::npos, line_of("/shared"));
    r.check("not_shared_root", line_of("/").find("shared:") == std::string::npos, line_of("/"));
  });
  expect_ok(kv, {"prepare", "enter", "rro", "remount", "shared", "not_shared_root"});
  EXPECT_NE(kv["missing"].find("mount `" + (tmp_ / "does-not-exist") + "` on `/x`"), std::string::npos)
      << kv["missing"];
  EXPECT_NE(kv["missing"].find("No such file"), std::string::npos) << kv["missing"];
  EXPECT_NE(kv["badfs"].find("mount `tmpfs` on `/y`"), std::string::npos) << kv["badfs"];
  EXPECT_EQ(access((rootfs_ + "/x").c_str(), F_OK), -1);
}

// tmpcopyup: the tmpfs starts with the content of the directory it covers.
TEST_F(RootfsRootTest, TmpCopyUp) {
  ASSERT_TRUE(mkdir_all(rootfs_ + "/var/lib/sub"));
  ASSERT_TRUE(write_file_atomic(rootfs_ + "/var/lib/sub/data", "kept"));
  ASSERT_EQ(symlink("sub/data", (rootfs_ + "/var/lib/link").c_str()), 0);
  ASSERT_EQ(chmod((rootfs_ + "/var/lib/sub").c_str(), 0710), 0);
  oci::Spec spec;
  spec.mounts = {{.destination = "/var/lib", .type = "tmpfs", .source = "tmpfs", .options = {"tmpcopyup"}}};
  auto kv = run_isolated([&](Report& r) {
    r.status("prepare", prepare(spec, rootfs_, opts_));
    r.status("enter", enter(rootfs_, opts_));
    r.check("tmpfs", is_fs("/var/lib", TMPFS_MAGIC));
    r.check("data", read_or_error("/var/lib/link") == "kept");
    struct stat s {};
    r.check("mode", stat("/var/lib/sub", &s) == 0 && (s.st_mode & 07777) == 0710);
    r.check("writable_copy", write_errno("/var/lib/sub/data") == 0);
  });
  expect_ok(kv, {"prepare", "enter", "tmpfs", "data", "mode", "writable_copy"});
  EXPECT_EQ(read_or_error(rootfs_ + "/var/lib/sub/data"), "kept");
}

std::string mountinfo_line(std::string_view mountpoint) {
  std::string mi = read_or_error("/proc/self/mountinfo");
  size_t pos = 0;
  while (pos < mi.size()) {
    size_t nl = mi.find('\n', pos);
    if (nl == std::string::npos) nl = mi.size();
    std::string line = mi.substr(pos, nl - pos);
    pos = nl + 1;
    // Field 5 is the mount point.
    size_t f = 0, start = 0;
    for (int i = 0; i < 4 && f != std::string::npos; ++i) f = line.find(' ', f + (i ? 1 : 0));
    if (f == std::string::npos) continue;
    start = f + 1;
    size_t end = line.find(' ', start);
    if (line.substr(start, end - start) == mountpoint) return line;  // the last match is the top mount
  }
  return "";
}

// In a user namespace: devices are bound from the host (mknod is refused there), sysfs is mounted because the
// network namespace belongs to the user namespace, and a bind of a mount whose nosuid/nodev are locked keeps
// them while adding ro; asking to clear a locked flag fails.
TEST_F(RootfsRootTest, UserNamespace) {
  const std::string locked = tmp_ / "locked";
  ASSERT_TRUE(mkdir_all(locked));
  oci::Spec spec = oci::default_spec();
  spec.linux->namespaces.push_back({oci::NamespaceType::User, ""});
  spec.mounts.push_back(
      {.destination = "/locked", .type = "bind", .source = locked, .options = {"bind", "ro"}});
  oci::Spec clear_locked;
  clear_locked.mounts = {
      {.destination = "/locked", .type = "bind", .source = locked, .options = {"bind", "suid"}}};
  Options opts = opts_;
  opts.user_namespace = true;
  Isolation iso;
  iso.userns = true;
  iso.before_userns = [&] {
    if (mount("tmpfs", locked.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") < 0) _exit(7);
    int fd = open((locked + "/f").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, "L", 1) != 1) _exit(7);
    close(fd);
  };
  auto kv = run_isolated(
      [&](Report& r) {
        Status c = prepare(clear_locked, rootfs_, opts);
        r.check("clear_locked_refused", !c, "accepted");
        r.put("clear_locked_message", c ? "" : c.error().message());
        r.status("prepare", prepare(spec, rootfs_, opts));
        r.status("enter", enter(rootfs_, opts));
        r.status("finalize", finalize(spec, opts));
        struct stat s {};
        r.check("dev_null", stat("/dev/null", &s) == 0 && S_ISCHR(s.st_mode) && s.st_rdev == makedev(1, 3));
        r.check("dev_null_bound", !mountinfo_line("/dev/null").empty(), "no mount at /dev/null");
        r.check("dev_zero_bound", !mountinfo_line("/dev/zero").empty(), "no mount at /dev/zero");
        r.check("proc", is_fs("/proc", PROC_SUPER_MAGIC));
        r.check("sysfs", is_fs("/sys", SYSFS_MAGIC) && has_vfs_flag("/sys", ST_RDONLY));
        r.check("kcore_masked", access("/proc/kcore", F_OK) != 0 || read_or_error("/proc/kcore").empty());
        r.check("proc_sys_ro", write_errno("/proc/sys/kernel/shmmax") == EROFS);
        r.check("root_ro", write_errno("/newfile", true) == EROFS);
        r.check("locked_kept", has_vfs_flag("/locked", ST_RDONLY | ST_NOSUID | ST_NODEV) &&
                                   read_or_error("/locked/f") == "L");
      },
      iso);
  expect_ok(kv, {"clear_locked_refused", "prepare", "enter", "finalize", "dev_null", "dev_null_bound",
                 "dev_zero_bound", "proc", "sysfs", "kcore_masked", "proc_sys_ro", "root_ro", "locked_kept"});
  EXPECT_NE(kv["clear_locked_message"].find("mount `" + locked + "` on `/locked`"), std::string::npos)
      << kv["clear_locked_message"];
}

// A user namespace that shares the host's network namespace cannot mount sysfs: /sys is an rbind of the
// host's.
TEST_F(RootfsRootTest, UserNamespaceWithoutNetnsBindsSys) {
  oci::Spec spec = oci::default_spec();
  spec.linux->namespaces = {{oci::NamespaceType::Pid, ""},
                            {oci::NamespaceType::Ipc, ""},
                            {oci::NamespaceType::Uts, ""},
                            {oci::NamespaceType::Mount, ""},
                            {oci::NamespaceType::User, ""}};
  Options opts = opts_;
  opts.user_namespace = true;
  Isolation iso;
  iso.userns = true;
  iso.netns = false;
  auto kv = run_isolated(
      [&](Report& r) {
        r.status("prepare", prepare(spec, rootfs_, opts));
        r.status("enter", enter(rootfs_, opts));
        r.status("finalize", finalize(spec, opts));
        r.check("sysfs", is_fs("/sys", SYSFS_MAGIC) && has_vfs_flag("/sys", ST_RDONLY));
        r.check("sysfs_readable", access("/sys/kernel", F_OK) == 0);
      },
      iso);
  expect_ok(kv, {"prepare", "enter", "finalize", "sysfs", "sysfs_readable"});
}

// With a cgroup namespace each v1 hierarchy is a fresh cgroup mount (showing the namespace's root).
TEST_F(RootfsRootTest, CgroupNamespace) {
  struct statfs host {};
  ASSERT_EQ(statfs("/sys/fs/cgroup", &host), 0);
  oci::Spec spec = oci::default_spec();
  spec.linux->namespaces.push_back({oci::NamespaceType::Cgroup, ""});
  Isolation iso;
  iso.cgroupns = true;
  auto kv = run_isolated(
      [&](Report& r) {
        r.status("prepare", prepare(spec, rootfs_, opts_));
        r.status("enter", enter(rootfs_, opts_));
        r.status("finalize", finalize(spec, opts_));
        if (static_cast<long>(host.f_type) == CGROUP2_SUPER_MAGIC) {
          r.check("cgroup", is_fs("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC));
          r.check("memory", true);
        } else {
          r.check("cgroup",
                  is_fs("/sys/fs/cgroup", TMPFS_MAGIC) && has_vfs_flag("/sys/fs/cgroup", ST_RDONLY));
          std::string line = mountinfo_line("/sys/fs/cgroup/memory");
          r.check("memory",
                  is_fs("/sys/fs/cgroup/memory", CGROUP_SUPER_MAGIC) &&
                      has_vfs_flag("/sys/fs/cgroup/memory", ST_RDONLY) &&
                      line.find(" / /sys/fs/cgroup/memory ") != std::string::npos,
                  line);
        }
      },
      iso);
  expect_ok(kv, {"prepare", "enter", "finalize", "cgroup", "memory"});
}

// A cgroup v2 host (simulated: cgroup2 mounted over /sys/fs/cgroup in the child's own mount namespace): the
// cgroup entry is a cgroup2 mount; in a user namespace without a cgroup namespace the kernel refuses that and
// the host's hierarchy is bound instead. Read-only either way.
TEST_F(RootfsRootTest, CgroupV2Host) {
  oci::Spec spec = oci::default_spec();
  Isolation iso;
  iso.before_userns = [] {
    if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0)
      _exit(7);
  };
  auto body = [&](const Options& opts) {
    return [&, opts](Report& r) {
      r.status("prepare", prepare(spec, rootfs_, opts));
      r.status("enter", enter(rootfs_, opts));
      r.status("finalize", finalize(spec, opts));
      r.check("cgroup2",
              is_fs("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC) && has_vfs_flag("/sys/fs/cgroup", ST_RDONLY));
      r.check("controllers_file", access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0);
      r.check("refuses_writes", write_errno("/sys/fs/cgroup/x", true) == EROFS);
    };
  };
  auto kv = run_isolated(body(opts_), iso);
  expect_ok(kv, {"prepare", "enter", "finalize", "cgroup2", "controllers_file", "refuses_writes"});

  oci::Spec userns_spec = spec;
  userns_spec.linux->namespaces.push_back({oci::NamespaceType::User, ""});
  spec = userns_spec;
  Options uopts = opts_;
  uopts.user_namespace = true;
  iso.userns = true;
  auto ukv = run_isolated(body(uopts), iso);
  expect_ok(ukv, {"prepare", "enter", "finalize", "cgroup2", "controllers_file", "refuses_writes"});
}

// linux.rootfsPropagation "rshared": the new root is shared after finalize; the host's "/" is not changed.
TEST_F(RootfsRootTest, RootPropagationShared) {
  std::string host_before = mountinfo_line("/");
  oci::Spec spec = oci::default_spec();
  spec.linux->rootfs_propagation = "rshared";
  auto kv = run_isolated([&](Report& r) {
    r.status("prepare", prepare(spec, rootfs_, opts_));
    r.check("private_before_pivot", mountinfo_line(rootfs_).find("shared:") == std::string::npos,
            mountinfo_line(rootfs_));
    r.status("enter", enter(rootfs_, opts_));
    r.status("finalize", finalize(spec, opts_));
    r.check("shared_root", mountinfo_line("/").find("shared:") != std::string::npos, mountinfo_line("/"));
  });
  expect_ok(kv, {"prepare", "private_before_pivot", "enter", "finalize", "shared_root"});
  EXPECT_EQ(mountinfo_line("/"), host_before);
}

}  // namespace
}  // namespace berth::runtime::rootfs
