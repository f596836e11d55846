#pragma once
// HostConfig.SecurityOpt and HostConfig.Sysctls: parsing and validation shared by create-time validation
// (validate_host_config) and build_spec.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/spec/container_config.h"
#include "engine/spec/seccomp_profile.h"

namespace berth::engine::spec {

struct SecurityOptions {
  enum class Seccomp { Default, Unconfined, Custom };
  Seccomp seccomp = Seccomp::Default;
  std::optional<SeccompProfile> custom_profile;  // Seccomp::Custom
  bool no_new_privileges = false;
  bool systempaths_unconfined = false;  // "systempaths=unconfined": no masked / read-only paths
};

// "seccomp=unconfined", "seccomp=builtin", "seccomp=<profile JSON text>" (the docker CLI reads the file and
// sends its content), "no-new-privileges[=|:true|false]", "systempaths=unconfined", "label=..." and
// "apparmor=..." (accepted and ignored: this host has neither SELinux nor AppArmor enforcement here), the
// older "key:value" spelling too. Anything else: InvalidArgument (`invalid --security-opt 2: "x"`).
Result<SecurityOptions> parse_security_opts(const std::vector<std::string>& opts);
Status check_security_opts(const HostConfig& host);

// Only sysctls namespaced per container are allowed: kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem,
// kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.* (not with IpcMode host),
// net.* (not with NetworkMode host). Keys with "/", "..", empty components, or NUL are refused.
Status check_sysctls(const std::map<std::string, std::string>& sysctls, bool host_network, bool host_ipc);

}  // namespace berth::engine::spec
