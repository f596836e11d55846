#pragma once
// `berth-runtime features` (runtime-spec features.md): what this runtime supports, as JSON.

#include <string>

namespace berth::runtime {

std::string features_json();

}  // namespace berth::runtime
