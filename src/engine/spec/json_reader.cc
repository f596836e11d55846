#include "engine/spec/json_reader.h"

#include <strings.h>

#include <limits>

#include "engine/spec/container_config.h"

namespace berth::engine::spec {

namespace {

std::string_view json_type(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "object";
    case nlohmann::json::value_t::array: return "array";
    case nlohmann::json::value_t::string: return "string";
    case nlohmann::json::value_t::boolean: return "bool";
    case nlohmann::json::value_t::number_float: return "number (fraction)";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "number";
    default: return "value";
  }
}

// An integral JSON number in [lo, hi], or an error naming the field.
template <class T>
Result<T> integral(const std::string& field, const nlohmann::json& v, std::string_view go_type) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<T>::max()))
      return fail(Errc::InvalidArgument, "{}: number {} overflows {}", field, u, go_type);
    return static_cast<T>(u);
  }
  if (v.is_number_integer()) {
    int64_t s = v.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      if (s < 0) return fail(Errc::InvalidArgument, "{}: cannot unmarshal number {} into {}", field, s, go_type);
      if (static_cast<uint64_t>(s) > static_cast<uint64_t>(std::numeric_limits<T>::max()))
        return fail(Errc::InvalidArgument, "{}: number {} overflows {}", field, s, go_type);
    } else {
      if (s < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          s > static_cast<int64_t>(std::numeric_limits<T>::max()))
        return fail(Errc::InvalidArgument, "{}: number {} overflows {}", field, s, go_type);
    }
    return static_cast<T>(s);
  }
  if (v.is_number_float()) {
    return fail(Errc::InvalidArgument, "{}: cannot unmarshal number {} into {}", field, v.dump(), go_type);
  }
  return type_error(field, v, go_type);
}

}  // namespace

tl::unexpected<Error> type_error(const std::string& field, const nlohmann::json& v, std::string_view want) {
  return fail(Errc::InvalidArgument, "{}: cannot unmarshal {} into {}", field, json_type(v), want);
}

Result<JsonReader> JsonReader::object(const nlohmann::json& j, std::string path) {
  if (!j.is_object() && !j.is_null()) return type_error(path, j, "object");
  // Keys are looked up case-insensitively when not found exactly: bound the scan.
  if (j.is_object() && j.size() > kMaxListEntries)
    return fail(Errc::InvalidArgument, "{}: too many fields ({} > {})", path.empty() ? "body" : path, j.size(),
                kMaxListEntries);
  return JsonReader(j, std::move(path));
}

const nlohmann::json* JsonReader::find(std::string_view key) const {
  if (!j_.is_object()) return nullptr;
  auto it = j_.find(key);
  const nlohmann::json* v = nullptr;
  if (it != j_.end()) {
    v = &*it;
  } else {
    for (auto i = j_.begin(); i != j_.end(); ++i) {
      if (i.key().size() == key.size() && ::strncasecmp(i.key().data(), key.data(), key.size()) == 0) {
        v = &i.value();
        break;
      }
    }
  }
  if (v && v->is_null()) return nullptr;
  return v;
}

std::string JsonReader::field(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return fmt::format("{}.{}", path_, key);
}

Status JsonReader::str(std::string_view key, std::string& out) const {
  const auto* v = find(key);
  if (!v) return ok();
  if (!v->is_string()) return type_error(field(key), *v, "string");
  out = v->get<std::string>();
  return ok();
}

Status JsonReader::boolean(std::string_view key, bool& out) const {
  const auto* v = find(key);
  if (!v) return ok();
  if (!v->is_boolean()) return type_error(field(key), *v, "bool");
  out = v->get<bool>();
  return ok();
}

Status JsonReader::opt_bool(std::string_view key, std::optional<bool>& out) const {
  const auto* v = find(key);
  if (!v) return ok();
  if (!v->is_boolean()) return type_error(field(key), *v, "bool");
  out = v->get<bool>();
  return ok();
}

Status JsonReader::i64(std::string_view key, int64_t& out) const {
  const auto* v = find(key);
  if (!v) return ok();
  out = BERTH_TRY(integral<int64_t>(field(key), *v, "int64"));
  return ok();
}

