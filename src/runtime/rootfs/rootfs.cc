#include "runtime/rootfs/rootfs.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>
#include <set>

#include "base/file.h"
#include "runtime/rootfs/internal.h"
#include "runtime/rootfs/mount_api.h"
#include "runtime/rootfs/mount_options.h"
#include "runtime/rootfs/sysctl.h"
#include "sys/path.h"

namespace berth::runtime::rootfs {
namespace detail {
namespace {

// Superblock flags: passed to fsconfig, not to the mount.
constexpr unsigned long kSbFlags = MS_SYNCHRONOUS | MS_DIRSYNC | MS_MANDLOCK | MS_LAZYTIME;
// Per-mount flags a plain "mount --bind -o ..." resets to exactly what was asked for.
constexpr uint64_t kBindResetAttrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                     MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW;

// /proc entries that may be mounted over (what lxcfs emulates); everything else below /proc is refused.
constexpr std::string_view kProcMountable[] = {
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
};

bool is_pseudo_fs(std::string_view type) {
  return type == "proc" || type == "sysfs" || type == "tmpfs" || type == "devpts" || type == "mqueue" ||
         type == "cgroup" || type == "cgroup2";
}

std::string mount_name(const oci::Mount& m, bool bind) { return bind ? m.source : m.type; }

// The path of `real` relative to rootfs ("/proc/sys"), or nullopt if it is not strictly inside.
std::optional<std::string> inside_root(const std::string& rootfs, const std::string& real) {
  if (real == rootfs) return std::string("/");
  if (real.size() > rootfs.size() && real.compare(0, rootfs.size(), rootfs) == 0 &&
      real[rootfs.size()] == '/')
    return real.substr(rootfs.size());
  return std::nullopt;
}

Status check_proc_target(const std::string& rel, std::string_view fstype, int bind_src_fd) {
  if (rel != "/proc" && rel.compare(0, 6, "/proc/") != 0) return ok();
  if (rel == "/proc") {
    if (fstype == "proc") return ok();
    if (bind_src_fd >= 0) {
      struct statfs sfs {};
      if (::fstatfs(bind_src_fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC) return ok();
    }
    return fail(Errc::PermissionDenied, "`/proc` may only be mounted from a procfs");
  }
  for (std::string_view ok_path : kProcMountable)
    if (rel == ok_path) return ok();
  return fail(Errc::PermissionDenied, "`{}` cannot be mounted because it is inside /proc", rel);
}

}  // namespace

bool running_in_user_namespace() {
  auto text = read_file("/proc/self/uid_map", 4096);
  if (!text) return false;
  unsigned long a = 0, b = 0, n = 0;
  if (std::sscanf(text->c_str(), "%lu %lu %lu", &a, &b, &n) != 3) return true;
  return !(a == 0 && b == 0 && n == 4294967295UL);
}

namespace {
std::string unescape_mountinfo(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}
}  // namespace

Result<std::vector<MountInfo>> read_mountinfo(const std::string& path) {
  std::string text = BERTH_TRY(read_file(path, 16 << 20));
  std::vector<MountInfo> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    auto f = split_ws(line);
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); ++i)
      if (f[i] == "-") {
        dash = i;
        break;
      }
    if (f.size() < 10 || dash == 0 || dash + 3 > f.size()) continue;
    MountInfo mi;
    mi.root = unescape_mountinfo(f[3]);
    mi.mountpoint = unescape_mountinfo(f[4]);
    mi.fstype = std::string(f[dash + 1]);
    mi.source = unescape_mountinfo(f[dash + 2]);
    if (dash + 3 < f.size()) mi.super_options = std::string(f[dash + 3]);
    out.push_back(std::move(mi));
  }
  return out;
}

