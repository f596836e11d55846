#pragma once
// mkdir -p / rmdir for cgroup directories.
#include <string>

#include "base/error.h"
#include "runtime/cgroup/manager.h"

namespace berth::runtime::cgroup::detail {

// mkdir <base>/<rel>, creating missing parents. Returns whether the leaf was created (false: it existed).
Result<bool> make_cgroup_dirs(const std::string& base, const std::string& rel, const Options& opt);

}  // namespace berth::runtime::cgroup::detail
