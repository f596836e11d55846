#pragma once
// VolumeStore: docker's `local` volume driver.
//
// Layout under <data-root>/volumes (owned here; every path below is opened relative to the volumes dir fd,
// names are validated first, and no component is ever followed through a symlink):
//   volumes/
//     <name>/
//       _data/          the volume's content: what containers mount (Mountpoint)
//       volume.json     {"Name","Driver","CreatedAt","Labels","Options","Anonymous","Refs":[container ids]}
//                       written with write_file_atomic_at (tmp -> fsync -> rename -> fsync dir)
//
// One file per volume rather than a database table: every operation touches exactly one volume, the record
// is replaced whole, and the directory is the index; the atomic-rename protocol makes each change durable
// and crash-safe on its own. A directory without volume.json (a crash between mkdir and the first write) is
// ignored by list and removed by the next create of that name.
//
// References: a container that uses a volume holds a reference (acquire at container create, release at
// container removal). References are part of volume.json, so they survive a daemon restart. remove refuses
// a referenced volume (Conflict: "remove <name>: volume is in use - [<ids>]") unless forced; prune skips them.
//
// Names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (docker's rule); "" creates an anonymous volume named by 64 random hex
// digits. Creating an existing name returns it unchanged (docker's idempotent create) unless the request
// names a different driver.
//
// Thread-safety: all methods may be called concurrently (one mutex; directory sizes are computed outside it).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth::engine {

class EventBus;

struct Volume {
  std::string name;
  std::string driver = "local";
  std::string mountpoint;  // <data-root>/volumes/<name>/_data
  std::string created_at;  // RFC 3339, UTC, seconds
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> options;  // driver options (local: type, device, o, size)
  bool anonymous = false;
  std::vector<std::string> refs;  // container IDs holding a reference
};

struct VolumeCreateRequest {
  std::string name;  // "" = anonymous
  std::string driver;  // "" = local
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> options;
  bool anonymous = false;  // an image's declared volume: created nameless; pruned by default
};

struct VolumePruneReport {
  std::vector<std::string> deleted;
  uint64_t space_reclaimed = 0;
};

class VolumeStore {
 public:
  // root: <data-root>/volumes (created). events may be null (no events published).
  static Result<std::unique_ptr<VolumeStore>> open(const std::string& root, EventBus* events);

  // InvalidArgument for a bad name, an unknown driver or driver option.
  Result<Volume> create(const VolumeCreateRequest& req);
  // NotFound: "get <name>: no such volume".
  Result<Volume> get(const std::string& name);
  Result<std::vector<Volume>> list();
  // Conflict when referenced (unless force); NotFound when missing (force: ok).
  Status remove(const std::string& name, bool force);
  // Unreferenced volumes; anonymous only unless `all`. label_filters: "k", "k=v", "!k"... all must match
  // (docker's `label` / `label!` prune filters: negated ones are given with a leading '!').
  Result<VolumePruneReport> prune(bool all, const std::vector<std::string>& label_filters = {});

  // Reference counting by containers (durable). acquire: NotFound when the volume does not exist; taking a
  // reference twice is a no-op. release: releasing an absent reference or volume is a no-op.
  Status acquire(const std::string& name, const std::string& container_id);
  Status release(const std::string& name, const std::string& container_id);
  // Releases every reference container_id holds (container removal); returns the names it held.
  Result<std::vector<std::string>> release_all(const std::string& container_id);

  // Bytes under <name>/_data (regular files' sizes, hard links counted once, mounts not crossed).
  Result<int64_t> usage(const std::string& name);

  const std::string& root() const { return root_; }

 private:
  VolumeStore() = default;
  struct Impl;
  std::string root_;
  std::shared_ptr<Impl> impl_;
};

// Bytes of the regular files under path (hard links once, symlinks not followed, mounts not crossed).
Result<int64_t> directory_usage(const std::string& path);

// docker's volume name rule.
bool valid_volume_name(std::string_view name);

}  // namespace berth::engine
