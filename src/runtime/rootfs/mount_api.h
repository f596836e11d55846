#pragma once
// Thin Result-returning wrappers over the fd-based mount API (Linux >= 5.12: fsopen/fsconfig/fsmount,
// open_tree, move_mount, mount_setattr). Every mount the rootfs code makes is built detached, given its flags
// while still detached, then attached with move_mount onto an O_PATH fd that was resolved inside the rootfs,
// so no mount target is ever looked up by a string path (CVE-2021-30465) and there is no window where the new
// mount is visible with the wrong flags. The fd stays valid after attaching and keeps naming the attached
// mount, so propagation can be set on it without re-resolving the path.
//
// Internal to runtime/rootfs.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth::runtime::rootfs::detail {

// A new, detached filesystem instance: fsopen(type) + fsconfig(source, every data option, sb flags) +
// fsmount(attr). sb_flags are the MS_* superblock flags (MS_SYNCHRONOUS, MS_DIRSYNC, MS_MANDLOCK,
// MS_LAZYTIME, MS_RDONLY) to pass as fsconfig flags. Errors carry the kernel's fs-context message when
// there is one.
Result<UniqueFd> new_fs(const std::string& type, const std::string& source, std::string_view data,
                        unsigned long sb_flags, uint64_t attr);

// A detached copy of the tree at (dfd, path): open_tree(OPEN_TREE_CLONE [| AT_RECURSIVE]). path "" uses dfd
// itself (AT_EMPTY_PATH).
Result<UniqueFd> clone_tree(int dfd, const std::string& path, bool recursive);

// Attaches the detached mount `mnt` on top of target_fd (an O_PATH fd of the mount point).
Status attach(int mnt_fd, int target_fd);

// mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], {set, clr, propagation}).
Status set_attr(int fd, bool recursive, uint64_t set, uint64_t clr, uint64_t propagation = 0);

// Applies one propagation option (MS_PRIVATE|MS_SLAVE|MS_SHARED|MS_UNBINDABLE, optionally | MS_REC).
Status set_propagation(int fd, unsigned long propagation);

// The path of fd as the kernel names it (readlink of /proc/self/fd/N), for containment checks and messages.
Result<std::string> fd_real_path(int fd);

// True if fd is the root of a mount (statx STATX_ATTR_MOUNT_ROOT).
Result<bool> is_mount_root(int fd);

}  // namespace berth::runtime::rootfs::detail
