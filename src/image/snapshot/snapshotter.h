#pragma once
// Snapshotter: filesystem trees for image layers and containers, stacked parent -> child.
//
// Lifecycle (containerd's model):
//   prepare(key, parent)  -> an Active (read-write) snapshot over the committed `parent` (or empty). Its
//                            writable directory can be filled directly (layer unpack) or through the mounts
//                            returned (a container's rootfs).
//   commit(name, key)     -> the Active snapshot becomes Committed under `name` (immutable; may be a parent).
//                            Layers are committed under their chain ID, so a layer shared by several images is
//                            extracted and stored once. If `name` already exists (a concurrent unpack of the same
//                            layer won), commit fails with AlreadyExists and removes the active snapshot.
//   prepare_ephemeral(key, parent) -> prepare() for a throw-away snapshot (an AutoRemove container's writable
//                            layer): its metadata is written without fsyncs. After a host crash it may be gone
//                            or unreadable (stat: NotFound / Internal); remove() still clears it.
//   view(key, parent)     -> a read-only Active snapshot (no upper dir on overlay).
//   remove(key)           -> removes a snapshot without children (FailedPrecondition if it has some).
//
// Errors: NotFound (no such key / parent), AlreadyExists (key or commit name taken), InvalidArgument (parent not
// Committed, commit of a non-Active snapshot), FailedPrecondition (remove with children).
// Thread-safety: methods are thread-safe within one process; keys are the unit of exclusivity.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::image::snapshot {

enum class Kind { Active, View, Committed };
std::string_view kind_name(Kind k);

struct Info {
  std::string key;
  std::string parent;  // "" for a base
  Kind kind = Kind::Active;
  int64_t created_at_ns = 0;
};

// A mount(2) to perform, as OCI runtime-spec mounts describe it (type "overlay" or "bind").
struct Mount {
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

// How layer tar whiteouts must be written into this snapshotter's writable dirs.
enum class LayerStyle {
  Diff,     // each snapshot holds only its own changes (overlay): whiteouts as 0/0 devices + opaque xattr
  Applied,  // each snapshot holds the full tree (native copy): whiteouts delete from the copy
};

class Snapshotter {
 public:
  virtual ~Snapshotter() = default;
  virtual std::string_view name() const = 0;
  virtual LayerStyle layer_style() const = 0;

  virtual Result<Info> stat(const std::string& key) = 0;
  virtual Result<std::vector<Mount>> prepare(const std::string& key, const std::string& parent) = 0;
  virtual Result<std::vector<Mount>> prepare_ephemeral(const std::string& key, const std::string& parent) {
    return prepare(key, parent);
  }
  virtual Result<std::vector<Mount>> view(const std::string& key, const std::string& parent) = 0;
  virtual Result<std::vector<Mount>> mounts(const std::string& key) = 0;
  virtual Status commit(const std::string& name, const std::string& key) = 0;
  // LayerStyle::Diff only: commits an Active snapshot prepared without a parent as `name` stacked on the
  // committed `parent`. A diff layer's content does not depend on what is below it, so an image's layers can be
  // extracted in parallel and stacked in order afterwards. Unimplemented for other styles.
  virtual Status commit_over(const std::string& name, const std::string& key, const std::string& parent) {
    (void)name, (void)key, (void)parent;
    return fail(Errc::Unimplemented, "{} snapshotter: layers are applied on their parent", this->name());
  }
  virtual Status remove(const std::string& key) = 0;
  virtual Status walk(const std::function<Status(const Info&)>& fn) = 0;

  // The directory holding this snapshot's own content: the upper dir of an Active overlay snapshot, the full
  // tree of a native one. Writing there directly (e.g. unpacking a layer) is allowed only while Active.
  virtual Result<std::string> writable_dir(const std::string& key) = 0;
  // The directories that make up the snapshot's tree, top first: overlay -> its own dir then its parents';
  // native -> its own full tree. Read-only use (export, diff).
  virtual Result<std::vector<std::string>> layer_dirs(const std::string& key) = 0;
  // For diffing an Active snapshot: its own changes (overlay upper) and whether whiteouts are overlay-style.
  // Native snapshots have no upper dir (Unimplemented): use commit_snapshot_diff (diff.h), which compares trees.
  virtual Result<std::string> upper_dir(const std::string& key) = 0;
};

}  // namespace berth::image::snapshot
