#include "image/registry/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "base/file.h"
#include "base/log.h"
#include "base/unique_fd.h"

namespace berth::image::registry {

Result<std::string> read_blob(BlobStore& s, const Digest& d, size_t max_bytes) {
  auto r = BERTH_TRY(s.reader(d));
  if (r->size() < 0 || static_cast<size_t>(r->size()) > max_bytes)
    return fail(Errc::InvalidArgument, "blob {} of {} bytes exceeds {}", d, r->size(), max_bytes);
  std::string out(static_cast<size_t>(r->size()), '\0');
  size_t off = 0;
  while (off < out.size()) {
    size_t n = BERTH_TRY(r->read_at(out.data() + off, out.size() - off, static_cast<int64_t>(off)));
    if (n == 0) return fail(Errc::Internal, "blob {}: short read", d);
    off += n;
  }
  if (Digest::sha256_of(out) != d && d.algorithm() == oci::DigestAlgorithm::Sha256)
    return fail(Errc::FailedPrecondition, "blob {}: content does not match its digest", d);
  return out;
}

Result<Digest> write_blob(BlobStore& s, std::string_view data) {
  Digest d = Digest::sha256_of(data);
  if (s.info(d)) return d;
  auto w = BERTH_TRY(s.writer("write-" + d.str()));
  BERTH_TRY(w->truncate());
  BERTH_TRY(w->write(data));
  auto c = w->commit(static_cast<int64_t>(data.size()), d);
  if (!c && c.error().code() != Errc::AlreadyExists) return fail(std::move(c).error());
  return d;
}

namespace {

class FsReader final : public BlobReader {
 public:
  FsReader(UniqueFd fd, int64_t size) : fd_(std::move(fd)), size_(size) {}
  int64_t size() const override { return size_; }
  Result<size_t> read_at(void* buf, size_t n, int64_t offset) override {
    for (;;) {
      ssize_t r = ::pread(fd_.get(), buf, n, offset);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return fail_errno("read blob");
      return static_cast<size_t>(r);
    }
  }
  int fd() const override { return fd_.get(); }

 private:
  UniqueFd fd_;
  int64_t size_;
};

class FsWriter final : public BlobWriter {
 public:
  FsWriter(std::string blobs_dir, std::string dir, UniqueFd dirfd, UniqueFd data)
      : blobs_dir_(std::move(blobs_dir)), dir_(std::move(dir)), dirfd_(std::move(dirfd)), data_(std::move(data)) {}

  Status rehash() {
    char buf[1 << 16];
    off_t off = 0;
    for (;;) {
      ssize_t r = ::pread(data_.get(), buf, sizeof buf, off);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return fail_errno("read ingest `{}`", dir_);
      if (r == 0) break;
      hasher_.update(buf, static_cast<size_t>(r));
      off += r;
    }
    offset_ = off;
    return ok();
  }

  int64_t offset() const override { return offset_; }

  Status write(std::string_view data) override {
    const char* p = data.data();
    size_t n = data.size();
    while (n > 0) {
      ssize_t w = ::pwrite(data_.get(), p, n, offset_);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return fail_errno("write ingest `{}`", dir_);
      hasher_.update(p, static_cast<size_t>(w));
      p += w;
      n -= static_cast<size_t>(w);
      offset_ += w;
    }
    return ok();
  }

  Status truncate() override {
    if (::ftruncate(data_.get(), 0) < 0) return fail_errno("truncate ingest `{}`", dir_);
    hasher_ = oci::Hasher();
    offset_ = 0;
    return ok();
  }

  Digest digest() const override { return const_cast<FsWriter*>(this)->peek_digest(); }

  Result<Digest> commit(int64_t size, const Digest& expected) override {
    if (size >= 0 && size != offset_)
      return fail(Errc::FailedPrecondition, "size mismatch: got {} bytes, want {}", offset_, size);
    Digest got = hasher_.digest();  // final: the writer is unusable after commit
    if (expected && expected != got)
      return fail(Errc::FailedPrecondition, "digest mismatch: got {}, want {}", got, expected);
    if (::fsync(data_.get()) < 0) return fail_errno("fsync ingest `{}`", dir_);
    ::fchmod(data_.get(), 0444);
    std::string dst = blobs_dir_ + "/" + std::string(got.hex());
    std::string src = dir_ + "/data";
    bool existed = false;
    if (::renameat2(AT_FDCWD, src.c_str(), AT_FDCWD, dst.c_str(), RENAME_NOREPLACE) < 0) {
      if (errno != EEXIST) return fail_errno("commit `{}`", dst);
      existed = true;
    }
    if (!existed) {
      if (auto st = fsync_dir(blobs_dir_); !st) log::warn("blob store: {}", st.error().message());
    }
    if (auto st = remove_all(dir_); !st) log::warn("blob store: remove ingest: {}", st.error().message());
    if (existed) return fail(Errc::AlreadyExists, "blob {} already exists", got);
    return got;
  }

  Status abort() override { return remove_all(dir_); }

