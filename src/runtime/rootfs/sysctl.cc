#include "runtime/rootfs/sysctl.h"

#include <sys/stat.h>

#include <array>

#include "oci/runtime_spec.h"

namespace berth::runtime::rootfs {
namespace {

constexpr std::array<std::string_view, 8> kIpcSysctls{
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
    "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

const oci::Namespace* find_ns(const oci::Spec& spec, oci::NamespaceType t) {
  if (!spec.linux) return nullptr;
  for (const oci::Namespace& ns : spec.linux->namespaces)
    if (ns.type == t) return &ns;
  return nullptr;
}

}  // namespace

std::string normalize_sysctl_key(std::string_view key) {
  std::string out(key);
  size_t dot = out.find('.');
  size_t slash = out.find('/');
  // Slash form when the first separator is a slash: swap the two, as sysctl(8) reads it.
  if (slash != std::string::npos && (dot == std::string::npos || slash < dot)) {
    for (char& c : out) {
      if (c == '.')
        c = '/';
      else if (c == '/')
        c = '.';
    }
  }
  return out;
}

Result<std::string> sysctl_relative_path(std::string_view key) {
  std::string dotted = normalize_sysctl_key(key);
  if (dotted.empty()) return fail(Errc::InvalidArgument, "sysctl: empty key");
  std::string path;
  path.reserve(dotted.size());
  std::string component;
  auto finish = [&]() -> Status {
    if (component.empty() || component == "." || component == "..")
      return fail(Errc::InvalidArgument, "sysctl \"{}\": invalid key (empty, '.' or '..' component)", key);
    if (!path.empty()) path += '/';
    path += component;
    component.clear();
    return ok();
  };
  for (char c : dotted) {
    if (c == '\0') return fail(Errc::InvalidArgument, "sysctl: key contains a NUL byte");
    if (c == '.') {
      BERTH_TRY(finish());
    } else {
      component += (c == '/') ? '.' : c;
    }
  }
  BERTH_TRY(finish());
  return path;
}

Status check_sysctl_allowed(std::string_view key, const SysctlNamespaces& ns) {
  std::string k = normalize_sysctl_key(key);
  bool ipc_key = starts_with(k, "fs.mqueue.");
  for (std::string_view s : kIpcSysctls) ipc_key = ipc_key || k == s;
  if (ipc_key) {
    if (ns.ipc) return ok();
    return fail(Errc::InvalidArgument, "sysctl \"{}\" is not allowed in the host's ipc namespace", k);
  }
  if (starts_with(k, "net.")) {
    if (ns.net) return ok();
    return fail(Errc::InvalidArgument, "sysctl \"{}\" is not allowed in the host's network namespace", k);
  }
  if (k == "kernel.domainname") {
    if (ns.uts) return ok();
    return fail(Errc::InvalidArgument, "sysctl \"{}\" is not allowed in the host's uts namespace", k);
  }
  if (k == "kernel.hostname")
    return fail(Errc::InvalidArgument,
                "sysctl \"{}\" is not allowed: it conflicts with the OCI \"hostname\" field", k);
  if (starts_with(k, "user.")) {
    if (ns.user) return ok();
    return fail(Errc::InvalidArgument, "sysctl \"{}\" is not allowed without a user namespace", k);
  }
  return fail(Errc::InvalidArgument, "sysctl \"{}\" is not in a separate kernel namespace", k);
}

SysctlNamespaces sysctl_namespaces(const oci::Spec& spec) {
  SysctlNamespaces out;
  out.ipc = find_ns(spec, oci::NamespaceType::Ipc) != nullptr;
  out.uts = find_ns(spec, oci::NamespaceType::Uts) != nullptr;
  out.user = find_ns(spec, oci::NamespaceType::User) != nullptr;
  if (const oci::Namespace* net = find_ns(spec, oci::NamespaceType::Network)) {
    out.net = true;
    if (!net->path.empty()) {
      struct stat joined {
      }, own{};
      if (::stat(net->path.c_str(), &joined) == 0 && ::stat("/proc/self/ns/net", &own) == 0 &&
          joined.st_dev == own.st_dev && joined.st_ino == own.st_ino)
        out.net = false;
    }
  }
  return out;
}

Status check_sysctls(const oci::Spec& spec) {
  if (!spec.linux || spec.linux->sysctl.empty()) return ok();
  SysctlNamespaces ns = sysctl_namespaces(spec);
  for (const auto& [key, value] : spec.linux->sysctl) {
    BERTH_TRY_CTX(sysctl_relative_path(key), "linux.sysctl");
    BERTH_TRY_CTX(check_sysctl_allowed(key, ns), "linux.sysctl");
  }
  return ok();
}

}  // namespace berth::runtime::rootfs
