#include "sys/path.h"

#include <linux/magic.h>
#include <linux/openat2.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace berth::sys {
namespace {

// Linux follows at most 40 symlinks in one resolution; so do we when walking by hand.
constexpr int kMaxSymlinks = 40;

// Fixed-capacity, NUL-terminated path buffer: the path code runs between clone and exec and must not
// allocate on its success path.
class PathBuf {
 public:
  PathBuf() { buf_[0] = 0; }
  bool assign(std::string_view s) {
    len_ = 0;
    buf_[0] = 0;
    return append(s);
  }
  bool append(std::string_view s) {
    if (len_ + s.size() >= sizeof buf_) return false;
    if (!s.empty()) std::memcpy(buf_ + len_, s.data(), s.size());
    len_ += s.size();
    buf_[len_] = 0;
    return true;
  }
  void truncate(size_t n) {
    len_ = n;
    buf_[len_] = 0;
  }
  const char* c_str() const { return buf_; }
  std::string_view view() const { return {buf_, len_}; }
  size_t size() const { return len_; }

 private:
  char buf_[PATH_MAX];
  size_t len_ = 0;
};

long sys_openat2(int dirfd, const char* path, open_how* how) {
  return ::syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}

// openat2 that retries EINTR and the EAGAIN the kernel returns when a concurrent rename raced a ".."
// resolution under RESOLVE_IN_ROOT/RESOLVE_BENEATH.
int openat2_retry(int dirfd, const char* path, uint64_t flags, mode_t mode, uint64_t resolve) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) how.mode = mode;
  how.resolve = resolve;
  for (int i = 0; i < 128; ++i) {
    long r = sys_openat2(dirfd, path, &how);
    if (r >= 0) return static_cast<int>(r);
    if (errno != EINTR && errno != EAGAIN) return -1;
  }
  return -1;
}

bool has_nul(std::string_view p) { return p.find('\0') != std::string_view::npos; }

std::string_view strip_slashes(std::string_view p) {
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  return p;
}

// Splits the next component off `rest` (skipping leading slashes).
std::string_view next_component(std::string_view& rest) {
  rest = strip_slashes(rest);
  size_t slash = rest.find('/');
  std::string_view c = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  return c;
}

// One component beneath dirfd, never following a symlink (a trailing symlink is returned as an O_PATH fd to
// the link itself).
int open_component_nofollow(int dirfd, const char* name) {
  return openat2_retry(dirfd, name, O_PATH | O_NOFOLLOW, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
}

Result<UniqueFd> dup_fd(int fd) {
  int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (d < 0) return fail_errno("dup root fd");
  return UniqueFd(d);
}

Result<size_t> read_link_fd(int fd, char* buf, size_t cap) {
  ssize_t n = ::readlinkat(fd, "", buf, cap);
  if (n < 0) return fail_errno("readlink");
  if (static_cast<size_t>(n) >= cap) return fail(Errc::InvalidArgument, "symlink target too long");
  return static_cast<size_t>(n);
}

}  // namespace

Result<UniqueFd> open_root(const std::string& root) {
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail_errno("open root `{}`", root);
  return UniqueFd(fd);
}

Result<UniqueFd> open_in_root(int root_fd, std::string_view path, int flags, mode_t mode, uint64_t extra_resolve) {
  PathBuf p;
  std::string_view rel = strip_slashes(path);
  if (!p.assign(rel.empty() ? std::string_view(".") : rel))
    return fail(Errc::InvalidArgument, "path too long: {} bytes", path.size());
  if (has_nul(path))
    return fail(Errc::InvalidArgument, "path contains a NUL byte");
  int fd = openat2_retry(root_fd, p.c_str(), static_cast<uint64_t>(flags), mode,
                         RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve);
  if (fd < 0) return fail_errno("open `{}` in root", path);
  return UniqueFd(fd);
}

