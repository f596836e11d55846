#include "image/snapshot/native/native_snapshotter.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "base/file.h"
#include "base/unique_fd.h"

namespace berth::image::snapshot {

namespace {

Status copy_xattrs(int src, int dst) {
  char names[65536];
  ssize_t n = ::flistxattr(src, names, sizeof names);
  if (n < 0) return (errno == ENOTSUP) ? ok() : fail_errno("list xattrs");
  std::vector<char> val(65536);
  for (ssize_t off = 0; off < n; off += static_cast<ssize_t>(std::strlen(names + off)) + 1) {
    const char* name = names + off;
    ssize_t v = ::fgetxattr(src, name, val.data(), val.size());
    if (v < 0) continue;
    if (::fsetxattr(dst, name, val.data(), static_cast<size_t>(v), 0) < 0 && errno != ENOTSUP && errno != EPERM)
      return fail_errno("set xattr `{}`", name);
  }
  return ok();
}

Status copy_data(int src, int dst, off_t size) {
  if (::ioctl(dst, FICLONE, src) == 0) return ok();
  off_t left = size;
  while (left > 0) {
    ssize_t c = ::copy_file_range(src, nullptr, dst, nullptr, static_cast<size_t>(left), 0);
    if (c < 0 && errno == EINTR) continue;
    if (c < 0) return fail_errno("copy_file_range");
    if (c == 0) break;
    left -= c;
  }
  return ok();
}

struct Copier {
  std::map<std::pair<dev_t, ino_t>, std::string> seen;                   // first path of a multi-link inode
  int dst_root;

  Status copy_dir(int src, int dst, const std::string& rel) {
    DIR* d = ::fdopendir(::dup(src));
    if (!d) return fail_errno("list `{}`", rel);
    std::vector<std::string> names;
    while (auto* de = ::readdir(d))
      if (std::strcmp(de->d_name, ".") && std::strcmp(de->d_name, "..")) names.emplace_back(de->d_name);
    ::closedir(d);
    for (auto& n : names) BERTH_TRY(copy_entry(src, dst, n, rel.empty() ? n : rel + "/" + n));
    return ok();
  }

