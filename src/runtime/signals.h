#pragma once
// Signal names as `kill` accepts them: "TERM", "SIGTERM", "sigterm", "9", "RTMIN+3".

#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::runtime {

// InvalidArgument for unknown names and numbers outside 1.._NSIG-1.
Result<int> parse_signal(std::string_view s);
// 15 -> "SIGTERM" (or "SIG<n>" when it has no name).
std::string signal_name(int sig);

}  // namespace berth::runtime
