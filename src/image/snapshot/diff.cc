#include "image/snapshot/diff.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "base/unique_fd.h"

namespace berth::image::snapshot {

namespace {

struct Sink {
  const std::function<Status(std::string_view)>* fn;
  Error err;
  bool failed = false;
};

la_ssize_t write_cb(struct archive*, void* ud, const void* buf, size_t n) {
  auto* s = static_cast<Sink*>(ud);
  auto st = (*s->fn)(std::string_view(static_cast<const char*>(buf), n));
  if (!st) {
    s->err = std::move(st).error();
    s->failed = true;
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

std::vector<std::string> list_dir(int dfd) {
  std::vector<std::string> names;
  DIR* d = ::fdopendir(::dup(dfd));
  if (!d) return names;
  while (auto* de = ::readdir(d))
    if (std::strcmp(de->d_name, ".") && std::strcmp(de->d_name, "..")) names.emplace_back(de->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

bool is_opaque(int dirfd, const std::string& xattr) {
  char v[2];
  ssize_t n = ::fgetxattr(dirfd, xattr.c_str(), v, sizeof v);
  return n == 1 && v[0] == 'y';
}

std::string join(const std::string& rel, const std::string& name) { return rel.empty() ? name : rel + "/" + name; }

// Writes tar entries for filesystem objects (owner, mode, mtime, xattrs without overlay's own; hardlinks kept
// by (dev, inode)) plus whiteout markers. Directory entries may be deferred: pending ones are written just
// before the first entry beneath them (a tree diff names a directory only when something in it changed).
class TarOut {
 public:
  TarOut(struct archive* a, Sink& sink, const DiffOptions& o) : a_(a), sink_(sink), o_(o) {}
  uint64_t entries() const { return entries_; }

  struct Pending {
    int dfd;  // borrowed: the caller keeps it open until the pending entry is flushed or dropped
    std::string name, rel;
  };
  std::vector<Pending> pending;

  Status whiteout(const std::string& rel_dir, const std::string& name, const struct stat& st) {
    BERTH_TRY(flush());
    return marker(join(rel_dir, ".wh." + name), st);
  }
  Status opaque(const std::string& rel, const struct stat& st) {
    BERTH_TRY(flush());
    return marker(rel + "/.wh..wh..opq", st);
  }

  // The object `name` in dfd as entry `rel` (a directory's entry only; callers walk its content).
  Status put(int dfd, const std::string& name, const std::string& rel, const struct stat& st) {
    BERTH_TRY(flush());
    return object(dfd, name, rel, st);
  }

 private:
  Status flush() {
    auto p = std::exchange(pending, {});
    for (auto& e : p) {
      struct stat st;
      if (::fstatat(e.dfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return fail_errno("stat `{}`", e.rel);
      BERTH_TRY(object(e.dfd, e.name, e.rel, st));
    }
    return ok();
  }

  Status marker(const std::string& path, const struct stat& st) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0);
    archive_entry_set_size(e, 0);
    archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    return header(e, path);
  }

  Status header(struct archive_entry* e, const std::string& what) {
    int r = archive_write_header(a_, e);
    archive_entry_free(e);
    if (r < ARCHIVE_WARN) {
      if (sink_.failed) return fail(sink_.err);
      return fail(Errc::Internal, "diff: write header `{}`: {}", what, archive_error_string(a_));
    }
    entries_++;
    return ok();
  }

  struct archive_entry* base_entry(const std::string& rel, const struct stat& st) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, rel.c_str());
    archive_entry_set_uid(e, st.st_uid);
    archive_entry_set_gid(e, st.st_gid);
    archive_entry_set_perm(e, st.st_mode & 07777);
    archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    return e;
  }

  void add_xattrs(int fd, struct archive_entry* e) {
    char names[65536];
    ssize_t n = ::flistxattr(fd, names, sizeof names);
    if (n <= 0) return;
    std::vector<char> val(65536);
    for (ssize_t off = 0; off < n; off += static_cast<ssize_t>(std::strlen(names + off)) + 1) {
      std::string_view name(names + off);
      if (name == o_.opaque_xattr || name.starts_with("trusted.overlay.") || name.starts_with("user.overlay."))
        continue;
      ssize_t v = ::fgetxattr(fd, names + off, val.data(), val.size());
      if (v < 0) continue;
      archive_entry_xattr_add_entry(e, names + off, val.data(), static_cast<size_t>(v));
    }
  }

  Status object(int dfd, const std::string& name, const std::string& rel, const struct stat& st) {
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) return fail_errno("open `{}`", rel);
      auto* e = base_entry(rel, st);
      archive_entry_set_filetype(e, AE_IFDIR);
      add_xattrs(sub.get(), e);
      return header(e, rel);
    }
    auto* e = base_entry(rel, st);
    if (st.st_nlink > 1) {
      auto key = std::make_pair(st.st_dev, st.st_ino);
      if (auto it = links_.find(key); it != links_.end()) {
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, it->second.c_str());
        archive_entry_set_size(e, 0);
        return header(e, rel);
      }
      links_[key] = rel;
    }
    if (S_ISREG(st.st_mode)) {
      UniqueFd f(::openat(dfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!f) {
        archive_entry_free(e);
        return fail_errno("open `{}`", rel);
      }
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, st.st_size);
      add_xattrs(f.get(), e);
      BERTH_TRY(header(e, rel));
      std::vector<char> buf(1 << 20);
      for (;;) {
        ssize_t n = ::read(f.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("read `{}`", rel);
        if (n == 0) break;
        if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) < 0) {
          if (sink_.failed) return fail(sink_.err);
          return fail(Errc::Internal, "diff: write `{}`: {}", rel, archive_error_string(a_));
        }
      }
      return ok();
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(dfd, name.c_str(), target.data(), target.size());
      if (n < 0) {
        archive_entry_free(e);
        return fail_errno("readlink `{}`", rel);
      }
      target.resize(static_cast<size_t>(n));
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, target.c_str());
      return header(e, rel);
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      archive_entry_set_filetype(e, S_ISCHR(st.st_mode) ? AE_IFCHR : AE_IFBLK);
      archive_entry_set_rdevmajor(e, major(st.st_rdev));
      archive_entry_set_rdevminor(e, minor(st.st_rdev));
      return header(e, rel);
    }
    if (S_ISFIFO(st.st_mode)) {
      archive_entry_set_filetype(e, AE_IFIFO);
      return header(e, rel);
    }
    archive_entry_free(e);
    return ok();  // sockets
  }

  struct archive* a_;
  Sink& sink_;
  const DiffOptions& o_;
  uint64_t entries_ = 0;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

