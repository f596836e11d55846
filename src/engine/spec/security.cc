#include "engine/spec/security.h"

#include <algorithm>

namespace berth::engine::spec {

Result<SecurityOptions> parse_security_opts(const std::vector<std::string>& opts) {
  SecurityOptions s;
  for (size_t i = 0; i < opts.size(); ++i) {
    const std::string& opt = opts[i];
    std::string key, value;
    bool has_value = false;
    auto eq = opt.find('=');
    if (eq != std::string::npos) {
      key = opt.substr(0, eq);
      value = opt.substr(eq + 1);
      has_value = true;
    } else if (opt == "no-new-privileges") {
      key = opt;
    } else if (auto colon = opt.find(':'); colon != std::string::npos) {
      key = opt.substr(0, colon);
      value = opt.substr(colon + 1);
      has_value = true;
    } else {
      return fail(Errc::InvalidArgument, "HostConfig.SecurityOpt[{}]: Invalid --security-opt: \"{}\"", i, opt);
    }
    if (key == "seccomp") {
      if (value == "unconfined") {
        s.seccomp = SecurityOptions::Seccomp::Unconfined;
        s.custom_profile.reset();
      } else if (value == "builtin" || value.empty()) {
        s.seccomp = SecurityOptions::Seccomp::Default;
        s.custom_profile.reset();
      } else if (value.find_first_not_of(" \t\r\n") != std::string::npos &&
                 value[value.find_first_not_of(" \t\r\n")] == '{') {
        auto p = parse_seccomp_profile(value);
        if (!p)
          return fail(Errc::InvalidArgument, "HostConfig.SecurityOpt[{}]: Decoding seccomp profile failed: {}", i,
                      p.error().message());
        s.seccomp = SecurityOptions::Seccomp::Custom;
        s.custom_profile = std::move(*p);
      } else {
        return fail(Errc::InvalidArgument,
                    "HostConfig.SecurityOpt[{}]: seccomp profile must be \"unconfined\", \"builtin\" or the profile's "
                    "JSON text (the client reads the file), not \"{}\"",
                    i, value.substr(0, 64));
      }
    } else if (key == "no-new-privileges") {
      if (!has_value || value == "true") {
        s.no_new_privileges = true;
      } else if (value == "false") {
        s.no_new_privileges = false;
      } else {
        return fail(Errc::InvalidArgument, "HostConfig.SecurityOpt[{}]: invalid --security-opt 2: \"{}\"", i, opt);
      }
    } else if (key == "systempaths") {
      if (value != "unconfined")
        return fail(Errc::InvalidArgument, "HostConfig.SecurityOpt[{}]: invalid --security-opt 2: \"{}\"", i, opt);
      s.systempaths_unconfined = true;
    } else if (key == "label" || key == "apparmor") {
      // Accepted for compatibility; no SELinux labels or AppArmor profiles are applied.
    } else {
      return fail(Errc::InvalidArgument, "HostConfig.SecurityOpt[{}]: invalid --security-opt 2: \"{}\"", i, opt);
    }
  }
  return s;
}

Status check_security_opts(const HostConfig& host) {
  if (host.security_opt) BERTH_TRY(parse_security_opts(*host.security_opt));
  return ok();
}

Status check_sysctls(const std::map<std::string, std::string>& sysctls, bool host_network, bool host_ipc) {
  static const std::vector<std::string_view> ipc_keys = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
                                                         "kernel.sem",    "kernel.shmall", "kernel.shmmax",
                                                         "kernel.shmmni", "kernel.shm_rmid_forced"};
  for (const auto& [k, v] : sysctls) {
    bool bad_key = k.empty() || k.size() > 256 || k.find('/') != std::string::npos ||
                   k.find('\0') != std::string::npos || k.find("..") != std::string::npos || k.front() == '.' ||
                   k.back() == '.';
    if (bad_key) return fail(Errc::InvalidArgument, "HostConfig.Sysctls: invalid sysctl key \"{}\"", k);
    if (v.find('\0') != std::string::npos || v.find('\n') != std::string::npos || v.size() > 4096)
      return fail(Errc::InvalidArgument, "HostConfig.Sysctls[{}]: invalid value", k);
    bool ipc = std::find(ipc_keys.begin(), ipc_keys.end(), k) != ipc_keys.end() || k.starts_with("fs.mqueue.");
    if (ipc) {
      if (host_ipc)
        return fail(Errc::InvalidArgument, "HostConfig.Sysctls: sysctl \"{}\" not allowed with IpcMode host", k);
      continue;
    }
    if (k.starts_with("net.")) {
      if (host_network)
        return fail(Errc::InvalidArgument, "HostConfig.Sysctls: sysctl \"{}\" not allowed in host network namespace (or one shared with another container)", k);
      continue;
    }
    return fail(Errc::InvalidArgument, "HostConfig.Sysctls: sysctl \"{}\" is not allowed (not namespaced)", k);
  }
  return ok();
}

}  // namespace berth::engine::spec
