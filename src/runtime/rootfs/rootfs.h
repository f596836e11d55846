#pragma once
// Building the container's filesystem view, inside its new mount namespace. Called by the container's init
// (the clone()d child) in this order:
//
//   prepare(spec, rootfs, opts)   still sees the host tree: propagation (spec.linux.rootfsPropagation, default
//                                 rprivate), bind rootfs onto itself, every spec.mounts entry in order (targets
//                                 resolved inside rootfs by fd, never following symlinks out: CVE-2021-30465),
//                                 /dev as given by the mounts + spec.linux.devices (mknod, or bind from the host
//                                 in a user namespace), default devices and symlinks (/dev/fd, stdin, stdout,
//                                 stderr, ptmx -> pts/ptmx, core -> /proc/kcore when /proc mounted).
//   enter(rootfs, opts)           pivot_root(rootfs, rootfs) + umount2(old, MNT_DETACH) (or MS_MOVE + chroot with
//                                 no_pivot); cwd "/".
//   setup_console(slave_fd)       optional: bind the verified pty slave onto /dev/console.
//   finalize(spec, opts)          maskedPaths (bind a verified /dev/null over files, read-only tmpfs over dirs),
//                                 readonlyPaths (bind + remount ro), sysctls (written through a procfs verified
//                                 with fstatfs), read-only root remount when root.readonly.
//
// Errors carry the mount destination: "mount `proc` on `/proc`: Operation not permitted".

#include <map>
#include <string>

#include "base/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime::rootfs {

struct Options {
  std::string bundle;          // absolute bundle dir, base for relative bind sources
  bool no_pivot = false;       // --no-pivot
  bool user_namespace = false; // devices are bind-mounted from the host instead of mknod'ed
};

Status prepare(const oci::Spec& spec, const std::string& rootfs, const Options& opts);
Status enter(const std::string& rootfs, const Options& opts);
Status setup_console(int pty_slave_fd);
Status finalize(const oci::Spec& spec, const Options& opts);
Status apply_sysctls(const std::map<std::string, std::string>& sysctls);

}  // namespace berth::runtime::rootfs