  Status copy_entry(int sdir, int ddir, const std::string& name, const std::string& rel) {
    struct stat st;
    if (::fstatat(sdir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return fail_errno("stat `{}`", rel);
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto key = std::make_pair(st.st_dev, st.st_ino);
      if (auto it = seen.find(key); it != seen.end()) {
        if (::linkat(dst_root, it->second.c_str(), ddir, name.c_str(), 0) < 0) return fail_errno("link `{}`", rel);
        return ok();
      }
      seen[key] = rel;
    }
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(ddir, name.c_str(), 0700) < 0) return fail_errno("mkdir `{}`", rel);
      UniqueFd s(::openat(sdir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd dd(::openat(ddir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!s || !dd) return fail_errno("open `{}`", rel);
      BERTH_TRY(copy_dir(s.get(), dd.get(), rel));
      if (::fchown(dd.get(), st.st_uid, st.st_gid) < 0 && errno != EPERM) return fail_errno("chown `{}`", rel);
      if (::fchmod(dd.get(), st.st_mode & 07777) < 0) return fail_errno("chmod `{}`", rel);
      BERTH_TRY(copy_xattrs(s.get(), dd.get()));
      if (::futimens(dd.get(), ts) < 0) return fail_errno("times `{}`", rel);
      return ok();
    }
    if (S_ISREG(st.st_mode)) {
      UniqueFd s(::openat(sdir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd dd(::openat(ddir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!s || !dd) return fail_errno("open `{}`", rel);
      BERTH_TRY_CTX(copy_data(s.get(), dd.get(), st.st_size), "copy `{}`", rel);
      if (::fchown(dd.get(), st.st_uid, st.st_gid) < 0 && errno != EPERM) return fail_errno("chown `{}`", rel);
      if (::fchmod(dd.get(), st.st_mode & 07777) < 0) return fail_errno("chmod `{}`", rel);
      BERTH_TRY(copy_xattrs(s.get(), dd.get()));
      if (::futimens(dd.get(), ts) < 0) return fail_errno("times `{}`", rel);
      return ok();
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(sdir, name.c_str(), target.data(), target.size());
      if (n < 0) return fail_errno("readlink `{}`", rel);
      target.resize(static_cast<size_t>(n));
      if (::symlinkat(target.c_str(), ddir, name.c_str()) < 0) return fail_errno("symlink `{}`", rel);
    } else {
      if (::mknodat(ddir, name.c_str(), st.st_mode, st.st_rdev) < 0) return fail_errno("mknod `{}`", rel);
      if (::fchmodat(ddir, name.c_str(), st.st_mode & 07777, 0) < 0) return fail_errno("chmod `{}`", rel);
    }
    if (::fchownat(ddir, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
      return fail_errno("chown `{}`", rel);
    if (::utimensat(ddir, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) < 0) return fail_errno("times `{}`", rel);
    return ok();
  }
};

}  // namespace

Status copy_tree(int src_dir, int dst_dir) {
  Copier c;
  c.dst_root = dst_dir;
  return c.copy_dir(src_dir, dst_dir, "");
}

Result<std::unique_ptr<NativeSnapshotter>> NativeSnapshotter::open(const std::string& root) {
  auto d = BERTH_TRY(DirSnapshots::open(root));
  return std::unique_ptr<NativeSnapshotter>(new NativeSnapshotter(std::move(d)));
}

Result<Info> NativeSnapshotter::stat(const std::string& key) { return d_.stat(key); }

Result<std::vector<Mount>> NativeSnapshotter::create(const std::string& key, const std::string& parent, Kind kind,
                                                     bool durable) {
  RootLock lock(d_.root());
  if (!parent.empty()) {
    auto p = BERTH_TRY(d_.stat(parent));
    if (p.kind != Kind::Committed)
      return fail(Errc::InvalidArgument, "parent snapshot `{}` is {}, not committed", parent, kind_name(p.kind));
  }
  std::string pdir = parent.empty() ? "" : d_.dir(parent) + "/fs";
  auto fill = [&](const std::string& fs) -> Status {
    if (pdir.empty()) return ok();
    UniqueFd s(::open(pdir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    UniqueFd d(::open(fs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!s || !d) return fail_errno("open snapshot dirs");
    BERTH_TRY_CTX(copy_tree(s.get(), d.get()), "copy parent `{}`", parent);
    struct stat st;
    if (::fstat(s.get(), &st) == 0) {
      (void)::fchmod(d.get(), st.st_mode & 07777);
      (void)::fchown(d.get(), st.st_uid, st.st_gid);
    }
    return ok();
  };
  BERTH_TRY(d_.create(Info{key, parent, kind, 0}, false, fill, durable));
  return mounts(key);
}

Result<std::vector<Mount>> NativeSnapshotter::prepare(const std::string& key, const std::string& parent) {
  return create(key, parent, Kind::Active);
}

Result<std::vector<Mount>> NativeSnapshotter::prepare_ephemeral(const std::string& key, const std::string& parent) {
  return create(key, parent, Kind::Active, false);
}
Result<std::vector<Mount>> NativeSnapshotter::view(const std::string& key, const std::string& parent) {
  return create(key, parent, Kind::View);
}

Result<std::vector<Mount>> NativeSnapshotter::mounts(const std::string& key) {
  auto info = BERTH_TRY(d_.stat(key));
  return std::vector<Mount>{
      {"bind", d_.dir(key) + "/fs", {"rbind", info.kind == Kind::Active ? std::string("rw") : std::string("ro")}}};
}

Status NativeSnapshotter::commit(const std::string& name, const std::string& key) {
  RootLock lock(d_.root());
  return d_.commit(name, key);
}
Status NativeSnapshotter::remove(const std::string& key) {
  RootLock lock(d_.root());
  return d_.remove(key);
}
Status NativeSnapshotter::walk(const std::function<Status(const Info&)>& fn) { return d_.walk(fn); }

Result<std::string> NativeSnapshotter::writable_dir(const std::string& key) {
  auto info = BERTH_TRY(d_.stat(key));
  if (info.kind != Kind::Active) return fail(Errc::InvalidArgument, "snapshot `{}` is {}, not active", key, kind_name(info.kind));
  return d_.dir(key) + "/fs";
}

Result<std::string> NativeSnapshotter::upper_dir(const std::string&) {
  return fail(Errc::Unimplemented, "native snapshotter: diff against the parent is not implemented");
}

}  // namespace berth::image::snapshot

namespace berth::image::snapshot {

Result<std::vector<std::string>> NativeSnapshotter::layer_dirs(const std::string& key) {
  BERTH_TRY(d_.stat(key));
  return std::vector<std::string>{d_.dir(key) + "/fs"};
}

}  // namespace berth::image::snapshot
