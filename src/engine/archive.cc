// docker cp (archive HEAD/GET/PUT), export and changes. Every path from the request is resolved inside the
// container's root filesystem (mounted on the host at <data-root>/containers/<id>/rootfs) through an O_PATH
// root fd and openat2(RESOLVE_IN_ROOT): "..", absolute symlinks and symlink chains stay inside. The tree walk
// below opens every entry relative to its parent's fd with O_NOFOLLOW, and PUT extracts with image/unpack's
// apply_layer (refuses ".." and writes through no symlink).
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
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
  explicit TarWriter(const ByteSink& sink) : ts_{&sink} {
    a_ = archive_write_new();
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_per_block(a_, 0);  // no padding to 10 KiB blocks: stream as we go
    archive_write_open(a_, &ts_, nullptr, tar_write_cb, nullptr);
  }
  ~TarWriter() { archive_write_free(a_); }
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Writes `name` (a child of parent_fd, never followed) as tar_name, recursing into directories.
  Status add(int parent_fd, const std::string& name, const std::string& tar_name, int depth = 0) {
    if (depth > 256) return fail(Errc::InvalidArgument, "{}: tree too deep", tar_name);
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
      for (auto& n : names) BERTH_TRY(add(dfd.get(), n, prefix + n, depth + 1));
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

// Where a container path lives on the host: inside a bind/volume mount or a generated /etc file when it falls
// under one (the longest destination wins), else in the rootfs. Returns {root dir to resolve in, path inside}.
std::pair<std::string, std::string> locate(ContainerService::Impl& m, Container& c, const std::string& path) {
  std::string p = clean_path(path.empty() || path[0] != '/' ? "/" + path : path);
  std::string best_dest, best_src;
  auto consider = [&](const std::string& dest, const std::string& src) {
    if (dest.empty() || src.empty()) return;
    if ((p == dest || p.starts_with(dest + "/")) && dest.size() > best_dest.size()) {
      best_dest = dest;
      best_src = src;
    }
  };
  {
    std::lock_guard lk(c.mu);
    for (auto& mj : c.meta.mounts) {
      std::string type = mj.value("Type", "");
      if (type == "bind" || type == "volume") consider(mj.value("Destination", ""), mj.value("Source", ""));
    }
  }
  for (auto* f : {"hostname", "hosts", "resolv.conf"}) consider(std::string("/etc/") + f, m.dir(c) + "/" + f);
  if (best_dest.empty()) return {m.rootfs(c), p};
  struct stat st {};
  if (::stat(best_src.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    // a file mount: resolve its name in the source's directory
    auto slash = best_src.rfind('/');
    std::string dir = best_src.substr(0, slash), name = best_src.substr(slash + 1);
    std::string rest = p.substr(best_dest.size());
    return {dir.empty() ? "/" : dir, "/" + name + rest};
  }
  return {best_src, p.size() > best_dest.size() ? p.substr(best_dest.size()) : "/"};
}
}  // namespace

namespace {
// Why a copy into `path` is refused: the mount it falls under (longest destination) is read-only, or it is
// on a read-only rootfs (the generated /etc files are mounted read-only then too). A writable volume or bind
// takes the copy even when the rootfs is read-only.
std::optional<std::string> read_only_reason(Container& c, const std::string& path) {
  std::string p = clean_path(path.empty() || path[0] != '/' ? "/" + path : path);
  std::lock_guard lk(c.mu);
  size_t best = 0;
  std::optional<bool> rw;
  for (auto& mj : c.meta.mounts) {
    std::string type = mj.value("Type", ""), dest = mj.value("Destination", "");
    if ((type == "bind" || type == "volume") && !dest.empty() && (p == dest || p.starts_with(dest + "/")) &&
        dest.size() > best) {
      best = dest.size();
      rw = mj.value("RW", true);
    }
  }
  if (rw) return *rw ? std::nullopt : std::optional<std::string>("mounted volume is marked read-only");
  if (c.host.readonly_rootfs) return "container rootfs is marked read-only";
  return std::nullopt;
}
}  // namespace

namespace {
// parent dir fd + final name for path inside root; NotFound in docker's words.
Result<std::pair<UniqueFd, std::string>> resolve_parent(int root, const std::string& path, const std::string& id) {
  auto [dir, base] = split_path(path);
  auto pfd = sys::open_in_root(root, dir, O_PATH | O_DIRECTORY);
  if (!pfd) return fail(Errc::NotFound, "Could not find the file {} in container {}", path, id);
  if (base == "." || base == "..") {
    // the directory itself: its parent is reached through ".."
    auto self = BERTH_TRY(sys::open_in_root(root, path, O_PATH | O_DIRECTORY));
    (void)self;
    return std::pair<UniqueFd, std::string>{std::move(*pfd), "."};
  }
  return std::pair<UniqueFd, std::string>{std::move(*pfd), base};
}
}  // namespace

Result<PathStat> ContainerService::archive_stat(const std::string& ref, const std::string& path) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::lock_guard op(c->op_mu);
  BERTH_TRY(m.ensure_rootfs(*c));
  auto [where, inner] = locate(m, *c, path);
  auto root = BERTH_TRY(sys::open_root(where));
  auto [pfd, base] = BERTH_TRY(resolve_parent(root.get(), inner, c->id));
  struct stat st {};
  if (::fstatat(pfd.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return fail(Errc::NotFound, "Could not find the file {} in container {}", path, c->id);
  PathStat ps;
  ps.name = split_path(path).second == "." ? "/" : split_path(path).second;
  ps.size = st.st_size;
  ps.mode = go_file_mode(st.st_mode);
  ps.mtime = rfc3339(st.st_mtim);
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlinkat(pfd.get(), base.c_str(), target, sizeof target - 1);
    if (n > 0) ps.link_target = std::string(target, static_cast<size_t>(n));
  }
  return ps;
}

Status ContainerService::archive_get(const std::string& ref, const std::string& path, const ByteSink& sink) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::lock_guard op(c->op_mu);
  BERTH_TRY(m.ensure_rootfs(*c));
  auto [where, inner] = locate(m, *c, path);
  auto root = BERTH_TRY(sys::open_root(where));
  auto [pfd, base] = BERTH_TRY(resolve_parent(root.get(), inner, c->id));
  std::string tar_name = split_path(clean_path("/" + path)).second;
  // A trailing "/." means "the content of the directory" (docker cp dir/. dest).
  bool contents = path.ends_with("/.") || path == ".";
  TarWriter w(sink);
  if (contents) {
    UniqueFd dfd(::openat(pfd.get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dfd) return fail_errno("open {}", path);
    BERTH_TRY(w.add(pfd.get(), base, "."));
  } else {
    BERTH_TRY(w.add(pfd.get(), base, tar_name));
  }
  return w.finish();
}

Status ContainerService::archive_put(const std::string& ref, const std::string& path, bool no_overwrite_dir_non_dir,
                                     const ByteSource& tar) {
  (void)no_overwrite_dir_non_dir;
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::lock_guard op(c->op_mu);
  if (auto why = read_only_reason(*c, path)) return fail(Errc::PermissionDenied, "{}", *why);
  BERTH_TRY(m.ensure_rootfs(*c));
  auto [where, inner] = locate(m, *c, path);
  auto root = BERTH_TRY(sys::open_root(where));
  auto dfd = sys::open_in_root(root.get(), inner, O_RDONLY | O_DIRECTORY);
  if (!dfd) {
    if (dfd.error().sys_errno() == ENOTDIR)
      return fail(Errc::InvalidArgument, "extraction point is not a directory");
    return fail(Errc::NotFound, "Could not find the file {} in container {}", path, c->id);
  }
  SourceAdapter src(tar);
  image::unpack::UnpackOptions uo;
  uo.whiteouts = image::unpack::WhiteoutMode::Apply;
  uo.max_uncompressed_bytes = uint64_t{64} << 30;
  BERTH_TRY(image::unpack::apply_layer(src, dfd->get(), uo));
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
  for (auto& n : names) BERTH_TRY(w.add(root.get(), n, n));
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
