#pragma once
// The SQLite plumbing every Berth database shares (image metadata.db, engine.db).
//
// open_database: opens (creating) the file with the durability settings Berth promises for every acknowledged
// change — journal_mode=WAL, synchronous=FULL (the WAL is fsynced before a write returns), a 5 s busy timeout,
// optionally foreign_keys=ON — then runs the schema script. The handle is NOMUTEX: the owner serialises access.
//
// Errors carry the database's file name ("engine.db: insert: UNIQUE constraint failed: …"). Result codes map
// to: BUSY/LOCKED -> Unavailable, any CONSTRAINT -> AlreadyExists, the rest -> Internal.

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::sqlite {

struct OpenOptions {
  bool foreign_keys = false;
};

// The handle to close with sqlite3_close; nothing is left open on failure.
Result<sqlite3*> open_database(const std::string& path, const char* schema, OpenOptions opts = {});

// An error for result code `rc` of `what` on `db` (db may be null: the code's text is used then).
tl::unexpected<Error> db_error(sqlite3* db, int rc, std::string_view what);

// Runs one or more statements without results.
Status exec(sqlite3* db, const char* sql, std::string_view what);

// A prepared statement; the prepare result is checked by prepared().
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Status prepared(std::string_view what);
  Stmt& bind(int i, std::string_view s);
  Stmt& bind(int i, int64_t v);
  // SQLITE_ROW -> true, SQLITE_DONE -> false.
  Result<bool> step(std::string_view what);
  std::string text(int i);
  int64_t int64(int i);
  // Rows changed by the last completed INSERT/UPDATE/DELETE on this connection.
  int changes();

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
  int rc_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back on destruction unless commit() ran.
class Txn {
 public:
  explicit Txn(sqlite3* db) : db_(db) {}
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  Status begin();
  Status commit();

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace berth::sqlite
