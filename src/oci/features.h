#pragma once
// The runtime features document printed by `berth-runtime features`
// (https://github.com/opencontainers/runtime-spec/blob/v1.1.0/features.md):
//
//   {"ociVersionMin": "1.0.0", "ociVersionMax": "1.1.0", "hooks": [...], "mountOptions": [...],
//    "linux": {"namespaces": [...], "capabilities": [...],
//              "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
//              "seccomp": {"enabled": true, "actions": [...], "operators": [...], "archs": [...],
//                          "knownFlags": [...], "supportedFlags": [...]},
//              "apparmor": {"enabled": false}, "selinux": {"enabled": false}, "intelRdt": {"enabled": false},
//              "mountExtensions": {"idmap": {"enabled": false}}},
//    "annotations": {...}}
//
// runtime_features() fills the lists from the same tables parse_runtime_spec() validates against, so the
// runtime never advertises a value its parser refuses, nor refuses one it advertises.

#include <map>
#include <string>
#include <vector>

#include "oci/runtime_spec.h"

namespace berth::oci {

struct Features {
  std::string oci_version_min;
  std::string oci_version_max;
  std::vector<std::string> hooks;
  std::vector<std::string> mount_options;

  struct Cgroup {
    bool v1 = false, v2 = false, systemd = false, systemd_user = false, rdma = false;
  };
  struct Seccomp {
    bool enabled = false;
    std::vector<std::string> actions, operators, archs, known_flags, supported_flags;
  };
  struct LinuxFeatures {
    std::vector<std::string> namespaces;
    std::vector<std::string> capabilities;
    Cgroup cgroup;
    Seccomp seccomp;
    bool apparmor = false, selinux = false, intel_rdt = false;
    bool idmap_mounts = false;  // "mountExtensions": {"idmap": {"enabled": ...}}
  } linux;

  std::map<std::string, std::string> annotations;  // e.g. "io.github.seccomp.libseccomp.version"
};

// What berth-runtime supports: every table of runtime_spec.h, cgroup v1 and v2 (no systemd driver),
// seccomp enabled with every known flag supported, no AppArmor, SELinux or Intel RDT. Annotations are
// left to the caller.
Features runtime_features();

std::string to_json(const Features& features, int indent = 2);

}  // namespace berth::oci