Result<UniqueFd> open_subdir(int dfd, const std::string& name, const std::string& rel) {
  UniqueFd sub(::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub) return fail_errno("open `{}`", rel);
  return sub;
}

// An overlay upper dir as a layer: whiteout devices -> .wh. entries, opaque dirs -> .wh..wh..opq.
Status overlay_walk(TarOut& out, int dfd, const std::string& rel, const DiffOptions& o) {
  for (auto& name : list_dir(dfd)) {
    std::string r = join(rel, name);
    struct stat st;
    if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return fail_errno("stat `{}`", r);
    if (is_whiteout(st)) {
      BERTH_TRY(out.whiteout(rel, name, st));
      continue;
    }
    BERTH_TRY(out.put(dfd, name, r, st));
    if (S_ISDIR(st.st_mode)) {
      auto sub = BERTH_TRY(open_subdir(dfd, name, r));
      if (is_opaque(sub.get(), o.opaque_xattr)) BERTH_TRY(out.opaque(r, st));
      BERTH_TRY(overlay_walk(out, sub.get(), r, o));
    }
  }
  return ok();
}

// Layer dirs stacked top first, as overlayfs would show them: the top-most entry of a name wins; whiteouts
// hide lower entries; a directory merges with lower directories down to the first opaque one or non-dir.
Status merged_walk(TarOut& out, const std::vector<int>& layers, const std::string& rel, const DiffOptions& o) {
  std::vector<std::string> names;
  for (int fd : layers) {
    auto n = list_dir(fd);
    names.insert(names.end(), n.begin(), n.end());
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (auto& name : names) {
    std::string r = join(rel, name);
    for (size_t i = 0; i < layers.size(); ++i) {
      struct stat st;
      if (::fstatat(layers[i], name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) continue;
        return fail_errno("stat `{}`", r);
      }
      if (is_whiteout(st)) break;
      BERTH_TRY(out.put(layers[i], name, r, st));
      if (!S_ISDIR(st.st_mode)) break;
      std::vector<UniqueFd> subs;
      for (size_t j = i; j < layers.size(); ++j) {
        struct stat sj;
        if (::fstatat(layers[j], name.c_str(), &sj, AT_SYMLINK_NOFOLLOW) < 0) {
          if (errno == ENOENT) continue;
          return fail_errno("stat `{}`", r);
        }
        if (!S_ISDIR(sj.st_mode)) break;
        subs.push_back(BERTH_TRY(open_subdir(layers[j], name, r)));
        if (is_opaque(subs.back().get(), o.opaque_xattr)) break;
      }
      std::vector<int> fds;
      for (auto& s : subs) fds.push_back(s.get());
      BERTH_TRY(merged_walk(out, fds, r, o));
      break;
    }
  }
  return ok();
}

bool same_content(int a_dir, int p_dir, const std::string& name) {
  UniqueFd a(::openat(a_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  UniqueFd p(::openat(p_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!a || !p) return false;
  std::vector<char> ba(1 << 16), bp(1 << 16);
  for (;;) {
    ssize_t na = ::read(a.get(), ba.data(), ba.size());
    ssize_t np = ::read(p.get(), bp.data(), bp.size());
    if (na < 0 || np < 0 || na != np) return false;
    if (na == 0) return true;
    if (std::memcmp(ba.data(), bp.data(), static_cast<size_t>(na)) != 0) return false;
  }
}

bool same_xattrs(int a_dir, int p_dir, const std::string& name) {
  auto all = [&](int dfd) {
    std::map<std::string, std::string> m;
    UniqueFd f(::openat(dfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!f) return m;
    std::string path = fmt::format("/proc/self/fd/{}", f.get());
    char names[65536];
    ssize_t n = ::llistxattr(path.c_str(), names, sizeof names);
    for (ssize_t off = 0; n > 0 && off < n; off += static_cast<ssize_t>(std::strlen(names + off)) + 1) {
      std::vector<char> v(65536);
      ssize_t vn = ::lgetxattr(path.c_str(), names + off, v.data(), v.size());
      if (vn >= 0) m[names + off] = std::string(v.data(), static_cast<size_t>(vn));
    }
    return m;
  };
  return all(a_dir) == all(p_dir);
}

// Whether an object changed between the parent tree and the active one (for a directory: itself, not its
// content). Regular files with equal size and mtime are compared by content only when the mtime has no
// sub-second part (a copy may have truncated it, so it says little).
bool changed(int a_dir, int p_dir, const std::string& name, const struct stat& a, const struct stat& p) {
  if ((a.st_mode & S_IFMT) != (p.st_mode & S_IFMT) || a.st_mode != p.st_mode || a.st_uid != p.st_uid ||
      a.st_gid != p.st_gid)
    return true;
  if (!S_ISDIR(a.st_mode) &&
      (a.st_mtim.tv_sec != p.st_mtim.tv_sec || a.st_mtim.tv_nsec != p.st_mtim.tv_nsec || a.st_size != p.st_size))
    return true;
  if ((S_ISCHR(a.st_mode) || S_ISBLK(a.st_mode)) && a.st_rdev != p.st_rdev) return true;
  if (S_ISLNK(a.st_mode)) {
    char ta[4096], tp[4096];
    ssize_t na = ::readlinkat(a_dir, name.c_str(), ta, sizeof ta);
    ssize_t np = ::readlinkat(p_dir, name.c_str(), tp, sizeof tp);
    if (na != np || (na > 0 && std::memcmp(ta, tp, static_cast<size_t>(na)) != 0)) return true;
  }
  if (S_ISREG(a.st_mode) && a.st_mtim.tv_nsec == 0 && !same_content(a_dir, p_dir, name)) return true;
  if (S_ISDIR(a.st_mode) && a.st_mtim.tv_sec != p.st_mtim.tv_sec) return true;
  return !same_xattrs(a_dir, p_dir, name);
}

// Full trees (native snapshots): entries of `active` that are new or changed against `parent`, whiteouts for
// names gone. Directories are named when they changed or something beneath them did.
Status tree_diff(TarOut& out, int active, int parent, const std::string& rel) {
  auto an = list_dir(active);
  auto pn = parent >= 0 ? list_dir(parent) : std::vector<std::string>{};
  std::set<std::string> in_a(an.begin(), an.end());
  for (auto& name : pn) {
    if (in_a.count(name)) continue;
    struct stat pst;
    if (::fstatat(parent, name.c_str(), &pst, AT_SYMLINK_NOFOLLOW) < 0) return fail_errno("stat `{}`", join(rel, name));
    BERTH_TRY(out.whiteout(rel, name, pst));
  }
  std::set<std::string> in_p(pn.begin(), pn.end());
  for (auto& name : an) {
    std::string r = join(rel, name);
    struct stat st, pst;
    if (::fstatat(active, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return fail_errno("stat `{}`", r);
    bool had = in_p.count(name) && ::fstatat(parent, name.c_str(), &pst, AT_SYMLINK_NOFOLLOW) == 0;
    bool both_dirs = had && S_ISDIR(st.st_mode) && S_ISDIR(pst.st_mode);
    if (!had || !both_dirs) {
      if (had && !changed(active, parent, name, st, pst)) continue;
      BERTH_TRY(out.put(active, name, r, st));
      if (S_ISDIR(st.st_mode)) {
        auto sub = BERTH_TRY(open_subdir(active, name, r));
        BERTH_TRY(tree_diff(out, sub.get(), -1, r));
      }
      continue;
    }
    auto sa = BERTH_TRY(open_subdir(active, name, r));
    auto sp = BERTH_TRY(open_subdir(parent, name, r));
    size_t depth = out.pending.size();
    if (changed(active, parent, name, st, pst)) BERTH_TRY(out.put(active, name, r, st));
    else out.pending.push_back({active, name, r});
    BERTH_TRY(tree_diff(out, sa.get(), sp.get(), r));
    if (out.pending.size() > depth) out.pending.resize(depth);  // nothing beneath changed
  }
  return ok();
}

template <typename Walk>
Result<uint64_t> write_tar(const std::function<Status(std::string_view)>& sink, const DiffOptions& opts, Walk walk) {
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_write_new(), archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_per_block(a.get(), 10240);
  archive_write_set_bytes_in_last_block(a.get(), 1);
  Sink s{&sink};
  if (archive_write_open(a.get(), &s, nullptr, write_cb, nullptr) != ARCHIVE_OK)
    return fail(Errc::Internal, "diff: {}", archive_error_string(a.get()));
  TarOut out(a.get(), s, opts);
  BERTH_TRY(walk(out));
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    if (s.failed) return fail(s.err);
    return fail(Errc::Internal, "diff: close: {}", archive_error_string(a.get()));
  }
  return out.entries();
}

Result<UniqueFd> open_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_errno("open `{}`", path);
  return fd;
}

// Compresses (per opts) the tar a writer function produces into the content store.
Result<DiffResult> commit_tar(content::Ingester& store, const std::string& what, const DiffOptions& opts,
                              const std::function<Result<uint64_t>(const std::function<Status(std::string_view)>&)>& produce) {
  content::WriterOptions wo;
  wo.ref = fmt::format("diff-{}-{}", what, std::random_device{}());
  auto w = BERTH_TRY(store.writer(wo));
  oci::Hasher diff;
  z_stream z{};
  if (opts.gzip && deflateInit2(&z, opts.gzip_level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return fail(Errc::Internal, "deflateInit2 failed");
  std::vector<char> out(1 << 20);
  auto deflate_some = [&](const char* p, size_t n, int flush) -> Status {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p));
    z.avail_in = static_cast<uInt>(n);
    do {
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      int rc = deflate(&z, flush);
      if (rc == Z_STREAM_ERROR) return fail(Errc::Internal, "deflate failed");
      size_t have = out.size() - z.avail_out;
      if (have) BERTH_TRY(w->write(std::string_view(out.data(), have)));
    } while (z.avail_out == 0);
    return ok();
  };
  std::function<Status(std::string_view)> sink = [&](std::string_view data) -> Status {
    diff.update(data);
    if (!opts.gzip) return w->write(data);
    return deflate_some(data.data(), data.size(), Z_NO_FLUSH);
  };
  auto entries = produce(sink);
  if (entries && opts.gzip) {
    auto st = deflate_some(nullptr, 0, Z_FINISH);
    if (!st) entries = fail(std::move(st).error());
  }
  if (opts.gzip) deflateEnd(&z);
  if (!entries) {
    (void)w->abort();
    return fail(std::move(entries).error());
  }
  DiffResult r;
  r.entries = *entries;
  r.diff_id = diff.digest();
  r.layer.media_type = std::string(opts.gzip ? oci::media::kOciLayerGzip : oci::media::kOciLayer);
  r.layer.size = w->offset();
  r.layer.digest = w->digest();
  auto d = w->commit(r.layer.size, r.layer.digest);
  if (!d && d.error().code() != Errc::AlreadyExists) return fail(std::move(d).error());
  return r;
}

}  // namespace

Result<uint64_t> write_overlay_diff_tar(const std::string& upper_dir, const std::function<Status(std::string_view)>& sink,
                                        const DiffOptions& opts) {
  auto root = BERTH_TRY(open_dir(upper_dir));
  return write_tar(sink, opts, [&](TarOut& out) { return overlay_walk(out, root.get(), "", opts); });
}

Result<DiffResult> commit_overlay_diff(const std::string& upper_dir, content::Ingester& store, const DiffOptions& opts) {
  return commit_tar(store, upper_dir, opts, [&](const auto& sink) { return write_overlay_diff_tar(upper_dir, sink, opts); });
}

Result<uint64_t> write_tree_diff_tar(const std::string& dir, const std::string& parent_dir,
                                     const std::function<Status(std::string_view)>& sink, const DiffOptions& opts) {
  auto a = BERTH_TRY(open_dir(dir));
  UniqueFd p;
  if (!parent_dir.empty()) p = BERTH_TRY(open_dir(parent_dir));
  return write_tar(sink, opts, [&](TarOut& out) { return tree_diff(out, a.get(), p ? p.get() : -1, ""); });
}

Result<uint64_t> write_merged_tar(const std::vector<std::string>& layer_dirs,
                                  const std::function<Status(std::string_view)>& sink, const DiffOptions& opts) {
  std::vector<UniqueFd> fds;
  std::vector<int> raw;
  for (auto& d : layer_dirs) {
    fds.push_back(BERTH_TRY(open_dir(d)));
    raw.push_back(fds.back().get());
  }
  return write_tar(sink, opts, [&](TarOut& out) { return merged_walk(out, raw, "", opts); });
}

Result<DiffResult> commit_snapshot_diff(Snapshotter& s, const std::string& key, content::Ingester& store,
                                        const DiffOptions& opts) {
  auto info = BERTH_TRY(s.stat(key));
  if (info.kind != Kind::Active)
    return fail(Errc::InvalidArgument, "snapshot `{}` is {}, not active", key, kind_name(info.kind));
  auto dirs = BERTH_TRY(s.layer_dirs(key));
  if (s.layer_style() == LayerStyle::Diff) return commit_overlay_diff(dirs.front(), store, opts);
  std::string parent;
  if (!info.parent.empty()) parent = BERTH_TRY(s.layer_dirs(info.parent)).front();
  return commit_tar(store, key, opts,
                    [&](const auto& sink) { return write_tree_diff_tar(dirs.front(), parent, sink, opts); });
}

}  // namespace berth::image::snapshot
