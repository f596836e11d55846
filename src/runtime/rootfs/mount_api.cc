#include "runtime/rootfs/mount_api.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sys/path.h"

namespace berth::runtime::rootfs::detail {
namespace {

// Drains the fs-context log of fsfd: lines "e msg" (error), "w msg", "i msg". Returns the last error line,
// which is usually more precise than the errno ("tmpfs: Bad value for 'mode'").
std::string fs_context_error(int fsfd) {
  std::string last;
  char buf[512];
  for (int i = 0; i < 32; ++i) {
    ssize_t n = ::read(fsfd, buf, sizeof(buf) - 1);
    if (n <= 0) break;
    std::string_view line(buf, static_cast<size_t>(n));
    if (line.size() > 2 && line[0] == 'e' && line[1] == ' ') last = std::string(line.substr(2));
  }
  return last;
}

// An error whose message is only strerror, so the caller's "mount `proc` on `/proc`" context reads as
// "mount `proc` on `/proc`: Operation not permitted".
tl::unexpected<Error> bare_errno(int err, std::string_view detail = {}) {
  Error e = Error::from_errno(err, "x");
  std::string msg = std::strerror(err);
  if (!detail.empty()) msg += fmt::format(" ({})", detail);
  return fail(Error(e.code(), std::move(msg), err));
}

tl::unexpected<Error> fs_fail(int err, int fsfd, std::string what) {
  std::string detail = fs_context_error(fsfd);
  if (!detail.empty()) what += fmt::format(" ({})", detail);
  return fail_errno_n(err, "{}", what);
}

Status fs_flag(int fsfd, const char* key) {
  if (::fsconfig(fsfd, FSCONFIG_SET_FLAG, key, nullptr, 0) < 0)
    return fs_fail(errno, fsfd, fmt::format("fsconfig `{}`", key));
  return ok();
}

}  // namespace

Result<UniqueFd> new_fs(const std::string& type, const std::string& source, std::string_view data,
                        unsigned long sb_flags, uint64_t attr) {
  UniqueFd fsfd(::fsopen(type.c_str(), FSOPEN_CLOEXEC));
  if (!fsfd) return fail_errno("fsopen `{}`", type);
  if (!source.empty() && ::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "source", source.c_str(), 0) < 0)
    return fs_fail(errno, fsfd.get(), fmt::format("fsconfig source `{}`", source));
  size_t pos = 0;
  while (pos <= data.size() && !data.empty()) {
    size_t comma = data.find(',', pos);
    std::string_view opt =
        data.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    pos = comma == std::string_view::npos ? data.size() + 1 : comma + 1;
    if (opt.empty()) continue;
    size_t eq = opt.find('=');
    std::string key(opt.substr(0, eq));
    int rc;
    if (eq == std::string_view::npos) {
      rc = ::fsconfig(fsfd.get(), FSCONFIG_SET_FLAG, key.c_str(), nullptr, 0);
    } else {
      std::string value(opt.substr(eq + 1));
      rc = ::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0);
    }
    if (rc < 0) return fs_fail(errno, fsfd.get(), fmt::format("option `{}`", opt));
  }
  if (sb_flags & MS_RDONLY) BERTH_TRY(fs_flag(fsfd.get(), "ro"));
  if (sb_flags & MS_SYNCHRONOUS) BERTH_TRY(fs_flag(fsfd.get(), "sync"));
  if (sb_flags & MS_DIRSYNC) BERTH_TRY(fs_flag(fsfd.get(), "dirsync"));
  if (sb_flags & MS_MANDLOCK) BERTH_TRY(fs_flag(fsfd.get(), "mand"));
  if (sb_flags & MS_LAZYTIME) BERTH_TRY(fs_flag(fsfd.get(), "lazytime"));
  if (::fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) {
    int err = errno;
    return bare_errno(err, fs_context_error(fsfd.get()));
  }
  UniqueFd mnt(::fsmount(fsfd.get(), FSMOUNT_CLOEXEC, static_cast<unsigned int>(attr)));
  if (!mnt) {
    int err = errno;
    return bare_errno(err, fs_context_error(fsfd.get()));
  }
  return mnt;
}

Result<UniqueFd> clone_tree(int dfd, const std::string& path, bool recursive) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC;
  if (recursive) flags |= AT_RECURSIVE;
  if (path.empty()) flags |= AT_EMPTY_PATH;
  UniqueFd fd(::open_tree(dfd, path.c_str(), flags));
  if (!fd) return fail_errno("open_tree `{}`", path.empty() ? "fd" : path);
  return fd;
}

Status attach(int mnt_fd, int target_fd) {
  if (::move_mount(mnt_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return bare_errno(errno);
  return ok();
}

Status set_attr(int fd, bool recursive, uint64_t set, uint64_t clr, uint64_t propagation) {
  struct mount_attr attr {};
  attr.attr_set = set;
  attr.attr_clr = clr;
  attr.propagation = propagation;
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  if (::mount_setattr(fd, "", flags, &attr, sizeof(attr)) < 0) return fail_errno("mount_setattr");
  return ok();
}

Status set_propagation(int fd, unsigned long propagation) {
  bool rec = (propagation & MS_REC) != 0;
  return set_attr(fd, rec, 0, 0, propagation & ~static_cast<unsigned long>(MS_REC));
}

Result<std::string> fd_real_path(int fd) {
  std::string link = sys::fd_path(fd);
  char buf[4096];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf));
  if (n < 0) return fail_errno("readlink `{}`", link);
  if (static_cast<size_t>(n) >= sizeof(buf)) return fail(Errc::InvalidArgument, "path of fd {} too long", fd);
  return std::string(buf, static_cast<size_t>(n));
}

Result<bool> is_mount_root(int fd) {
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
    return fail_errno("statx");
  if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
    return fail(Errc::Unimplemented, "statx: STATX_ATTR_MOUNT_ROOT not reported");
  return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

}  // namespace berth::runtime::rootfs::detail
