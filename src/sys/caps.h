#pragma once
// Linux capabilities by name and the five per-thread sets.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::sys {

// "CAP_CHOWN" -> 0. Unknown names fail with InvalidArgument naming the capability.
Result<int> cap_from_name(std::string_view name);
std::string cap_name(int cap);  // 0 -> "CAP_CHOWN"
int cap_last_cap();             // from /proc/sys/kernel/cap_last_cap (cached)

struct CapSets {
  std::vector<int> bounding, effective, inheritable, permitted, ambient;
};

// Applies the sets to the calling thread: drops bounding caps not listed (PR_CAPBSET_DROP), sets
// effective/permitted/inheritable (capset), then raises the ambient ones (PR_CAP_AMBIENT_RAISE).
// Call after setuid/setgid with PR_SET_KEEPCAPS where needed (see apply_user in runtime).
Status apply_caps(const CapSets& sets);
// Drops everything except what is needed to finish container setup is the caller's business; this only
// implements the kernel dance. Bitmask helpers for tests/probes:
uint64_t caps_mask(const std::vector<int>& caps);

}  // namespace berth::sys
