#pragma once
// Content store: immutable, content-addressed blobs (layers, manifests, configs) plus in-progress ingests.
//
// Roles (containerd's content.Store split, so a consumer asks only for what it needs):
//   Provider  read committed blobs: info(), reader().
//   Ingester  write new blobs: writer(ref) -> Writer -> commit().
//   Manager   enumerate and delete: walk(), remove(), ingests(), abort_ingest().
//   Store     all three.
//
// Lifecycle of a blob:
//   writer(ref) ... write() ... commit(size, digest)   -> visible to readers, atomically and durably
//   The bytes land in a private ingest keyed by `ref` (any caller-chosen string, e.g. "pull-<digest>"). commit()
//   checks size and digest, fsyncs, renames into place and fsyncs the directory: once it returns, the blob
//   survives a crash. Before commit, nothing is visible through Provider.
//   Dropping a Writer without commit keeps the ingest: a later writer(ref) resumes at offset() (the bytes
//   written so far are re-hashed on open). abort() or abort_ingest() discards it.
//
// Concurrency: all Store methods are thread- and process-safe (state lives in the filesystem). A Writer is
// used by one thread. Two writers may not hold the same ref at once: the second writer(ref) fails with
// Errc::Unavailable ("locked"), or waits when WriterOptions::wait is set. Two writers of the same blob under
// different refs are safe: the first commit wins, the second commit() returns Errc::AlreadyExists and removes
// its ingest (the blob is intact either way).
//
// Garbage collection is not decided here: this layer only offers walk()/remove(); the metadata layer knows
// the roots (images, leases) and sweeps through Manager (see image/metadata/gc.h).
//
// Errors: NotFound (no such blob/ingest), AlreadyExists (blob exists), FailedPrecondition (size or digest
// mismatch at commit; the ingest is kept for inspection unless the caller aborts), InvalidArgument (bad
// ref), Unavailable (ref locked), Internal/PermissionDenied from the filesystem.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "oci/digest.h"

namespace berth::image::content {

using oci::Digest;

struct Info {
  Digest digest;
  int64_t size = 0;
  int64_t committed_at_unix_ns = 0;  // mtime of the committed blob
};

// Random-access reader over a committed blob. Not thread-safe unless noted.
class ReaderAt {
 public:
  virtual ~ReaderAt() = default;
  virtual int64_t size() const = 0;
  // Reads up to n bytes at offset; returns 0 at end. Thread-safe (pread).
  virtual Result<size_t> read_at(void* buf, size_t n, int64_t offset) = 0;
  // A file descriptor positioned at 0 if the implementation has one (for sendfile/mmap), else -1.
  virtual int fd() const { return -1; }
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual Result<Info> info(const Digest& d) = 0;  // NotFound if absent
  virtual Result<std::unique_ptr<ReaderAt>> reader(const Digest& d) = 0;
};

struct WriterOptions {
  std::string ref;             // required, <= 1024 bytes, any characters
  int64_t expected_size = -1;  // if known: used for status; checked at commit when commit() gets -1
  Digest expected;             // if known: writer() fails AlreadyExists when this blob is already committed
  bool wait = false;           // wait for a concurrent writer on the same ref instead of failing Unavailable
};

class Writer {
 public:
  virtual ~Writer() = default;  // releases the ref lock; the ingest stays for resumption
  virtual const std::string& ref() const = 0;
  // Bytes in the ingest so far (non-zero when resuming).
  virtual int64_t offset() const = 0;
  virtual Status write(std::string_view data) = 0;
  // Discards everything written (resume from zero).
  virtual Status truncate() = 0;
  // Digest of the bytes so far.
  virtual Digest digest() const = 0;
  // size < 0 / empty digest: not checked (then WriterOptions' values are used if set).
  // On success the blob is durable and the ingest is gone. The Writer is unusable afterwards.
  virtual Result<Digest> commit(int64_t size, const Digest& expected) = 0;
  // Removes the ingest.
  virtual Status abort() = 0;
};

class Ingester {
 public:
  virtual ~Ingester() = default;
  virtual Result<std::unique_ptr<Writer>> writer(const WriterOptions& opts) = 0;
};

struct IngestStatus {
  std::string ref;
  int64_t offset = 0;
  int64_t total = -1;
  int64_t updated_at_unix_ns = 0;
};

class Manager {
 public:
  virtual ~Manager() = default;
  // Calls fn for every committed blob; stops early and returns fn's error if it fails.
  virtual Status walk(const std::function<Status(const Info&)>& fn) = 0;
  virtual Status remove(const Digest& d) = 0;  // NotFound if absent
  virtual Result<std::vector<IngestStatus>> ingests() = 0;
  virtual Result<IngestStatus> ingest_status(const std::string& ref) = 0;
  // Removes an ingest that nobody holds (Unavailable if a writer holds it, NotFound if absent).
  virtual Status abort_ingest(const std::string& ref) = 0;
};

class Store : public Provider, public Ingester, public Manager {};

// Helpers over the roles.
// Reads a whole blob (at most max_bytes, else InvalidArgument) and verifies its digest.
Result<std::string> read_blob(Provider& p, const Digest& d, size_t max_bytes = 16 << 20);
// Writes a whole in-memory blob under ref "<prefix>-<digest>"; AlreadyExists is success. Returns the digest.
Result<Digest> write_blob(Ingester& in, std::string_view data, const Digest& expected = {});
// Copies a committed blob out to fd.
Status copy_blob_to_fd(Provider& p, const Digest& d, int fd);

}  // namespace berth::image::content
