#pragma once
// OCI lifecycle hooks (runtime-spec config.md#posix-platform-hooks). Each hook runs as
// `path args[1..]` (argv[0] = args[0] when given) with exactly the hook's env, the container's state JSON
// on stdin and the runtime's stdout/stderr. A hook with a timeout is killed (SIGKILL) after that many
// seconds. Hooks of one phase run in order; the first failure stops the phase.
// Errors: FailedPrecondition "<phase> hook `path` exited with status N" / "... killed by signal" /
// "... timed out after Ns"; errno errors when the hook cannot be started.

#include <string_view>
#include <vector>

#include "base/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

Status run_hook(const oci::Hook& hook, std::string_view state_json, std::string_view phase);
Status run_hooks(const std::vector<oci::Hook>& hooks, std::string_view state_json, std::string_view phase);

}  // namespace berth::runtime
