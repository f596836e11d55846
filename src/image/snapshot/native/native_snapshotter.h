#pragma once
// NativeSnapshotter: the copy-based fallback for filesystems without overlayfs. Every snapshot holds a full
// tree: prepare() copies the parent's tree (reflink where the filesystem can, else copy_file_range; owners,
// modes, times, xattrs, symlinks, devices and hardlinks preserved), and layers are applied on top of that copy
// (LayerStyle::Applied: whiteouts delete). Mounts are binds. Layout: see dir_snapshots.h.

#include <memory>

#include "image/snapshot/dir_snapshots.h"

namespace berth::image::snapshot {

class NativeSnapshotter final : public Snapshotter {
 public:
  static Result<std::unique_ptr<NativeSnapshotter>> open(const std::string& root);

  std::string_view name() const override { return "native"; }
  LayerStyle layer_style() const override { return LayerStyle::Applied; }
  Result<Info> stat(const std::string& key) override;
  Result<std::vector<Mount>> prepare(const std::string& key, const std::string& parent) override;
  Result<std::vector<Mount>> prepare_ephemeral(const std::string& key, const std::string& parent) override;
  Result<std::vector<Mount>> view(const std::string& key, const std::string& parent) override;
  Result<std::vector<Mount>> mounts(const std::string& key) override;
  Status commit(const std::string& name, const std::string& key) override;
  Status remove(const std::string& key) override;
  Status walk(const std::function<Status(const Info&)>& fn) override;
  Result<std::string> writable_dir(const std::string& key) override;
  Result<std::string> upper_dir(const std::string& key) override;
  Result<std::vector<std::string>> layer_dirs(const std::string& key) override;

 private:
  explicit NativeSnapshotter(DirSnapshots d) : d_(std::move(d)) {}
  Result<std::vector<Mount>> create(const std::string& key, const std::string& parent, Kind kind, bool durable = true);
  DirSnapshots d_;
};

// Copies the tree under src_dir into the existing empty dst_dir (both directory fds), never following symlinks.
Status copy_tree(int src_dir, int dst_dir);

}  // namespace berth::image::snapshot
