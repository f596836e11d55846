#pragma once
// Translation of OCI mount options (config.json "mounts[].options") into what the kernel takes, following
// mount(8) and runc's conversion table:
//
//   flag options      ro nosuid nodev noexec sync dirsync mand noatime nodiratime relatime strictatime
//                     nosymfollow lazytime iversion silent remount bind rbind         -> flags (MS_*)
//   their inverses    rw suid dev exec async nomand atime diratime norelatime nostrictatime symfollow
//                     nolazytime noiversion loud                                       -> clear_flags (MS_*)
//   propagation       private rprivate slave rslave shared rshared unbindable runbindable -> propagation,
//                     applied in the order given once the mount is attached
//   recursive attrs   rro rrw rnosuid rsuid rnodev rdev rnoexec rexec rnodiratime rdiratime rrelatime
//                     rnorelatime rnoatime ratime rstrictatime rnostrictatime rnosymfollow rsymfollow
//                                                                                      -> rec_attr_set/clr
//                                                                                         (MOUNT_ATTR_*)
//   extensions        tmpcopyup (copy the covered directory into a new tmpfs), idmap / ridmap (recognised,
//                     not supported: prepare() refuses them)
//   anything else     filesystem data, joined with ',' in order ("mode=755,size=65536k")
//
// "defaults" is accepted and ignored. A later option overrides an earlier one (ro then rw = rw).
// Pure functions; no syscalls.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::runtime::rootfs {

struct MountOptions {
  unsigned long flags = 0;                 // MS_* to set
  unsigned long clear_flags = 0;           // MS_* the options explicitly clear ("rw" -> MS_RDONLY)
  std::vector<unsigned long> propagation;  // MS_PRIVATE|MS_SLAVE|MS_SHARED|MS_UNBINDABLE, maybe | MS_REC
  uint64_t rec_attr_set = 0;  // MOUNT_ATTR_* applied recursively with mount_setattr(AT_RECURSIVE)
  uint64_t rec_attr_clr = 0;
  bool tmpcopyup = false;
  bool idmap = false;  // "idmap" or "ridmap"
  std::string data;    // filesystem-specific options, comma-joined

  bool is_bind() const;       // MS_BIND set ("bind" or "rbind")
  bool is_recursive() const;  // MS_REC set ("rbind")
};

// Never fails on unknown words (they are data, as mount(8) does); fails with InvalidArgument on an empty
// option or one containing ',' (which would silently split into two data options).
Result<MountOptions> parse_mount_options(const std::vector<std::string>& options);

// linux.rootfsPropagation: "" -> 0 (caller's default), "private" -> MS_PRIVATE, "rprivate" ->
// MS_PRIVATE|MS_REC, likewise slave/shared/unbindable. Unknown -> InvalidArgument naming the value.
Result<unsigned long> parse_propagation(std::string_view name);

// MS_* bits -> MOUNT_ATTR_* bits for the per-mount flags the new mount API knows (ro, nosuid, nodev, noexec,
// nodiratime, nosymfollow, and the atime mode). *atime_given says whether an atime mode was requested.
uint64_t ms_to_mount_attr(unsigned long ms_flags, bool* atime_given = nullptr);

// Human form for messages: "ro,nosuid,nodev".
std::string mount_flags_string(unsigned long ms_flags);

}  // namespace berth::runtime::rootfs
