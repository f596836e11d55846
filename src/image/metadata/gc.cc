#include "image/metadata/gc.h"

#include <time.h>

#include <deque>
#include <set>

#include "base/log.h"

namespace berth::image::metadata {

namespace {

int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

constexpr int64_t kMaxManifestBytes = 4 << 20;

// Children of a blob, by parsing it when it is (or may be) a manifest or index. Absent blobs have none.
Result<std::vector<oci::Descriptor>> children(content::Provider& p, const oci::Descriptor& d) {
  std::vector<oci::Descriptor> out;
  bool known_doc = oci::is_index_media_type(d.media_type) || oci::is_manifest_media_type(d.media_type);
  if (!known_doc && !d.media_type.empty()) return out;  // layer, config, other leaf
  auto info = p.info(d.digest);
  if (!info) {
    if (info.error().code() == Errc::NotFound) return out;
    return fail(std::move(info).error());
  }
  if (info->size > kMaxManifestBytes) {
    if (known_doc) return fail(Errc::InvalidArgument, "manifest {} is {} bytes, too large", d.digest, info->size);
    return out;
  }
  auto text = content::read_blob(p, d.digest, kMaxManifestBytes);
  if (!text) return fail(std::move(text).error());
  if (!known_doc && (text->empty() || (*text)[0] != '{')) return out;
  auto doc = oci::parse_manifest_or_index(*text, d.media_type);
  if (!doc) {
    if (!known_doc) return out;  // an unknown JSON blob (e.g. a config) is a leaf
    return fail(std::move(doc).error().wrap(fmt::format("parse {}", d.digest)));
  }
  if (auto* m = std::get_if<oci::Manifest>(&*doc)) {
    out.push_back(m->config);
    for (auto& l : m->layers) out.push_back(l);
  } else {
    for (auto& c : std::get<oci::Index>(*doc).manifests) out.push_back(c);
  }
  return out;
}

}  // namespace

Result<std::vector<oci::Descriptor>> reachable(content::Provider& p, const oci::Descriptor& root) {
  std::vector<oci::Descriptor> out;
  std::set<Digest> seen;
  std::deque<oci::Descriptor> q{root};
  while (!q.empty()) {
    auto d = std::move(q.front());
    q.pop_front();
    if (!seen.insert(d.digest).second) continue;
    auto kids = BERTH_TRY(children(p, d));
    out.push_back(std::move(d));
    for (auto& k : kids) q.push_back(std::move(k));
  }
  return out;
}

Result<GcResult> collect_garbage(Metadata& md, content::Store& store, const GcOptions& opts) {
  int64_t started = opts.started_at_ns ? opts.started_at_ns : now_ns();
  auto roots = BERTH_TRY(md.gc_roots());

  std::set<Digest> marked;
  std::deque<oci::Descriptor> q;
  for (auto& d : roots.images) q.push_back(d);
  for (auto& d : roots.content) q.push_back(oci::Descriptor{.media_type = "", .digest = d});
  while (!q.empty()) {
    auto d = std::move(q.front());
    q.pop_front();
    if (!marked.insert(d.digest).second) continue;
    auto kids = BERTH_TRY_CTX(children(store, d), "gc: walk {}", d.digest);
    for (auto& k : kids) q.push_back(std::move(k));
    auto [b, e] = roots.edges.equal_range(d.digest);
    for (auto it = b; it != e; ++it) q.push_back(oci::Descriptor{.media_type = "", .digest = it->second});
  }

  GcResult res;
  std::vector<content::Info> doomed;
  BERTH_TRY(store.walk([&](const content::Info& i) {
    if (marked.count(i.digest) || i.committed_at_unix_ns >= started) {
      res.blobs_kept++;
    } else {
      doomed.push_back(i);
    }
    return ok();
  }));
  for (auto& i : doomed) {
    if (!opts.dry_run) {
      auto st = store.remove(i.digest);
      if (!st && st.error().code() != Errc::NotFound) return fail(std::move(st).error().wrap("gc"));
    }
    res.removed.push_back(i.digest);
    res.bytes_freed += i.size;
  }

  std::set<std::string> leased(roots.ingests.begin(), roots.ingests.end());
  auto ingests = BERTH_TRY(store.ingests());
  for (auto& in : ingests) {
    if (leased.count(in.ref) || in.updated_at_unix_ns + opts.ingest_grace_ns > started) continue;
    if (!opts.dry_run) {
      auto st = store.abort_ingest(in.ref);
      if (!st) {
        if (st.error().code() != Errc::Unavailable && st.error().code() != Errc::NotFound)
          log::warn("gc: abort ingest `{}`: {}", in.ref, st.error().message());
        continue;
      }
    }
    res.ingests_aborted.push_back(in.ref);
  }
  return res;
}

}  // namespace berth::image::metadata
