#pragma once
// BlobStore: the slice of a content store the registry client and server need: stat, read (with an fd for
// sendfile), resumable ingest under a caller-chosen ref with digest verification at commit, enumerate and
// remove. It has the shape of image/content's Store (info/reader/writer/walk/remove); the one implementation
// is image/content's LocalStore behind content_adapter.h (an OCI image layout directory opens the same way:
// its blobs/sha256/<hex> tree is LocalStore's).
//
// Semantics are the content store's (image/content/store.h): dropping a writer keeps the ingest so a later
// writer(ref) resumes at offset(); commit verifies size and digest and is durable; errors NotFound,
// AlreadyExists (blob already present; intact), FailedPrecondition (size/digest mismatch), Unavailable (ref
// held by another writer). Thread/process safety: every method may be called concurrently; a writer is used by
// one thread at a time.

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

}  // namespace berth::image::registry
