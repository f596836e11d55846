#pragma once
// On-disk state of `berth registry serve`: blobs shared by every repository (one image/content store), plus per-repository
// links so a blob or manifest is visible only in repositories that received (or mounted) it.
//
//   <root>/
//     blobs/sha256/<hex>, ingest/...          image/content's LocalStore: blob content, manifests included
//     repositories/<name>/                    <name> may contain '/', each component validated first
//       _layers/sha256/<hex>                  empty file: blob linked into this repository
//       _manifests/revisions/sha256/<hex>     the manifest's media type (its bytes are blob <hex>)
//       _manifests/tags/<tag>                 "sha256:<hex>" of the tagged manifest
//       _referrers/sha256/<subject>/<hex>     descriptor JSON of a manifest whose subject is <subject>
//     uploads/<uuid>                          "<repository>": an open upload session; its bytes are the
//                                             blob-store ingest "upload-<uuid>" (so sessions survive restarts)
//
// Every name reaching a path (repository, tag, digest hex, upload uuid) is validated against the distribution
// grammar first, so no component can be "..", empty, or contain a separator it should not. Link and tag writes
// are durable (write_file_atomic) before the HTTP response acknowledges them.
//
// Thread-safety: all methods may be called concurrently; metadata writes are serialised by one mutex, blob
// ingest concurrency is the content store's.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "image/content/store.h"

namespace berth::registry {

using oci::Digest;

struct ManifestRecord {
  Digest digest;
  std::string media_type;
  std::string body;
};

struct GcStats {
  int blobs_removed = 0;
  int64_t bytes_removed = 0;
  int blobs_kept = 0;
  int manifests_removed = 0;
  int uploads_removed = 0;
};

class Storage {
 public:
  static Result<std::unique_ptr<Storage>> open(const std::string& root);
  image::content::Store& blobs() { return *blobs_; }
  const std::string& root() const { return root_; }

  // --- blobs in a repository --------------------------------------------------------------------------------
  // NotFound unless the blob exists and is linked into repo.
  Result<image::content::Info> stat_blob(const std::string& repo, const Digest& d);
  Status link_blob(const std::string& repo, const Digest& d);
  Status unlink_blob(const std::string& repo, const Digest& d);  // NotFound if not linked

  // --- upload sessions ----------------------------------------------------------------------------------------
  struct Upload {
    std::string uuid;
    std::string repo;
    std::mutex mu;                        // one request at a time per session
    std::unique_ptr<image::content::Writer> writer;   // guarded by mu
  };
  Result<std::shared_ptr<Upload>> start_upload(const std::string& repo);
  // NotFound for unknown sessions or a session of another repository.
  Result<std::shared_ptr<Upload>> find_upload(const std::string& repo, const std::string& uuid);
  // Commits the session's bytes as blob `d` (FailedPrecondition on a digest mismatch, after which the session
  // is gone) and links it into the repository.
  Status finish_upload(Upload& u, const Digest& d);
  Status cancel_upload(Upload& u);

  // --- manifests ----------------------------------------------------------------------------------------------
  // Stores an already validated manifest; tag may be empty. Returns its digest.
  Result<Digest> put_manifest(const std::string& repo, const std::string& tag, const std::string& body,
                              const std::string& media_type, const std::optional<Digest>& subject,
                              const std::string& referrer_descriptor_json);
  // reference: tag or digest. NotFound when absent from the repository.
  Result<ManifestRecord> get_manifest(const std::string& repo, const std::string& reference);
  bool has_manifest(const std::string& repo, const Digest& d);
  // Deleting by digest removes the revision, every tag naming it and its referrer entry; by tag, the tag only.
  Status delete_manifest(const std::string& repo, const std::string& reference);

  bool repo_exists(const std::string& repo);
  Result<std::vector<std::string>> tags(const std::string& repo);  // sorted
  Result<std::vector<std::string>> repositories();                 // sorted
  Result<std::vector<std::string>> referrers(const std::string& repo, const Digest& subject);

  // Mark and sweep over every repository. Meant for a stopped registry (as distribution's garbage-collect).
  // delete_untagged also drops manifests no tag reaches (directly or as an index child or a referrer).
  Result<GcStats> gc(bool delete_untagged);

 private:
  Storage(std::string root, std::unique_ptr<image::content::Store> b) : root_(std::move(root)), blobs_(std::move(b)) {}
  std::string repo_dir(const std::string& repo) const { return root_ + "/repositories/" + repo; }
  Result<std::optional<Digest>> resolve(const std::string& repo, const std::string& reference);

  std::string root_;
  std::unique_ptr<image::content::Store> blobs_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Upload>> uploads_;  // guarded by mu_
};

}  // namespace berth::registry