Result<UniqueFd> mkdir_all_in_root(int root_fd, std::string_view path, mode_t mode) {
  if (has_nul(path))
    return fail(Errc::InvalidArgument, "path contains a NUL byte");
  PathBuf rem, tmp, resolved, name;
  char link[PATH_MAX];
  if (!rem.assign(path)) return fail(Errc::InvalidArgument, "path too long: {} bytes", path.size());
  UniqueFd cur = BERTH_TRY(dup_fd(root_fd));
  std::string_view rest = rem.view();
  int links = 0;

  while (true) {
    std::string_view c = next_component(rest);
    if (c.empty()) break;
    if (c == ".") continue;
    if (c == "..") {
      // Lexically on the path of directories actually walked (never above root), then re-resolved by the
      // kernel inside root: a racing rename cannot lead us out.
      std::string_view r = resolved.view();
      size_t slash = r.rfind('/');
      resolved.truncate(slash == std::string_view::npos ? 0 : slash);
      cur = BERTH_TRY_CTX(open_in_root(root_fd, resolved.view(), O_PATH | O_DIRECTORY), "mkdir `{}`", path);
      continue;
    }
    if (!name.assign(c)) return fail(Errc::InvalidArgument, "path component too long");

    UniqueFd fd;
    for (int attempt = 0;; ++attempt) {
      fd.reset(open_component_nofollow(cur.get(), name.c_str()));
      if (fd) break;
      if (errno != ENOENT || attempt >= 8) return fail_errno("mkdir `{}`: open `{}/{}`", path, resolved.view(), c);
      if (::mkdirat(cur.get(), name.c_str(), mode) != 0 && errno != EEXIST)
        return fail_errno("mkdir `{}`: mkdir `{}/{}`", path, resolved.view(), c);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return fail_errno("mkdir `{}`: stat `{}/{}`", path, resolved.view(), c);
    if (S_ISDIR(st.st_mode)) {
      if (!resolved.append("/") || !resolved.append(c)) return fail(Errc::InvalidArgument, "path too long");
      cur = std::move(fd);
      continue;
    }
    if (!S_ISLNK(st.st_mode))
      return fail_errno_n(ENOTDIR, "mkdir `{}`: `{}/{}` exists and is not a directory", path, resolved.view(), c);
    if (++links > kMaxSymlinks) return fail_errno_n(ELOOP, "mkdir `{}`", path);
    size_t n = BERTH_TRY_CTX(read_link_fd(fd.get(), link, sizeof link), "mkdir `{}`", path);
    std::string_view target(link, n);
    // Splice the target in front of what is left to walk.
    if (!tmp.assign(target) || !tmp.append("/") || !tmp.append(rest))
      return fail(Errc::InvalidArgument, "mkdir `{}`: path too long after following symlinks", path);
    rem.assign(tmp.view());
    rest = rem.view();
    if (!target.empty() && target.front() == '/') {
      resolved.truncate(0);
      cur = BERTH_TRY(dup_fd(root_fd));
    }
  }
  if (!BERTH_TRY_CTX(is_beneath(root_fd, cur.get()), "mkdir `{}`", path))
    return fail(Error(Errc::PermissionDenied, fmt::format("mkdir `{}`: directory moved out of the root", path), EXDEV));
  return cur;
}

Result<bool> is_beneath(int root_fd, int dir_fd) {
  struct stat root_st, st;
  if (::fstat(root_fd, &root_st) != 0) return fail_errno("stat root");
  if (::fstat(dir_fd, &st) != 0) return fail_errno("stat");
  UniqueFd cur;
  int fd = dir_fd;
  // PATH_MAX / 2 bounds the depth of any path the kernel could have resolved.
  for (int depth = 0; depth < PATH_MAX / 2; ++depth) {
    if (st.st_dev == root_st.st_dev && st.st_ino == root_st.st_ino) return true;
    int up = openat2_retry(fd, "..", O_PATH | O_DIRECTORY, 0, 0);
    if (up < 0) return fail_errno("open ..");
    struct stat up_st;
    if (::fstat(up, &up_st) != 0) {
      ::close(up);
      return fail_errno("stat ..");
    }
    if (up_st.st_dev == st.st_dev && up_st.st_ino == st.st_ino) {
      ::close(up);
      return false;  // reached "/" of this mount namespace without meeting root
    }
    cur.reset(up);
    fd = up;
    st = up_st;
  }
  return false;
}

Result<UniqueFd> create_file_in_root(int root_fd, std::string_view path, mode_t mode) {
  if (has_nul(path))
    return fail(Errc::InvalidArgument, "path contains a NUL byte");
  PathBuf cur, tmp;
  char link[PATH_MAX];
  if (!cur.assign(path)) return fail(Errc::InvalidArgument, "path too long: {} bytes", path.size());
  for (int links = 0;; ++links) {
    if (links > kMaxSymlinks) return fail_errno_n(ELOOP, "create `{}`", path);
    std::string_view p = cur.view();
    while (!p.empty() && p.back() == '/') p.remove_suffix(1);
    size_t slash = p.rfind('/');
    std::string_view dir = slash == std::string_view::npos ? std::string_view{} : p.substr(0, slash);
    std::string_view base = slash == std::string_view::npos ? p : p.substr(slash + 1);
    if (base.empty() || base == "." || base == "..")
      return fail_errno_n(EISDIR, "create `{}`: not a file name", path);
    UniqueFd dirfd = BERTH_TRY_CTX(mkdir_all_in_root(root_fd, dir, 0755), "create `{}`", path);
    PathBuf name;
    if (!name.assign(base)) return fail(Errc::InvalidArgument, "path component too long");
    if (::mknodat(dirfd.get(), name.c_str(), S_IFREG | (mode & 07777), 0) != 0 && errno != EEXIST)
      return fail_errno("create `{}`", path);
    UniqueFd fd(open_component_nofollow(dirfd.get(), name.c_str()));
    if (!fd) return fail_errno("create `{}`: open", path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return fail_errno("create `{}`: stat", path);
    if (S_ISDIR(st.st_mode)) return fail_errno_n(EISDIR, "create `{}`", path);
    if (!S_ISLNK(st.st_mode)) return fd;
    size_t n = BERTH_TRY_CTX(read_link_fd(fd.get(), link, sizeof link), "create `{}`", path);
    std::string_view target(link, n);
    bool ok_len = target.front() == '/' ? tmp.assign(target)
                                        : (tmp.assign(dir) && tmp.append("/") && tmp.append(target));
    if (!ok_len) return fail(Errc::InvalidArgument, "create `{}`: path too long after following symlinks", path);
    cur.assign(tmp.view());
  }
}

std::string fd_path(int fd) { return fd_path_buf(fd).c_str(); }

FdPathBuf fd_path_buf(int fd) {
  FdPathBuf b;
  static constexpr char kPrefix[] = "/proc/self/fd/";
  std::memcpy(b.buf, kPrefix, sizeof kPrefix - 1);
  char digits[16];
  int n = 0;
  unsigned v = fd < 0 ? 0u : static_cast<unsigned>(fd);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  size_t pos = sizeof kPrefix - 1;
  while (n) b.buf[pos++] = digits[--n];
  b.buf[pos] = 0;
  return b;
}

std::string clean_path(std::string_view p) {
  std::vector<std::string_view> parts;
  std::string_view rest = p;
  while (true) {
    std::string_view c = next_component(rest);
    if (c.empty()) break;
    if (c == ".") continue;
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(c);
  }
  if (parts.empty()) return "/";
  std::string out;
  for (auto c : parts) {
    out += '/';
    out += c;
  }
  return out;
}

Result<bool> is_procfs(int fd) {
  struct statfs sfs;
  if (::fstatfs(fd, &sfs) != 0) return fail_errno("fstatfs");
  return sfs.f_type == PROC_SUPER_MAGIC;
}

Result<UniqueFd> open_proc_verified(const std::string& path, int flags) {
  std::string_view p = path;
  if (p != "/proc" && p.substr(0, 6) != "/proc/")
    return fail(Errc::InvalidArgument, "`{}` is not under /proc", path);
  UniqueFd proc(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!proc) return fail_errno("open /proc");
  if (!BERTH_TRY(is_procfs(proc.get())))
    return fail(Errc::PermissionDenied, "/proc is not a procfs mount");
  std::string_view rel = strip_slashes(p.substr(5));
  PathBuf r;
  if (!r.assign(rel.empty() ? std::string_view(".") : rel)) return fail(Errc::InvalidArgument, "path too long");
  // NO_XDEV: anything mounted over part of the path (a tmpfs over /proc/sys, a bind of a regular file over
  // /proc/self/attr/...) is refused rather than written through.
  int fd = openat2_retry(proc.get(), r.c_str(), static_cast<uint64_t>(flags), 0,
                         RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
  if (fd < 0) {
    if (errno == EXDEV)
      return fail(Errc::PermissionDenied, "open `{}`: path crosses a mount point (not plain procfs)", path);
    return fail_errno("open `{}`", path);
  }
  UniqueFd out(fd);
  if (!BERTH_TRY(is_procfs(out.get())))
    return fail(Errc::PermissionDenied, "`{}` is not on procfs", path);
  return out;
}

Result<bool> is_dev_null(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return fail_errno("fstat");
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3;
}

}  // namespace berth::sys
