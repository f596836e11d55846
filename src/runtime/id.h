#pragma once
// Container ids name a directory under the state root and a cgroup, so they are restricted to a safe
// alphabet, as runc does: [A-Za-z0-9][A-Za-z0-9_.+-]*, at most kMaxIdLength bytes, never "." or "..".

#include <string_view>

#include "base/error.h"

namespace berth::runtime {

inline constexpr size_t kMaxIdLength = 1024;

// InvalidArgument with a message naming the problem ("invalid container id `a/b`: ...").
Status validate_id(std::string_view id);

}  // namespace berth::runtime
