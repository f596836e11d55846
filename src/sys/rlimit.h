#pragma once
// Resource limits by OCI name ("RLIMIT_NOFILE") and setting them on the calling process.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::sys {

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE for all 16 Linux limits (CPU, FSIZE, DATA, STACK, CORE, RSS, NPROC,
// NOFILE, MEMLOCK, AS, LOCKS, SIGPENDING, MSGQUEUE, NICE, RTPRIO, RTTIME). Unknown names fail with
// InvalidArgument naming the limit.
Result<int> rlimit_from_name(std::string_view name);
std::string rlimit_name(int resource);

// prlimit(0, resource, {soft, hard}) on the calling process (no allocation on success). soft > hard fails
// with InvalidArgument. Raising the hard limit above the current one needs CAP_SYS_RESOURCE: the kernel's
// EPERM is reported as PermissionDenied with both values and the capability named, e.g.
// "set RLIMIT_NOFILE hard limit 1048576 above the current 524288 needs CAP_SYS_RESOURCE". A nofile limit
// above fs.nr_open (which the kernel also answers with EPERM) fails with InvalidArgument naming nr_open.
Status set_rlimit(int resource, uint64_t soft, uint64_t hard);

}  // namespace berth::sys
