#pragma once
// Resolving the container process's args[0] the way execvp(3) would, but with the PATH from the
// process's own environment (not the runtime's) and inside the container's root. Called after
// pivot_root, so "/" is the container root; `root` is a prefix for tests.

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::runtime {

inline constexpr std::string_view kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The value of PATH in env ("KEY=VALUE" entries; the last one wins), or kDefaultPath when absent.
std::string path_from_env(const std::vector<std::string>& env);

// name containing '/' is used as is (relative to the cwd); otherwise each PATH entry is tried in order
// ("" entries mean the cwd). Returns the path (without the test prefix) of the first regular file with an
// execute bit. NotFound: `executable file not found in $PATH`; PermissionDenied when only non-executable
// matches exist.
Result<std::string> find_executable(std::string_view name, const std::vector<std::string>& env,
                                    const std::string& root = "");

}  // namespace berth::runtime