Result<UniqueFd> open_mountpoint(Context& c, std::string_view dest, std::string_view fstype, bool want_file,
                                 int bind_src_fd) {
  auto fd = sys::open_in_root(c.root.get(), dest, O_PATH);
  if (!fd) {
    if (fd.error().sys_errno() != ENOENT) return fail(std::move(fd).error().wrap("open mount point"));
    fd = want_file ? sys::create_file_in_root(c.root.get(), dest, 0644)
                   : sys::mkdir_all_in_root(c.root.get(), dest);
    if (!fd) return fail(std::move(fd).error().wrap("create mount point"));
  }
  // The fd was resolved inside the rootfs by the kernel; check what it names anyway, so a resolver bug or a
  // rootfs that is not what prepare() bound can never send a mount outside.
  std::string real = BERTH_TRY(fd_real_path(fd->get()));
  auto rel = inside_root(c.rootfs, real);
  if (!rel) return fail(Errc::PermissionDenied, "mount point resolves to `{}`, outside the rootfs", real);
  if (*rel == "/") return fail(Errc::InvalidArgument, "mount point is the rootfs itself");
  BERTH_TRY(check_proc_target(*rel, fstype, bind_src_fd));
  return std::move(fd).value();
}

Status attach_with_options(int mnt, int target, const MountOptions& o) {
  std::string want = BERTH_TRY(fd_real_path(target));
  BERTH_TRY(attach(mnt, target));
  // Re-verify: the attached mount must sit exactly where the checked target was.
  std::string got = BERTH_TRY(fd_real_path(mnt));
  if (got != want) return fail(Errc::PermissionDenied, "mount landed on `{}` instead of `{}`", got, want);
  for (unsigned long p : o.propagation) BERTH_TRY_CTX(set_propagation(mnt, p), "set propagation");
  if (o.rec_attr_set || o.rec_attr_clr)
    BERTH_TRY_CTX(set_attr(mnt, true, o.rec_attr_set, o.rec_attr_clr), "set recursive attributes");
  return ok();
}

Status bind_prepared(int tree, int target, const MountOptions& o) {
  unsigned long extra = o.flags & ~static_cast<unsigned long>(MS_BIND | MS_REC | MS_REMOUNT);
  if (extra || o.clear_flags) {
    bool atime_given = false;
    uint64_t set = ms_to_mount_attr(o.flags, &atime_given);
    uint64_t explicit_clr = ms_to_mount_attr(
        o.clear_flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NODIRATIME | MS_NOSYMFOLLOW));
    uint64_t atime_clr = atime_given ? MOUNT_ATTR__ATIME : 0;
    if ((o.clear_flags & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) && !atime_given) {
      // "atime"/"norelatime"/"nostrictatime" alone: fall back to the kernel default (relatime).
      atime_clr = MOUNT_ATTR__ATIME;
    }
    // First as "mount --bind -o opts": exactly the requested flags. In a user namespace some of the source's
    // flags are locked (MNT_LOCK_*) and clearing them fails with EPERM; then keep what the source has and
    // only add, failing if the config explicitly asked to clear a locked flag.
    // (An atime change needs all of MOUNT_ATTR__ATIME in the clear mask, overlapping the set mask.)
    auto first = set_attr(tree, false, set, (kBindResetAttrs & ~set) | explicit_clr | atime_clr);
    if (!first) {
      if (first.error().sys_errno() != EPERM) return fail(std::move(first).error());
      auto second = set_attr(tree, false, set, explicit_clr | atime_clr);
      if (!second)
        return fail(std::move(second).error().wrap(
            fmt::format("cannot apply `{}` (the source has locked flags)", mount_flags_string(o.flags))));
    }
  }
  return attach_with_options(tree, target, o);
}

Status bind_mount(Context& c, const std::string& source, const std::string& dest, const MountOptions& o) {
  auto run = [&]() -> Status {
    UniqueFd tree = BERTH_TRY(clone_tree(AT_FDCWD, source, o.is_recursive()));
    struct stat st {};
    if (::fstat(tree.get(), &st) < 0) return fail_errno("fstat source");
    UniqueFd target = BERTH_TRY(open_mountpoint(c, dest, "bind", !S_ISDIR(st.st_mode), tree.get()));
    return bind_prepared(tree.get(), target.get(), o);
  };
  auto st = run();
  if (!st) return fail(std::move(st).error().wrap(fmt::format("mount `{}` on `{}`", source, dest)));
  return ok();
}

