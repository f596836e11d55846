// "cgroup" entries of spec.mounts.
//
// cgroup v2 host: a cgroup2 mount (in a cgroup namespace it shows the container's own subtree); when the
// kernel refuses it (a user namespace without a cgroup namespace), a bind of the host's /sys/fs/cgroup.
// cgroup v1 host: a tmpfs at the destination holding one directory per hierarchy, each either a fresh cgroup
// mount of that hierarchy (with a cgroup namespace) or a bind of the container's own cgroup directory, and
// symlinks for co-mounted controllers (cpu -> cpu,cpuacct). As runc does, so tools inside see the same
// layout.

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <set>

#include "base/file.h"
#include "runtime/rootfs/internal.h"
#include "runtime/rootfs/mount_api.h"
#include "sys/path.h"

namespace berth::runtime::rootfs::detail {
namespace {

constexpr std::string_view kCgroupRoot = "/sys/fs/cgroup";

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t next = s.find(sep, pos);
    if (next == std::string_view::npos) next = s.size();
    if (next > pos) out.emplace_back(s.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

struct Hierarchy {
  std::string mountpoint;                // /sys/fs/cgroup/cpu,cpuacct
  std::string source;                    // host dir of the container's own cgroup in it
  std::vector<std::string> controllers;  // "cpu", "cpuacct", or "name=systemd"
};

// One entry per v1 hierarchy visible in this mount namespace, matched to this process's cgroup in it. With
// need_source, hierarchies whose mount does not show our cgroup are skipped; without (a cgroup namespace,
// where mounts made outside it show their root as "/.."), source is left empty.
Result<std::vector<Hierarchy>> v1_hierarchies(bool need_source) {
  auto mounts = BERTH_TRY(read_mountinfo());
  std::string self = BERTH_TRY(read_file("/proc/self/cgroup", 1 << 20));
  struct Own {
    std::vector<std::string> controllers;
    std::string path;
  };
  std::vector<Own> own;
  for (const std::string& line : split(self, '\n')) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1);
    if (ctrls.empty()) continue;  // the v2 entry "0::/..."
    own.push_back({split(ctrls, ','), line.substr(b + 1)});
  }
  std::vector<Hierarchy> out;
  std::set<std::string> done;
  for (const MountInfo& mi : mounts) {
    if (mi.fstype != "cgroup") continue;
    std::vector<std::string> opts = split(mi.super_options, ',');
    std::set<std::string> optset(opts.begin(), opts.end());
    for (const Own& o : own) {
      bool all = !o.controllers.empty();
      for (const std::string& ctl : o.controllers) all = all && optset.count(ctl);
      if (!all) continue;
      std::string key;
      for (const std::string& ctl : o.controllers) key += (key.empty() ? "" : ",") + ctl;
      if (!done.insert(key).second) break;  // the same hierarchy mounted twice
      if (!need_source) {
        out.push_back({mi.mountpoint, "", o.controllers});
        break;
      }
      std::string rel;
      if (mi.root == "/") {
        rel = o.path;
      } else if (o.path == mi.root) {
        rel = "/";
      } else if (o.path.compare(0, mi.root.size() + 1, mi.root + "/") == 0) {
        rel = o.path.substr(mi.root.size());
      } else {
        break;  // our cgroup is not visible through this mount
      }
      out.push_back({mi.mountpoint, sys::clean_path(mi.mountpoint + "/" + rel), o.controllers});
      break;
    }
  }
  return out;
}

std::string basename_of(const std::string& p) { return p.substr(p.rfind('/') + 1); }

Status mount_v1(Context& c, const oci::Mount& m, const MountOptions& o, const std::string& dest) {
  UniqueFd target = BERTH_TRY(open_mountpoint(c, dest, "tmpfs", false, -1));
  UniqueFd tmpfs = BERTH_TRY_CTX(
      new_fs("tmpfs", "tmpfs", "mode=755", 0, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC),
      "tmpfs");
  MountOptions tmpfs_opts;
  tmpfs_opts.propagation = o.propagation;
  BERTH_TRY(attach_with_options(tmpfs.get(), target.get(), tmpfs_opts));

  auto hierarchies = BERTH_TRY(v1_hierarchies(!c.cgroupns));
  std::set<std::string> made;
  for (const Hierarchy& h : hierarchies) {
    std::string name = basename_of(h.mountpoint);
    if (name.empty() || name == "." || name == ".." || !made.insert(name).second) continue;
    if (::mkdirat(tmpfs.get(), name.c_str(), 0755) < 0 && errno != EEXIST)
      return fail_errno("mkdir `{}`", name);
    std::string sub = dest + "/" + name;
    // The directory was just made in our own tmpfs, which is already inside the rootfs: no resolution needed.
    UniqueFd dir(::openat(tmpfs.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return fail_errno("open `{}`", sub);
    if (c.cgroupns) {
      std::string data;
      for (const std::string& ctl : h.controllers) data += (data.empty() ? "" : ",") + ctl;
      uint64_t attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
      if (o.flags & MS_RDONLY) attr |= MOUNT_ATTR_RDONLY;
      UniqueFd mnt =
          BERTH_TRY_CTX(new_fs("cgroup", "cgroup", data, 0, attr), "mount `cgroup` ({}) on `{}`", data, sub);
      BERTH_TRY_CTX(attach_with_options(mnt.get(), dir.get(), MountOptions{.propagation = o.propagation}),
                    "mount `cgroup` on `{}`", sub);
    } else {
      MountOptions b = o;
      b.flags |= MS_BIND | MS_REC;
      UniqueFd tree =
          BERTH_TRY_CTX(clone_tree(AT_FDCWD, h.source, true), "mount `{}` on `{}`", h.source, sub);
      BERTH_TRY_CTX(bind_prepared(tree.get(), dir.get(), b), "mount `{}` on `{}`", h.source, sub);
    }
    // Co-mounted controllers get a symlink per controller: cpu -> cpu,cpuacct.
    if (name.find(',') != std::string::npos) {
      for (const std::string& ctl : split(name, ',')) {
        if (::symlinkat(name.c_str(), tmpfs.get(), ctl.c_str()) < 0 && errno != EEXIST)
          return fail_errno("symlink `{}/{}`", dest, ctl);
      }
    }
  }
  if (o.flags & MS_RDONLY)
    BERTH_TRY_CTX(set_attr(tmpfs.get(), false, MOUNT_ATTR_RDONLY, 0), "make tmpfs read-only");
  (void)m;
  return ok();
}

Status mount_v2(Context& c, const oci::Mount& m, const MountOptions& o, const std::string& dest) {
  UniqueFd target = BERTH_TRY(open_mountpoint(c, dest, "cgroup2", false, -1));
  auto mnt = new_fs("cgroup2", m.source.empty() ? "cgroup2" : m.source, o.data, 0, ms_to_mount_attr(o.flags));
  if (mnt) return attach_with_options(mnt->get(), target.get(), o);
  int err = mnt.error().sys_errno();
  if (err != EPERM && err != EBUSY) return fail(std::move(mnt).error());
  // A user namespace without its own cgroup namespace may not mount cgroup2: bind the host's hierarchy.
  MountOptions b = o;
  b.flags |= MS_BIND | MS_REC;
  return bind_mount(c, std::string(kCgroupRoot), dest, b);
}

}  // namespace

Status mount_cgroup(Context& c, const oci::Mount& m, const MountOptions& o, const std::string& dest) {
  struct statfs sfs {};
  if (::statfs(std::string(kCgroupRoot).c_str(), &sfs) < 0) return fail_errno("statfs `{}`", kCgroupRoot);
  if (sfs.f_type == CGROUP2_SUPER_MAGIC) return mount_v2(c, m, o, dest);
  return mount_v1(c, m, o, dest);
}

// tmpcopyup: the tmpfs starts as a copy of the directory it covers (ownership, modes, symlinks, nodes).
Status copy_tree(int src_dir, int dst_dir, int depth) {
  if (depth > 64) return fail(Errc::InvalidArgument, "directory tree too deep");
  int dup = ::fcntl(src_dir, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return fail_errno("dup");
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return fail_errno("fdopendir");
  }
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  ::rewinddir(d);
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return fail_errno("stat `{}`", name);
    mode_t perm = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(dst_dir, name.c_str(), 0700) < 0) return fail_errno("mkdir `{}`", name);
      UniqueFd s(::openat(src_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd t(::openat(dst_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!s || !t) return fail_errno("open `{}`", name);
      BERTH_TRY_CTX(copy_tree(s.get(), t.get(), depth + 1), "{}", name);
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd s(::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!s) return fail_errno("open `{}`", name);
      UniqueFd t(::openat(dst_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!t) return fail_errno("create `{}`", name);
      char buf[65536];
      for (;;) {
        ssize_t n = ::read(s.get(), buf, sizeof(buf));
        if (n < 0) {
          if (errno == EINTR) continue;
          return fail_errno("read `{}`", name);
        }
        if (n == 0) break;
        BERTH_TRY_CTX(write_all(t.get(), std::string_view(buf, static_cast<size_t>(n))), "write `{}`", name);
      }
    } else if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t n = ::readlinkat(src_dir, name.c_str(), buf, sizeof(buf) - 1);
      if (n < 0) return fail_errno("readlink `{}`", name);
      buf[n] = '\0';
      if (::symlinkat(buf, dst_dir, name.c_str()) < 0) return fail_errno("symlink `{}`", name);
    } else {
      if (::mknodat(dst_dir, name.c_str(), (st.st_mode & S_IFMT) | perm, st.st_rdev) < 0)
        return fail_errno("mknod `{}`", name);
    }
    if (::fchownat(dst_dir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
      return fail_errno("chown `{}`", name);
    // After chown, which clears set-id bits.
    if (!S_ISLNK(st.st_mode) && ::fchmodat(dst_dir, name.c_str(), perm, 0) < 0)
      return fail_errno("chmod `{}`", name);
  }
  return ok();
}

}  // namespace berth::runtime::rootfs::detail
