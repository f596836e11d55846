#pragma once
// Base64 (RFC 4648): encode with the standard alphabet and padding; decode accepts the standard and the URL-safe
// alphabets, with or without padding (docker's X-Registry-Auth header is URL-safe; config.json `auth` is standard).

#include <string>
#include <string_view>

#include "base/error.h"

namespace berth {

std::string base64_encode(std::string_view in);
// InvalidArgument for a character outside both alphabets or a truncated final group.
Result<std::string> base64_decode(std::string_view in);

}  // namespace berth
