#include "image/metadata/sqlite_metadata.h"

#include <time.h>

#include <nlohmann/json.hpp>

#include "base/sqlite/sqlite.h"

namespace berth::image::metadata {

using sqlite::Stmt;
using sqlite::Txn;

namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS images (
  name TEXT PRIMARY KEY, media_type TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, labels TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS leases (
  id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL DEFAULT 0,
  labels TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS lease_resources (
  lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE, kind TEXT NOT NULL, key TEXT NOT NULL,
  PRIMARY KEY (lease_id, kind, key));
CREATE TABLE IF NOT EXISTS content_refs (parent TEXT NOT NULL, child TEXT NOT NULL, PRIMARY KEY (parent, child));
PRAGMA user_version = 1;
)";

int64_t real_now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string labels_json(const std::map<std::string, std::string>& labels) { return nlohmann::json(labels).dump(); }
std::map<std::string, std::string> labels_from(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  return out;
}

Result<ResourceKind> kind_from(std::string_view s) {
  if (s == "content") return ResourceKind::Content;
  if (s == "ingest") return ResourceKind::Ingest;
  if (s == "snapshot") return ResourceKind::Snapshot;
  return fail(Errc::Internal, "metadata: unknown lease resource kind `{}`", s);
}

Result<ImageRecord> image_from(Stmt& s) {
  ImageRecord r;
  r.name = s.text(0);
  r.target.media_type = s.text(1);
  r.target.digest = BERTH_TRY_CTX(Digest::parse(s.text(2)), "metadata: image `{}`", r.name);
  r.target.size = s.int64(3);
  r.created_at_ns = s.int64(4);
  r.updated_at_ns = s.int64(5);
  r.labels = labels_from(s.text(6));
  return r;
}

}  // namespace

std::string_view resource_kind_name(ResourceKind k) {
  switch (k) {
    case ResourceKind::Content: return "content";
    case ResourceKind::Ingest: return "ingest";
    case ResourceKind::Snapshot: return "snapshot";
  }
  return "?";
}

Result<std::unique_ptr<SqliteMetadata>> SqliteMetadata::open(const std::string& path, Clock clock) {
  // FULL: every acknowledged write (tag, rm, lease) is fsynced with the WAL before we return.
  sqlite3* db = BERTH_TRY(sqlite::open_database(path, kSchema, {.foreign_keys = true}));
  std::unique_ptr<SqliteMetadata> m(new SqliteMetadata(db, clock ? std::move(clock) : Clock(real_now)));
  return m;
}

SqliteMetadata::~SqliteMetadata() { sqlite3_close(db_); }

Status SqliteMetadata::put_image(const ImageRecord& rec) {
  if (rec.name.empty()) return fail(Errc::InvalidArgument, "image name must not be empty");
  if (rec.target.digest.empty()) return fail(Errc::InvalidArgument, "image `{}`: target digest missing", rec.name);
  std::lock_guard l(mu_);
  int64_t now = clock_();
  Stmt s(db_, R"(INSERT INTO images(name, media_type, digest, size, created_at, updated_at, labels)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?5, ?6)
                 ON CONFLICT(name) DO UPDATE SET media_type=excluded.media_type, digest=excluded.digest,
                   size=excluded.size, updated_at=excluded.updated_at, labels=excluded.labels)");
  BERTH_TRY(s.prepared("put image"));
  s.bind(1, rec.name).bind(2, rec.target.media_type).bind(3, rec.target.digest.str()).bind(4, rec.target.size);
  s.bind(5, rec.created_at_ns ? rec.created_at_ns : now).bind(6, labels_json(rec.labels));
  BERTH_TRY(s.step("put image"));
  return ok();
}

Result<ImageRecord> SqliteMetadata::get_image(const std::string& name) {
  std::lock_guard l(mu_);
  Stmt s(db_, "SELECT name, media_type, digest, size, created_at, updated_at, labels FROM images WHERE name = ?1");
  BERTH_TRY(s.prepared("get image"));
  s.bind(1, name);
  if (!BERTH_TRY(s.step("get image"))) return fail(Errc::NotFound, "image `{}` not found", name);
  return image_from(s);
}

Result<std::vector<ImageRecord>> SqliteMetadata::list_images() {
  std::lock_guard l(mu_);
  Stmt s(db_, "SELECT name, media_type, digest, size, created_at, updated_at, labels FROM images ORDER BY name");
  BERTH_TRY(s.prepared("list images"));
  std::vector<ImageRecord> out;
  while (BERTH_TRY(s.step("list images"))) out.push_back(BERTH_TRY(image_from(s)));
  return out;
}

Status SqliteMetadata::delete_image(const std::string& name) {
  std::lock_guard l(mu_);
  Stmt s(db_, "DELETE FROM images WHERE name = ?1");
  BERTH_TRY(s.prepared("delete image"));
  s.bind(1, name);
  BERTH_TRY(s.step("delete image"));
  if (s.changes() == 0) return fail(Errc::NotFound, "image `{}` not found", name);
  return ok();
}

Result<Lease> SqliteMetadata::create_lease(const std::string& id, int64_t ttl_ns,
                                           const std::map<std::string, std::string>& labels) {
  if (id.empty()) return fail(Errc::InvalidArgument, "lease id must not be empty");
  std::lock_guard l(mu_);
  Lease lease{id, clock_(), 0, labels};
  if (ttl_ns > 0) lease.expires_at_ns = lease.created_at_ns + ttl_ns;
  Stmt s(db_, "INSERT INTO leases(id, created_at, expires_at, labels) VALUES(?1, ?2, ?3, ?4)");
  BERTH_TRY(s.prepared("create lease"));
  s.bind(1, id).bind(2, lease.created_at_ns).bind(3, lease.expires_at_ns).bind(4, labels_json(labels));
  auto r = s.step("create lease");
  if (!r && r.error().code() == Errc::AlreadyExists) return fail(Errc::AlreadyExists, "lease `{}` already exists", id);
  BERTH_TRY(std::move(r));
  return lease;
}

Status SqliteMetadata::delete_lease(const std::string& id) {
  std::lock_guard l(mu_);
  Stmt s(db_, "DELETE FROM leases WHERE id = ?1");
  BERTH_TRY(s.prepared("delete lease"));
  s.bind(1, id);
  BERTH_TRY(s.step("delete lease"));
  if (s.changes() == 0) return fail(Errc::NotFound, "lease `{}` not found", id);
  return ok();
}

Result<std::vector<Lease>> SqliteMetadata::list_leases() {
  std::lock_guard l(mu_);
  Stmt s(db_, "SELECT id, created_at, expires_at, labels FROM leases ORDER BY id");
  BERTH_TRY(s.prepared("list leases"));
  std::vector<Lease> out;
  while (BERTH_TRY(s.step("list leases"))) out.push_back(Lease{s.text(0), s.int64(1), s.int64(2), labels_from(s.text(3))});
  return out;
}

Status SqliteMetadata::add_lease_resource(const std::string& lease_id, const LeaseResource& r) {
  std::lock_guard l(mu_);
  Stmt s(db_, "INSERT OR IGNORE INTO lease_resources(lease_id, kind, key) VALUES(?1, ?2, ?3)");
  BERTH_TRY(s.prepared("add lease resource"));
  s.bind(1, lease_id).bind(2, resource_kind_name(r.kind)).bind(3, r.key);
  auto st = s.step("add lease resource");
  if (!st && st.error().code() == Errc::AlreadyExists) return fail(Errc::NotFound, "lease `{}` not found", lease_id);
  BERTH_TRY(std::move(st));
  return ok();
}

Status SqliteMetadata::add_lease_resources(const std::string& lease_id, const std::vector<LeaseResource>& rs) {
  std::lock_guard l(mu_);
  Txn txn(db_);
  BERTH_TRY(txn.begin());
  for (const auto& r : rs) {
    Stmt s(db_, "INSERT OR IGNORE INTO lease_resources(lease_id, kind, key) VALUES(?1, ?2, ?3)");
    BERTH_TRY(s.prepared("add lease resources"));
    s.bind(1, lease_id).bind(2, resource_kind_name(r.kind)).bind(3, r.key);
    auto st = s.step("add lease resources");
    if (!st && st.error().code() == Errc::AlreadyExists) return fail(Errc::NotFound, "lease `{}` not found", lease_id);
    BERTH_TRY(std::move(st));
  }
  return txn.commit();
}

Status SqliteMetadata::remove_lease_resource(const std::string& lease_id, const LeaseResource& r) {
  std::lock_guard l(mu_);
  Stmt s(db_, "DELETE FROM lease_resources WHERE lease_id = ?1 AND kind = ?2 AND key = ?3");
  BERTH_TRY(s.prepared("remove lease resource"));
  s.bind(1, lease_id).bind(2, resource_kind_name(r.kind)).bind(3, r.key);
  BERTH_TRY(s.step("remove lease resource"));
  return ok();
}

Result<std::vector<LeaseResource>> SqliteMetadata::lease_resources(const std::string& lease_id) {
  std::lock_guard l(mu_);
  Stmt s(db_, "SELECT kind, key FROM lease_resources WHERE lease_id = ?1 ORDER BY kind, key");
  BERTH_TRY(s.prepared("lease resources"));
  s.bind(1, lease_id);
  std::vector<LeaseResource> out;
  while (BERTH_TRY(s.step("lease resources"))) out.push_back({BERTH_TRY(kind_from(s.text(0))), s.text(1)});
  return out;
}

Result<int> SqliteMetadata::expire_leases_locked() {
  Stmt s(db_, "DELETE FROM leases WHERE expires_at != 0 AND expires_at <= ?1");
  BERTH_TRY(s.prepared("expire leases"));
  s.bind(1, clock_());
  BERTH_TRY(s.step("expire leases"));
  return s.changes();
}

Result<int> SqliteMetadata::expire_leases() {
  std::lock_guard l(mu_);
  return expire_leases_locked();
}

Status SqliteMetadata::add_content_ref(const Digest& parent, const Digest& child) {
  std::lock_guard l(mu_);
  Stmt s(db_, "INSERT OR IGNORE INTO content_refs(parent, child) VALUES(?1, ?2)");
  BERTH_TRY(s.prepared("add content ref"));
  s.bind(1, parent.str()).bind(2, child.str());
  BERTH_TRY(s.step("add content ref"));
  return ok();
}

Status SqliteMetadata::remove_content_refs(const Digest& parent) {
  std::lock_guard l(mu_);
  Stmt s(db_, "DELETE FROM content_refs WHERE parent = ?1");
  BERTH_TRY(s.prepared("remove content refs"));
  s.bind(1, parent.str());
  BERTH_TRY(s.step("remove content refs"));
  return ok();
}

Result<GcRoots> SqliteMetadata::gc_roots() {
  std::lock_guard l(mu_);
  Txn txn(db_);
  BERTH_TRY(txn.begin());
  BERTH_TRY(expire_leases_locked());
  GcRoots roots;
  {
    Stmt s(db_, "SELECT name, media_type, digest, size, created_at, updated_at, labels FROM images");
    BERTH_TRY(s.prepared("gc roots"));
    while (BERTH_TRY(s.step("gc roots"))) roots.images.push_back(BERTH_TRY(image_from(s)).target);
  }
  {
    Stmt s(db_, "SELECT kind, key FROM lease_resources");
    BERTH_TRY(s.prepared("gc roots"));
    while (BERTH_TRY(s.step("gc roots"))) {
      auto kind = BERTH_TRY(kind_from(s.text(0)));
      auto key = s.text(1);
      if (kind == ResourceKind::Content) {
        auto d = Digest::parse(key);
        if (d) roots.content.push_back(*d);
      } else if (kind == ResourceKind::Ingest) {
        roots.ingests.push_back(key);
      } else {
        roots.snapshots.push_back(key);
      }
    }
  }
  {
    Stmt s(db_, "SELECT parent, child FROM content_refs");
    BERTH_TRY(s.prepared("gc roots"));
    while (BERTH_TRY(s.step("gc roots"))) {
      auto p = Digest::parse(s.text(0));
      auto c = Digest::parse(s.text(1));
      if (p && c) roots.edges.emplace(*p, *c);
    }
  }
  BERTH_TRY(txn.commit());
  return roots;
}

}  // namespace berth::image::metadata
