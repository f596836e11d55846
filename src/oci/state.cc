#include "oci/state.h"

#include <array>
#include <nlohmann/json.hpp>

namespace berth::oci {

namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// Same order as ContainerStatus.
constexpr std::array<std::string_view, 5> kStatusNames = {"creating", "created", "running", "stopped", "paused"};

Status get_string(const json& j, const char* key, bool is_required, std::string& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (is_required) return fail(Errc::InvalidArgument, "{}: required field is missing", key);
    return ok();
  }
  if (!it->is_string()) return fail(Errc::InvalidArgument, "{}: expected string, got {}", key, it->type_name());
  out = it->get_ref<const std::string&>();
  return ok();
}

Status get_opt_string(const json& j, const char* key, std::optional<std::string>& out) {
  if (!j.contains(key) || j[key].is_null()) return ok();
  std::string v;
  BERTH_TRY(get_string(j, key, false, v));
  out = std::move(v);
  return ok();
}

Result<State> read_state(const json& j) {
  if (!j.is_object()) return fail(Errc::InvalidArgument, "state: expected object, got {}", j.type_name());
  State s;
  BERTH_TRY(get_string(j, "ociVersion", true, s.oci_version));
  BERTH_TRY(get_string(j, "id", true, s.id));
  if (s.id.empty()) return fail(Errc::InvalidArgument, "id: must not be empty");
  std::string status;
  BERTH_TRY(get_string(j, "status", true, status));
  auto st = container_status_from_name(status);
  if (!st) return fail(Errc::InvalidArgument, "status: unknown container status \"{}\"", status);
  s.status = *st;
  if (auto it = j.find("pid"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer()) return fail(Errc::InvalidArgument, "pid: expected integer, got {}", it->type_name());
    if (it->is_number_unsigned() ? it->get<uint64_t>() > INT32_MAX
                                 : (it->get<int64_t>() < 0 || it->get<int64_t>() > INT32_MAX))
      return fail(Errc::InvalidArgument, "pid: {} is out of range", it->dump());
    s.pid = static_cast<int>(it->get<int64_t>());
  }
  BERTH_TRY(get_string(j, "bundle", false, s.bundle));
  if (!s.bundle.empty() && s.bundle[0] != '/')
    return fail(Errc::InvalidArgument, "bundle: path \"{}\" must be absolute", s.bundle);
  if (auto it = j.find("annotations"); it != j.end() && !it->is_null()) {
    if (!it->is_object())
      return fail(Errc::InvalidArgument, "annotations: expected object, got {}", it->type_name());
    for (auto a = it->begin(); a != it->end(); ++a) {
      if (!a.value().is_string())
        return fail(Errc::InvalidArgument, "annotations.{}: expected string, got {}", a.key(), a.value().type_name());
      s.annotations[a.key()] = a.value().get_ref<const std::string&>();
    }
  }
  BERTH_TRY(get_opt_string(j, "rootfs", s.rootfs));
  BERTH_TRY(get_opt_string(j, "created", s.created));
  BERTH_TRY(get_opt_string(j, "owner", s.owner));
  return s;
}

}  // namespace

std::string_view container_status_name(ContainerStatus s) {
  auto i = static_cast<size_t>(s);
  BERTH_CHECK(i < kStatusNames.size(), "bad ContainerStatus");
  return kStatusNames[i];
}

std::optional<ContainerStatus> container_status_from_name(std::string_view name) {
  for (size_t i = 0; i < kStatusNames.size(); ++i)
    if (kStatusNames[i] == name) return static_cast<ContainerStatus>(i);
  return std::nullopt;
}

Result<State> parse_state(std::string_view json_text) {
  json j = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(Errc::InvalidArgument, "state: invalid JSON");
  try {
    return read_state(j);
  } catch (const json::exception& e) {
    return fail(Errc::InvalidArgument, "state: {}", e.what());
  }
}

std::string to_json(const State& s, int indent) {
  ojson o = ojson::object();
  o["ociVersion"] = s.oci_version;
  o["id"] = s.id;
  o["pid"] = s.pid;
  o["status"] = container_status_name(s.status);
  o["bundle"] = s.bundle;
  if (s.rootfs) o["rootfs"] = *s.rootfs;
  if (s.created) o["created"] = *s.created;
  if (s.owner) o["owner"] = *s.owner;
  if (!s.annotations.empty()) o["annotations"] = s.annotations;
  return o.dump(indent, ' ', false, ojson::error_handler_t::replace);
}

}  // namespace berth::oci
