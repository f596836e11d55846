#include "runtime/id.h"

namespace berth::runtime {

Status validate_id(std::string_view id) {
  if (id.empty()) return fail(Errc::InvalidArgument, "container id cannot be empty");
  if (id.size() > kMaxIdLength)
    return fail(Errc::InvalidArgument, "invalid container id: longer than {} bytes", kMaxIdLength);
  if (id == "." || id == "..") return fail(Errc::InvalidArgument, "invalid container id `{}`", id);
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(id[0]))
    return fail(Errc::InvalidArgument, "invalid container id `{}`: must start with a letter or digit", id);
  for (char c : id) {
    if (!alnum(c) && c != '_' && c != '.' && c != '+' && c != '-')
      return fail(Errc::InvalidArgument, "invalid container id `{}`: only [A-Za-z0-9_.+-] allowed", id);
  }
  return ok();
}

}  // namespace berth::runtime
