#include "engine/container_store.h"

#include "base/sqlite/sqlite.h"

namespace berth::engine {

using sqlite::Stmt;

namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS containers (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created TEXT NOT NULL, image TEXT NOT NULL,
  image_id TEXT NOT NULL, config_json TEXT NOT NULL, host_config_json TEXT NOT NULL, network_json TEXT NOT NULL,
  state_json TEXT NOT NULL, meta_json TEXT NOT NULL, restart_count INTEGER NOT NULL DEFAULT 0);
PRAGMA user_version = 1;
)";

void bind_record(Stmt& s, const ContainerRecord& r) {
  s.bind(1, r.id).bind(2, r.name).bind(3, r.created).bind(4, r.image).bind(5, r.image_id).bind(6, r.config_json);
  s.bind(7, r.host_config_json).bind(8, r.network_json).bind(9, r.state_json).bind(10, r.meta_json);
  s.bind(11, r.restart_count);
}

}  // namespace

Result<std::unique_ptr<ContainerStore>> ContainerStore::open(const std::string& path) {
  std::unique_ptr<ContainerStore> s(new ContainerStore());
  s->db_ = BERTH_TRY(sqlite::open_database(path, kSchema));
  return s;
}

ContainerStore::~ContainerStore() {
  if (db_) sqlite3_close(db_);
}

Status ContainerStore::insert(const ContainerRecord& r) {
  std::lock_guard lk(mu_);
  {
    Stmt q(db_, "SELECT id FROM containers WHERE name = ?1");
    BERTH_TRY(q.prepared("name lookup"));
    q.bind(1, r.name);
    if (BERTH_TRY(q.step("name lookup")))
      return fail(Errc::AlreadyExists,
                  "Conflict. The container name \"{}\" is already in use by container \"{}\". You have to remove (or "
                  "rename) that container to be able to reuse that name.",
                  r.name, q.text(0));
  }
  Stmt s(db_,
         "INSERT INTO containers (id, name, created, image, image_id, config_json, host_config_json, network_json, "
         "state_json, meta_json, restart_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  BERTH_TRY(s.prepared("insert"));
  bind_record(s, r);
  BERTH_TRY(s.step("insert " + r.id));
  return ok();
}

Status ContainerStore::update(const ContainerRecord& r) {
  std::lock_guard lk(mu_);
  Stmt s(db_,
         "UPDATE containers SET name = ?2, created = ?3, image = ?4, image_id = ?5, config_json = ?6, "
         "host_config_json = ?7, network_json = ?8, state_json = ?9, meta_json = ?10, restart_count = ?11 "
         "WHERE id = ?1");
  BERTH_TRY(s.prepared("update"));
  bind_record(s, r);
  BERTH_TRY(s.step("update " + r.id));
  if (sqlite3_changes(db_) == 0) return fail(Errc::NotFound, "engine.db: no container {}", r.id);
  return ok();
}

Status ContainerStore::remove(const std::string& id) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "DELETE FROM containers WHERE id = ?1");
  BERTH_TRY(s.prepared("delete"));
  s.bind(1, id);
  BERTH_TRY(s.step("delete " + id));
  return ok();
}

Result<std::vector<ContainerRecord>> ContainerStore::all() {
  std::lock_guard lk(mu_);
  Stmt s(db_,
         "SELECT id, name, created, image, image_id, config_json, host_config_json, network_json, state_json, "
         "meta_json, restart_count FROM containers ORDER BY created");
  BERTH_TRY(s.prepared("list"));
  std::vector<ContainerRecord> out;
  while (BERTH_TRY(s.step("list"))) {
    ContainerRecord r;
    r.id = s.text(0);
    r.name = s.text(1);
    r.created = s.text(2);
    r.image = s.text(3);
    r.image_id = s.text(4);
    r.config_json = s.text(5);
    r.host_config_json = s.text(6);
    r.network_json = s.text(7);
    r.state_json = s.text(8);
    r.meta_json = s.text(9);
    r.restart_count = s.int64(10);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace berth::engine
