#pragma once
// The engine's durable container table: <data-root>/engine.db (SQLite, WAL, synchronous=FULL so a write
// the API acknowledged survives a power cut). The engine keeps every container in memory and writes
// through; the DB is read once at daemon start (live-restore).
//
// Schema (user_version 1):
//   containers(
//     id               TEXT PRIMARY KEY,     -- 64 hex
//     name             TEXT NOT NULL UNIQUE, -- "/web" (docker's leading slash)
//     created          TEXT NOT NULL,        -- RFC 3339 nanos, UTC
//     image            TEXT NOT NULL,        -- Config.Image as the user wrote it
//     image_id         TEXT NOT NULL,        -- sha256:<config digest>
//     config_json      TEXT NOT NULL,        -- Config, image config merged (engine/spec to_json)
//     host_config_json TEXT NOT NULL,        -- HostConfig (engine/spec to_json)
//     network_json     TEXT NOT NULL,        -- NetworkingConfig
//     state_json       TEXT NOT NULL,        -- ContainerState (container.h state_to_json)
//     meta_json        TEXT NOT NULL,        -- Path, Args, mounts as resolved, snapshot key, log path, ...
//     restart_count    INTEGER NOT NULL DEFAULT 0)
// Thread-safety: one connection behind a mutex; every method is safe to call from any thread.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"

struct sqlite3;

namespace berth::engine {

struct ContainerRecord {
  std::string id, name, created, image, image_id;
  std::string config_json, host_config_json, network_json, state_json, meta_json;
  int64_t restart_count = 0;
};

class ContainerStore {
 public:
  static Result<std::unique_ptr<ContainerStore>> open(const std::string& path);
  ~ContainerStore();

  // AlreadyExists when the name is taken (the message names the holder's id), Conflict for a duplicate id.
  Status insert(const ContainerRecord& r);
  // Rewrites every column but id; NotFound when absent. AlreadyExists when the new name is taken.
  Status update(const ContainerRecord& r);
  Status remove(const std::string& id);
  Result<std::vector<ContainerRecord>> all();

 private:
  ContainerStore() = default;
  std::mutex mu_;
  sqlite3* db_ = nullptr;
};

}  // namespace berth::engine
