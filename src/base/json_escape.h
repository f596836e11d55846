#pragma once
#include <string>
#include <string_view>

namespace berth {
// Escapes s for inclusion inside a JSON string literal (no surrounding quotes).
std::string json_escape(std::string_view s);
}  // namespace berth
