#include "base/sqlite/sqlite.h"

#include <gtest/gtest.h>

#include "base/testing/temp_dir.h"

namespace berth::sqlite {
namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS child (k TEXT NOT NULL REFERENCES kv(k) ON DELETE CASCADE);
)";

struct Db {
  sqlite3* h = nullptr;
  ~Db() { sqlite3_close(h); }
};

std::string pragma(sqlite3* db, const char* sql) {
  Stmt s(db, sql);
  EXPECT_TRUE(s.prepared("pragma"));
  EXPECT_TRUE(s.step("pragma").value());
  return s.text(0);
}

int64_t count(sqlite3* db) {
  Stmt s(db, "SELECT COUNT(*) FROM kv");
  EXPECT_TRUE(s.prepared("count"));
  EXPECT_TRUE(s.step("count").value());
  return s.int64(0);
}

TEST(Sqlite, OpenSetsDurabilityAndRunsSchema) {
  testing::TempDir dir;
  Db db;
  db.h = open_database(dir / "t.db", kSchema).value();
  EXPECT_EQ(pragma(db.h, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(pragma(db.h, "PRAGMA synchronous"), "2");  // FULL
  EXPECT_EQ(pragma(db.h, "PRAGMA foreign_keys"), "0");
  EXPECT_EQ(count(db.h), 0);
}

TEST(Sqlite, ForeignKeysOption) {
  testing::TempDir dir;
  Db db;
  db.h = open_database(dir / "t.db", kSchema, {.foreign_keys = true}).value();
  EXPECT_EQ(pragma(db.h, "PRAGMA foreign_keys"), "1");
  Stmt s(db.h, "INSERT INTO child (k) VALUES (?1)");
  ASSERT_TRUE(s.prepared("child"));
  s.bind(1, "missing");
  auto r = s.step("insert child");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::AlreadyExists);
}

TEST(Sqlite, BindStepReadBackAndConstraintError) {
  testing::TempDir dir;
  Db db;
  db.h = open_database(dir / "t.db", kSchema).value();
  {
    Stmt s(db.h, "INSERT INTO kv (k, v) VALUES (?1, ?2)");
    ASSERT_TRUE(s.prepared("insert"));
    s.bind(1, std::string_view("a\0b", 3)).bind(2, int64_t{42});
    EXPECT_FALSE(s.step("insert").value());
    EXPECT_EQ(s.changes(), 1);
  }
  {
    Stmt s(db.h, "SELECT k, v FROM kv");
    ASSERT_TRUE(s.prepared("select"));
    ASSERT_TRUE(s.step("select").value());
    EXPECT_EQ(s.text(0), std::string("a\0b", 3));  // embedded NUL kept
    EXPECT_EQ(s.int64(1), 42);
    EXPECT_FALSE(s.step("select").value());
  }
  Stmt dup(db.h, "INSERT INTO kv (k, v) VALUES ('a', 1), ('a', 2)");
  ASSERT_TRUE(dup.prepared("dup"));
  auto r = dup.step("insert dup");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::AlreadyExists);
  EXPECT_NE(r.error().message().find("t.db: insert dup:"), std::string::npos) << r.error().message();
}

TEST(Sqlite, PrepareErrorIsReported) {
  testing::TempDir dir;
  Db db;
  db.h = open_database(dir / "t.db", kSchema).value();
  Stmt s(db.h, "SELECT nope FROM nowhere");
  auto st = s.prepared("bad select");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::Internal);
  EXPECT_NE(st.error().message().find("bad select"), std::string::npos);
}

TEST(Sqlite, TxnRollsBackUnlessCommitted) {
  testing::TempDir dir;
  Db db;
  db.h = open_database(dir / "t.db", kSchema).value();
  {
    Txn t(db.h);
    ASSERT_TRUE(t.begin());
    ASSERT_TRUE(exec(db.h, "INSERT INTO kv VALUES ('x', 1)", "insert"));
    EXPECT_EQ(count(db.h), 1);
  }
  EXPECT_EQ(count(db.h), 0);
  {
    Txn t(db.h);
    ASSERT_TRUE(t.begin());
    ASSERT_TRUE(exec(db.h, "INSERT INTO kv VALUES ('y', 2)", "insert"));
    ASSERT_TRUE(t.commit());
  }
  EXPECT_EQ(count(db.h), 1);
  sqlite3_close(db.h);
  db.h = open_database(dir / "t.db", kSchema).value();  // survives reopen
  EXPECT_EQ(count(db.h), 1);
}

TEST(Sqlite, OpenFailuresAreErrors) {
  testing::TempDir dir;
  auto r = open_database(dir / "no/such/dir/t.db", kSchema);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("no/such/dir/t.db"), std::string::npos);
  auto bad = open_database(dir / "t.db", "CREATE TABLE (");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("create schema"), std::string::npos);
}

}  // namespace
}  // namespace berth::sqlite
