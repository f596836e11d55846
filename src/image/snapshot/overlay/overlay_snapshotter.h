#pragma once
// OverlaySnapshotter: every snapshot directory holds only its own changes; containers see the stack through
// one overlayfs mount (lowerdir = committed parents' fs dirs, nearest first; upperdir/workdir = the Active
// snapshot's own). Layers are unpacked straight into an Active snapshot's fs dir with overlay whiteouts
// (LayerStyle::Diff) and committed under their chain ID. Layout: see dir_snapshots.h.
//
// Mount options always carry index=off,redirect_dir=off,metacopy=off so the upper dir of a container holds
// plain files, whiteout devices and opaque xattrs only — what diff.h turns back into a layer tar.

#include <memory>

#include "image/snapshot/dir_snapshots.h"

namespace berth::image::snapshot {

class OverlaySnapshotter final : public Snapshotter {
 public:
  static Result<std::unique_ptr<OverlaySnapshotter>> open(const std::string& root);
  // True if the running kernel has overlayfs (/proc/filesystems).
  static bool supported();

  std::string_view name() const override { return "overlay"; }
  LayerStyle layer_style() const override { return LayerStyle::Diff; }
  Result<Info> stat(const std::string& key) override;
  Result<std::vector<Mount>> prepare(const std::string& key, const std::string& parent) override;
  Result<std::vector<Mount>> prepare_ephemeral(const std::string& key, const std::string& parent) override;
  Result<std::vector<Mount>> view(const std::string& key, const std::string& parent) override;
  Result<std::vector<Mount>> mounts(const std::string& key) override;
  Status commit(const std::string& name, const std::string& key) override;
  Status commit_over(const std::string& name, const std::string& key, const std::string& parent) override;
  Status remove(const std::string& key) override;
  Status walk(const std::function<Status(const Info&)>& fn) override;
  Result<std::string> writable_dir(const std::string& key) override;
  Result<std::string> upper_dir(const std::string& key) override { return writable_dir(key); }
  Result<std::vector<std::string>> layer_dirs(const std::string& key) override;

 private:
  explicit OverlaySnapshotter(DirSnapshots d) : d_(std::move(d)) {}
  Result<std::vector<Mount>> create(const std::string& key, const std::string& parent, Kind kind, bool durable = true);
  DirSnapshots d_;
};

}  // namespace berth::image::snapshot
