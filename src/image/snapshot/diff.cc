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

class Walker {
 public:
  Walker(struct archive* a, Sink& sink, const DiffOptions& o) : a_(a), sink_(sink), o_(o) {}

  Status dir(int dfd, const std::string& rel) {
    DIR* d = ::fdopendir(::dup(dfd));
    if (!d) return fail_errno("list `{}`", rel);
    std::vector<std::string> names;
    while (auto* de = ::readdir(d))
      if (std::strcmp(de->d_name, ".") && std::strcmp(de->d_name, "..")) names.emplace_back(de->d_name);
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (auto& n : names) BERTH_TRY(entry(dfd, n, rel.empty() ? n : rel + "/" + n));
    return ok();
  }

  uint64_t entries() const { return entries_; }

 private:
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

  // xattrs except overlay's own; returns whether the opaque marker is set.
  bool add_xattrs(int fd, struct archive_entry* e) {
    char names[65536];
    ssize_t n = ::flistxattr(fd, names, sizeof names);
    bool opaque = false;
    if (n <= 0) return false;
    std::vector<char> val(65536);
    for (ssize_t off = 0; off < n; off += static_cast<ssize_t>(std::strlen(names + off)) + 1) {
      std::string_view name(names + off);
      ssize_t v = ::fgetxattr(fd, names + off, val.data(), val.size());
      if (v < 0) continue;
      if (name == o_.opaque_xattr) {
        opaque = v == 1 && val[0] == 'y';
        continue;
      }
      if (name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")) continue;
      archive_entry_xattr_add_entry(e, names + off, val.data(), static_cast<size_t>(v));
    }
    return opaque;
  }

  Status entry(int dfd, const std::string& name, const std::string& rel) {
    struct stat st;
    if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return fail_errno("stat `{}`", rel);
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      auto slash = rel.rfind('/');
      std::string wh = slash == std::string::npos ? ".wh." + rel : rel.substr(0, slash + 1) + ".wh." + name;
      struct archive_entry* e = archive_entry_new();
      archive_entry_set_pathname(e, wh.c_str());
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0);
      archive_entry_set_size(e, 0);
      archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
      return header(e, wh);
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) return fail_errno("open `{}`", rel);
      auto* e = base_entry(rel, st);
      archive_entry_set_filetype(e, AE_IFDIR);
      bool opaque = add_xattrs(sub.get(), e);
      BERTH_TRY(header(e, rel));
      if (opaque) {
        struct archive_entry* o = archive_entry_new();
        std::string p = rel + "/.wh..wh..opq";
        archive_entry_set_pathname(o, p.c_str());
        archive_entry_set_filetype(o, AE_IFREG);
        archive_entry_set_perm(o, 0);
        archive_entry_set_size(o, 0);
        archive_entry_set_mtime(o, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        BERTH_TRY(header(o, p));
      }
      return dir(sub.get(), rel);
    }
    auto* e = base_entry(rel, st);
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
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

}  // namespace

Result<uint64_t> write_overlay_diff_tar(const std::string& upper_dir, const std::function<Status(std::string_view)>& sink,
                                        const DiffOptions& opts) {
  UniqueFd root(::open(upper_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_errno("open `{}`", upper_dir);
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_write_new(), archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_per_block(a.get(), 10240);
  archive_write_set_bytes_in_last_block(a.get(), 1);
  Sink s{&sink};
  if (archive_write_open(a.get(), &s, nullptr, write_cb, nullptr) != ARCHIVE_OK)
    return fail(Errc::Internal, "diff: {}", archive_error_string(a.get()));
  Walker w(a.get(), s, opts);
  BERTH_TRY(w.dir(root.get(), ""));
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    if (s.failed) return fail(s.err);
    return fail(Errc::Internal, "diff: close: {}", archive_error_string(a.get()));
  }
  return w.entries();
}

Result<DiffResult> commit_overlay_diff(const std::string& upper_dir, content::Ingester& store, const DiffOptions& opts) {
  content::WriterOptions wo;
  wo.ref = fmt::format("diff-{}-{}", upper_dir, std::random_device{}());
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
  auto entries = write_overlay_diff_tar(upper_dir, sink, opts);
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

}  // namespace berth::image::snapshot
