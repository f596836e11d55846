#pragma once
// Building the container's filesystem view, inside its new mount namespace. Called by the container's init
// (the clone()d child, already in its cgroups and namespaces) in this order:
//
//   prepare(spec, rootfs, opts)  still sees the host tree. "/" made rprivate (or rootfsPropagation when it is
//                                private/slave; shared/unbindable are applied to the new root by finalize),
//                                the mount holding the rootfs made private, the rootfs bound onto itself
//                                (MS_REC); then every spec.mounts entry in order, then /dev.
//   enter(rootfs, opts)          pivot_root(".", ".") from the rootfs, the old root made rslave and detached
//                                (with no_pivot: the host's procfs/sysfs detached, MS_MOVE onto "/", chroot);
//                                cwd "/"; stdio that is the host's /dev/null is pointed at the container's.
//   setup_console(slave_fd)      optional: bind the pty slave onto /dev/console (created if missing).
//   finalize(spec, opts)         root propagation (shared/unbindable), linux.sysctl (checked, then written
//                                through a verified procfs), read-only tmpfs and /dev mounts, readonlyPaths,
//                                maskedPaths, read-only root (root.readonly).
//
// How mounts are made: every mount is built detached with the fd-based mount API (fsopen/fsconfig/fsmount
// for filesystems, open_tree(OPEN_TREE_CLONE) for binds), given its flags while detached (mount_setattr),
// then attached with move_mount onto an O_PATH fd of the target. Targets are resolved inside the rootfs with
// openat2(RESOLVE_IN_ROOT) (sys/path.h) and created when missing (a directory, or an empty file for a
// non-directory bind source); the kernel's name for the target fd is checked to lie strictly inside the
// rootfs before attaching, and the attached mount's name is checked again after. No target is ever looked
// up as a string with symlinks followed (CVE-2021-30465).
//
// Mount entries (spec.mounts, options as in mount_options.h):
//   - bind/rbind (type "bind", or any type with a bind/rbind option): source relative to opts.bundle when
//     not absolute. With flags beyond bind/rec the clone gets exactly the requested per-mount flags; if that
//     fails with EPERM (flags locked in a user namespace) the source's flags are kept and the requested ones
//     added; asking to clear a locked flag fails. Then propagation options, then recursive attributes.
//   - proc, sysfs: a symlink (or any non-directory) at the destination is refused with PermissionDenied
//     (CVE-2023-27561 class). sysfs in a user namespace without a network namespace is an rbind of /sys.
//   - tmpfs: starts with the covered directory's mode unless mode= is given; "tmpcopyup" copies the covered
//     directory in. tmpfs and /dev stay writable until finalize (devices, /dev/console), then get "ro".
//   - cgroup: on a cgroup v2 host a cgroup2 mount (a bind of /sys/fs/cgroup when refused); on v1 a tmpfs
//     with one directory per hierarchy, bound from the container's own cgroup (or freshly mounted in a
//     cgroup namespace), symlinks for co-mounted controllers; all read-only when "ro".
//   - anything else (devpts, mqueue, overlay, ...): the type's own options as data.
//   Nothing may be mounted below /proc except the files lxcfs emulates (/proc/cpuinfo, meminfo, stat, ...);
//   /proc itself only takes a procfs. idmapped mounts (uidMappings, "idmap") fail with Unimplemented.
//
// /dev (unless /dev is a bind mount): null zero full random urandom tty plus spec.linux.devices (a spec
// device replaces a default of the same path), made with mknod (mode, uid, gid as given; verified after
// creation), or bound from the host node of the same path in a user namespace (or when mknod gets EPERM);
// /dev/ptmx -> pts/ptmx, fd -> /proc/self/fd, stdin/stdout/stderr -> /proc/self/fd/0..2, core -> /proc/kcore.
//
// Errors name the mount: "mount `proc` on `/proc`: Operation not permitted",
// "mount `/host/dir` on `/data`: open_tree `/host/dir`: No such file or directory". Classes:
// PermissionDenied for refused targets (outside the rootfs, symlinked /proc, below /proc) and failed
// verifications, InvalidArgument for bad options and sysctl keys, otherwise the errno's class.
//
// Thread-safety: none; these run in the single-threaded container init. They change the calling process's
// mount namespace, root and cwd.

#include <map>
#include <string>

#include "base/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime::rootfs {

struct Options {
  std::string bundle;           // absolute bundle dir, base for relative bind sources
  bool no_pivot = false;        // --no-pivot
  bool user_namespace = false;  // devices are bind-mounted from the host instead of mknod'ed
};

// rootfs: the container's root directory on the host (made absolute with realpath).
Status prepare(const oci::Spec& spec, const std::string& rootfs, const Options& opts);
// rootfs: the same path as given to prepare.
Status enter(const std::string& rootfs, const Options& opts);
// pty_slave_fd must be a pty slave (char major 136..143 on a devpts filesystem, else PermissionDenied) that
// lives in this mount namespace (the container's devpts, e.g. the peer of a master opened from /dev/ptmx
// after enter): the kernel refuses to bind a node from another mount namespace.
Status setup_console(int pty_slave_fd);
Status finalize(const oci::Spec& spec, const Options& opts);
// Writes each key (sysctl(8) syntax, see sysctl.h) to /proc/sys below a procfs verified with fstatfs, opened
// with openat2 (no symlinks, cannot leave /proc/sys). Does not check the namespace rules: finalize does
// (check_sysctls), and callers may call check_sysctls before clone to fail early. Keys with "..", "." or
// empty components fail with InvalidArgument.
Status apply_sysctls(const std::map<std::string, std::string>& sysctls);

}  // namespace berth::runtime::rootfs
