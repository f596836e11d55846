// ImageStore::pull and ImageStore::push: the registry client over the content store, with leases, image
// records, unpacking and docker-shaped progress.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <condition_variable>
#include <deque>
#include <optional>
#include <thread>
#include <cstdlib>
#include <mutex>
#include <random>
#include <set>

#include "base/unique_fd.h"
#include "image/image_store.h"
#include "image/metadata/gc.h"
#include "image/registry/client.h"
#include "image/unpack/unpack.h"

namespace berth::image {

namespace {

namespace ir = registry;

std::string short_hex(const oci::Digest& d) { return std::string(d.hex().substr(0, 12)); }

// docker's familiar name: "docker.io/library/busybox:latest" -> "busybox:latest".
std::string familiar(const ir::Reference& r) {
  std::string s = r.str();
  for (std::string_view p : {"docker.io/library/", "docker.io/"})
    if (s.rfind(p, 0) == 0) return s.substr(p.size());
  return s;
}

// A content store view that attaches every blob it touches to a lease before the blob can become visible to
// a concurrent GC: present blobs when stat'ed, new ones before their commit (and the ingest ref while written).
class LeasedStore final : public content::Store {
 public:
  LeasedStore(content::Store& inner, metadata::Metadata& md, std::string lease)
      : in_(inner), md_(md), lease_(std::move(lease)) {}

  Result<content::Info> info(const oci::Digest& d) override {
    BERTH_TRY(hold(d));
    return in_.info(d);
  }
  Result<std::unique_ptr<content::ReaderAt>> reader(const oci::Digest& d) override { return in_.reader(d); }
  // Ingests need no lease: GC never aborts one a live writer holds, and leaves others alone for a day.
  Result<std::unique_ptr<content::Writer>> writer(const content::WriterOptions& o) override {
    if (o.expected) BERTH_TRY(hold(o.expected));
    auto w = BERTH_TRY(in_.writer(o));
    return std::unique_ptr<content::Writer>(new Writer(std::move(w), *this));
  }
  Status walk(const std::function<Status(const content::Info&)>& fn) override { return in_.walk(fn); }
  Status remove(const oci::Digest& d) override { return in_.remove(d); }
  Result<std::vector<content::IngestStatus>> ingests() override { return in_.ingests(); }
  Result<content::IngestStatus> ingest_status(const std::string& ref) override { return in_.ingest_status(ref); }
  Status abort_ingest(const std::string& ref) override { return in_.abort_ingest(ref); }

  // Leases several blobs in one metadata transaction (a pull knows its blobs once it has the manifest).
  Status hold_all(const std::vector<oci::Digest>& ds) {
    std::vector<metadata::LeaseResource> rs;
    {
      std::lock_guard lk(mu_);
      for (auto& d : ds)
        if (!held_.count(d.str())) rs.push_back({metadata::ResourceKind::Content, d.str()});
    }
    if (rs.empty()) return ok();
    BERTH_TRY(md_.add_lease_resources(lease_, rs));
    std::lock_guard lk(mu_);
    for (auto& r : rs) held_.insert(r.key);
    return ok();
  }

 private:
  Status hold(const oci::Digest& d) {
    {
      std::lock_guard lk(mu_);
      if (held_.count(d.str())) return ok();
    }
    BERTH_TRY(md_.add_lease_resource(lease_, {metadata::ResourceKind::Content, d.str()}));
    std::lock_guard lk(mu_);
    held_.insert(d.str());
    return ok();
  }

  class Writer final : public content::Writer {
   public:
    Writer(std::unique_ptr<content::Writer> w, LeasedStore& s) : w_(std::move(w)), s_(s) {}
    const std::string& ref() const override { return w_->ref(); }
    int64_t offset() const override { return w_->offset(); }
    Status write(std::string_view data) override { return w_->write(data); }
    Status truncate() override { return w_->truncate(); }
    oci::Digest digest() const override { return w_->digest(); }
    Result<oci::Digest> commit(int64_t size, const oci::Digest& expected) override {
      BERTH_TRY(s_.hold(expected ? expected : w_->digest()));
      return w_->commit(size, expected);
    }
    Status abort() override { return w_->abort(); }

