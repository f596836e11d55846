#include "image/image_store.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "base/file.h"
#include "base/unique_fd.h"
#include "image/registry/reference.h"
#include "image/snapshot/native/native_snapshotter.h"
#include "image/snapshot/overlay/overlay_snapshotter.h"
#include "image/unpack/unpack.h"

namespace berth::image {

namespace {
std::string random_suffix() { return fmt::format("{:x}", std::random_device{}() ^ (uint64_t(::getpid()) << 20)); }
}  // namespace

Result<std::string> normalize_name(std::string_view name) {
  auto r = BERTH_TRY_CTX(registry::parse_reference(name), "image name `{}`", name);
  return r.str();
}

std::vector<oci::Digest> chain_ids(const std::vector<oci::Digest>& diff_ids) {
  std::vector<oci::Digest> out;
  for (auto& d : diff_ids) {
    if (out.empty()) out.push_back(d);
    else out.push_back(oci::Digest::sha256_of(out.back().str() + " " + d.str()));
  }
  return out;
}

Result<std::unique_ptr<ImageStore>> ImageStore::open(const ImageStoreOptions& opts) {
  std::unique_ptr<ImageStore> s(new ImageStore());
  s->root_ = opts.root;
  BERTH_TRY(mkdir_all(opts.root, 0700));
  s->content_ = BERTH_TRY(content::LocalStore::open(opts.root + "/content"));
  s->meta_ = BERTH_TRY(metadata::SqliteMetadata::open(opts.root + "/metadata.db"));
  std::string kind = opts.snapshotter;
  if (kind.empty()) kind = snapshot::OverlaySnapshotter::supported() ? "overlay" : "native";
  if (kind == "overlay") {
    s->snaps_ = BERTH_TRY(snapshot::OverlaySnapshotter::open(opts.root + "/snapshots/overlay"));
  } else if (kind == "native") {
    s->snaps_ = BERTH_TRY(snapshot::NativeSnapshotter::open(opts.root + "/snapshots/native"));
  } else {
    return fail(Errc::InvalidArgument, "unknown snapshotter `{}` (overlay or native)", kind);
  }
  return s;
}

Result<std::vector<metadata::ImageRecord>> ImageStore::list() { return meta_->list_images(); }

Result<ResolvedImage> ImageStore::resolve(const std::string& name, const oci::Platform& platform) {
  ResolvedImage r;
  auto n = BERTH_TRY(normalize_name(name));
  r.record = BERTH_TRY(meta_->get_image(n));
  oci::Descriptor d = r.record.target;
  for (int depth = 0;; depth++) {
    if (depth > 4) return fail(Errc::InvalidArgument, "image `{}`: indexes nested too deeply", n);
    auto text = BERTH_TRY_CTX(content::read_blob(*content_, d.digest), "image `{}`", n);
    auto doc = BERTH_TRY_CTX(oci::parse_manifest_or_index(text, d.media_type), "image `{}`: manifest {}", n, d.digest);
    if (auto* idx = std::get_if<oci::Index>(&doc)) {
      d = BERTH_TRY_CTX(oci::select_platform(*idx, platform), "image `{}`", n);
      continue;
    }
    r.manifest = std::get<oci::Manifest>(std::move(doc));
    r.manifest_desc = d;
    break;
  }
  r.config_digest = r.manifest.config.digest;
  auto ctext = BERTH_TRY_CTX(content::read_blob(*content_, r.config_digest), "image `{}`: config", n);
  r.config = BERTH_TRY_CTX(oci::parse_image_config(ctext), "image `{}`: config {}", n, r.config_digest);
  BERTH_TRY_CTX(oci::validate_image(r.manifest, r.config), "image `{}`", n);
  return r;
}

Result<std::string> ImageStore::inspect_json(const std::string& name) {
  auto n = BERTH_TRY(normalize_name(name));
  auto rec = BERTH_TRY(meta_->get_image(n));
  nlohmann::ordered_json j;
  j["Name"] = rec.name;
  j["Target"] = nlohmann::json::parse(oci::to_json(rec.target));
  j["Created"] = rec.created_at_ns;
  auto top = BERTH_TRY(content::read_blob(*content_, rec.target.digest));
  j["Manifest"] = nlohmann::json::parse(top, nullptr, false);
  auto r = resolve(n);
  if (r) {
    j["PlatformManifest"] = r->manifest_desc.digest.str();
    j["Config"] = nlohmann::json::parse(oci::to_json(r->config));
    auto chains = chain_ids(r->config.diff_ids);
    nlohmann::json layers = nlohmann::json::array();
    for (size_t i = 0; i < chains.size(); i++)
      layers.push_back({{"Digest", r->manifest.layers[i].digest.str()},
                        {"DiffID", r->config.diff_ids[i].str()},
                        {"ChainID", chains[i].str()},
                        {"Size", r->manifest.layers[i].size},
                        {"Unpacked", static_cast<bool>(snaps_->stat(chains[i].str()))}});
    j["Layers"] = layers;
  } else {
    j["Error"] = r.error().message();
  }
  return j.dump(2);
}

Status ImageStore::put_image(const std::string& name, const oci::Descriptor& target) {
  auto n = BERTH_TRY(normalize_name(name));
  metadata::ImageRecord rec;
  rec.name = n;
  rec.target = target;
  rec.target.platform.reset();
  rec.target.annotations.clear();
  return meta_->put_image(rec);
}

Status ImageStore::tag(const std::string& src, const std::string& dst) {
  auto s = BERTH_TRY(normalize_name(src));
  auto rec = BERTH_TRY(meta_->get_image(s));
  return put_image(dst, rec.target);
}

Status ImageStore::remove(const std::string& name) {
  auto n = BERTH_TRY(normalize_name(name));
  return meta_->delete_image(n);
}

Result<ImageStore::PruneResult> ImageStore::prune() {
  PruneResult pr;
  // Snapshots first: the chains every remaining image needs (any platform we can resolve here).
  std::set<std::string> needed;
  for (auto& rec : BERTH_TRY(meta_->list_images())) {
    auto r = resolve(rec.name);
    if (!r) continue;
    for (auto& c : chain_ids(r->config.diff_ids)) needed.insert(c.str());
  }
  for (auto& s : BERTH_TRY(meta_->gc_roots()).snapshots) needed.insert(s);
  for (bool progress = true; progress;) {
    progress = false;
    std::vector<snapshot::Info> all;
    BERTH_TRY(snaps_->walk([&](const snapshot::Info& i) {
      all.push_back(i);
      return ok();
    }));
    std::set<std::string> parents;
    for (auto& i : all) parents.insert(i.parent);
    for (auto& i : all) {
      if (i.kind != snapshot::Kind::Committed || needed.count(i.key) || parents.count(i.key)) continue;
      if (snaps_->remove(i.key)) {
        pr.snapshots_removed.push_back(i.key);
        progress = true;
      }
    }
  }
  pr.content = BERTH_TRY(metadata::collect_garbage(*meta_, *content_));
  return pr;
}

Result<std::string> ImageStore::unpack(const std::string& name, const oci::Platform& platform) {
  auto r = BERTH_TRY(resolve(name, platform));
  return unpack_resolved(name, r, {});
}

Status ImageStore::extract_layer(const std::string& key, const std::string& parent, const oci::Descriptor& layer,
                                 const oci::Digest& diff_id, const ProgressSink& progress, bool sync,
                                 unpack::Source* src) {
  unpack::UnpackOptions o;
  o.whiteouts = snaps_->layer_style() == snapshot::LayerStyle::Diff ? unpack::WhiteoutMode::Overlay
                                                                     : unpack::WhiteoutMode::Apply;
  o.compression = BERTH_TRY_CTX(oci::layer_compression(layer.media_type), "layer {}", layer.digest);
  o.expected_diff_id = diff_id;
  o.sync = sync;  // the committed snapshot must survive a crash as well as its record does
  BERTH_TRY(snaps_->prepare(key, parent));
  auto apply = [&]() -> Status {
    auto dir = BERTH_TRY(snaps_->writable_dir(key));
    UniqueFd dfd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return fail_errno("open `{}`", dir);
    if (src) {  // streamed while it downloads: progress only at the end
      BERTH_TRY(unpack::apply_layer(*src, dfd.get(), o));
      if (progress)
        progress({.state = ProgressState::Extracting, .id = std::string(layer.digest.hex().substr(0, 12)),
                  .status = "Extracting", .has_progress = true, .current = layer.size, .total = layer.size});
      return ok();
    }
    UniqueFd fd(::open(content_->blob_path(layer.digest).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open layer {}", layer.digest.str());
    if (!progress) {
      BERTH_TRY(unpack::apply_layer_fd(fd.get(), dfd.get(), o));
      return ok();
    }
    // Extracting progress = the layer file's read offset, sampled while the unpacker reads it.
    std::string id(layer.digest.hex().substr(0, 12));
    auto report = [&](int64_t cur) {
      progress({.state = ProgressState::Extracting, .id = id, .status = "Extracting", .has_progress = true,
                .current = std::min(cur, layer.size), .total = layer.size});
    };
    report(0);
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread poll([&] {
      std::unique_lock lk(mu);
      while (!cv.wait_for(lk, std::chrono::milliseconds(150), [&] { return done; })) {
        off_t pos = ::lseek(fd.get(), 0, SEEK_CUR);
        if (pos > 0) report(pos);
      }
    });
    auto res = unpack::apply_layer_fd(fd.get(), dfd.get(), o);
    {
      std::lock_guard lk(mu);
      done = true;
    }
    cv.notify_all();
    poll.join();
    BERTH_TRY(std::move(res));
    report(layer.size);
    return ok();
  };
  auto st = apply();
  if (!st) (void)snaps_->remove(key);
  return st;
}

std::string ImageStore::extract_key(const oci::Digest& chain) {
  return fmt::format("extract-{}-{}", random_suffix(), chain.str());
}

Result<std::string> ImageStore::unpack_resolved(const std::string& name, const ResolvedImage& r,
                                                const ProgressSink& progress) {
  auto chains = chain_ids(r.config.diff_ids);
  std::string parent;
  for (size_t i = 0; i < chains.size(); i++) {
    std::string chain = chains[i].str();
    if (snaps_->stat(chain)) {
      parent = chain;
      continue;
    }
    const auto& layer = r.manifest.layers[i];
    std::string key = extract_key(chains[i]);
    BERTH_TRY_CTX(extract_layer(key, parent, layer, r.config.diff_ids[i], progress), "unpack `{}` layer {} ({})", name,
                  i, layer.digest);
    auto c = snaps_->commit(chain, key);
    if (!c && c.error().code() != Errc::AlreadyExists) return fail(std::move(c).error());
    if (progress)
      progress({.state = ProgressState::PullComplete, .id = std::string(layer.digest.hex().substr(0, 12)),
                .status = "Pull complete"});
    parent = chain;
  }
  return parent;
}

Result<oci::Descriptor> ImageStore::write_json_blob(const std::string& json, std::string_view media_type,
                                                    const std::string& lease) {
  auto d = BERTH_TRY(content::write_blob(*content_, json));
  if (!lease.empty()) BERTH_TRY(meta_->add_lease_resource(lease, {metadata::ResourceKind::Content, d.str()}));
  return oci::Descriptor{.media_type = std::string(media_type), .digest = d, .size = static_cast<int64_t>(json.size())};
}

}  // namespace berth::image