Status JsonReader::opt_i64(std::string_view key, std::optional<int64_t>& out) const {
  const auto* v = find(key);
  if (!v) return ok();
  out = BERTH_TRY(integral<int64_t>(field(key), *v, "int64"));
  return ok();
}

Status JsonReader::u64(std::string_view key, uint64_t& out) const {
  const auto* v = find(key);
  if (!v) return ok();
  out = BERTH_TRY(integral<uint64_t>(field(key), *v, "uint64"));
  return ok();
}

Status JsonReader::i32(std::string_view key, int& out) const {
  const auto* v = find(key);
  if (!v) return ok();
  out = BERTH_TRY(integral<int32_t>(field(key), *v, "int"));
  return ok();
}

Status JsonReader::u32(std::string_view key, uint32_t& out) const {
  const auto* v = find(key);
  if (!v) return ok();
  out = BERTH_TRY(integral<uint32_t>(field(key), *v, "uint32"));
  return ok();
}

Status JsonReader::u16(std::string_view key, uint16_t& out) const {
  const auto* v = find(key);
  if (!v) return ok();
  out = BERTH_TRY(integral<uint16_t>(field(key), *v, "uint16"));
  return ok();
}

Status JsonReader::str_list(std::string_view key, std::optional<std::vector<std::string>>& out) const {
  const auto* v = find(key);
  if (!v) {
    out.reset();
    return ok();
  }
  if (!v->is_array()) return type_error(field(key), *v, "[]string");
  if (v->size() > kMaxListEntries)
    return fail(Errc::InvalidArgument, "{}: too many entries ({} > {})", field(key), v->size(), kMaxListEntries);
  std::vector<std::string> r;
  r.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    const auto& e = (*v)[i];
    if (!e.is_string()) return type_error(fmt::format("{}[{}]", field(key), i), e, "string");
    r.push_back(e.get<std::string>());
  }
  out = std::move(r);
  return ok();
}

Status JsonReader::str_list(std::string_view key, std::vector<std::string>& out) const {
  std::optional<std::vector<std::string>> o;
  BERTH_TRY(str_list(key, o));
  out = o ? std::move(*o) : std::vector<std::string>{};
  return ok();
}

Status JsonReader::str_slice(std::string_view key, std::optional<std::vector<std::string>>& out) const {
  const auto* v = find(key);
  if (v && v->is_string()) {
    out = std::vector<std::string>{v->get<std::string>()};
    return ok();
  }
  return str_list(key, out);
}

Status JsonReader::str_map(std::string_view key, std::map<std::string, std::string>& out) const {
  const auto* v = find(key);
  out.clear();
  if (!v) return ok();
  if (!v->is_object()) return type_error(field(key), *v, "map[string]string");
  if (v->size() > kMaxListEntries)
    return fail(Errc::InvalidArgument, "{}: too many entries ({} > {})", field(key), v->size(), kMaxListEntries);
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (it.value().is_null()) {  // Go decodes null into a string as ""
      out[it.key()] = "";
      continue;
    }
    if (!it.value().is_string()) return type_error(fmt::format("{}[{}]", field(key), it.key()), it.value(), "string");
    out[it.key()] = it.value().get<std::string>();
  }
  return ok();
}

Status JsonReader::key_set(std::string_view key, std::optional<std::set<std::string>>& out) const {
  const auto* v = find(key);
  if (!v) {
    out.reset();
    return ok();
  }
  if (!v->is_object()) return type_error(field(key), *v, "map[string]struct {}");
  if (v->size() > kMaxListEntries)
    return fail(Errc::InvalidArgument, "{}: too many entries ({} > {})", field(key), v->size(), kMaxListEntries);
  std::set<std::string> r;
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_object() && !it.value().is_null())
      return type_error(fmt::format("{}[{}]", field(key), it.key()), it.value(), "struct {}");
    r.insert(it.key());
  }
  out = std::move(r);
  return ok();
}

}  // namespace berth::engine::spec
