#pragma once
// Image metadata: names and tags -> manifest/index descriptors, content references and leases (the GC roots).
//
// Everything here is small, mutable and must be transactional, so it lives in a database (SqliteMetadata),
// while blobs live in the content store. Every mutating call is one transaction and is durable when it
// returns (SQLite WAL + synchronous=FULL), so an acknowledged `tag` or `rm` survives a crash.
//
// GC roots (see gc.h):
//   - the target of every image record;
//   - every resource attached to a lease that has not expired (content digests, ingest refs, snapshot keys):
//     a pull creates a lease first, attaches each blob as it commits, writes the image record, then deletes
//     the lease — so a GC racing the pull never collects its blobs;
//   - extra edges parent -> child (content_refs) for links that cannot be found by parsing manifests.
//
// Errors: NotFound (no such image/lease), AlreadyExists (create_lease of an existing id), InvalidArgument
// (empty names), Internal/Unavailable (database errors; SQLITE_BUSY after the busy timeout is Unavailable).
// Thread-safety: all methods are thread-safe; several processes may share one database file.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "oci/digest.h"
#include "oci/image_spec.h"

namespace berth::image::metadata {

using oci::Digest;

struct ImageRecord {
  std::string name;          // "docker.io/library/busybox:latest", "localhost/x@sha256:..."
  oci::Descriptor target;    // manifest or index (media_type, digest, size)
  int64_t created_at_ns = 0;  // set by put_image on first insert
  int64_t updated_at_ns = 0;  // set by put_image
  std::map<std::string, std::string> labels;
};

enum class ResourceKind { Content, Ingest, Snapshot };
std::string_view resource_kind_name(ResourceKind k);

struct LeaseResource {
  ResourceKind kind = ResourceKind::Content;
  std::string key;  // digest text, ingest ref or snapshot key
  friend bool operator==(const LeaseResource&, const LeaseResource&) = default;
};

struct Lease {
  std::string id;
  int64_t created_at_ns = 0;
  int64_t expires_at_ns = 0;  // 0 = never
  std::map<std::string, std::string> labels;
};

struct GcRoots {
  std::vector<oci::Descriptor> images;  // image targets (with media types, so GC can walk them)
  std::vector<Digest> content;          // leased or explicitly referenced blobs (walked if they are manifests)
  std::vector<std::string> ingests;     // leased ingest refs
  std::vector<std::string> snapshots;   // leased snapshot keys
  std::multimap<Digest, Digest> edges;  // content_refs parent -> child
};

class Metadata {
 public:
  virtual ~Metadata() = default;

  // Images. put_image inserts or replaces by name (keeps created_at on replace).
  virtual Status put_image(const ImageRecord& rec) = 0;
  virtual Result<ImageRecord> get_image(const std::string& name) = 0;
  virtual Result<std::vector<ImageRecord>> list_images() = 0;  // ordered by name
  virtual Status delete_image(const std::string& name) = 0;

  // Leases. ttl_ns <= 0 means no expiry.
  virtual Result<Lease> create_lease(const std::string& id, int64_t ttl_ns,
                                     const std::map<std::string, std::string>& labels = {}) = 0;
  virtual Status delete_lease(const std::string& id) = 0;  // also drops its resources
  virtual Result<std::vector<Lease>> list_leases() = 0;
  virtual Status add_lease_resource(const std::string& lease_id, const LeaseResource& r) = 0;
  // Several at once, in one transaction (one durable write instead of one per resource).
  virtual Status add_lease_resources(const std::string& lease_id, const std::vector<LeaseResource>& rs) {
    for (const auto& r : rs) BERTH_TRY(add_lease_resource(lease_id, r));
    return ok();
  }
  virtual Status remove_lease_resource(const std::string& lease_id, const LeaseResource& r) = 0;
  virtual Result<std::vector<LeaseResource>> lease_resources(const std::string& lease_id) = 0;
  // Deletes leases whose expiry has passed; returns how many.
  virtual Result<int> expire_leases() = 0;

  // Extra content edges.
  virtual Status add_content_ref(const Digest& parent, const Digest& child) = 0;
  virtual Status remove_content_refs(const Digest& parent) = 0;

  // Snapshot of all roots (after expiring leases), read in one transaction.
  virtual Result<GcRoots> gc_roots() = 0;
};

}  // namespace berth::image::metadata
