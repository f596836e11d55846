#pragma once
// SqliteMetadata: Metadata in one SQLite database file (WAL, synchronous=FULL, busy_timeout 5 s).
//
// Schema (PRAGMA user_version = 1):
//
//   images                                   lease_resources
//   +----------------+-------------------+   +-----------+--------------------------------------+
//   | name      TEXT | PRIMARY KEY       |   | lease_id  | TEXT -> leases.id ON DELETE CASCADE  |
//   | media_type TEXT| target descriptor |   | kind      | TEXT 'content'|'ingest'|'snapshot'    |
//   | digest    TEXT |                   |   | key       | TEXT                                 |
//   | size      INT  |                   |   | PRIMARY KEY (lease_id, kind, key)                |
//   | created_at INT | unix ns           |   +-----------+--------------------------------------+
//   | updated_at INT | unix ns           |
//   | labels    TEXT | JSON object       |   content_refs (extra GC edges)
//   +----------------+-------------------+   +-----------+------+  PRIMARY KEY (parent, child)
//                                            | parent    | TEXT |
//   leases                                   | child     | TEXT |
//   +----------------+-------------------+   +-----------+------+
//   | id        TEXT | PRIMARY KEY       |
//   | created_at INT | unix ns           |
//   | expires_at INT | unix ns, 0 = never|
//   | labels    TEXT | JSON object       |
//   +----------------+-------------------+

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "image/metadata/metadata.h"

struct sqlite3;

namespace berth::image::metadata {

class SqliteMetadata final : public Metadata {
 public:
  using Clock = std::function<int64_t()>;  // unix ns; the default reads CLOCK_REALTIME
  static Result<std::unique_ptr<SqliteMetadata>> open(const std::string& path, Clock clock = {});
  ~SqliteMetadata() override;

  Status put_image(const ImageRecord& rec) override;
  Result<ImageRecord> get_image(const std::string& name) override;
  Result<std::vector<ImageRecord>> list_images() override;
  Status delete_image(const std::string& name) override;
  Result<Lease> create_lease(const std::string& id, int64_t ttl_ns,
                             const std::map<std::string, std::string>& labels = {}) override;
  Status delete_lease(const std::string& id) override;
  Result<std::vector<Lease>> list_leases() override;
  Status add_lease_resource(const std::string& lease_id, const LeaseResource& r) override;
  Status add_lease_resources(const std::string& lease_id, const std::vector<LeaseResource>& rs) override;
  Status remove_lease_resource(const std::string& lease_id, const LeaseResource& r) override;
  Result<std::vector<LeaseResource>> lease_resources(const std::string& lease_id) override;
  Result<int> expire_leases() override;
  Status add_content_ref(const Digest& parent, const Digest& child) override;
  Status remove_content_refs(const Digest& parent) override;
  Result<GcRoots> gc_roots() override;

 private:
  SqliteMetadata(sqlite3* db, Clock clock) : db_(db), clock_(std::move(clock)) {}
  Result<int> expire_leases_locked();
  sqlite3* db_;
  Clock clock_;
  std::mutex mu_;
};

}  // namespace berth::image::metadata
