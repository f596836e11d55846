#include "image/unpack/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/file.h"
#include "base/log.h"
#include "base/unique_fd.h"
#include "image/unpack/decompress.h"
#include "image/unpack/pipeline.h"

namespace berth::image::unpack {

namespace {

constexpr size_t kMaxName = 255;
constexpr size_t kDirCacheMax = 1024;
// Beneath the target, never through any symlink, never across a mount.
constexpr uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

int openat2_beneath(int dirfd, const char* path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = kResolve;
  for (int i = 0; i < 64; i++) {
    long r = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (r >= 0) return static_cast<int>(r);
    if (errno != EAGAIN && errno != EINTR) return -1;
  }
  return -1;
}

mode_t process_umask() {
  auto s = read_file("/proc/self/status", 1 << 16);
  if (s) {
    auto p = s->find("Umask:");
    if (p != std::string::npos) return static_cast<mode_t>(std::strtoul(s->c_str() + p + 6, nullptr, 8));
  }
  return 022;
}

// "./a//b/" -> "a/b"; "" for the root itself. Refuses absolute paths, "..", over-long paths and names.
Result<std::string> clean_entry_path(std::string_view raw, size_t max_len, std::string_view what) {
  if (raw.size() > max_len)
    return fail(Errc::InvalidArgument, "{} is {} bytes long (limit {})", what, raw.size(), max_len);
  if (!raw.empty() && raw[0] == '/') return fail(Errc::PermissionDenied, "{} `{}` is absolute", what, raw);
  if (raw.find('\0') != std::string_view::npos) return fail(Errc::InvalidArgument, "{} contains a NUL byte", what);
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i <= raw.size()) {
    size_t j = raw.find('/', i);
    if (j == std::string_view::npos) j = raw.size();
    auto c = raw.substr(i, j - i);
    i = j + 1;
    if (c.empty() || c == ".") continue;
    if (c == "..") return fail(Errc::PermissionDenied, "{} `{}` contains `..`", what, raw);
    if (c.size() > kMaxName)
      return fail(Errc::InvalidArgument, "{} has a component of {} bytes (limit {})", what, c.size(), kMaxName);
    if (!out.empty()) out += '/';
    out.append(c);
  }
  return out;
}

void split(const std::string& path, std::string& parent, std::string& base) {
  auto s = path.rfind('/');
  if (s == std::string::npos) {
    parent.clear();
    base = path;
  } else {
    parent.assign(path, 0, s);
    base.assign(path, s + 1);
  }
}

const char* archive_err(struct archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "malformed tar stream";
}

// Why a parent path did not open as a directory: finds the first component that is a symlink or a non-dir.
Error diagnose_parent(int root, const std::string& parent, const std::string& entry, int err) {
  UniqueFd cur;
  size_t i = 0;
  while (i < parent.size()) {
    size_t j = parent.find('/', i);
    if (j == std::string::npos) j = parent.size();
    std::string comp = parent.substr(i, j - i);
    int dir = cur ? cur.get() : root;
    struct stat st;
    if (::fstatat(dir, comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) break;
    if (S_ISLNK(st.st_mode))
      return Error(Errc::PermissionDenied, fmt::format("entry `{}`: parent `{}` is or passes through a symlink "
                                                       "(`{}`); refusing to write through it",
                                                       entry, parent, parent.substr(0, j)));
    if (!S_ISDIR(st.st_mode))
      return Error(Errc::InvalidArgument,
                   fmt::format("entry `{}`: parent `{}` is not a directory", entry, parent.substr(0, j)));
    int next = openat2_beneath(dir, comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW);
    if (next < 0) break;
    cur.reset(next);
    i = j + 1;
  }
  if (err == EXDEV)
    return Error(Errc::PermissionDenied, fmt::format("entry `{}`: parent `{}` crosses a mount point", entry, parent));
  return Error::from_errno(err, fmt::format("entry `{}`: open parent `{}`", entry, parent));
}

struct ArchiveCtx {
  Pipeline* dec;
  Error err;
  bool failed = false;
};

la_ssize_t read_cb(struct archive*, void* ud, const void** buf) {
  auto* c = static_cast<ArchiveCtx*>(ud);
  auto r = c->dec->next();
  if (!r) {
    c->err = std::move(r).error();
    c->failed = true;
    return -1;
  }
  *buf = r->data();
  return static_cast<la_ssize_t>(r->size());
}

struct DirTime {
  std::string path;
  struct timespec ts[2];
};

class Applier {
 public:
  Applier(int root, const UnpackOptions& o) : root_(root), opts_(o) {
    euid_ = ::geteuid();
    egid_ = ::getegid();
    owner_ = o.preserve_owner.value_or(euid_ == 0);
    umask_ = process_umask();
  }

  Status entry(struct archive* a, struct archive_entry* e);
  Status finish();
  void begin_entry() {
    if (dircache_.size() > kDirCacheMax) dircache_.clear();
  }

 private:
  // O_PATH (or O_RDONLY) fd of a directory inside the target, owned by the cache; "" is the target itself.
  Result<int> parent_fd(const std::string& parent, const std::string& entry, bool create);
  // The redirect path is at or below (the longest), if any.
  const UnpackOptions::Redirect* redirect_of(const std::string& path) const {
    const UnpackOptions::Redirect* best = nullptr;
    for (const auto& rd : opts_.redirects)
      if ((path == rd.path || (path.size() > rd.path.size() && path.starts_with(rd.path) && path[rd.path.size()] == '/')) &&
          (!best || rd.path.size() > best->path.size()))
        best = &rd;
    return best;
  }
  // Where a path inside the target lives: {directory fd, path relative to it}.
  std::pair<int, std::string> route(const std::string& path) const {
    if (auto* rd = redirect_of(path); rd && rd->fd >= 0)
      return {rd->fd, path.size() > rd->path.size() ? path.substr(rd->path.size() + 1) : std::string()};
    return {root_, path};
  }
  Status remove_tree(int pfd, const char* name, const std::string& path);
  void forget_dirs_under(const std::string& path);
  Status replace_existing(int pfd, const std::string& base, const std::string& path, bool new_is_dir, bool& merged);
  Status set_owner_mode_fd(int fd, const std::string& path, struct archive_entry* e, mode_t created_mode);
  Status set_xattrs_fd(int fd, const std::string& path, struct archive_entry* e);
  Status check_xattrs(const std::string& path, struct archive_entry* e);
  Status whiteout(const std::string& path, const std::string& parent, const std::string& base);
  Status write_data(struct archive* a, int fd, const std::string& path, int64_t size);
  bool need_chown(struct archive_entry* e) const {
    return owner_ && (static_cast<uid_t>(archive_entry_uid(e)) != euid_ ||
                      static_cast<gid_t>(archive_entry_gid(e)) != egid_);
  }
  static void entry_times(struct archive_entry* e, struct timespec ts[2]) {
    ts[1].tv_sec = archive_entry_mtime(e);
    ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
      ts[0].tv_sec = archive_entry_atime(e);
      ts[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
      ts[0] = ts[1];
    }
  }

  int root_;
  const UnpackOptions& opts_;
  uid_t euid_;
  gid_t egid_;
  bool owner_;
  mode_t umask_;
  std::unordered_map<std::string, UniqueFd> dircache_;
  std::vector<DirTime> dir_times_;
  std::unordered_set<std::string> created_;  // Apply mode: paths this layer made (for opaque dirs)
  std::string parent_, base_;                // scratch
};

Result<int> Applier::parent_fd(const std::string& full_parent, const std::string& entry, bool create) {
  auto [base_fd, parent] = route(full_parent);
  if (parent.empty()) return base_fd;
  if (auto it = dircache_.find(full_parent); it != dircache_.end()) return it->second.get();
  const int root = base_fd;
  int fd = openat2_beneath(root, parent.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT && create) {
    // Walk down, creating missing directories (tar may omit them) and refusing anything not a directory.
    UniqueFd cur;
    size_t i = 0;
    while (i < parent.size()) {
      size_t j = parent.find('/', i);
      if (j == std::string::npos) j = parent.size();
      std::string comp = parent.substr(i, j - i);
      int dir = cur ? cur.get() : root;
      int next = openat2_beneath(dir, comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW);
      if (next < 0 && errno == ENOENT) {
        if (::mkdirat(dir, comp.c_str(), 0755) < 0 && errno != EEXIST)
          return fail_errno("entry `{}`: create parent `{}`", entry, parent.substr(0, j));
        if (opts_.whiteouts == WhiteoutMode::Apply)
          created_.insert(full_parent.substr(0, full_parent.size() - parent.size() + j));
        next = openat2_beneath(dir, comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW);
      }
      if (next < 0) {
        fd = -1;
        break;
      }
      cur.reset(next);
      i = j + 1;
    }
    if (cur && i >= parent.size()) fd = cur.release();
  }
  if (fd < 0) {
    return fail(diagnose_parent(root, parent, entry, errno));
  }
  auto [it, _] = dircache_.insert_or_assign(full_parent, UniqueFd(fd));
  return it->second.get();
}

void Applier::forget_dirs_under(const std::string& path) {
  for (auto it = dircache_.begin(); it != dircache_.end();) {
    const auto& k = it->first;
    if (k == path || (k.size() > path.size() && k.compare(0, path.size(), path) == 0 && k[path.size()] == '/'))
      it = dircache_.erase(it);
    else
      ++it;
  }
}

Status Applier::remove_tree(int pfd, const char* name, const std::string& path) {
  struct stat st;
  if (::fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return ok();
    return fail_errno("remove `{}`", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(pfd, name, 0) < 0 && errno != ENOENT) return fail_errno("remove `{}`", path);
    return ok();
  }
  forget_dirs_under(path);
  int dfd = ::openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) return fail_errno("remove `{}`", path);
  DIR* d = ::fdopendir(dfd);
  if (!d) {
    ::close(dfd);
    return fail_errno("remove `{}`", path);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  std::vector<std::string> names;
  while (struct dirent* de = ::readdir(d)) {
    if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
    names.emplace_back(de->d_name);
  }
  for (auto& n : names) BERTH_TRY(remove_tree(dfd, n.c_str(), path + "/" + n));
  if (::unlinkat(pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) return fail_errno("remove `{}`", path);
  return ok();
}

// Something exists at pfd/base: tar's rule is that the later entry wins. Directories merge with
// directories; anything else is removed (never followed) first.
Status Applier::replace_existing(int pfd, const std::string& base, const std::string& path, bool new_is_dir,
                                 bool& merged) {
  merged = false;
  struct stat st;
  if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return ok();
    return fail_errno("entry `{}`: stat existing", path);
  }
  if (new_is_dir && S_ISDIR(st.st_mode)) {
    merged = true;
    return ok();
  }
  if (opts_.no_overwrite_dir_non_dir && S_ISDIR(st.st_mode) != new_is_dir) {
    std::string root = opts_.display_root.empty() ? "/" : opts_.display_root;
    std::string shown = root == "/" ? "/" + path : root + "/" + path;
    return fail(Errc::InvalidArgument, "cannot overwrite {} \"{}\" with {} \"{}\"",
                S_ISDIR(st.st_mode) ? "directory" : "non-directory", shown,
                S_ISDIR(st.st_mode) ? "non-directory" : "directory", root);
  }
  return remove_tree(pfd, base.c_str(), path);
}

Status Applier::check_xattrs(const std::string& path, struct archive_entry* e) {
  if (archive_entry_xattr_reset(e) == 0) return ok();
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    std::string_view n(name);
    if (n.starts_with("trusted.overlay.") || n.starts_with("user.overlay."))
      return fail(Errc::PermissionDenied, "entry `{}`: xattr `{}` would steer overlayfs; refused", path, n);
  }
  return ok();
}

Status Applier::set_xattrs_fd(int fd, const std::string& path, struct archive_entry* e) {
  if (archive_entry_xattr_reset(e) == 0) return ok();
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (::fsetxattr(fd, name, value, size, 0) < 0) {
      if (errno == ENOTSUP || (errno == EPERM && euid_ != 0)) {
        log::warn("unpack: entry `{}`: xattr `{}` not set: {}", path, name, std::strerror(errno));
        continue;
      }
      return fail_errno("entry `{}`: set xattr `{}`", path, name);
    }
  }
  return ok();
}

