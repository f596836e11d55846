// docker cp (archive HEAD/GET/PUT), export and changes. Every path from the request is resolved inside the
// container's root filesystem (mounted on the host at <data-root>/containers/<id>/rootfs) through an O_PATH
// root fd and openat2(RESOLVE_IN_ROOT): "..", absolute symlinks and symlink chains stay inside. The tree walk
// below opens every entry relative to its parent's fd with O_NOFOLLOW, and PUT extracts with image/unpack's
// apply_layer (refuses ".." and writes through no symlink).
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "base/file.h"
#include "engine/containers_impl.h"
#include "image/snapshot/snapshotter.h"
#include "image/unpack/unpack.h"
#include "sys/path.h"

namespace berth::engine {

namespace {
// "/a//b/./c/../d/" -> "/a/b/d" (lexical; ".." stops at "/").
std::string clean_path(const std::string& p) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string part = p.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (auto& x : parts) out += "/" + x;
  return out.empty() ? "/" : out;
}

std::vector<std::string> split_components(const std::string& p) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (j > i) out.push_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string join_components(const std::vector<std::string>& c, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && i < c.size(); ++i) out += "/" + c[i];
  return out.empty() ? "/" : out;
}

// Opens a running container's tmpfs mounts through its mount namespace: /proc/<pid>/root pinned by a pidfd,
// so a pid that exits (and is reused) meanwhile is noticed instead of read.
Result<UniqueFd> open_proc_root(int pid) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return fail_errno("pidfd_open {}", pid);
  UniqueFd root(::open(fmt::format("/proc/{}/root", pid).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_errno("open /proc/{}/root", pid);
  struct pollfd p {pidfd.get(), POLLIN, 0};
  if (::poll(&p, 1, 0) != 0) return fail(Errc::NotFound, "process {} exited", pid);
  return root;
}

// The container's filesystem as its processes see it, built from the recorded mounts: the rootfs (mounted on
// the host), with every bind and volume mount's source and the generated /etc files standing at their
// destinations, and — while the container runs — its tmpfs mounts reached through its mount namespace
// (/proc/<pid>/root). Paths resolve component by component in container terms: ".." stops at "/", symlinks
// (absolute ones from the container's "/") are followed through this view, so a link into a volume leads to
// the volume's content and never to the host; every step opens relative to a directory fd with O_NOFOLLOW.
class FsView {
 public:
  struct Mount {
    std::string dest;      // clean container path
    UniqueFd dir;          // directory mounts: the mount's root (O_PATH)
    UniqueFd file_parent;  // file mounts: the directory holding the source
    std::string file_name;
    bool rw = true;
  };
  // Where one entry of the view lives on the host: name inside parent (name "." for a directory mount's root).
  struct Entry {
    UniqueFd parent;
    std::string name;
  };

  static Result<FsView> open(ContainerService::Impl& m, Container& c) {
    FsView v;
    v.root_ = BERTH_TRY(sys::open_root(m.rootfs(c)));
    std::vector<std::tuple<std::string, std::string, bool>> binds;  // dest, host source, rw
    std::vector<std::pair<std::string, bool>> tmpfs;
    int pid = 0;
    bool ro_rootfs = false;
    {
      std::lock_guard lk(c.mu);
      ro_rootfs = c.host.readonly_rootfs;
      for (auto& mj : c.meta.mounts) {
        std::string type = mj.value("Type", ""), dest = mj.value("Destination", "");
        if (dest.empty() || dest[0] != '/') continue;
        if (type == "bind" || type == "volume") binds.emplace_back(clean_path(dest), mj.value("Source", ""), mj.value("RW", true));
        if (type == "tmpfs") tmpfs.emplace_back(clean_path(dest), mj.value("RW", true));
      }
      if (c.state.running_like() && c.state.status != RunState::Restarting) pid = c.state.pid;
    }
    for (auto* f : {"hostname", "hosts", "resolv.conf"})
      binds.emplace_back(std::string("/etc/") + f, m.dir(c) + "/" + f, !ro_rootfs);
    for (auto& [dest, src, rw] : binds) {
      if (src.empty()) continue;
      Mount mt;
      mt.dest = dest;
      mt.rw = rw;
      struct stat st {};
      if (::stat(src.c_str(), &st) != 0) continue;  // gone: the rootfs underneath shows
      if (S_ISDIR(st.st_mode)) {
        mt.dir = UniqueFd(::open(src.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!mt.dir) continue;
      } else {
        auto slash = src.rfind('/');
        std::string dir = slash == 0 ? "/" : src.substr(0, slash);
        mt.file_parent = UniqueFd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        mt.file_name = src.substr(slash + 1);
        if (!mt.file_parent) continue;
      }
      v.mounts_.push_back(std::move(mt));
    }
    if (pid > 0 && !tmpfs.empty()) {
      // A stopped container's tmpfs is gone: its mount point in the rootfs (empty) is what docker shows too.
      auto proc_root = open_proc_root(pid);
      if (proc_root) {
        for (auto& [dest, rw] : tmpfs) {
          auto fd = sys::open_in_root(proc_root->get(), dest, O_PATH | O_DIRECTORY, 0, RESOLVE_NO_SYMLINKS);
          if (!fd) continue;
          Mount mt;
          mt.dest = dest;
          mt.rw = rw;
          mt.dir = std::move(*fd);
          v.mounts_.push_back(std::move(mt));
        }
      }
    }
    return v;
  }

  const Mount* mount_at(const std::string& cpath) const {
    for (auto& mt : mounts_)
      if (mt.dest == cpath) return &mt;
    return nullptr;
  }

  // The mount a path falls under (the longest destination), if any.
  const Mount* mount_of(const std::string& cpath) const {
    const Mount* best = nullptr;
    for (auto& mt : mounts_)
      if ((cpath == mt.dest || cpath.starts_with(mt.dest + "/")) && (!best || mt.dest.size() > best->dest.size()))
        best = &mt;
    return best;
  }

  // Mounts strictly below dir, relative to it ("data", "a/b"), with their root fds (-1 for file mounts).
  std::vector<image::unpack::UnpackOptions::Redirect> mounts_below(const std::string& dir) const {
    std::vector<image::unpack::UnpackOptions::Redirect> out;
    std::string prefix = dir == "/" ? "/" : dir + "/";
    for (auto& mt : mounts_)
      if (mt.dest.size() > prefix.size() && mt.dest.starts_with(prefix))
        out.push_back({mt.dest.substr(prefix.size()), mt.dir ? mt.dir.get() : -1});
    return out;
  }

  // O_PATH directory fd of canonical components comps[0..n) (no symlinks among them).
  Result<UniqueFd> open_dir(const std::vector<std::string>& comps, size_t n) const {
    UniqueFd cur(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0));
    if (!cur) return fail_errno("dup");
    std::string cpath;
    for (size_t i = 0; i < n; ++i) {
      cpath += "/" + comps[i];
      if (const Mount* mt = mount_at(cpath)) {
        if (!mt->dir) return fail(Errc::InvalidArgument, "{}: not a directory", cpath);
        cur = UniqueFd(::fcntl(mt->dir.get(), F_DUPFD_CLOEXEC, 0));
        if (!cur) return fail_errno("dup");
        continue;
      }
      UniqueFd next(::openat(cur.get(), comps[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next) return fail_errno("{}", cpath);
      cur = std::move(next);
    }
    return cur;
  }

  Result<Entry> entry(const std::vector<std::string>& comps) const {
    std::string cpath = join_components(comps, comps.size());
    if (const Mount* mt = mount_at(cpath)) {
      if (mt->dir) return Entry{UniqueFd(::fcntl(mt->dir.get(), F_DUPFD_CLOEXEC, 0)), "."};
      return Entry{UniqueFd(::fcntl(mt->file_parent.get(), F_DUPFD_CLOEXEC, 0)), mt->file_name};
    }
    if (comps.empty()) return Entry{UniqueFd(::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0)), "."};
    auto parent = BERTH_TRY(open_dir(comps, comps.size() - 1));
    return Entry{std::move(parent), comps.back()};
  }

  // Resolves path (absolute or relative to "/") to canonical components: symlinks followed in every component
  // but the last (and in the last too when follow_last). A missing last component is kept (PUT and stat decide
  // what that means); a missing or non-directory earlier one is NotFound.
  Result<std::vector<std::string>> resolve(const std::string& path, bool follow_last) const {
    std::vector<std::string> todo = split_components(path);
    std::reverse(todo.begin(), todo.end());  // a stack: back() is next
    std::vector<std::string> done;
    int links = 0;
    while (!todo.empty()) {
      std::string c = std::move(todo.back());
      todo.pop_back();
      if (c == ".") continue;
      if (c == "..") {
        if (!done.empty()) done.pop_back();
        continue;
      }
      bool last = todo.empty();
      done.push_back(c);
      if (mount_at(join_components(done, done.size()))) continue;  // mount points are never symlinks
      auto parent = open_dir(done, done.size() - 1);
      if (!parent) return fail(Errc::NotFound, "{}", parent.error().message());
      struct stat st {};
      if (::fstatat(parent->get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT && last) return done;
        return fail_errno("{}", join_components(done, done.size()));
      }
      if (!S_ISLNK(st.st_mode) || (last && !follow_last)) continue;
      if (++links > 40) return fail(Errc::InvalidArgument, "{}: too many levels of symbolic links", path);
      char target[4096];
      ssize_t n = ::readlinkat(parent->get(), c.c_str(), target, sizeof target - 1);
      if (n < 0) return fail_errno("readlink {}", join_components(done, done.size()));
      done.pop_back();
      std::string t(target, static_cast<size_t>(n));
      if (t.starts_with("/")) done.clear();
      auto tc = split_components(t);
      for (auto it = tc.rbegin(); it != tc.rend(); ++it) todo.push_back(*it);
    }
    return done;
  }

 private:
  UniqueFd root_;
  std::vector<Mount> mounts_;
};
}  // namespace

namespace {

struct TarSink {
  const ByteSink* sink;
  bool failed = false;
};

la_ssize_t tar_write_cb(struct archive*, void* ctx, const void* buf, size_t n) {
  auto* t = static_cast<TarSink*>(ctx);
  if (!(*t->sink)(std::string_view(static_cast<const char*>(buf), n))) {
    t->failed = true;
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

class TarWriter {
 public:
  // With a view, directories that are mount destinations are read from the mount (cp of "/" carries the
  // volumes' content, as docker's does); without one (export) the rootfs alone.
  explicit TarWriter(const ByteSink& sink, const FsView* view = nullptr) : ts_{&sink}, view_(view) {
    a_ = archive_write_new();
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_per_block(a_, 0);  // no padding to 10 KiB blocks: stream as we go
    archive_write_open(a_, &ts_, nullptr, tar_write_cb, nullptr);
  }
  ~TarWriter() { archive_write_free(a_); }
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Writes `name` (a child of parent_fd, never followed) as tar_name, recursing into directories. cpath is its
  // path in the container (for the view's mounts).
  Status add(int parent_fd, const std::string& name_in, const std::string& tar_name, const std::string& cpath,
             int depth = 0) {
    if (depth > 256) return fail(Errc::InvalidArgument, "{}: tree too deep", tar_name);
    std::string name = name_in;
    if (view_) {
      if (const auto* mt = view_->mount_at(cpath)) {
        parent_fd = mt->dir ? mt->dir.get() : mt->file_parent.get();
        name = mt->dir ? "." : mt->file_name;
      }
    }
    struct stat st {};
    if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return fail_errno("stat {}", tar_name);
    archive_entry* e = archive_entry_new();
    archive_entry_copy_stat(e, &st);
    archive_entry_copy_pathname(e, tar_name.c_str());
    UniqueFd fd;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlinkat(parent_fd, name.c_str(), target, sizeof target - 1);
      if (n < 0) {
        archive_entry_free(e);
        return fail_errno("readlink {}", tar_name);
      }
      target[n] = '\0';
      archive_entry_copy_symlink(e, target);
      archive_entry_set_size(e, 0);
    } else if (S_ISREG(st.st_mode)) {
      fd = UniqueFd(::openat(parent_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
      if (!fd) {
        archive_entry_free(e);
        return fail_errno("open {}", tar_name);
      }
    } else if (S_ISDIR(st.st_mode)) {
      archive_entry_set_size(e, 0);
    } else {
      archive_entry_set_size(e, 0);
    }
    int rc = archive_write_header(a_, e);
    archive_entry_free(e);
    if (rc != ARCHIVE_OK) return fail(Errc::Internal, "tar {}: {}", tar_name, archive_error_string(a_) ? archive_error_string(a_) : "write failed");
    if (fd) {
      char buf[64 * 1024];
      uint64_t left = static_cast<uint64_t>(st.st_size);
      while (left > 0) {
        ssize_t n = ::read(fd.get(), buf, std::min<uint64_t>(sizeof buf, left));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("read {}", tar_name);
        if (n == 0) break;  // shrank meanwhile: the header size stays, libarchive pads
        if (archive_write_data(a_, buf, static_cast<size_t>(n)) < 0)
          return fail(Errc::Unavailable, "tar stream closed");
        left -= static_cast<uint64_t>(n);
      }
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd dfd(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dfd) return fail_errno("open dir {}", tar_name);
      DIR* d = ::fdopendir(::dup(dfd.get()));
      if (!d) return fail_errno("opendir {}", tar_name);
      std::vector<std::string> names;
      while (auto* de = ::readdir(d)) {
        std::string n = de->d_name;
        if (n != "." && n != "..") names.push_back(n);
      }
      ::closedir(d);
      std::sort(names.begin(), names.end());
      std::string prefix = tar_name.empty() || tar_name == "." ? "" : tar_name + "/";
      for (auto& n : names) BERTH_TRY(add(dfd.get(), n, prefix + n, (cpath == "/" ? "" : cpath) + "/" + n, depth + 1));
    }
    if (ts_.failed) return fail(Errc::Unavailable, "client went away");
    return ok();
  }

  Status finish() {
    if (archive_write_close(a_) != ARCHIVE_OK && ts_.failed) return fail(Errc::Unavailable, "client went away");
    return ok();
  }

 private:
  TarSink ts_;
  const FsView* view_ = nullptr;
  struct archive* a_ = nullptr;
};

// dirname / basename of a container path ("/a/b/" -> {"/a", "b"}; "/" -> {"/", "."}).
std::pair<std::string, std::string> split_path(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p.empty() || p == "/") return {"/", "."};
  auto slash = p.rfind('/');
  if (slash == std::string::npos) return {"/", p};
  return {slash == 0 ? "/" : p.substr(0, slash), p.substr(slash + 1)};
}

std::string rfc3339(const timespec& t) {
  std::tm tm{};
  gmtime_r(&t.tv_sec, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, t.tv_nsec);
}

class SourceAdapter final : public image::unpack::Source {
 public:
  explicit SourceAdapter(const ByteSource& s) : s_(s) {}
  Result<size_t> read(void* buf, size_t n) override { return s_(static_cast<char*>(buf), n); }

 private:
  const ByteSource& s_;
};

}  // namespace


namespace {

// Why a copy into `cpath` (canonical) is refused: the mount it falls under is read-only, or it is on a
// read-only rootfs. A writable volume or bind takes the copy even when the rootfs is read-only.
std::optional<std::string> read_only_reason(const FsView& v, Container& c, const std::string& cpath) {
  if (const auto* mt = v.mount_of(cpath)) {
    if (mt->rw) return std::nullopt;
    if (mt->dest.starts_with("/etc/")) return "container rootfs is marked read-only";
    return "mounted volume is marked read-only";
  }
  std::lock_guard lk(c.mu);
  if (c.host.readonly_rootfs) return "container rootfs is marked read-only";
  return std::nullopt;
}

Errc not_found_or(const Error& e) { return e.code() == Errc::NotFound || e.sys_errno() == ENOENT || e.sys_errno() == ENOTDIR ? Errc::NotFound : e.code(); }
}  // namespace

Result<PathStat> ContainerService::archive_stat(const std::string& ref, const std::string& path) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::lock_guard op(c->op_mu);
  BERTH_TRY(m.ensure_rootfs(*c));
  auto view = BERTH_TRY(FsView::open(m, *c));
  auto nf = [&] { return fail(Errc::NotFound, "Could not find the file {} in container {}", path, c->id); };
  auto comps = view.resolve(path, false);
  if (!comps) return nf();
  auto e = view.entry(*comps);
  if (!e) return nf();
  struct stat st {};
  if (::fstatat(e->parent.get(), e->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return nf();
  PathStat ps;
  ps.name = split_path(path).second == "." ? "/" : split_path(path).second;
  ps.size = st.st_size;
  ps.mode = go_file_mode(st.st_mode);
  ps.mtime = rfc3339(st.st_mtim);
  if (S_ISLNK(st.st_mode)) {
    // docker reports where the link leads, fully resolved inside the container (what `cp -L` copies)
    auto target = view.resolve(path, true);
    if (target) ps.link_target = join_components(*target, target->size());
  }
  return ps;
}

Status ContainerService::archive_get(const std::string& ref, const std::string& path, const ByteSink& sink) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::lock_guard op(c->op_mu);
  BERTH_TRY(m.ensure_rootfs(*c));
  auto view = BERTH_TRY(FsView::open(m, *c));
  auto nf = [&] { return fail(Errc::NotFound, "Could not find the file {} in container {}", path, c->id); };
  // A trailing "/." means "the content of the directory" (docker cp dir/. dest); a trailing "/" asks for a
  // directory, so a symlink there is followed.
  bool contents = path.ends_with("/.") || path == ".";
  bool follow = contents || path.ends_with("/");
  auto comps = view.resolve(path, follow);
  if (!comps) return nf();
  auto e = view.entry(*comps);
  if (!e) return nf();
  struct stat st {};
  if (::fstatat(e->parent.get(), e->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return nf();
  std::string tar_name = split_path(clean_path("/" + path)).second;
  std::string cpath = join_components(*comps, comps->size());
  TarWriter w(sink, &view);
  if (contents) {
    if (!S_ISDIR(st.st_mode)) return fail(Errc::InvalidArgument, "{}: not a directory", path);
    BERTH_TRY(w.add(e->parent.get(), e->name, ".", cpath));
  } else {
    BERTH_TRY(w.add(e->parent.get(), e->name, tar_name, cpath));
  }
  return w.finish();
}

Status ContainerService::archive_put(const std::string& ref, const std::string& path, bool no_overwrite_dir_non_dir,
                                     const ByteSource& tar) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::lock_guard op(c->op_mu);
  BERTH_TRY(m.ensure_rootfs(*c));
  auto view = BERTH_TRY(FsView::open(m, *c));
  auto nf = [&] { return fail(Errc::NotFound, "Could not find the file {} in container {}", path, c->id); };
  auto comps = view.resolve(path, true);
  if (!comps) {
    if (comps.error().sys_errno() == ENOTDIR) return fail(Errc::InvalidArgument, "extraction point is not a directory");
    return nf();
  }
  std::string cpath = join_components(*comps, comps->size());
  if (auto why = read_only_reason(view, *c, cpath)) return fail(Errc::PermissionDenied, "{}", *why);
  auto e = view.entry(*comps);
  if (!e) {
    if (not_found_or(e.error()) == Errc::NotFound && e.error().sys_errno() != ENOTDIR) return nf();
    return fail(Errc::InvalidArgument, "extraction point is not a directory");
  }
  struct stat st {};
  if (::fstatat(e->parent.get(), e->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return nf();
  if (!S_ISDIR(st.st_mode)) return fail(Errc::InvalidArgument, "extraction point is not a directory");
  UniqueFd dfd(::openat(e->parent.get(), e->name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dfd) return fail_errno("open {}", cpath);
  SourceAdapter src(tar);
  image::unpack::UnpackOptions uo;
  uo.whiteouts = image::unpack::WhiteoutMode::Apply;
  uo.max_uncompressed_bytes = uint64_t{64} << 30;
  uo.no_overwrite_dir_non_dir = no_overwrite_dir_non_dir;
  uo.display_root = cpath;
  // Entries reaching a mount below the extraction point go into the mount (as the container sees it), never
  // into the rootfs underneath; read-only ones refuse.
  uo.redirects = view.mounts_below(cpath);
  for (auto& rd : uo.redirects)
    if (auto why = read_only_reason(view, *c, cpath == "/" ? "/" + rd.path : cpath + "/" + rd.path)) rd.fd = -1;
  BERTH_TRY(image::unpack::apply_layer(src, dfd.get(), uo));
  return ok();
}

Status ContainerService::export_rootfs(const std::string& ref, const ByteSink& sink) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::lock_guard op(c->op_mu);
  BERTH_TRY(m.ensure_rootfs(*c));
  UniqueFd root(::open(m.rootfs(*c).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_errno("open rootfs of {}", c->id);
  TarWriter w(sink);
  DIR* d = ::fdopendir(::dup(root.get()));
  if (!d) return fail_errno("opendir rootfs");
  std::vector<std::string> names;
  while (auto* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (auto& n : names) BERTH_TRY(w.add(root.get(), n, n, "/" + n));
  return w.finish();
}

namespace {
void walk_changes(int upper_dir_fd, const std::vector<int>& lowers, const std::string& rel, njson& out, int depth) {
  if (depth > 256) return;
  DIR* d = ::fdopendir(::dup(upper_dir_fd));
  if (!d) return;
  std::vector<std::string> names;
  while (auto* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (auto& n : names) {
    std::string p = rel + "/" + n;
    struct stat st {};
    if (::fstatat(upper_dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      out.push_back({{"Path", p}, {"Kind", 2}});
      continue;
    }
    bool in_lower = false;
    for (int l : lowers) {
      struct stat ls {};
      std::string lp = p.substr(1);
      if (::fstatat(l, lp.c_str(), &ls, AT_SYMLINK_NOFOLLOW) == 0) {
        in_lower = true;
        break;
      }
    }
    out.push_back({{"Path", p}, {"Kind", in_lower ? 0 : 1}});
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(upper_dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) walk_changes(sub.get(), lowers, p, out, depth + 1);
    }
  }
}
}  // namespace

Result<std::string> ContainerService::changes(const std::string& ref) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  auto& snaps = m.images->snapshotter();
  auto upper = BERTH_TRY(snaps.upper_dir(c->meta.snapshot_key));
  if (snaps.name() != "overlay") return fail(Errc::Unimplemented, "changes need the overlay snapshotter");
  auto mounts = BERTH_TRY(snaps.mounts(c->meta.snapshot_key));
  std::vector<UniqueFd> lower_fds;
  std::vector<int> lowers;
  for (auto& mt : mounts)
    for (auto& o : mt.options)
      if (o.starts_with("lowerdir=")) {
        std::string list = o.substr(9);
        size_t pos = 0;
        while (pos <= list.size()) {
          size_t colon = list.find(':', pos);
          std::string d = list.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
          UniqueFd fd(::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
          if (fd) {
            lowers.push_back(fd.get());
            lower_fds.push_back(std::move(fd));
          }
          if (colon == std::string::npos) break;
          pos = colon + 1;
        }
      }
  UniqueFd ufd(::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!ufd) return fail_errno("open {}", upper);
  njson all = njson::array();
  walk_changes(ufd.get(), lowers, "", all, 0);
  // The runtime's mount points for the generated files are not changes (docker keeps them in an init layer).
  static const char* kMountPoints[] = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv"};
  njson kept = njson::array();
  for (auto& e : all) {
    std::string p = e["Path"];
    if (std::find(std::begin(kMountPoints), std::end(kMountPoints), p) == std::end(kMountPoints)) kept.push_back(e);
  }
  njson out = njson::array();
  for (auto& e : kept) {
    std::string p = e["Path"];
    if (e["Kind"] == 0) {
      // a directory "changed" only because of what is filtered above is not a change
      bool dir_only_mountpoints = false;
      bool any_child = false;
      for (auto& o : all) {
        std::string q = o["Path"];
        if (q.size() > p.size() && q.starts_with(p + "/")) {
          dir_only_mountpoints = true;
          for (auto& k : kept)
            if (k["Path"] == q) any_child = true;
        }
      }
      if (dir_only_mountpoints && !any_child) continue;
    }
    out.push_back(e);
  }
  if (out.empty()) return std::string("null");
  return out.dump();
}

}  // namespace berth::engine
