#include "base/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace berth {

Status write_all(int fd, std::string_view data) {
  const char* p = data.data();
  size_t n = data.size();
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail_errno("write");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return ok();
}

namespace {

Status write_replace_at(int dirfd, const std::string& name, std::string_view data, mode_t mode, bool durable) {
  std::string tmp = fmt::format(".{}.tmp.{}", name, ::getpid());
  UniqueFd fd(::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return fail_errno("create `{}`", tmp);
  if (::fchmod(fd.get(), mode) < 0) return fail_errno("chmod `{}`", tmp);
  if (auto st = write_all(fd.get(), data); !st) {
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return fail(std::move(st).error().wrap(fmt::format("write `{}`", tmp)));
  }
  if (durable && ::fsync(fd.get()) < 0) {
    int e = errno;
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return fail_errno_n(e, "fsync `{}`", tmp);
  }
  fd.reset();
  if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) < 0) {
    int e = errno;
    ::unlinkat(dirfd, tmp.c_str(), 0);
    return fail_errno_n(e, "rename `{}`", name);
  }
  if (durable && ::fsync(dirfd) < 0) return fail_errno("fsync directory of `{}`", name);
  return ok();
}

Status write_replace(const std::string& path, std::string_view data, mode_t mode, bool durable) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  UniqueFd dfd(::open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!dfd) return fail_errno("open directory `{}`", dir);
  return write_replace_at(dfd.get(), name, data, mode, durable);
}

}  // namespace

Status write_file_atomic_at(int dirfd, const std::string& name, std::string_view data, mode_t mode) {
  return write_replace_at(dirfd, name, data, mode, true);
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  return write_replace(path, data, mode, true);
}

Status write_file_replace_at(int dirfd, const std::string& name, std::string_view data, mode_t mode) {
  return write_replace_at(dirfd, name, data, mode, false);
}

Status write_file_replace(const std::string& path, std::string_view data, mode_t mode) {
  return write_replace(path, data, mode, false);
}

Result<std::string> read_fd(int fd, size_t max_bytes) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read");
    }
    if (r == 0) break;
    if (out.size() + static_cast<size_t>(r) > max_bytes)
      return fail(Errc::InvalidArgument, "file larger than {} bytes", max_bytes);
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open `{}`", path);
  return read_fd(fd.get(), max_bytes).map_error([&](Error e) { return std::move(e).wrap(fmt::format("read `{}`", path)); });
}

Status fsync_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open directory `{}`", path);
  if (::fsync(fd.get()) < 0) return fail_errno("fsync `{}`", path);
  return ok();
}

Status mkdir_all(const std::string& path, mode_t mode) {
  if (path.empty()) return ok();
  std::string cur;
  size_t i = 0;
  if (path[0] == '/') {
    cur = "/";
    i = 1;
  }
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string comp = path.substr(i, j - i);
    if (!comp.empty()) {
      if (!cur.empty() && cur.back() != '/') cur += '/';
      cur += comp;
      if (::mkdir(cur.c_str(), mode) < 0 && errno != EEXIST) return fail_errno("mkdir `{}`", cur);
    }
    i = j + 1;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) return fail_errno("stat `{}`", path);
  if (!S_ISDIR(st.st_mode)) return fail(Errc::InvalidArgument, "`{}` exists and is not a directory", path);
  return ok();
}

namespace {
Status remove_all_at(int parent, const char* name, dev_t dev) {
  struct stat st;
  if (::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return ok();
    return fail_errno("stat `{}`", name);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(parent, name, 0) < 0 && errno != ENOENT) return fail_errno("unlink `{}`", name);
    return ok();
  }
  if (st.st_dev != dev) return fail(Errc::Conflict, "`{}` is a mount point; refusing to remove across it", name);
  int fd = ::openat(parent, name, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return fail_errno("open `{}`", name);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return fail_errno("opendir `{}`", name);
  }
  Status result = ok();
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    if (auto s = remove_all_at(::dirfd(d), e->d_name, dev); !s) {
      result = s;
      break;
    }
  }
  ::closedir(d);
  if (!result) return result;
  if (::unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT) return fail_errno("rmdir `{}`", name);
  return ok();
}
}  // namespace

Status remove_all(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return ok();
    return fail_errno("stat `{}`", path);
  }
  return remove_all_at(AT_FDCWD, path.c_str(), st.st_dev).map_error([&](Error e) {
    return std::move(e).wrap(fmt::format("remove `{}`", path));
  });
}

}  // namespace berth