Status Applier::set_owner_mode_fd(int fd, const std::string& path, struct archive_entry* e, mode_t created_mode) {
  mode_t want = archive_entry_perm(e) & 07777;
  bool chowned = false;
  if (need_chown(e)) {
    if (::fchown(fd, static_cast<uid_t>(archive_entry_uid(e)), static_cast<gid_t>(archive_entry_gid(e))) < 0)
      return fail_errno("entry `{}`: chown", path);
    chowned = true;
  }
  // chown clears setuid/setgid, so the mode always goes after it.
  if (want != created_mode || (chowned && (want & 06000))) {
    if (::fchmod(fd, want) < 0) return fail_errno("entry `{}`: chmod", path);
  }
  return ok();
}

Status Applier::write_data(struct archive* a, int fd, const std::string& path, int64_t size) {
  const void* buf;
  size_t len;
  la_int64_t off;
  int64_t pos = 0;
  for (;;) {
    int r = archive_read_data_block(a, &buf, &len, &off);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return fail(Errc::InvalidArgument, "entry `{}`: {}", path, archive_err(a));
    if (off != pos) {
      if (::lseek(fd, off, SEEK_SET) < 0) return fail_errno("entry `{}`: seek", path);
      pos = off;
    }
    const char* p = static_cast<const char*>(buf);
    while (len > 0) {
      ssize_t w = ::write(fd, p, len);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return fail_errno("entry `{}`: write", path);
      p += w;
      len -= static_cast<size_t>(w);
      pos += w;
    }
  }
  if (pos < size && ::ftruncate(fd, size) < 0) return fail_errno("entry `{}`: truncate", path);  // sparse tail
  return ok();
}

