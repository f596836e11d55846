#pragma once
// Garbage collection of the content store: mark from the metadata roots, sweep the rest.
//
// Mark: every image target and every leased blob is a root; from each, manifests and indexes are parsed
// (from the content store) to reach configs, layers and child manifests; content_refs edges are followed
// too. Blobs that are referenced but absent (e.g. other platforms of an index) are fine.
// Sweep: blobs not marked are removed, except those committed at or after the GC started (a writer may be
// about to reference them; their lease or image record will be visible to the next GC). Ingests that are not
// leased and have not been written for `ingest_grace_ns` are aborted; ingests held by a live writer are
// never touched (abort_ingest fails Unavailable and is skipped).
//
// Safe to run while pulls are in flight as long as pulls hold a lease (metadata.h). Not safe to run two GCs
// at once against one store (callers serialise; the CLI and daemon take a lock file).

#include <cstdint>
#include <vector>

#include "image/content/store.h"
#include "image/metadata/metadata.h"

namespace berth::image::metadata {

struct GcOptions {
  int64_t ingest_grace_ns = int64_t{24} * 3600 * 1000000000;
  int64_t started_at_ns = 0;  // 0 = now (CLOCK_REALTIME)
  bool dry_run = false;
};

struct GcResult {
  std::vector<Digest> removed;
  int64_t bytes_freed = 0;
  std::vector<std::string> ingests_aborted;
  size_t blobs_kept = 0;
};

Result<GcResult> collect_garbage(Metadata& md, content::Store& store, const GcOptions& opts = {});

// The set of blobs reachable from one root descriptor (itself, child manifests, configs, layers), in
// discovery order; absent blobs are included (they are still referenced). Used by GC and by export.
Result<std::vector<oci::Descriptor>> reachable(content::Provider& p, const oci::Descriptor& root);

}  // namespace berth::image::metadata
