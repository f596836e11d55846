#include "base/sqlite/sqlite.h"

namespace berth::sqlite {

namespace {

std::string_view db_label(sqlite3* db) {
  const char* f = db ? sqlite3_db_filename(db, "main") : nullptr;
  if (!f || !*f) return "sqlite";
  std::string_view p(f);
  auto slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

Errc errc_for(int rc) {
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Errc::Unavailable;
  if (primary == SQLITE_CONSTRAINT) return Errc::AlreadyExists;
  return Errc::Internal;
}

}  // namespace

tl::unexpected<Error> db_error(sqlite3* db, int rc, std::string_view what) {
  return fail(errc_for(rc), "{}: {}: {}", db_label(db), what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

Status exec(sqlite3* db, const char* sql, std::string_view what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return ok();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return fail(errc_for(rc), "{}: {}: {}", db_label(db), what, msg);
}

Result<sqlite3*> open_database(const std::string& path, const char* schema, OpenOptions opts) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Status st = ok();
  if (rc != SQLITE_OK) {
    st = fail(errc_for(rc), "open `{}`: {}", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  } else {
    sqlite3_busy_timeout(db, 5000);
    st = exec(db, "PRAGMA journal_mode=WAL", "enable WAL");
    if (st) st = exec(db, "PRAGMA synchronous=FULL", "set synchronous");
    if (st && opts.foreign_keys) st = exec(db, "PRAGMA foreign_keys=ON", "enable foreign keys");
    if (st && schema) st = exec(db, schema, "create schema");
  }
  if (!st) {
    sqlite3_close(db);
    return fail(std::move(st).error());
  }
  return db;
}

Stmt::Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }

Stmt::~Stmt() { sqlite3_finalize(st_); }

Status Stmt::prepared(std::string_view what) {
  if (rc_ != SQLITE_OK) return db_error(db_, rc_, what);
  return ok();
}

Stmt& Stmt::bind(int i, std::string_view s) {
  sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::bind(int i, int64_t v) {
  sqlite3_bind_int64(st_, i, v);
  return *this;
}

Result<bool> Stmt::step(std::string_view what) {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_error(db_, rc, what);
}

std::string Stmt::text(int i) {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st_, i))) : std::string();
}

int64_t Stmt::int64(int i) { return sqlite3_column_int64(st_, i); }

int Stmt::changes() { return sqlite3_changes(db_); }

Status Txn::begin() {
  BERTH_TRY(exec(db_, "BEGIN IMMEDIATE", "begin"));
  open_ = true;
  return ok();
}

Status Txn::commit() {
  BERTH_TRY(exec(db_, "COMMIT", "commit"));
  open_ = false;
  return ok();
}

Txn::~Txn() {
  if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace berth::sqlite
