#pragma once
// The OCI runtime "state" object (runtime-spec runtime.md#state): printed by `berth-runtime state` and
// written to every hook's stdin.
//
//   {"ociVersion": "1.1.0", "id": "c1", "status": "running", "pid": 4422, "bundle": "/path/to/bundle",
//    "annotations": {...}}
//
// runc's `state` command prints a few more fields (rootfs, created, owner) that containerd's runc shim
// reads; they are optional here and written only when set. parse_state() accepts either form, ignores
// unknown keys and fails with Errc::InvalidArgument naming the field.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::oci {

enum class ContainerStatus { Creating, Created, Running, Stopped, Paused };
std::string_view container_status_name(ContainerStatus s);  // "creating", "created", ...
std::optional<ContainerStatus> container_status_from_name(std::string_view name);

struct State {
  std::string oci_version;  // kOciVersion when made by this runtime
  std::string id;
  ContainerStatus status = ContainerStatus::Creating;
  int pid = 0;  // required while created or running; 0 = none (written as 0, as runc does)
  std::string bundle;  // absolute path
  std::map<std::string, std::string> annotations;

  // runc `state` extras.
  std::optional<std::string> rootfs;   // absolute path
  std::optional<std::string> created;  // RFC 3339 with nanoseconds, "2024-01-02T03:04:05.123456789Z"
  std::optional<std::string> owner;    // "" for root
};

// Required: ociVersion, id, status. pid must be >= 0. bundle, when present, must be absolute.
Result<State> parse_state(std::string_view json_text);
std::string to_json(const State& state, int indent = 2);

}  // namespace berth::oci
