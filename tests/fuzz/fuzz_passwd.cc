// /etc/passwd and /etc/group from a container image, and the user spec from config.json/docker run -u:
// no crash, only InvalidArgument/NotFound, ids never outside 0..2^31-1, names never contain separators.
// Input: first line is the user spec, the rest is used as both the passwd and the group file.
#include <stdlib.h>

#include <string_view>

#include "sys/passwd.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  std::string_view spec = in.substr(0, nl);
  std::string_view text = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  constexpr uint32_t kMaxId = 0x7fffffff;

  if (auto p = berth::sys::parse_passwd(text)) {
    for (const auto& e : *p) {
      if (e.name.empty() || e.name.find_first_of(std::string_view(":\n\0", 3)) != std::string::npos) abort();
      if (e.uid > kMaxId || e.gid > kMaxId) abort();
    }
  } else if (p.error().code() != berth::Errc::InvalidArgument) {
    abort();
  }
  if (auto g = berth::sys::parse_group(text)) {
    for (const auto& e : *g) {
      if (e.name.empty() || e.gid > kMaxId) abort();
      for (const auto& m : e.members)
        if (m.empty() || m.find_first_of(std::string_view(",:\n\0", 4)) != std::string::npos) abort();
    }
  } else if (g.error().code() != berth::Errc::InvalidArgument) {
    abort();
  }
  auto u = berth::sys::resolve_user(spec, text, text);
  if (u) {
    if (u->uid > kMaxId || u->gid > kMaxId) abort();
    for (auto gid : u->additional_gids)
      if (gid > kMaxId) abort();
  } else if (u.error().code() != berth::Errc::InvalidArgument && u.error().code() != berth::Errc::NotFound) {
    abort();
  }
  return 0;
}