   private:
    std::unique_ptr<content::Writer> w_;
    LeasedStore& s_;
  };

  content::Store& in_;
  metadata::Metadata& md_;
  std::string lease_;
  std::mutex mu_;
  std::set<std::string> held_;
};

Result<ir::ClientOptions> client_options(const RegistryAccess& a) {
  ir::ClientOptions co;
  if (!a.docker_config.empty()) co.credentials = BERTH_TRY(ir::load_docker_config(a.docker_config));
  for (const auto& [k, c] : a.credentials) co.credentials[ir::normalize_registry_key(k)] = c;
  co.insecure_registries = a.insecure_registries;
  co.ca_file = a.ca_file;
  co.max_concurrent_downloads = co.max_concurrent_uploads = std::max(1, a.max_concurrent);
  return co;
}

struct LeaseGuard {
  metadata::Metadata& md;
  std::string id;
  ~LeaseGuard() { (void)md.delete_lease(id); }
};

std::string lease_id(std::string_view what) {
  return fmt::format("{}-{}-{:x}", what, ::getpid(), std::random_device{}());
}

}  // namespace

std::string default_docker_config() {
  if (const char* dc = std::getenv("DOCKER_CONFIG"); dc && *dc) return std::string(dc) + "/config.json";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.docker/config.json";
  return "";
}

// Layers of a diff-style snapshotter (overlay) do not depend on each other's content: each is extracted as soon
// as its blob is in the store, one thread per download slot (the largest layer, usually the last to land, never
// waits behind the smaller ones), while the other downloads go on; they are stacked (committed
// over their parents) in order once all are done.
// A layer's bytes handed from its download to its extraction while both run. Broken (the download restarted or
// resumed mid-way, or failed) sends the extraction back to the blob file once it is in the store. End of stream
// comes only when the blob is committed, i.e. its digest verified.
struct LayerStream final : unpack::Source {
  static constexpr size_t kMaxBuffered = 16 << 20;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> chunks;
  size_t front_off = 0, buffered = 0;
  int64_t next = 0;
  bool eof = false, broken = false, consumer_done = false;

  void push(int64_t off, std::string_view data) {
    std::unique_lock lk(mu);
    if (broken || consumer_done) return;
    if (off != next) {
      broken = true;
      cv.notify_all();
      return;
    }
    cv.wait(lk, [&] { return buffered < kMaxBuffered || broken || consumer_done; });
    if (broken || consumer_done) return;
    chunks.emplace_back(data);
    buffered += data.size();
    next += static_cast<int64_t>(data.size());
    cv.notify_all();
  }
  void finish(bool verified, int64_t size) {
    std::lock_guard lk(mu);
    if (verified && next == size) eof = true;
    else broken = true;
    cv.notify_all();
  }
  void abandon() {
    std::lock_guard lk(mu);
    consumer_done = true;
    cv.notify_all();
  }
  Result<size_t> read(void* buf, size_t n) override {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return !chunks.empty() || eof || broken; });
    if (broken) return fail(Errc::Unavailable, "layer download restarted");
    if (chunks.empty()) return size_t{0};
    auto& f = chunks.front();
    size_t k = std::min(n, f.size() - front_off);
    std::memcpy(buf, f.data() + front_off, k);
    front_off += k;
    buffered -= k;
    if (front_off == f.size()) {
      chunks.pop_front();
      front_off = 0;
    }
    cv.notify_all();
    return k;
  }
  // After the extraction: whether the bytes it used are the verified blob.
  bool verified() {
    std::unique_lock lk(mu);
    consumer_done = true;
    cv.wait(lk, [&] { return eof || broken; });
    return eof;
  }
};

struct ImageStore::ParallelUnpack {
  ImageStore& s;
  const ProgressSink& sink;
  oci::Manifest manifest;
  oci::ImageConfig config;
  std::vector<oci::Digest> chains;
  std::vector<bool> need;
  std::vector<int> state;  // 0 waiting for its blob, 1 queued or running, 2 extracted, 3 failed
  std::vector<std::string> keys;
  std::deque<size_t> queue;
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
  std::optional<Error> error;
  std::vector<std::thread> workers;
  // Layers extracted while they download (the first download slots' worth of missing blobs).
  std::map<std::string, std::unique_ptr<LayerStream>> streams;  // by blob digest; fixed after plan()
  std::vector<bool> streamed;
  std::vector<std::thread> streamers;

