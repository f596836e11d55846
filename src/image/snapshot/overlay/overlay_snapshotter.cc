#include "image/snapshot/overlay/overlay_snapshotter.h"

#include "base/file.h"

namespace berth::image::snapshot {

Result<std::unique_ptr<OverlaySnapshotter>> OverlaySnapshotter::open(const std::string& root) {
  auto d = BERTH_TRY(DirSnapshots::open(root));
  return std::unique_ptr<OverlaySnapshotter>(new OverlaySnapshotter(std::move(d)));
}

bool OverlaySnapshotter::supported() {
  auto fs = read_file("/proc/filesystems", 1 << 20);
  return fs && fs->find("\toverlay\n") != std::string::npos;
}

Result<Info> OverlaySnapshotter::stat(const std::string& key) { return d_.stat(key); }

Result<std::vector<Mount>> OverlaySnapshotter::create(const std::string& key, const std::string& parent, Kind kind,
                                                      bool durable) {
  RootLock lock(d_.root());
  if (!parent.empty()) {
    auto p = BERTH_TRY(d_.stat(parent));
    if (p.kind != Kind::Committed)
      return fail(Errc::InvalidArgument, "parent snapshot `{}` is {}, not committed", parent, kind_name(p.kind));
  }
  BERTH_TRY(d_.create(Info{key, parent, kind, 0}, kind == Kind::Active, nullptr, durable));
  return mounts(key);
}

Result<std::vector<Mount>> OverlaySnapshotter::prepare(const std::string& key, const std::string& parent) {
  return create(key, parent, Kind::Active);
}

Result<std::vector<Mount>> OverlaySnapshotter::prepare_ephemeral(const std::string& key, const std::string& parent) {
  return create(key, parent, Kind::Active, false);
}

Result<std::vector<Mount>> OverlaySnapshotter::view(const std::string& key, const std::string& parent) {
  return create(key, parent, Kind::View);
}

Result<std::vector<Mount>> OverlaySnapshotter::mounts(const std::string& key) {
  auto info = BERTH_TRY(d_.stat(key));
  auto parents = BERTH_TRY(d_.parents(key));
  std::vector<std::string> lowers;
  if (info.kind == Kind::Committed) lowers.push_back(d_.dir(key) + "/fs");  // its own content, read-only
  for (auto& p : parents) lowers.push_back(d_.dir(p.key) + "/fs");
  if (info.kind == Kind::Active) {
    if (lowers.empty()) return std::vector<Mount>{{"bind", d_.dir(key) + "/fs", {"rbind", "rw"}}};
    std::string lower;
    for (auto& l : lowers) lower += (lower.empty() ? "" : ":") + l;
    return std::vector<Mount>{{"overlay",
                               "overlay",
                               {"index=off", "redirect_dir=off", "metacopy=off", "lowerdir=" + lower,
                                "upperdir=" + d_.dir(key) + "/fs", "workdir=" + d_.dir(key) + "/work"}}};
  }
  if (lowers.size() == 1) return std::vector<Mount>{{"bind", lowers[0], {"rbind", "ro"}}};
  std::string lower;
  for (auto& l : lowers) lower += (lower.empty() ? "" : ":") + l;
  return std::vector<Mount>{{"overlay", "overlay", {"index=off", "redirect_dir=off", "metacopy=off", "lowerdir=" + lower}}};
}

Status OverlaySnapshotter::commit(const std::string& name, const std::string& key) {
  RootLock lock(d_.root());
  return d_.commit(name, key);
}

Status OverlaySnapshotter::commit_over(const std::string& name, const std::string& key, const std::string& parent) {
  RootLock lock(d_.root());
  auto i = BERTH_TRY(d_.stat(key));
  if (!i.parent.empty()) return fail(Errc::InvalidArgument, "snapshot `{}` already has parent `{}`", key, i.parent);
  if (!parent.empty()) {
    auto p = BERTH_TRY(d_.stat(parent));
    if (p.kind != Kind::Committed)
      return fail(Errc::InvalidArgument, "parent snapshot `{}` is {}, not committed", parent, kind_name(p.kind));
  }
  return d_.commit(name, key, &parent);
}

Status OverlaySnapshotter::remove(const std::string& key) {
  RootLock lock(d_.root());
  return d_.remove(key);
}

Status OverlaySnapshotter::walk(const std::function<Status(const Info&)>& fn) { return d_.walk(fn); }

Result<std::string> OverlaySnapshotter::writable_dir(const std::string& key) {
  auto info = BERTH_TRY(d_.stat(key));
  if (info.kind != Kind::Active) return fail(Errc::InvalidArgument, "snapshot `{}` is {}, not active", key, kind_name(info.kind));
  return d_.dir(key) + "/fs";
}

}  // namespace berth::image::snapshot

namespace berth::image::snapshot {

Result<std::vector<std::string>> OverlaySnapshotter::layer_dirs(const std::string& key) {
  BERTH_TRY(d_.stat(key));
  std::vector<std::string> out{d_.dir(key) + "/fs"};
  for (auto& p : BERTH_TRY(d_.parents(key))) out.push_back(d_.dir(p.key) + "/fs");
  return out;
}

}  // namespace berth::image::snapshot
