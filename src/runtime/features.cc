#include "runtime/features.h"

#include <nlohmann/json.hpp>

#include "oci/runtime_spec.h"

namespace berth::runtime {

std::string features_json() {
  using nlohmann::json;
  auto arr = [](auto span) {
    json a = json::array();
    for (auto s : span) a.push_back(std::string(s));
    return a;
  };
  json j;
  j["ociVersionMin"] = "1.0.0";
  j["ociVersionMax"] = std::string(oci::kOciVersion);
  j["hooks"] = arr(oci::known_hooks());
  j["mountOptions"] = json::array({"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
                                   "iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime",
                                   "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime",
                                   "nosuid", "nosymfollow", "private", "rbind", "relatime", "remount", "ro",
                                   "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "silent",
                                   "slave", "strictatime", "suid", "symfollow", "sync", "unbindable"});
  json lx;
  lx["namespaces"] = arr(oci::known_namespace_types());
  lx["capabilities"] = arr(oci::known_capabilities());
  lx["cgroup"] = {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}, {"rdma", false}};
  lx["seccomp"] = {{"enabled", true},
                   {"actions", arr(oci::known_seccomp_actions())},
                   {"operators", arr(oci::known_seccomp_operators())},
                   {"archs", arr(oci::known_seccomp_archs())},
                   {"knownFlags", arr(oci::known_seccomp_flags())},
                   {"supportedFlags", arr(oci::known_seccomp_flags())}};
  lx["apparmor"] = {{"enabled", false}};
  lx["selinux"] = {{"enabled", false}};
  lx["intelRdt"] = {{"enabled", false}};
  lx["mountExtensions"] = {{"idmap", {{"enabled", false}}}};
  j["linux"] = lx;
  j["annotations"] = {{"io.github.berth.runtime.version", "0.1.0"}};
  return j.dump(4);
}

}  // namespace berth::runtime
