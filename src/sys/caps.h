#pragma once
// Linux capabilities by name and the five per-thread sets.
//
// Intended use by the runtime (everything that can fail on bad config happens in the parent):
//   parent:  CapMasks m = BERTH_TRY(compile_caps(sets));   // validates names, builds bitmasks
//            (void)cap_last_cap();                         // warms the cache before clone()
//   child:   BERTH_TRY(switch_user(uid, gid, groups, n));   // keeps permitted across the uid change
//            BERTH_TRY(apply_caps(m));                      // bounding, capset, ambient
// switch_user() and apply_caps(const CapMasks&) do not allocate on success and use raw syscalls only, so
// they are safe between clone() and exec(). On failure they return an Error (which does allocate).
#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::sys {

inline constexpr int kCapMax = 40;  // CAP_CHECKPOINT_RESTORE, the highest capability this code knows

// Capability names by number (0 = CAP_CHOWN .. kCapMax), the one table of them (the config parser checks
// names against it too).
inline constexpr std::array<std::string_view, kCapMax + 1> kCapNames = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

// "CAP_CHOWN" -> 0 (case-insensitive; the "CAP_" prefix is required). Unknown names fail with
// InvalidArgument naming the capability.
Result<int> cap_from_name(std::string_view name);
// 0 -> "CAP_CHOWN"; numbers above kCapMax -> "CAP_<n>" (unknown to this build but maybe to the kernel).
std::string cap_name(int cap);
// Highest capability the running kernel supports, from /proc/sys/kernel/cap_last_cap (read once and cached;
// falls back to kCapMax if the file cannot be read).
int cap_last_cap();

struct CapSets {
  std::vector<int> bounding, effective, inheritable, permitted, ambient;
};

// The same sets as bitmasks (bit n = capability n).
struct CapMasks {
  uint64_t bounding = 0, effective = 0, inheritable = 0, permitted = 0, ambient = 0;
};

uint64_t caps_mask(const std::vector<int>& caps);
// Names -> bitmask. Unknown names fail with InvalidArgument ("unknown capability \"CAP_FOO\"").
Result<uint64_t> caps_mask_from_names(const std::vector<std::string>& names);
// Bitmask -> names (ascending), e.g. for `features` output and probes.
std::vector<std::string> cap_names(uint64_t mask);

// Validates ranges (0..63) and converts to masks.
Result<CapMasks> compile_caps(const CapSets& sets);

// Applies the sets to the calling thread, in this order:
//   0. raises effective to the current permitted set (empty effective after a kept-caps uid change),
//   1. drops every bounding capability not in `bounding` (PR_CAPBSET_DROP; needs CAP_SETPCAP in effective),
//   2. clears the ambient set (PR_CAP_AMBIENT_CLEAR_ALL),
//   3. capset() effective/permitted/inheritable,
//   4. raises each ambient capability (PR_CAP_AMBIENT_RAISE; the kernel requires it to be in permitted and
//      inheritable, otherwise the call fails with EPERM).
// Capabilities above cap_last_cap() are ignored (as runc does: the kernel does not know them).
// Errors: PermissionDenied / InvalidArgument from the kernel with the step and the capability in the
// message. No allocation on success.
Status apply_caps(const CapMasks& masks);
Status apply_caps(const CapSets& sets);

// PR_SET_KEEPCAPS: keep the permitted set when all uids change from 0 to non-zero.
Status set_keep_caps(bool keep);

// The user switch done before apply_caps(): PR_SET_KEEPCAPS(1), setgroups(n, groups) (skipped when
// set_groups is false, e.g. in a user namespace where /proc/self/setgroups is "deny"), setresgid(gid x3),
// setresuid(uid x3), PR_SET_KEEPCAPS(0). Raw syscalls (per-thread, no glibc setxid broadcast), no allocation.
// After it, effective is empty when uid != 0, permitted is kept; apply_caps() then sets all five sets.
Status switch_user(uid_t uid, gid_t gid, const gid_t* groups, size_t n_groups, bool set_groups = true);

// The calling thread's current masks, read with capget()/prctl (for tests and probes).
Result<CapMasks> current_caps();

}  // namespace berth::sys
