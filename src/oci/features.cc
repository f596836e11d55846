#include "oci/features.h"

#include <nlohmann/json.hpp>

namespace berth::oci {

namespace {

std::vector<std::string> strings(std::span<const std::string_view> table) {
  return {table.begin(), table.end()};
}

}  // namespace

Features runtime_features() {
  Features f;
  f.oci_version_min = "1.0.0";
  f.oci_version_max = std::string(kOciVersion);
  f.hooks = strings(known_hooks());
  f.mount_options = strings(known_mount_options());
  f.linux.namespaces = strings(known_namespace_types());
  f.linux.capabilities = strings(known_capabilities());
  f.linux.cgroup = {.v1 = true, .v2 = true, .systemd = false, .systemd_user = false, .rdma = false};
  f.linux.seccomp.enabled = true;
  f.linux.seccomp.actions = strings(known_seccomp_actions());
  f.linux.seccomp.operators = strings(known_seccomp_operators());
  f.linux.seccomp.archs = strings(known_seccomp_archs());
  f.linux.seccomp.known_flags = strings(known_seccomp_flags());
  // runtime/seccomp loads the filter itself and applies every known flag.
  f.linux.seccomp.supported_flags = f.linux.seccomp.known_flags;
  return f;
}

std::string to_json(const Features& f, int indent) {
  using ojson = nlohmann::ordered_json;
  ojson o = ojson::object();
  o["ociVersionMin"] = f.oci_version_min;
  o["ociVersionMax"] = f.oci_version_max;
  o["hooks"] = f.hooks;
  o["mountOptions"] = f.mount_options;
  ojson l = ojson::object();
  l["namespaces"] = f.linux.namespaces;
  l["capabilities"] = f.linux.capabilities;
  const auto& c = f.linux.cgroup;
  l["cgroup"] = ojson{{"v1", c.v1}, {"v2", c.v2}, {"systemd", c.systemd}, {"systemdUser", c.systemd_user},
                      {"rdma", c.rdma}};
  const auto& s = f.linux.seccomp;
  ojson so = ojson::object();
  so["enabled"] = s.enabled;
  if (s.enabled) {
    so["actions"] = s.actions;
    so["operators"] = s.operators;
    so["archs"] = s.archs;
    so["knownFlags"] = s.known_flags;
    so["supportedFlags"] = s.supported_flags;
  }
  l["seccomp"] = std::move(so);
  l["apparmor"] = ojson{{"enabled", f.linux.apparmor}};
  l["selinux"] = ojson{{"enabled", f.linux.selinux}};
  l["intelRdt"] = ojson{{"enabled", f.linux.intel_rdt}};
  l["mountExtensions"] = ojson{{"idmap", ojson{{"enabled", f.linux.idmap_mounts}}}};
  o["linux"] = std::move(l);
  if (!f.annotations.empty()) o["annotations"] = f.annotations;
  return o.dump(indent, ' ', false, ojson::error_handler_t::replace);
}

}  // namespace berth::oci