  Status plan(const oci::Manifest& m, int threads) {
    manifest = m;
    auto text = BERTH_TRY(content::read_blob(*s.content_, m.config.digest));
    config = BERTH_TRY_CTX(oci::parse_image_config(text), "config {}", m.config.digest);
    BERTH_TRY(oci::validate_image(manifest, config));
    chains = chain_ids(config.diff_ids);
    for (auto& c : chains) {
      need.push_back(!s.snaps_->stat(c.str()));
      keys.push_back(extract_key(c));
    }
    state.assign(chains.size(), 0);
    streamed.assign(chains.size(), false);
    for (size_t i = 0; i < chains.size() && static_cast<int>(streams.size()) < threads; ++i) {
      const auto& d = manifest.layers[i].digest;
      if (!need[i] || streams.count(d.str()) || s.content_->info(d)) continue;
      streams[d.str()] = std::make_unique<LayerStream>();
      streamed[i] = true;
      state[i] = 1;
    }
    for (size_t i = 0; i < chains.size(); ++i)
      if (streamed[i]) streamers.emplace_back([this, i] { stream_work(i); });
    for (int t = 0; t < threads; ++t) workers.emplace_back([this] { work(); });
    return ok();
  }
  // Bytes of a blob being downloaded.
  void data(const oci::Digest& d, int64_t off, std::string_view bytes) {
    if (auto it = streams.find(d.str()); it != streams.end()) it->second->push(off, bytes);
  }
  void stream_work(size_t i) {
    auto& st = *streams.at(manifest.layers[i].digest.str());
    auto r = s.extract_layer(keys[i], "", manifest.layers[i], config.diff_ids[i], sink, false, &st);
    bool good = st.verified();
    std::lock_guard lk(mu);
    if (r && good) {
      state[i] = 2;
      return;
    }
    if (r) (void)s.snaps_->remove(keys[i]);  // extracted from bytes that turned out not to be the blob
    if (!r && r.error().code() != Errc::Unavailable && good && !error) {
      // The verified blob itself does not extract (bad diff_id, hostile tar): a real failure.
      error = std::move(r).error().wrap(fmt::format("unpack layer {} ({})", i, manifest.layers[i].digest));
      state[i] = 3;
      return;
    }
    // Fall back to the blob file: now if it is in, else when ready() sees it land.
    streamed[i] = false;
    state[i] = 0;
    if (s.content_->info(manifest.layers[i].digest)) {
      state[i] = 1;
      queue.push_back(i);
      cv.notify_all();
    }
  }
  void downloaded(const oci::Digest& d, bool ok_, int64_t size) {
    if (auto it = streams.find(d.str()); it != streams.end()) it->second->finish(ok_, size);
  }
  // The blob d is in the store: queue the layers made of it.
  void ready(const oci::Digest& d) {
    std::lock_guard lk(mu);
    for (size_t i = 0; i < state.size(); ++i)
      if (need[i] && !streamed[i] && state[i] == 0 && manifest.layers[i].digest == d) {
        state[i] = 1;
        queue.push_back(i);
      }
    cv.notify_all();
  }
  void work() {
    for (;;) {
      size_t i;
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return !queue.empty() || closed; });
        if (queue.empty()) return;
        i = queue.front();
        queue.pop_front();
        if (error) {
          state[i] = 3;
          continue;
        }
      }
      // Not synced one by one: finish() syncs the filesystem once before anything is committed.
      auto st = s.extract_layer(keys[i], "", manifest.layers[i], config.diff_ids[i], sink, false);
      std::lock_guard lk(mu);
      state[i] = st ? 2 : 3;
      if (!st && !error)
        error = std::move(st).error().wrap(fmt::format("unpack layer {} ({})", i, manifest.layers[i].digest));
    }
  }
  // Waits for the extractions (queueing any layer not yet queued when `all`).
  Status finish(bool all) {
    if (!all)
      for (auto& [d, st] : streams) st->finish(false, 0);
    for (auto& t : streamers) t.join();  // downloads are over: every stream has ended
    streamers.clear();
    {
      std::lock_guard lk(mu);
      for (size_t i = 0; all && i < state.size(); ++i)
        if (need[i] && state[i] == 0) {
          state[i] = 1;
          queue.push_back(i);
        }
      if (!all) queue.clear();
      closed = true;
    }
    cv.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
    if (error) return fail(*error);
    // The extracted layers reach the disk before any of them is committed (one syncfs for all).
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!need[i]) continue;
      auto dirs = BERTH_TRY(s.snaps_->layer_dirs(keys[i]));
      UniqueFd fd(::open(dirs.front().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!fd) return fail_errno("open `{}`", dirs.front());
      if (::syncfs(fd.get()) < 0) return fail_errno("syncfs `{}`", dirs.front());
      break;
    }
    return ok();
  }
  // Stacks the extracted layers in order; returns the top chain ID.
  Result<std::string> commit() {
    for (size_t i = 0; i < chains.size(); ++i)
      if (!need[i] && !s.snaps_->stat(chains[i].str()))
        return fail(Errc::NotFound, "layer snapshot {} is gone", chains[i].str());
    std::string parent;
    for (size_t i = 0; i < chains.size(); ++i) {
      std::string chain = chains[i].str();
      if (need[i]) {
        auto c = s.snaps_->commit_over(chain, keys[i], parent);
        if (!c && c.error().code() != Errc::AlreadyExists) return fail(std::move(c).error());
        if (!c) (void)s.snaps_->remove(keys[i]);  // a concurrent pull committed the same layer first
        if (sink)
          sink({.state = ProgressState::PullComplete, .id = short_hex(manifest.layers[i].digest),
                .status = "Pull complete"});
      }
      parent = chain;
    }
    return parent;
  }
  void discard() {
    for (size_t i = 0; i < keys.size(); ++i)
      if (need[i]) (void)s.snaps_->remove(keys[i]);
  }
  ~ParallelUnpack() {
    if (!workers.empty() || !streamers.empty()) (void)finish(false);
  }
};

