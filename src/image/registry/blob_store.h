#pragma once
// BlobStore: the slice of a content store the registry client and server need: stat, read (with an fd for
// sendfile), resumable ingest under a caller-chosen ref with digest verification at commit, enumerate and
// remove. It has the shape of image/content's Store (info/reader/writer/walk/remove) so that store can back it
// through an adapter; FsBlobStore below is a self-contained filesystem implementation.
//
// FsBlobStore layout under root:
//   blobs/sha256/<hex>         committed blob, 0444, never modified in place
//   ingest/<sha256(ref)>/data  bytes received so far for one ingest ref (flock()ed while a writer holds it)
//   ingest/<sha256(ref)>/ref   the ref text
// Commit: fsync(data) -> verify size and digest -> rename into blobs/sha256 -> fsync(blobs/sha256) -> remove
// the ingest directory. Dropping a writer without commit keeps the ingest so a later writer(ref) resumes at
// offset() (the existing bytes are re-hashed on open).
//
// Thread/process safety: every method may be called concurrently. A writer is used by one thread at a time.
// Errors: NotFound (no blob/ingest), AlreadyExists (commit of a blob that is already present; the ingest is
// removed and the blob is intact), FailedPrecondition (size or digest mismatch at commit), Unavailable (ref
// held by another writer), InvalidArgument (bad ref).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"
#include "oci/digest.h"

namespace berth::image::registry {

using oci::Digest;

struct BlobInfo {
  Digest digest;
  int64_t size = 0;
};

class BlobReader {
 public:
  virtual ~BlobReader() = default;
  virtual int64_t size() const = 0;
  // Up to n bytes at offset; 0 at the end. Thread-safe.
  virtual Result<size_t> read_at(void* buf, size_t n, int64_t offset) = 0;
  // An fd usable with pread/sendfile, or -1.
  virtual int fd() const { return -1; }
};

class BlobWriter {
 public:
  virtual ~BlobWriter() = default;  // keeps the ingest for resumption
  virtual int64_t offset() const = 0;
  virtual Status write(std::string_view data) = 0;
  virtual Status truncate() = 0;
  virtual Digest digest() const = 0;
  // size < 0 or an empty digest are not checked. The writer is unusable afterwards.
  virtual Result<Digest> commit(int64_t size, const Digest& expected) = 0;
  virtual Status abort() = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  virtual Result<BlobInfo> info(const Digest& d) = 0;
  virtual Result<std::unique_ptr<BlobReader>> reader(const Digest& d) = 0;
  virtual Result<std::unique_ptr<BlobWriter>> writer(const std::string& ref) = 0;
  virtual Status abort_ingest(const std::string& ref) = 0;
  virtual Status remove(const Digest& d) = 0;
  virtual Status walk(const std::function<Status(const BlobInfo&)>& fn) = 0;
};

// Whole-blob helpers.
Result<std::string> read_blob(BlobStore& s, const Digest& d, size_t max_bytes = 16 << 20);
// Writes data as a blob; AlreadyExists counts as success. Returns its sha256 digest.
Result<Digest> write_blob(BlobStore& s, std::string_view data);

class FsBlobStore final : public BlobStore {
 public:
  static Result<std::unique_ptr<FsBlobStore>> open(const std::string& root);
  Result<BlobInfo> info(const Digest& d) override;
  Result<std::unique_ptr<BlobReader>> reader(const Digest& d) override;
  Result<std::unique_ptr<BlobWriter>> writer(const std::string& ref) override;
  Status abort_ingest(const std::string& ref) override;
  Status remove(const Digest& d) override;
  Status walk(const std::function<Status(const BlobInfo&)>& fn) override;
  std::string blob_path(const Digest& d) const;
  const std::string& root() const { return root_; }

 private:
  explicit FsBlobStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace berth::image::registry
