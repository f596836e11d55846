#pragma once
// Shared bookkeeping of the directory-based snapshotters (overlay/, native/).
//
// On-disk layout under root:
//   lock                    flock()ed around every metadata change (several processes may share a root)
//   snapshots/<id>/         id = hex sha256 of the key (keys are chain IDs or arbitrary text)
//     info.json             {"key","parent","kind","created"}; written before the directory is renamed
//                           into place, so a directory whose info names another key is debris of a crash
//     fs/                   the snapshot's own content (overlay: upper or layer diff; native: full tree)
//     work/                 overlay work dir (Active overlay snapshots only)
//   tmp/<random>/           snapshots under construction; renamed into snapshots/ when complete
//
// commit(name, key): info.json rewritten with {name, Committed}, then snapshots/<id(key)> renamed to
// snapshots/<id(name)> with RENAME_NOREPLACE (so a concurrent extractor of the same layer loses cleanly).

#include <mutex>
#include <string>

#include "image/snapshot/snapshotter.h"

namespace berth::image::snapshot {

class DirSnapshots {
 public:
  static Result<DirSnapshots> open(const std::string& root);

  std::string id(const std::string& key) const;
  std::string dir(const std::string& key) const { return root_ + "/snapshots/" + id(key); }
  const std::string& root() const { return root_; }

  Result<Info> stat(const std::string& key) const;
  // Creates snapshots/<id(key)> with fs/ (and work/ if with_work) and info; AlreadyExists if taken.
  // `fill` runs on the temporary fs dir before it becomes visible (native copies the parent there).
  // durable=false (throw-away snapshots): info.json and the rename are not fsync'd.
  Status create(const Info& info, bool with_work, const std::function<Status(const std::string& fs)>& fill,
                bool durable = true);
  // new_parent: record this parent instead of the one given at prepare (overlay layers extracted unparented).
  Status commit(const std::string& name, const std::string& key, const std::string* new_parent = nullptr);
  // A snapshot whose info.json is unreadable (a throw-away snapshot torn by a host crash) is removed too.
  Status remove(const std::string& key);
  Status walk(const std::function<Status(const Info&)>& fn) const;
  // Parent chain of key, nearest first, excluding key itself.
  Result<std::vector<Info>> parents(const std::string& key) const;

 private:
  explicit DirSnapshots(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

// Process + file lock over a DirSnapshots root.
class RootLock {
 public:
  explicit RootLock(const std::string& root);
  ~RootLock();
  RootLock(const RootLock&) = delete;
  RootLock& operator=(const RootLock&) = delete;

 private:
  int fd_;
  std::unique_lock<std::mutex> l_;
};

}  // namespace berth::image::snapshot