Result<PullResult> ImageStore::pull(const std::string& name, const PullOptions& opts) {
  auto ref = BERTH_TRY_CTX(ir::parse_reference(name), "image name `{}`", name);
  PullResult out;
  out.name = ref.str();
  // Downloads and extractions report from several threads: one at a time to the caller.
  std::mutex sink_mu;
  ProgressSink sink;
  if (opts.progress)
    sink = [&](const ProgressEvent& e) {
      std::lock_guard lk(sink_mu);
      opts.progress(e);
    };
  auto message = [&](std::string status, std::string id = {}) {
    if (sink) sink({.state = ProgressState::Message, .id = std::move(id), .status = std::move(status)});
  };
  message(fmt::format("Pulling from {}", ref.repository), ref.reference());

  ir::RegistryClient client(BERTH_TRY(client_options(opts.access)));
  std::string lease = lease_id("pull");
  BERTH_TRY(meta_->create_lease(lease, int64_t{24} * 3600 * 1000000000, {{"ref", out.name}}));
  LeaseGuard guard{*meta_, lease};
  LeasedStore store(*content_, *meta_, lease);

  bool parallel = opts.unpack && snaps_->layer_style() == snapshot::LayerStyle::Diff;
  ParallelUnpack pu{.s = *this, .sink = sink};
  // Registry events -> docker's per-layer lines. The config blob is not a layer: docker shows nothing for it.
  ir::PullOptions po;
  po.platform = opts.platform;
  po.on_config = [&](const oci::Manifest& m) -> Status {
    std::vector<oci::Digest> blobs{m.config.digest};
    for (auto& l : m.layers) blobs.push_back(l.digest);
    BERTH_TRY(store.hold_all(blobs));
    if (parallel) return pu.plan(m, std::max(1, opts.access.max_concurrent));
    return ok();
  };
  po.progress = [&](const ir::ProgressEvent& e) {
    if (e.config) return;
    if (e.state == ir::ProgressState::DownloadComplete) ++out.layers_downloaded;
    if (e.state == ir::ProgressState::AlreadyExists) ++out.layers_present;
    ProgressEvent ev{.id = e.id, .current = e.current, .total = e.total};
    switch (e.state) {
      case ir::ProgressState::Waiting:
        if (sink) sink({.state = ProgressState::PullingFsLayer, .id = e.id, .status = "Pulling fs layer"});
        ev.state = ProgressState::Waiting;
        break;
      case ir::ProgressState::Downloading:
        ev.state = ProgressState::Downloading;
        ev.has_progress = true;
        break;
      case ir::ProgressState::Verifying: ev.state = ProgressState::Verifying; break;
      case ir::ProgressState::DownloadComplete: ev.state = ProgressState::DownloadComplete; break;
      case ir::ProgressState::AlreadyExists: ev.state = ProgressState::AlreadyExists; break;
      default: return;
    }
    ev.status = std::string(progress_status(ev.state));
    if (sink) sink(ev);
    if (parallel && e.state == ir::ProgressState::DownloadComplete) pu.downloaded(e.digest, true, e.total);
    if (parallel && (e.state == ir::ProgressState::DownloadComplete || e.state == ir::ProgressState::AlreadyExists))
      pu.ready(e.digest);
  };
  if (parallel) po.on_data = [&](const oci::Digest& d, int64_t off, std::string_view b) { pu.data(d, off, b); };
  auto res = client.pull(ref, store, po);
  if (!res) {
    (void)pu.finish(false);
    pu.discard();
    return fail(std::move(res).error().wrap(fmt::format("pull {}", out.name)));
  }
  if (parallel) {
    if (auto st = pu.finish(true); !st) {
      pu.discard();
      return fail(std::move(st).error().wrap(fmt::format("pull {}", out.name)));
    }
  }
  out.repo_digest = res->resolved_digest;
  out.bytes_downloaded = res->bytes_downloaded;
  std::unique_lock<std::mutex> held;
  if (opts.commit_lock) held = std::unique_lock(*opts.commit_lock);
  auto minfo = BERTH_TRY(content_->info(res->manifest_digest));
  out.target = oci::Descriptor{.media_type = res->manifest_media_type, .digest = res->manifest_digest, .size = minfo.size};
  auto old = meta_->get_image(out.name);
  out.up_to_date = old && old->target.digest == out.target.digest;

  metadata::ImageRecord rec;
  rec.name = out.name;
  rec.target = out.target;
  if (old) rec.labels = old->labels;
  rec.labels["berth.repo-digest"] = out.repo_digest.str();
  if (auto st = meta_->put_image(rec); !st) {
    pu.discard();
    return fail(std::move(st).error());
  }

  if (parallel) {
    auto top = pu.commit();
    if (!top && top.error().code() == Errc::NotFound) {
      // A layer that was already unpacked when the pull began was pruned meanwhile (the pull ran without the
      // caller's lock): unpack again from the blobs, which the lease kept.
      pu.discard();
      auto r = BERTH_TRY(resolve(out.name, opts.platform));
      top = unpack_resolved(out.name, r, sink);
    }
    if (!top) {
      pu.discard();
      return fail(std::move(top).error());
    }
    out.chain_id = *top;
  } else if (opts.unpack) {
    auto r = BERTH_TRY(resolve(out.name, opts.platform));
    out.chain_id = BERTH_TRY(unpack_resolved(out.name, r, sink));
  }
  message(fmt::format("Digest: {}", out.repo_digest.str()));
  message(fmt::format("Status: {} for {}", out.up_to_date ? "Image is up to date" : "Downloaded newer image",
                      familiar(ref)));
  return out;
}

