// /dev inside the container: device nodes (mknod, or bind from the host in a user namespace), /dev/ptmx and
// the standard symlinks. Everything is created relative to directory fds resolved inside the rootfs.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/rootfs/internal.h"
#include "runtime/rootfs/mount_api.h"
#include "sys/path.h"

namespace berth::runtime::rootfs::detail {
namespace {

struct DevNode {
  std::string path;
  std::string type;  // "c", "u", "b", "p"
  int64_t major = 0, minor = 0;
  uint32_t mode = 0666;
  uint32_t uid = 0, gid = 0;
};

// The devices every container gets (the OCI runtime-spec "default devices" minus /dev/console and /dev/ptmx,
// which are handled separately).
std::vector<DevNode> default_devices() {
  return {
      {"/dev/null", "c", 1, 3},   {"/dev/zero", "c", 1, 5},    {"/dev/full", "c", 1, 7},
      {"/dev/random", "c", 1, 8}, {"/dev/urandom", "c", 1, 9}, {"/dev/tty", "c", 5, 0},
  };
}

std::vector<DevNode> wanted_devices(const oci::Spec& spec) {
  std::vector<DevNode> out;
  const std::vector<oci::Device>* spec_devs = spec.linux ? &spec.linux->devices : nullptr;
  for (DevNode& d : default_devices()) {
    bool overridden = false;
    if (spec_devs)
      for (const oci::Device& sd : *spec_devs) overridden = overridden || sys::clean_path(sd.path) == d.path;
    if (!overridden) out.push_back(std::move(d));
  }
  if (spec_devs) {
    for (const oci::Device& sd : *spec_devs) {
      DevNode d;
      d.path = sys::clean_path(sd.path);
      d.type = sd.type;
      d.major = sd.major;
      d.minor = sd.minor;
      d.mode = sd.file_mode ? (*sd.file_mode & 07777) : 0666;
      d.uid = sd.uid.value_or(0);
      d.gid = sd.gid.value_or(0);
      out.push_back(std::move(d));
    }
  }
  return out;
}

Result<mode_t> device_kind(const DevNode& d) {
  if (d.type == "c" || d.type == "u") return static_cast<mode_t>(S_IFCHR);
  if (d.type == "b") return static_cast<mode_t>(S_IFBLK);
  if (d.type == "p") return static_cast<mode_t>(S_IFIFO);
  return fail(Errc::InvalidArgument, "device `{}`: unknown type \"{}\"", d.path, d.type);
}

// Splits "/dev/net/tun" into its parent directory fd (created inside the rootfs) and "tun".
Result<std::pair<UniqueFd, std::string>> open_parent(Context& c, const std::string& path) {
  size_t slash = path.rfind('/');
  std::string name = path.substr(slash + 1);
  if (name.empty() || name == "." || name == "..")
    return fail(Errc::InvalidArgument, "bad device path `{}`", path);
  std::string parent = slash == 0 ? "/" : path.substr(0, slash);
  UniqueFd dir = BERTH_TRY(sys::mkdir_all_in_root(c.root.get(), parent));
  return std::make_pair(std::move(dir), name);
}

Status bind_device(int dir, const std::string& name, const DevNode& d) {
  UniqueFd target(::openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!target) {
    if (errno != ENOENT) return fail_errno("open `{}`", d.path);
    UniqueFd created(::openat(dir, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0));
    if (!created) return fail_errno("create `{}`", d.path);
    target.reset(::openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!target) return fail_errno("open `{}`", d.path);
  }
  struct stat st {};
  if (::fstat(target.get(), &st) < 0) return fail_errno("fstat `{}`", d.path);
  if (S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode))
    return fail(Errc::PermissionDenied, "device `{}`: mount point is a symlink or directory", d.path);
  // The host's node of the same path is the source: in a user namespace mknod is not allowed.
  UniqueFd tree = BERTH_TRY_CTX(clone_tree(AT_FDCWD, d.path, false), "bind host `{}`", d.path);
  struct stat src {};
  if (::fstat(tree.get(), &src) < 0) return fail_errno("fstat host `{}`", d.path);
  mode_t kind = BERTH_TRY(device_kind(d));
  if ((src.st_mode & S_IFMT) != kind ||
      (kind != S_IFIFO &&
       src.st_rdev != makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor))))
    return fail(Errc::FailedPrecondition, "device `{}`: the host's node is not {} {}:{}", d.path, d.type,
                d.major, d.minor);
  BERTH_TRY_CTX(attach(tree.get(), target.get()), "bind host `{}`", d.path);
  return ok();
}

Status make_device(Context& c, const DevNode& d, bool bind) {
  if (d.path.empty()) return ok();
  auto [dir, name] = BERTH_TRY(open_parent(c, d.path));
  if (bind) return bind_device(dir.get(), name, d);
  mode_t kind = BERTH_TRY(device_kind(d));
  dev_t dev = kind == S_IFIFO ? 0 : makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
  if (::mknodat(dir.get(), name.c_str(), kind | (d.mode & 07777), dev) < 0) {
    if (errno == EEXIST) return ok();
    if (errno == EPERM) return bind_device(dir.get(), name, d);
    return fail_errno("mknod `{}`", d.path);
  }
  UniqueFd node(::openat(dir.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!node) return fail_errno("open new node `{}`", d.path);
  struct stat st {};
  if (::fstat(node.get(), &st) < 0) return fail_errno("fstat `{}`", d.path);
  if ((st.st_mode & S_IFMT) != kind || st.st_rdev != dev)
    return fail(Errc::Internal, "device `{}` changed under us after mknod", d.path);
  // mknod applied the umask; set the exact mode (fchmod does not take O_PATH fds, the magic link does).
  if (::chmod(sys::fd_path(node.get()).c_str(), d.mode & 07777) < 0) return fail_errno("chmod `{}`", d.path);
  if (::fchownat(node.get(), "", d.uid, d.gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
    return fail_errno("chown `{}`", d.path);
  return ok();
}

}  // namespace

Status setup_dev(Context& c) {
  bool bind = c.userns;
  for (const DevNode& d : wanted_devices(c.spec)) {
    if (d.path == "/dev/ptmx") continue;  // always the devpts instance's ptmx, below
    BERTH_TRY(make_device(c, d, bind));
  }
  UniqueFd dev = BERTH_TRY(sys::mkdir_all_in_root(c.root.get(), "/dev"));
  if (::unlinkat(dev.get(), "ptmx", 0) < 0 && errno != ENOENT) return fail_errno("remove /dev/ptmx");
  if (::symlinkat("pts/ptmx", dev.get(), "ptmx") < 0) return fail_errno("symlink /dev/ptmx");
  struct Link {
    const char* target;
    const char* name;
  };
  static constexpr Link kLinks[] = {
      {"/proc/self/fd", "fd"},
      {"/proc/self/fd/0", "stdin"},
      {"/proc/self/fd/1", "stdout"},
      {"/proc/self/fd/2", "stderr"},
  };
  for (const Link& l : kLinks)
    if (::symlinkat(l.target, dev.get(), l.name) < 0 && errno != EEXIST)
      return fail_errno("symlink /dev/{}", l.name);
  // Only when the kernel has /proc/kcore (CONFIG_PROC_KCORE).
  if (::access("/proc/kcore", F_OK) == 0 && ::symlinkat("/proc/kcore", dev.get(), "core") < 0 &&
      errno != EEXIST)
    return fail_errno("symlink /dev/core");
  return ok();
}

}  // namespace berth::runtime::rootfs::detail