 private:
  Digest peek_digest() {
    // oci::Hasher finalises on digest(), so an intermediate digest re-reads the ingest (rarely needed).
    if (cached_at_ == offset_ && cached_) return cached_;
    oci::Hasher copy;
    char buf[1 << 16];
    off_t off = 0;
    while (off < offset_) {
      ssize_t r = ::pread(data_.get(), buf, std::min<off_t>(sizeof buf, offset_ - off), off);
      if (r <= 0) break;
      copy.update(buf, static_cast<size_t>(r));
      off += r;
    }
    cached_ = copy.digest();
    cached_at_ = offset_;
    return cached_;
  }

  std::string blobs_dir_, dir_;
  UniqueFd dirfd_;  // holds the flock
  UniqueFd data_;
  oci::Hasher hasher_;
  int64_t offset_ = 0;
  Digest cached_;
  int64_t cached_at_ = -1;
};

}  // namespace

Result<std::unique_ptr<FsBlobStore>> FsBlobStore::open(const std::string& root) {
  BERTH_TRY(mkdir_all(root + "/blobs/sha256"));
  BERTH_TRY(mkdir_all(root + "/ingest"));
  return std::unique_ptr<FsBlobStore>(new FsBlobStore(root));
}

std::string FsBlobStore::blob_path(const Digest& d) const {
  return fmt::format("{}/blobs/{}/{}", root_, d.algorithm_name(), d.hex());
}

Result<BlobInfo> FsBlobStore::info(const Digest& d) {
  struct stat st;
  if (::stat(blob_path(d).c_str(), &st) < 0) {
    if (errno == ENOENT) return fail(Errc::NotFound, "blob {} not found", d);
    return fail_errno("stat blob {}", d);
  }
  return BlobInfo{d, st.st_size};
}

Result<std::unique_ptr<BlobReader>> FsBlobStore::reader(const Digest& d) {
  UniqueFd fd(::open(blob_path(d).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return fail(Errc::NotFound, "blob {} not found", d);
    return fail_errno("open blob {}", d);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return fail_errno("stat blob {}", d);
  return std::unique_ptr<BlobReader>(new FsReader(std::move(fd), st.st_size));
}

Result<std::unique_ptr<BlobWriter>> FsBlobStore::writer(const std::string& ref) {
  if (ref.empty() || ref.size() > 1024) return fail(Errc::InvalidArgument, "ingest ref `{}`: bad length", ref);
  std::string dir = fmt::format("{}/ingest/{}", root_, Digest::sha256_of(ref).hex());
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST) return fail_errno("create ingest `{}`", dir);
    UniqueFd dfd(::open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
    if (!dfd) {
      if (errno == ENOENT) continue;
      return fail_errno("open ingest `{}`", dir);
    }
    if (::flock(dfd.get(), LOCK_EX | LOCK_NB) < 0) {
      if (errno == EWOULDBLOCK) return fail(Errc::Unavailable, "ingest `{}` is locked by another writer", ref);
      return fail_errno("lock ingest `{}`", dir);
    }
    struct stat st;
    if (::fstat(dfd.get(), &st) < 0) return fail_errno("stat ingest `{}`", dir);
    if (st.st_nlink == 0) continue;  // removed by the previous holder; retry
    BERTH_TRY(write_file_atomic_at(dfd.get(), "ref", ref, 0600));
    UniqueFd data(::openat(dfd.get(), "data", O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!data) return fail_errno("open ingest data `{}`", dir);
    auto w = std::make_unique<FsWriter>(root_ + "/blobs/sha256", dir, std::move(dfd), std::move(data));
    BERTH_TRY(w->rehash());
    return std::unique_ptr<BlobWriter>(std::move(w));
  }
  return fail(Errc::Unavailable, "ingest `{}`: kept disappearing while opening", ref);
}

Status FsBlobStore::abort_ingest(const std::string& ref) {
  std::string dir = fmt::format("{}/ingest/{}", root_, Digest::sha256_of(ref).hex());
  struct stat st;
  if (::stat(dir.c_str(), &st) < 0) return fail(Errc::NotFound, "ingest `{}` not found", ref);
  return remove_all(dir);
}

Status FsBlobStore::remove(const Digest& d) {
  if (::unlink(blob_path(d).c_str()) < 0) {
    if (errno == ENOENT) return fail(Errc::NotFound, "blob {} not found", d);
    return fail_errno("remove blob {}", d);
  }
  return ok();
}

Status FsBlobStore::walk(const std::function<Status(const BlobInfo&)>& fn) {
  std::string dir = root_ + "/blobs/sha256";
  DIR* dp = ::opendir(dir.c_str());
  if (!dp) return fail_errno("open `{}`", dir);
  std::vector<std::string> names;
  while (auto* e = ::readdir(dp)) {
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  ::closedir(dp);
  for (const auto& n : names) {
    auto d = Digest::from_hex(oci::DigestAlgorithm::Sha256, n);
    if (!d) continue;
    auto i = info(*d);
    if (!i) continue;
    BERTH_TRY(fn(*i));
  }
  return ok();
}

}  // namespace berth::image::registry