Result<PushResult> ImageStore::push(const std::string& name, const PushOptions& opts) {
  auto ref = BERTH_TRY_CTX(ir::parse_reference(name), "image name `{}`", name);
  PushResult out;
  out.name = ref.str();
  std::unique_lock<std::mutex> held;
  if (opts.store_lock) held = std::unique_lock(*opts.store_lock);
  auto rec = BERTH_TRY(meta_->get_image(out.name));
  // Every blob of the image under a lease for the upload, so it can run without the caller's lock.
  std::string lease = lease_id("push");
  BERTH_TRY(meta_->create_lease(lease, int64_t{24} * 3600 * 1000000000, {{"ref", out.name}}));
  LeaseGuard guard{*meta_, lease};
  {
    std::vector<metadata::LeaseResource> rs;
    for (auto& d : BERTH_TRY(metadata::reachable(*content_, rec.target)))
      rs.push_back({metadata::ResourceKind::Content, d.digest.str()});
    BERTH_TRY(meta_->add_lease_resources(lease, rs));
  }
  out.target = rec.target;
  const ProgressSink& sink = opts.progress;
  if (sink) sink({.state = ProgressState::Message, .status = fmt::format("The push refers to repository [{}]", ref.name())});

  // docker names pushed layers by diff_id; blobs of other platforms (an index) keep their blob digest.
  std::map<std::string, std::string> layer_id;  // blob digest -> id shown
  std::set<std::string> layer_digests;
  auto resolved = resolve(out.name);
  if (resolved) {
    for (size_t i = 0; i < resolved->manifest.layers.size(); ++i) {
      const auto& l = resolved->manifest.layers[i];
      layer_id[l.digest.str()] = short_hex(resolved->config.diff_ids[i]);
      layer_digests.insert(l.digest.str());
    }
    if (sink)
      for (auto it = resolved->manifest.layers.rbegin(); it != resolved->manifest.layers.rend(); ++it)
        sink({.state = ProgressState::Preparing, .id = layer_id[it->digest.str()], .status = "Preparing"});
  }

  ir::PushOptions po;
  po.chunk_size = opts.chunk_size;
  po.mount_from = opts.mount_from;
  if (po.mount_from.empty() && resolved) {
    // Other local images on the same registry that share a layer: the registry may have them already.
    for (auto& other : BERTH_TRY(meta_->list_images())) {
      auto oref = ir::parse_reference(other.name);
      if (!oref || oref->registry != ref.registry || oref->repository == ref.repository) continue;
      auto o = resolve(other.name);
      if (!o) continue;
      bool shares = false;
      for (auto& l : o->manifest.layers) shares = shares || layer_digests.count(l.digest.str());
      if (shares && std::find(po.mount_from.begin(), po.mount_from.end(), oref->repository) == po.mount_from.end())
        po.mount_from.push_back(oref->repository);
      if (po.mount_from.size() >= 3) break;
    }
  }
  if (sink) {
    po.progress = [&](const ir::ProgressEvent& e) {
      if (e.config) return;  // docker shows layers only
      auto it = layer_id.find(e.digest.str());
      ProgressEvent ev{.id = it == layer_id.end() ? e.id : it->second, .current = e.current, .total = e.total};
      switch (e.state) {
        case ir::ProgressState::Pushing:
          ev.state = ProgressState::Pushing;
          ev.has_progress = true;
          break;
        case ir::ProgressState::Pushed: ev.state = ProgressState::Pushed; break;
        case ir::ProgressState::AlreadyExists: ev.state = ProgressState::LayerAlreadyExists; break;
        case ir::ProgressState::Mounted: ev.state = ProgressState::MountedFrom; break;
        default: return;
      }
      ev.status = ev.state == ProgressState::MountedFrom ? "Mounted from " + e.detail
                                                         : std::string(progress_status(ev.state));
      sink(ev);
    };
  }
  ir::RegistryClient client(BERTH_TRY(client_options(opts.access)));
  if (held) held.unlock();
  auto res = BERTH_TRY_CTX(client.push(ref, *content_, rec.target.digest, po), "push {}", out.name);
  out.blobs_uploaded = res.blobs_uploaded;
  out.blobs_existing = res.blobs_existing;
  out.blobs_mounted = res.blobs_mounted;
  if (sink) {
    std::string tag = ref.tag.empty() ? ref.digest.str() : ref.tag;
    sink({.state = ProgressState::PushResult,
          .status = fmt::format("{}: digest: {} size: {}", tag, rec.target.digest.str(), rec.target.size),
          .aux = PushAux{tag, rec.target.digest.str(), rec.target.size}});
  }
  return out;
}

}  // namespace berth::image
