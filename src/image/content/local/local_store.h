#pragma once
// LocalStore: the content store on a local filesystem.
//
// On-disk layout under root:
//   blobs/
//     sha256/<hex>            committed blob, mode 0444, never modified in place
//   ingest/
//     <sha256(ref) hex>/      one directory per ingest ref (hashed so any ref text is a safe name)
//       ref                   the ref text
//       total                 expected size, decimal (absent if unknown)
//       data                  bytes received so far
//     The directory itself is flock()ed (LOCK_EX) by the Writer that holds the ref, so the lock vanishes with
//     the process. A directory found with st_nlink == 0 after locking was removed by the previous holder
//     (committed or aborted) and the open is retried.
//
// Commit: fsync(data) -> check size/digest -> fchmod 0444 -> renameat2(RENAME_NOREPLACE) into blobs/sha256/
// -> fsync(blobs/sha256) -> remove the ingest directory (failures after the rename are only logged).
// Blob and ingest directories must be on one filesystem (rename).

#include <memory>
#include <string>

#include "image/content/store.h"

namespace berth::image::content {

class LocalStore final : public Store {
 public:
  // Creates root/blobs/sha256 and root/ingest if missing.
  static Result<std::unique_ptr<LocalStore>> open(const std::string& root);

  Result<Info> info(const Digest& d) override;
  Result<std::unique_ptr<ReaderAt>> reader(const Digest& d) override;
  Result<std::unique_ptr<Writer>> writer(const WriterOptions& opts) override;
  Status walk(const std::function<Status(const Info&)>& fn) override;
  Status remove(const Digest& d) override;
  Result<std::vector<IngestStatus>> ingests() override;
  Result<IngestStatus> ingest_status(const std::string& ref) override;
  Status abort_ingest(const std::string& ref) override;

  const std::string& root() const { return root_; }
  // Path of a committed blob (for tools that need a path, e.g. tar export); the blob may not exist.
  std::string blob_path(const Digest& d) const;

 private:
  explicit LocalStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace berth::image::content