namespace {

Status mount_fs(Context& c, const oci::Mount& m, const MountOptions& o, const std::string& dest) {
  const std::string& type = m.type;
  bool proc_like = type == "proc" || type == "sysfs";
  UniqueFd target;
  bool existed = false;
  if (proc_like) {
    // A /proc or /sys that is a symlink (or a file) is refused rather than followed (CVE-2023-27561 class).
    auto lfd = sys::open_in_root(c.root.get(), dest, O_PATH | O_NOFOLLOW);
    if (lfd) {
      struct stat st {};
      if (::fstat(lfd->get(), &st) < 0) return fail_errno("fstat `{}`", dest);
      if (!S_ISDIR(st.st_mode))
        return fail(Errc::PermissionDenied,
                    "filesystem `{}` must be mounted on an ordinary directory: `{}` is not one", type, dest);
    } else if (lfd.error().sys_errno() != ENOENT) {
      return fail(std::move(lfd).error().wrap(fmt::format("open `{}`", dest)));
    }
  }
  {
    auto probe = sys::open_in_root(c.root.get(), dest, O_PATH);
    existed = probe.has_value();
  }
  target = BERTH_TRY(open_mountpoint(c, dest, type, false, -1));

  std::string data = o.data;
  if (type == "tmpfs" && existed) {
    // Like runc: a tmpfs over an existing directory starts with that directory's mode unless told otherwise.
    struct stat st {};
    if (::fstat(target.get(), &st) == 0) {
      std::string mode = fmt::format("mode={:04o}", st.st_mode & 07777);
      data = data.empty() ? mode : mode + "," + data;
    }
  }
  // tmpfs and /dev stay writable until finalize(): /dev is populated and /dev/console created after this.
  bool delay_ro = type == "tmpfs" || dest == "/dev";
  unsigned long flags = o.flags;
  if (delay_ro) flags &= ~static_cast<unsigned long>(MS_RDONLY);
  uint64_t attr = ms_to_mount_attr(flags);
  unsigned long sb = flags & kSbFlags;
  if ((flags & MS_RDONLY) && !is_pseudo_fs(type))
    sb |= MS_RDONLY;  // a real filesystem is opened read-only too

  UniqueFd mnt = BERTH_TRY(new_fs(type, m.source, data, sb, attr));
  if (o.tmpcopyup && type == "tmpfs") {
    UniqueFd src(::openat(target.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!src) return fail_errno("tmpcopyup: open `{}`", dest);
    BERTH_TRY_CTX(copy_tree(src.get(), mnt.get()), "tmpcopyup");
  }
  return attach_with_options(mnt.get(), target.get(), o);
}

// "remount" on a non-bind entry: change the flags/data of what is already mounted at dest.
Status remount_existing(Context& c, const oci::Mount& m, const MountOptions& o, const std::string& dest) {
  UniqueFd target = BERTH_TRY(sys::open_in_root(c.root.get(), dest, O_PATH));
  std::string real = BERTH_TRY(fd_real_path(target.get()));
  if (!inside_root(c.rootfs, real)) return fail(Errc::PermissionDenied, "remount target outside the rootfs");
  std::string path = sys::fd_path(target.get());
  if (::mount(m.source.c_str(), path.c_str(), m.type.c_str(), o.flags | MS_REMOUNT,
              o.data.empty() ? nullptr : o.data.c_str()) < 0)
    return fail_errno("remount");
  return ok();
}

Status mount_entry(Context& c, const oci::Mount& m) {
  std::string dest = sys::clean_path(m.destination);
  MountOptions o = BERTH_TRY_CTX(parse_mount_options(m.options), "mount on `{}`", dest);
  bool bind = o.is_bind() || m.type == "bind" || m.type == "rbind";
  if (m.type == "rbind") o.flags |= MS_BIND | MS_REC;
  if (bind) o.flags |= MS_BIND;
  if (o.idmap || !m.uid_mappings.empty() || !m.gid_mappings.empty())
    return fail(Errc::Unimplemented, "mount `{}` on `{}`: idmapped mounts are not supported",
                mount_name(m, bind), dest);
  if (bind) {
    if (m.source.empty())
      return fail(Errc::InvalidArgument, "mount on `{}`: bind mount without a source", dest);
    std::string source = m.source;
    if (source[0] != '/') source = c.opts.bundle + "/" + source;
    return bind_mount(c, source, dest, o);
  }
  if (m.type.empty()) return fail(Errc::InvalidArgument, "mount on `{}`: no filesystem type", dest);
  if (m.type == "cgroup") {
    auto st = mount_cgroup(c, m, o, dest);
    if (!st) return fail(std::move(st).error().wrap(fmt::format("mount `cgroup` on `{}`", dest)));
    return ok();
  }
  if (m.type == "sysfs" && c.userns && !c.netns) {
    // sysfs can only be mounted by the owner of the network namespace; in a user namespace that shares the
    // host's network namespace, bind the host's /sys instead (as runc and crun do).
    MountOptions b = o;
    b.flags |= MS_BIND | MS_REC;
    return bind_mount(c, "/sys", dest, b);
  }
  Status st = (o.flags & MS_REMOUNT) ? remount_existing(c, m, o, dest) : mount_fs(c, m, o, dest);
  if (!st && m.type == "sysfs" && c.userns && st.error().sys_errno() == EPERM) {
    MountOptions b = o;
    b.flags |= MS_BIND | MS_REC;
    return bind_mount(c, "/sys", dest, b);
  }
  if (!st) return fail(std::move(st).error().wrap(fmt::format("mount `{}` on `{}`", m.type, dest)));
  return ok();
}

// Makes the mount that contains path private (or slave), walking up to the nearest mount point:
// pivot_root refuses a shared parent, and a bind under a shared parent would propagate to the host.
Status make_parent_private(std::string path, unsigned long root_prop) {
  unsigned long flag = (root_prop & MS_SLAVE) ? MS_SLAVE : MS_PRIVATE;
  for (;;) {
    if (::mount(nullptr, path.c_str(), nullptr, flag, nullptr) == 0) return ok();
    if (errno != EINVAL || path == "/")
      return fail_errno("make `{}` {}", path, flag == MS_SLAVE ? "slave" : "private");
    size_t slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
}

bool needs_dev_setup(const oci::Spec& spec) {
  for (const oci::Mount& m : spec.mounts) {
    if (sys::clean_path(m.destination) != "/dev") continue;
    auto o = parse_mount_options(m.options);
    if (m.type == "bind" || (o && o->is_bind())) return false;
  }
  return true;
}

bool spec_has_ns(const oci::Spec& spec, oci::NamespaceType t) {
  if (!spec.linux) return false;
  for (const oci::Namespace& ns : spec.linux->namespaces)
    if (ns.type == t) return true;
  return false;
}

Result<std::string> absolute_rootfs(const std::string& rootfs) {
  char buf[PATH_MAX];
  if (!::realpath(rootfs.c_str(), buf)) return fail_errno("rootfs `{}`", rootfs);
  return std::string(buf);
}

}  // namespace
}  // namespace detail

using namespace detail;

Status prepare(const oci::Spec& spec, const std::string& rootfs, const Options& opts) {
  std::string abs = BERTH_TRY(absolute_rootfs(rootfs));
  unsigned long prop = BERTH_TRY(parse_propagation(spec.linux ? spec.linux->rootfs_propagation : ""));
  unsigned long root_flag = prop ? prop : (MS_PRIVATE | MS_REC);
  // Shared and unbindable are applied to the new root after pivot_root (finalize); before that the tree must
  // not propagate back to the host.
  if (root_flag & (MS_SHARED | MS_UNBINDABLE)) root_flag = MS_PRIVATE | MS_REC;
  if (::mount(nullptr, "/", nullptr, root_flag, nullptr) < 0)
    return fail_errno("set propagation of `/` to {}",
                      spec.linux ? spec.linux->rootfs_propagation : "rprivate");
  BERTH_TRY(make_parent_private(abs, root_flag));
  if (::mount(abs.c_str(), abs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
    return fail_errno("bind rootfs `{}` onto itself", abs);

  Context c{spec, opts, abs, {}, false, false, false};
  c.root = BERTH_TRY_CTX(sys::open_root(abs), "open rootfs");
  c.userns =
      opts.user_namespace || spec_has_ns(spec, oci::NamespaceType::User) || running_in_user_namespace();
  c.netns = spec_has_ns(spec, oci::NamespaceType::Network);
  c.cgroupns = spec_has_ns(spec, oci::NamespaceType::Cgroup);

  for (const oci::Mount& m : spec.mounts) BERTH_TRY(mount_entry(c, m));
  if (needs_dev_setup(spec)) BERTH_TRY_CTX(setup_dev(c), "set up /dev");
  return ok();
}

namespace {

// With --no-pivot the host's procfs and sysfs stay reachable in this mount namespace, and a full procfs mount
// lets the container mount a fresh unmasked one; detach them (or cover them) before chroot, as runc does.
Status hide_host_pseudo_fs(const std::string& rootfs) {
  auto mounts = BERTH_TRY(read_mountinfo());
  for (const MountInfo& mi : mounts) {
    if (mi.root != "/" || (mi.fstype != "proc" && mi.fstype != "sysfs")) continue;
    if (inside_root(rootfs, mi.mountpoint)) continue;
    if (::mount(nullptr, mi.mountpoint.c_str(), nullptr, MS_SLAVE | MS_REC, nullptr) < 0) {
      if (errno == ENOENT) continue;
      return fail_errno("make `{}` rslave", mi.mountpoint);
    }
    if (::umount2(mi.mountpoint.c_str(), MNT_DETACH) < 0) {
      if (errno != EINVAL && errno != EPERM) return fail_errno("unmount `{}`", mi.mountpoint);
      if (::mount("tmpfs", mi.mountpoint.c_str(), "tmpfs", MS_RDONLY, "size=0") < 0)
        return fail_errno("cover `{}`", mi.mountpoint);
    }
  }
  return ok();
}

// If stdio points at the host's /dev/null, point it at the container's (verified) one instead.
void reopen_dev_null() {
  UniqueFd null(::open("/dev/null", O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (!null) return;
  auto verified = sys::is_dev_null(null.get());
  if (!verified || !*verified) return;
  for (int fd = 0; fd < 3; ++fd) {
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
      ::dup3(null.get(), fd, 0);
  }
}

}  // namespace

Status enter(const std::string& rootfs, const Options& opts) {
  std::string abs = BERTH_TRY(absolute_rootfs(rootfs));
  UniqueFd newroot(::open(abs.c_str(), O_DIRECTORY | O_PATH | O_CLOEXEC));
  if (!newroot) return fail_errno("open rootfs `{}`", abs);
  if (opts.no_pivot) {
    BERTH_TRY(hide_host_pseudo_fs(abs));
    if (::fchdir(newroot.get()) < 0) return fail_errno("chdir `{}`", abs);
    if (::mount(abs.c_str(), "/", nullptr, MS_MOVE, nullptr) < 0)
      return fail_errno("move `{}` onto `/`", abs);
    if (::chroot(".") < 0) return fail_errno("chroot `{}`", abs);
  } else {
    UniqueFd oldroot(::open("/", O_DIRECTORY | O_PATH | O_CLOEXEC));
    if (!oldroot) return fail_errno("open `/`");
    if (::fchdir(newroot.get()) < 0) return fail_errno("chdir `{}`", abs);
    // pivot_root(".", ".") stacks the old root under the new one at the same place; it is then reachable only
    // through the old cwd, so it can be detached without an old-root directory in the rootfs.
    if (::syscall(SYS_pivot_root, ".", ".") < 0) return fail_errno("pivot_root `{}`", abs);
    if (::fchdir(oldroot.get()) < 0) return fail_errno("chdir to the old root");
    // Slave first, so the detach below never propagates to the host (a shared rootfsPropagation).
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
      return fail_errno("make old root rslave");
    if (::umount2(".", MNT_DETACH) < 0) return fail_errno("detach the old root");
  }
  if (::chdir("/") < 0) return fail_errno("chdir `/`");
  reopen_dev_null();
  return ok();
}

Status setup_console(int pty_slave_fd) {
  struct stat st {};
  if (::fstat(pty_slave_fd, &st) < 0) return fail_errno("console: fstat fd {}", pty_slave_fd);
  unsigned maj = major(st.st_rdev);
  if (!S_ISCHR(st.st_mode) || maj < 136 || maj > 143)
    return fail(Errc::PermissionDenied, "console: fd {} is not a pty slave (device {}:{})", pty_slave_fd, maj,
                minor(st.st_rdev));
  struct statfs sfs {};
  if (::fstatfs(pty_slave_fd, &sfs) < 0) return fail_errno("console: fstatfs");
  if (sfs.f_type != DEVPTS_SUPER_MAGIC)
    return fail(Errc::PermissionDenied, "console: fd {} is not on a devpts filesystem", pty_slave_fd);
  // The target is /dev/console itself: a symlink there (the rootfs's own /dev, without a /dev tmpfs) is
  // refused rather than followed, so the pty never lands on another path of the container.
  UniqueFd root = BERTH_TRY_CTX(sys::open_root("/"), "console");
  UniqueFd dev = BERTH_TRY_CTX(sys::mkdir_all_in_root(root.get(), "/dev", 0755), "console: /dev");
  if (::mknodat(dev.get(), "console", S_IFREG | 0666, 0) != 0 && errno != EEXIST)
    return fail_errno("console: create /dev/console");
  UniqueFd target(::openat(dev.get(), "console", O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!target) return fail_errno("console: open /dev/console");
  struct stat tst {};
  if (::fstat(target.get(), &tst) < 0) return fail_errno("console: fstat /dev/console");
  if (S_ISLNK(tst.st_mode))
    return fail(Errc::PermissionDenied, "console: /dev/console in the container is a symlink");
  if (S_ISDIR(tst.st_mode)) return fail(Errc::PermissionDenied, "console: /dev/console in the container is a directory");
  UniqueFd tree = BERTH_TRY_CTX(clone_tree(pty_slave_fd, "", false), "mount console on `/dev/console`");
  BERTH_TRY_CTX(attach(tree.get(), target.get()), "mount console on `/dev/console`");
  return ok();
}

Status apply_sysctls(const std::map<std::string, std::string>& sysctls) {
  if (sysctls.empty()) return ok();
  UniqueFd dir = BERTH_TRY_CTX(sys::open_proc_verified("/proc/sys", O_PATH | O_DIRECTORY), "sysctl");
  for (const auto& [key, value] : sysctls) {
    std::string rel = BERTH_TRY(sysctl_relative_path(key));
    UniqueFd fd =
        BERTH_TRY_CTX(sys::open_in_root(dir.get(), rel, O_WRONLY | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS),
                      "sysctl `{}`: open /proc/sys/{}", key, rel);
    bool proc = BERTH_TRY_CTX(sys::is_procfs(fd.get()), "sysctl `{}`", key);
    if (!proc) return fail(Errc::PermissionDenied, "sysctl `{}`: /proc/sys/{} is not on procfs", key, rel);
    BERTH_TRY_CTX(write_all(fd.get(), value), "sysctl `{}`: write", key);
  }
  return ok();
}

namespace {

Status remount_ro(int root, const std::string& dest) {
  auto fd = sys::open_in_root(root, dest, O_PATH);
  if (!fd) return fail(std::move(fd).error().wrap(fmt::format("remount `{}` read-only", dest)));
  BERTH_TRY_CTX(set_attr(fd->get(), false, MOUNT_ATTR_RDONLY, 0), "remount `{}` read-only", dest);
  return ok();
}

Status readonly_path(int root, const std::string& path) {
  auto fd = sys::open_in_root(root, path, O_PATH);
  if (!fd) {
    if (fd.error().sys_errno() == ENOENT) return ok();
    return fail(std::move(fd).error().wrap(fmt::format("readonly path `{}`", path)));
  }
  // Bind the path onto itself and make the copy read-only before attaching it. mount_setattr only sets
  // MOUNT_ATTR_RDONLY, so nosuid/nodev/noexec (locked in a user namespace) stay as they were.
  UniqueFd tree = BERTH_TRY_CTX(clone_tree(fd->get(), "", true), "readonly path `{}`", path);
  BERTH_TRY_CTX(set_attr(tree.get(), true, MOUNT_ATTR_RDONLY, 0), "readonly path `{}`", path);
  BERTH_TRY_CTX(attach(tree.get(), fd->get()), "readonly path `{}`", path);
  return ok();
}

struct Masker {
  int root;
  UniqueFd dev_null;  // verified 1:3, opened on first use
  UniqueFd dir_mask;  // the first read-only tmpfs, cloned for the other directories

  Status mask(const std::string& path) {
    auto fd = sys::open_in_root(root, path, O_PATH);
    if (!fd) {
      if (fd.error().sys_errno() == ENOENT) return ok();
      return fail(std::move(fd).error().wrap(fmt::format("mask `{}`", path)));
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) < 0) return fail_errno("mask `{}`: fstat", path);
    if (S_ISDIR(st.st_mode)) return mask_dir(path, fd->get());
    if (!dev_null) {
      dev_null =
          BERTH_TRY_CTX(sys::open_in_root(root, "/dev/null", O_PATH), "mask `{}`: open /dev/null", path);
      bool is_null = BERTH_TRY_CTX(sys::is_dev_null(dev_null.get()), "mask `{}`", path);
      if (!is_null) {
        dev_null.reset();
        return fail(Errc::PermissionDenied, "mask `{}`: the container's /dev/null is not the null device",
                    path);
      }
    }
    // The verified fd itself is the bind source, so nothing can be swapped in between check and mount.
    UniqueFd tree = BERTH_TRY_CTX(clone_tree(dev_null.get(), "", false), "mask `{}`", path);
    BERTH_TRY_CTX(attach(tree.get(), fd->get()), "mask `{}`", path);
    return ok();
  }

  Status mask_dir(const std::string& path, int target) {
    UniqueFd mnt;
    if (dir_mask) {
      mnt = BERTH_TRY_CTX(clone_tree(dir_mask.get(), "", false), "mask `{}`", path);
    } else {
      auto fs = new_fs("tmpfs", "tmpfs", "nr_blocks=1,nr_inodes=1", 0, MOUNT_ATTR_RDONLY);
      // Some distribution kernels refuse nr_inodes < 2.
      if (!fs) fs = new_fs("tmpfs", "tmpfs", "nr_blocks=1,nr_inodes=2", 0, MOUNT_ATTR_RDONLY);
      if (!fs) return fail(std::move(fs).error().wrap(fmt::format("mask `{}`", path)));
      mnt = std::move(fs).value();
    }
    BERTH_TRY_CTX(attach(mnt.get(), target), "mask `{}`", path);
    if (!dir_mask) dir_mask = std::move(mnt);
    return ok();
  }
};

}  // namespace

Status finalize(const oci::Spec& spec, const Options& opts) {
  (void)opts;
  UniqueFd root = BERTH_TRY_CTX(sys::open_root("/"), "finalize");
  unsigned long prop = BERTH_TRY(parse_propagation(spec.linux ? spec.linux->rootfs_propagation : ""));
  if (prop & (MS_SHARED | MS_UNBINDABLE))
    BERTH_TRY_CTX(set_propagation(root.get(), prop), "set propagation of `/`");

  if (spec.linux && !spec.linux->sysctl.empty()) {
    BERTH_TRY(check_sysctls(spec));
    BERTH_TRY(apply_sysctls(spec.linux->sysctl));
  }

  for (const oci::Mount& m : spec.mounts) {
    auto o = parse_mount_options(m.options);
    if (!o || !(o->flags & MS_RDONLY) || o->is_bind() || m.type == "bind") continue;
    std::string dest = sys::clean_path(m.destination);
    if (m.type == "tmpfs" || dest == "/dev") BERTH_TRY(remount_ro(root.get(), dest));
  }

  if (spec.linux) {
    for (const std::string& p : spec.linux->readonly_paths) BERTH_TRY(readonly_path(root.get(), p));
    Masker masker{root.get(), {}, {}};
    std::set<std::string> seen;
    for (const std::string& p : spec.linux->masked_paths) {
      if (!seen.insert(sys::clean_path(p)).second) continue;
      BERTH_TRY(masker.mask(p));
    }
  }

  if (spec.root.readonly)
    BERTH_TRY_CTX(set_attr(root.get(), false, MOUNT_ATTR_RDONLY, 0), "remount `/` read-only");
  return ok();
}

}  // namespace berth::runtime::rootfs
