#pragma once
// Typed, path-aware reads from untrusted JSON objects, with Go's encoding/json tolerance (null reads as the
// zero value, keys match exactly or else case-insensitively) and InvalidArgument errors naming the field
// ("HostConfig.Memory: cannot unmarshal string into int64"). Internal to engine/spec.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::engine::spec {

class JsonReader {
 public:
  // j must be an object or null (null reads as an empty object).
  JsonReader(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {}

  static Result<JsonReader> object(const nlohmann::json& j, std::string path);

  // The value of key, or nullptr when absent or null.
  const nlohmann::json* find(std::string_view key) const;
  std::string field(std::string_view key) const;  // "Path.Key"
  const std::string& path() const { return path_; }

  Status str(std::string_view key, std::string& out) const;
  Status boolean(std::string_view key, bool& out) const;
  Status opt_bool(std::string_view key, std::optional<bool>& out) const;
  Status i64(std::string_view key, int64_t& out) const;
  Status opt_i64(std::string_view key, std::optional<int64_t>& out) const;
  Status u64(std::string_view key, uint64_t& out) const;
  Status i32(std::string_view key, int& out) const;
  Status u32(std::string_view key, uint32_t& out) const;
  Status u16(std::string_view key, uint16_t& out) const;
  // Array of strings; null/absent -> nullopt.
  Status str_list(std::string_view key, std::optional<std::vector<std::string>>& out) const;
  Status str_list(std::string_view key, std::vector<std::string>& out) const;
  // Go's StrSlice: a string or an array of strings.
  Status str_slice(std::string_view key, std::optional<std::vector<std::string>>& out) const;
  Status str_map(std::string_view key, std::map<std::string, std::string>& out) const;
  // Object whose values are ignored ({"80/tcp":{}}); null -> nullopt.
  Status key_set(std::string_view key, std::optional<std::set<std::string>>& out) const;

 private:
  const nlohmann::json& j_;
  std::string path_;
};

// "cannot unmarshal <json type> into <go type>" with the field path.
tl::unexpected<Error> type_error(const std::string& field, const nlohmann::json& v, std::string_view want);

}  // namespace berth::engine::spec