Status Applier::whiteout(const std::string& path, const std::string& parent, const std::string& base) {
  std::string_view name = std::string_view(base).substr(4);
  if (name == ".wh..opq") {
    int pfd = BERTH_TRY(parent_fd(parent, path, true));
    if (opts_.whiteouts == WhiteoutMode::Overlay) {
      UniqueFd dfd(::openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!dfd) return fail_errno("entry `{}`: open directory", path);
      if (::fsetxattr(dfd.get(), opts_.opaque_xattr.c_str(), "y", 1, 0) < 0)
        return fail_errno("entry `{}`: set {}", path, opts_.opaque_xattr);
      return ok();
    }
    UniqueFd dfd(::openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return fail_errno("entry `{}`: open directory", path);
    DIR* d = ::fdopendir(::dup(dfd.get()));
    if (!d) return fail_errno("entry `{}`: list directory", path);
    std::vector<std::string> names;
    while (struct dirent* de = ::readdir(d)) {
      if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
      names.emplace_back(de->d_name);
    }
    ::closedir(d);
    for (auto& n : names) {
      std::string child = parent.empty() ? n : parent + "/" + n;
      if (created_.count(child)) continue;
      BERTH_TRY(remove_tree(dfd.get(), n.c_str(), child));
    }
    return ok();
  }
  if (name.starts_with(".wh.")) return ok();  // other AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs)
  if (name.empty() || name == "." || name == "..")
    return fail(Errc::PermissionDenied, "entry `{}`: whiteout of `{}` is not allowed", path, name);
  std::string target(name);
  std::string tpath = parent.empty() ? target : parent + "/" + target;
  int pfd = BERTH_TRY(parent_fd(parent, path, opts_.whiteouts == WhiteoutMode::Overlay));
  if (opts_.whiteouts == WhiteoutMode::Apply) return remove_tree(pfd, target.c_str(), tpath);
  for (int attempt = 0;; attempt++) {
    if (::mknodat(pfd, target.c_str(), S_IFCHR | 0, makedev(0, 0)) == 0) return ok();
    if (errno != EEXIST || attempt > 0) return fail_errno("entry `{}`: create whiteout", path);
    BERTH_TRY(remove_tree(pfd, target.c_str(), tpath));
  }
}

Status Applier::entry(struct archive* a, struct archive_entry* e) {
  const char* raw = archive_entry_pathname(e);
  if (!raw) raw = archive_entry_pathname_utf8(e);
  if (!raw) return fail(Errc::InvalidArgument, "tar entry without a usable name");
  auto path = BERTH_TRY(clean_entry_path(raw, opts_.max_path_bytes, "entry path"));
  if (path.empty()) return ok();  // the layer root itself
  if (auto* rd = redirect_of(path)) {
    bool at = path == rd->path;
    if (rd->fd < 0 || (at && archive_entry_filetype(e) != AE_IFDIR))
      return fail(Errc::PermissionDenied, "entry `{}`: `{}` is a mount point here", path, rd->path);
    if (at) return ok();  // the mount's root stays as it is
  }
  split(path, parent_, base_);
  std::string parent = parent_, base = base_;
  if (base.starts_with(".wh.")) {
    // a whiteout must not remove a mount point (or anything above one)
    std::string target = (parent.empty() ? "" : parent + "/") + base.substr(4);
    for (const auto& rd : opts_.redirects)
      if (base != ".wh..wh..opq" && (rd.path == target || rd.path.starts_with(target + "/")))
        return fail(Errc::PermissionDenied, "entry `{}`: `{}` is a mount point here", path, rd.path);
  }
  if (base.starts_with(".wh.")) return whiteout(path, parent, base);
  BERTH_TRY(check_xattrs(path, e));

  if (const char* hl = archive_entry_hardlink(e)) {
    auto target = BERTH_TRY(clean_entry_path(hl, opts_.max_path_bytes, fmt::format("entry `{}`: hardlink target", path)));
    if (target.empty()) return fail(Errc::PermissionDenied, "entry `{}`: hardlink to the layer root", path);
    if (target == path) return ok();
    std::string tparent, tbase;
    split(target, tparent, tbase);
    int tpfd = BERTH_TRY_CTX(parent_fd(tparent, path, false), "hardlink target `{}`", target);
    struct stat st;
    if (::fstatat(tpfd, tbase.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0)
      return fail_errno("entry `{}`: hardlink target `{}`", path, target);
    if (S_ISDIR(st.st_mode))
      return fail(Errc::PermissionDenied, "entry `{}`: hardlink target `{}` is a directory", path, target);
    int pfd = BERTH_TRY(parent_fd(parent, path, true));
    tpfd = BERTH_TRY_CTX(parent_fd(tparent, path, false), "hardlink target `{}`", target);  // cache may have moved
    for (int attempt = 0;; attempt++) {
      if (::linkat(tpfd, tbase.c_str(), pfd, base.c_str(), 0) == 0) break;
      if (errno != EEXIST || attempt > 0) return fail_errno("entry `{}`: hardlink to `{}`", path, target);
      bool merged;
      BERTH_TRY(replace_existing(pfd, base, path, false, merged));
    }
    if (opts_.whiteouts == WhiteoutMode::Apply) created_.insert(path);
    return ok();
  }

  int pfd = BERTH_TRY(parent_fd(parent, path, true));
  mode_t type = archive_entry_filetype(e);
  mode_t perm = archive_entry_perm(e) & 07777;
  struct timespec ts[2];
  entry_times(e, ts);
  if (opts_.whiteouts == WhiteoutMode::Apply) created_.insert(path);

  switch (type) {
    case AE_IFREG: {
      mode_t cmode = perm & 0777 & ~umask_;
      UniqueFd fd;
      for (int attempt = 0;; attempt++) {
        fd.reset(::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm & 0777));
        if (fd) break;
        if (errno != EEXIST || attempt > 0) return fail_errno("entry `{}`: create", path);
        bool merged;
        BERTH_TRY(replace_existing(pfd, base, path, false, merged));
      }
      BERTH_TRY(write_data(a, fd.get(), path, archive_entry_size(e)));
      BERTH_TRY(set_owner_mode_fd(fd.get(), path, e, cmode));
      BERTH_TRY(set_xattrs_fd(fd.get(), path, e));
      if (::futimens(fd.get(), ts) < 0) return fail_errno("entry `{}`: set times", path);
      return ok();
    }
    case AE_IFDIR: {
      bool merged = false;
      if (::mkdirat(pfd, base.c_str(), 0700) < 0) {
        if (errno != EEXIST) return fail_errno("entry `{}`: mkdir", path);
        BERTH_TRY(replace_existing(pfd, base, path, true, merged));
        if (!merged && ::mkdirat(pfd, base.c_str(), 0700) < 0) return fail_errno("entry `{}`: mkdir", path);
      }
      UniqueFd fd(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return fail_errno("entry `{}`: open directory", path);
      BERTH_TRY(set_owner_mode_fd(fd.get(), path, e, merged ? static_cast<mode_t>(~0u) : 0700));
      BERTH_TRY(set_xattrs_fd(fd.get(), path, e));
      DirTime dt{path, {ts[0], ts[1]}};
      dir_times_.push_back(std::move(dt));
      dircache_.insert_or_assign(path, std::move(fd));
      return ok();
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (!target) target = archive_entry_symlink_utf8(e);
      if (!target || !*target) return fail(Errc::InvalidArgument, "entry `{}`: symlink without a target", path);
      if (std::strlen(target) >= 4096) return fail(Errc::InvalidArgument, "entry `{}`: symlink target too long", path);
      for (int attempt = 0;; attempt++) {
        if (::symlinkat(target, pfd, base.c_str()) == 0) break;
        if (errno != EEXIST || attempt > 0) return fail_errno("entry `{}`: symlink", path);
        bool merged;
        BERTH_TRY(replace_existing(pfd, base, path, false, merged));
      }
      if (need_chown(e) && ::fchownat(pfd, base.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                                      static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno("entry `{}`: chown symlink", path);
      if (::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno("entry `{}`: set symlink times", path);
      return ok();
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
      mode_t node_type = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
      for (int attempt = 0;; attempt++) {
        if (::mknodat(pfd, base.c_str(), node_type | (perm & 0777), dev) == 0) break;
        if (errno == EPERM && type != AE_IFIFO && euid_ != 0 && opts_.skip_devices_when_unprivileged) {
          log::warn("unpack: entry `{}`: device node skipped (not root)", path);
          return ok();
        }
        if (errno != EEXIST || attempt > 0) return fail_errno("entry `{}`: mknod", path);
        bool merged;
        BERTH_TRY(replace_existing(pfd, base, path, false, merged));
      }
      bool chowned = false;
      if (need_chown(e)) {
        if (::fchownat(pfd, base.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                       static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) < 0)
          return fail_errno("entry `{}`: chown", path);
        chowned = true;
      }
      // The node was just created by us in a directory only we write: fchmodat cannot be redirected.
      if ((perm != (perm & 0777 & ~umask_) || chowned) && ::fchmodat(pfd, base.c_str(), perm, 0) < 0)
        return fail_errno("entry `{}`: chmod", path);
      if (::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) < 0) return fail_errno("entry `{}`: set times", path);
      return ok();
    }
    case AE_IFSOCK:
      return ok();  // sockets are not content
    default:
      return fail(Errc::InvalidArgument, "entry `{}`: unsupported tar entry type {:o}", path, type);
  }
}

Status Applier::finish() {
  dircache_.clear();
  for (auto& dt : dir_times_) {
    auto [base_fd, rel] = route(dt.path);
    if (rel.empty()) continue;  // a mount's root: left as it is
    int fd = openat2_beneath(base_fd, rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0) continue;  // removed or replaced later in the layer
    UniqueFd f(fd);
    if (::futimens(fd, dt.ts) < 0) return fail_errno("entry `{}`: set directory times", dt.path);
  }
  return ok();
}

}  // namespace

Result<UnpackResult> apply_layer(Source& in, int dirfd, const UnpackOptions& opts) {
  Decompressor dec(in, opts.compression, opts.max_uncompressed_bytes, opts.hash_compressed);
  Pipeline pipe(dec);
  ArchiveCtx ctx{&pipe};
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(), archive_read_free);
  if (!a) return fail(Errc::Internal, "archive_read_new failed");
  archive_read_support_format_tar(a.get());
  if (archive_read_open(a.get(), &ctx, nullptr, read_cb, nullptr) != ARCHIVE_OK) {
    if (ctx.failed) return fail(std::move(ctx.err));
    return fail(Errc::InvalidArgument, "layer: tar: {}", archive_err(a.get()));
  }
  Applier ap(dirfd, opts);
  UnpackResult res;
  for (;;) {
    struct archive_entry* e;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (ctx.failed) return fail(std::move(ctx.err));
      return fail(Errc::InvalidArgument, "layer: tar: {}", archive_err(a.get()));
    }
    ap.begin_entry();
    auto st = ap.entry(a.get(), e);
    if (!st) {
      if (ctx.failed) return fail(std::move(ctx.err));
      return fail(std::move(st).error());
    }
    res.entries++;
  }
  if (ctx.failed) return fail(std::move(ctx.err));
  BERTH_TRY(pipe.finish());
  BERTH_TRY(ap.finish());
  res.uncompressed_bytes = dec.out_bytes();
  res.compressed_bytes = dec.in_bytes();
  res.diff_id = dec.diff_id();
  if (opts.hash_compressed) res.compressed_digest = dec.compressed_digest();
  if (opts.expected_diff_id && res.diff_id != opts.expected_diff_id)
    return fail(Errc::FailedPrecondition, "layer diff_id mismatch: content hashes to {}, config says {}", res.diff_id,
                opts.expected_diff_id);
  if (opts.sync) {
    UniqueFd d(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));  // syncfs refuses O_PATH fds
    if (!d || ::syncfs(d.get()) < 0) return fail_errno("syncfs after unpack");
  }
  return res;
}

Result<UnpackResult> apply_layer_fd(int layer_fd, int dirfd, const UnpackOptions& opts) {
  FdSource s(layer_fd);
  return apply_layer(s, dirfd, opts);
}

}  // namespace berth::image::unpack
