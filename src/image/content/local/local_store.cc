#include "image/content/local/local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "base/unique_fd.h"

namespace berth::image::content {

namespace {

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

class FileReader final : public ReaderAt {
 public:
  FileReader(UniqueFd fd, int64_t size) : fd_(std::move(fd)), size_(size) {}
  int64_t size() const override { return size_; }
  Result<size_t> read_at(void* buf, size_t n, int64_t off) override {
    for (;;) {
      ssize_t r = ::pread(fd_.get(), buf, n, off);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return fail_errno("pread blob");
      return static_cast<size_t>(r);
    }
  }
  int fd() const override { return fd_.get(); }

 private:
  UniqueFd fd_;
  int64_t size_;
};

std::string ingest_name(const std::string& ref) { return std::string(Digest::sha256_of(ref).hex()); }

Status validate_ref(const std::string& ref) {
  if (ref.empty()) return fail(Errc::InvalidArgument, "ingest ref must not be empty");
  if (ref.size() > 1024) return fail(Errc::InvalidArgument, "ingest ref longer than 1024 bytes");
  return ok();
}

// Removes the regular files of an ingest directory and the directory itself.
void remove_ingest_dir(int ingest_root, int dirfd, const std::string& name) {
  for (const char* f : {"data", "ref", "total"}) ::unlinkat(dirfd, f, 0);
  if (::unlinkat(ingest_root, name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
    log::warn("content: remove ingest dir {}: {}", name, std::strerror(errno));
}

Result<int64_t> read_total(int dirfd) {
  UniqueFd fd(::openat(dirfd, "total", O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return int64_t{-1};
  auto s = BERTH_TRY(read_fd(fd.get(), 64));
  try {
    return static_cast<int64_t>(std::stoll(s));
  } catch (...) {
    return int64_t{-1};
  }
}

class LocalWriter final : public Writer {
 public:
  LocalWriter(LocalStore& store, int ingest_root, int blobs_dir, UniqueFd dir, std::string name, std::string ref,
              UniqueFd data, WriterOptions opts)
      : store_(store),
        ingest_root_(ingest_root),
        blobs_dir_(blobs_dir),
        dir_(std::move(dir)),
        name_(std::move(name)),
        ref_(std::move(ref)),
        data_(std::move(data)),
        opts_(std::move(opts)) {}
  ~LocalWriter() override {
    ::close(ingest_root_);
    ::close(blobs_dir_);
  }

  Status rehash() {
    hasher_ = oci::Hasher();
    offset_ = 0;
    std::string buf(1 << 20, '\0');
    for (;;) {
      ssize_t r = ::pread(data_.get(), buf.data(), buf.size(), offset_);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return fail_errno("read ingest `{}`", ref_);
      if (r == 0) break;
      hasher_.update(buf.data(), static_cast<size_t>(r));
      offset_ += r;
    }
    return ok();
  }

  const std::string& ref() const override { return ref_; }
  int64_t offset() const override { return offset_; }

  Status write(std::string_view data) override {
    if (done_) return fail(Errc::FailedPrecondition, "ingest `{}`: writer already committed or aborted", ref_);
    const char* p = data.data();
    size_t n = data.size();
    while (n > 0) {
      ssize_t w = ::pwrite(data_.get(), p, n, offset_);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return fail_errno("write ingest `{}`", ref_);
      hasher_.update(p, static_cast<size_t>(w));
      offset_ += w;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return ok();
  }

  Status truncate() override {
    if (done_) return fail(Errc::FailedPrecondition, "ingest `{}`: writer already committed or aborted", ref_);
    if (::ftruncate(data_.get(), 0) < 0) return fail_errno("truncate ingest `{}`", ref_);
    hasher_ = oci::Hasher();
    offset_ = 0;
    return ok();
  }

  Digest digest() const override {
    return hasher_.clone().digest();
  }

  Result<Digest> commit(int64_t size, const Digest& expected) override {
    if (done_) return fail(Errc::FailedPrecondition, "ingest `{}`: writer already committed or aborted", ref_);
    if (size < 0) size = opts_.expected_size;
    Digest want = expected ? expected : opts_.expected;
    if (size >= 0 && size != offset_)
      return fail(Errc::FailedPrecondition, "commit `{}`: size mismatch: got {} bytes, want {}", ref_, offset_, size);
    if (::fsync(data_.get()) < 0) return fail_errno("fsync ingest `{}`", ref_);
    Digest got = hasher_.digest();
    done_ = true;
    if (want && got != want)
      return fail(Errc::FailedPrecondition, "commit `{}`: digest mismatch: got {}, want {}", ref_, got, want);
    if (::fchmod(data_.get(), 0444) < 0) return fail_errno("chmod ingest `{}`", ref_);
    std::string hex(got.hex());
    if (::renameat2(dir_.get(), "data", blobs_dir_, hex.c_str(), RENAME_NOREPLACE) < 0) {
      int e = errno;
      if (e == EEXIST) {
        remove_ingest_dir(ingest_root_, dir_.get(), name_);
        return fail(Errc::AlreadyExists, "content {} already exists", got);
      }
      return fail_errno_n(e, "commit `{}`: rename into blobs", ref_);
    }
    if (::fsync(blobs_dir_) < 0) log::warn("content: fsync blobs dir after commit of {}: {}", got, std::strerror(errno));
    remove_ingest_dir(ingest_root_, dir_.get(), name_);
    (void)store_;
    return got;
  }

  Status abort() override {
    done_ = true;
    remove_ingest_dir(ingest_root_, dir_.get(), name_);
    return ok();
  }

 private:
  LocalStore& store_;
  int ingest_root_;
  int blobs_dir_;
  UniqueFd dir_;  // flock()ed
  std::string name_;
  std::string ref_;
  UniqueFd data_;
  WriterOptions opts_;
  oci::Hasher hasher_;
  int64_t offset_ = 0;
  bool done_ = false;
};

}  // namespace

Result<std::unique_ptr<LocalStore>> LocalStore::open(const std::string& root) {
  BERTH_TRY(mkdir_all(root + "/blobs/sha256", 0755));
  BERTH_TRY(mkdir_all(root + "/ingest", 0700));
  return std::unique_ptr<LocalStore>(new LocalStore(root));
}

std::string LocalStore::blob_path(const Digest& d) const {
  return fmt::format("{}/blobs/{}/{}", root_, d.algorithm_name(), d.hex());
}

Result<Info> LocalStore::info(const Digest& d) {
  struct stat st;
  if (d.empty()) return fail(Errc::InvalidArgument, "empty digest");
  if (::lstat(blob_path(d).c_str(), &st) < 0) {
    if (errno == ENOENT) return fail(Errc::NotFound, "content {} not found", d);
    return fail_errno("stat blob {}", d.str());
  }
  return Info{d, static_cast<int64_t>(st.st_size), mtime_ns(st)};
}

Result<std::unique_ptr<ReaderAt>> LocalStore::reader(const Digest& d) {
  if (d.empty()) return fail(Errc::InvalidArgument, "empty digest");
  UniqueFd fd(::open(blob_path(d).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENOENT) return fail(Errc::NotFound, "content {} not found", d);
    return fail_errno("open blob {}", d.str());
  }
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return fail_errno("stat blob {}", d.str());
  return std::unique_ptr<ReaderAt>(new FileReader(std::move(fd), st.st_size));
}

Result<std::unique_ptr<Writer>> LocalStore::writer(const WriterOptions& opts) {
  BERTH_TRY(validate_ref(opts.ref));
  if (opts.expected) {
    auto i = info(opts.expected);
    if (i) return fail(Errc::AlreadyExists, "content {} already exists", opts.expected);
  }
  std::string name = ingest_name(opts.ref);
  UniqueFd ingest_root(::open((root_ + "/ingest").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!ingest_root) return fail_errno("open ingest dir");
  UniqueFd blobs(::open((root_ + "/blobs/sha256").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!blobs) return fail_errno("open blobs dir");
  for (int attempt = 0;; attempt++) {
    if (attempt > 100) return fail(Errc::Unavailable, "ingest `{}`: could not settle on a directory", opts.ref);
    if (::mkdirat(ingest_root.get(), name.c_str(), 0700) < 0 && errno != EEXIST)
      return fail_errno("create ingest `{}`", opts.ref);
    UniqueFd dir(::openat(ingest_root.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!dir) {
      if (errno == ENOENT) continue;  // removed between mkdir and open
      return fail_errno("open ingest `{}`", opts.ref);
    }
    if (::flock(dir.get(), LOCK_EX | (opts.wait ? 0 : LOCK_NB)) < 0) {
      if (errno == EWOULDBLOCK)
        return fail(Errc::Unavailable, "ingest `{}` is locked by another writer", opts.ref);
      return fail_errno("lock ingest `{}`", opts.ref);
    }
    struct stat st;
    if (::fstat(dir.get(), &st) < 0) return fail_errno("stat ingest `{}`", opts.ref);
    if (st.st_nlink == 0) {
      // The previous holder finished (commit or abort) while we waited.
      if (opts.expected && info(opts.expected))
        return fail(Errc::AlreadyExists, "content {} already exists", opts.expected);
      continue;
    }
    UniqueFd data(::openat(dir.get(), "data", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!data) return fail_errno("open ingest data `{}`", opts.ref);
    struct stat rst;
    if (::fstatat(dir.get(), "ref", &rst, AT_SYMLINK_NOFOLLOW) < 0)
      BERTH_TRY_CTX(write_file_atomic_at(dir.get(), "ref", opts.ref, 0600), "ingest `{}`", opts.ref);
    if (opts.expected_size >= 0)
      BERTH_TRY_CTX(write_file_atomic_at(dir.get(), "total", std::to_string(opts.expected_size), 0600),
                    "ingest `{}`", opts.ref);
    auto w = std::make_unique<LocalWriter>(*this, ingest_root.release(), blobs.release(), std::move(dir), name,
                                           opts.ref, std::move(data), opts);
    BERTH_TRY(w->rehash());
    return std::unique_ptr<Writer>(std::move(w));
  }
}

Status LocalStore::walk(const std::function<Status(const Info&)>& fn) {
  std::string dir = root_ + "/blobs/sha256";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return fail_errno("open `{}`", dir);
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    names.emplace_back(e->d_name);
  }
  for (auto& n : names) {
    auto dg = Digest::from_hex(oci::DigestAlgorithm::Sha256, n);
    if (!dg) continue;  // stray file; not ours
    auto i = info(*dg);
    if (!i) {
      if (i.error().code() == Errc::NotFound) continue;  // removed concurrently
      return fail(std::move(i).error());
    }
    BERTH_TRY(fn(*i));
  }
  return ok();
}

Status LocalStore::remove(const Digest& d) {
  if (d.empty()) return fail(Errc::InvalidArgument, "empty digest");
  if (::unlink(blob_path(d).c_str()) < 0) {
    if (errno == ENOENT) return fail(Errc::NotFound, "content {} not found", d);
    return fail_errno("remove blob {}", d.str());
  }
  return ok();
}

Result<IngestStatus> LocalStore::ingest_status(const std::string& ref) {
  BERTH_TRY(validate_ref(ref));
  std::string dir = root_ + "/ingest/" + ingest_name(ref);
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!dfd) {
    if (errno == ENOENT) return fail(Errc::NotFound, "ingest `{}` not found", ref);
    return fail_errno("open ingest `{}`", ref);
  }
  struct stat st;
  if (::fstatat(dfd.get(), "data", &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return fail(Errc::NotFound, "ingest `{}` not found", ref);
    return fail_errno("stat ingest `{}`", ref);
  }
  IngestStatus s;
  s.ref = ref;
  s.offset = st.st_size;
  s.total = BERTH_TRY(read_total(dfd.get()));
  s.updated_at_unix_ns = mtime_ns(st);
  return s;
}

Result<std::vector<IngestStatus>> LocalStore::ingests() {
  std::string dir = root_ + "/ingest";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return fail_errno("open `{}`", dir);
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  std::vector<IngestStatus> out;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto ref = read_file(dir + "/" + e->d_name + "/ref", 4096);
    if (!ref) continue;  // being created or removed
    auto s = ingest_status(*ref);
    if (s) out.push_back(std::move(*s));
  }
  return out;
}

Status LocalStore::abort_ingest(const std::string& ref) {
  BERTH_TRY(validate_ref(ref));
  std::string name = ingest_name(ref);
  UniqueFd root(::open((root_ + "/ingest").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return fail_errno("open ingest dir");
  UniqueFd dir(::openat(root.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!dir) {
    if (errno == ENOENT) return fail(Errc::NotFound, "ingest `{}` not found", ref);
    return fail_errno("open ingest `{}`", ref);
  }
  if (::flock(dir.get(), LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) return fail(Errc::Unavailable, "ingest `{}` is locked by another writer", ref);
    return fail_errno("lock ingest `{}`", ref);
  }
  remove_ingest_dir(root.get(), dir.get(), name);
  return ok();
}

}  // namespace berth::image::content
