#pragma once
// linux.sysctl: which keys a container may set, and where they live under /proc/sys.
//
// /proc/sys is only partly namespaced, so a key is allowed only when the namespace that scopes it is private
// to the container (the same table as runc's validator):
//   kernel.msgmax kernel.msgmnb kernel.msgmni kernel.sem kernel.shmall kernel.shmmax kernel.shmmni
//   kernel.shm_rmid_forced fs.mqueue.*                     -> ipc namespace
//   net.*                                                  -> network namespace (not the host's)
//   kernel.domainname                                      -> uts namespace (kernel.hostname is refused: it
//                                                             conflicts with the OCI "hostname" field)
//   user.*                                                 -> user namespace
// Everything else is refused with InvalidArgument naming the key.
//
// Keys use sysctl(8) syntax: dots separate components and a '/' stands for a '.' inside one component
// ("net.ipv4.conf.eth0/100.forwarding"); the slash form ("net/ipv4/ip_forward") is accepted too and
// converted. No syscalls except sysctl_namespaces (two stat calls).

#include <map>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::oci {
struct Spec;
}

namespace berth::runtime::rootfs {

struct SysctlNamespaces {
  bool ipc = false;  // private ipc namespace
  bool net = false;  // network namespace that is not the runtime's own
  bool uts = false;
  bool user = false;
};

// The dotted form of key (slash form converted by swapping '.' and '/').
std::string normalize_sysctl_key(std::string_view key);

// The path below /proc/sys for key: "net.ipv4.ip_forward" -> "net/ipv4/ip_forward". InvalidArgument for keys
// that could leave /proc/sys or are malformed: empty components, ".", "..", NUL, leading/trailing separators.
Result<std::string> sysctl_relative_path(std::string_view key);

// InvalidArgument ("sysctl \"kernel.pid_max\" is not in a separate kernel namespace") when key may not be
// set.
Status check_sysctl_allowed(std::string_view key, const SysctlNamespaces& ns);

// Which namespaces the spec makes private. net: a joined network namespace (path) counts as private unless it
// is the runtime's own (compared by device and inode with /proc/self/ns/net).
SysctlNamespaces sysctl_namespaces(const oci::Spec& spec);

// check_sysctl_allowed + sysctl_relative_path for every spec.linux.sysctl key. Callable early (before clone)
// so bad configs fail before anything is created.
Status check_sysctls(const oci::Spec& spec);

}  // namespace berth::runtime::rootfs
