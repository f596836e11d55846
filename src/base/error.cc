#include "base/error.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace berth {

std::string_view errc_name(Errc c) {
  switch (c) {
    case Errc::NotFound: return "not found";
    case Errc::AlreadyExists: return "already exists";
    case Errc::InvalidArgument: return "invalid argument";
    case Errc::FailedPrecondition: return "failed precondition";
    case Errc::PermissionDenied: return "permission denied";
    case Errc::Conflict: return "conflict";
    case Errc::Unavailable: return "unavailable";
    case Errc::Canceled: return "canceled";
    case Errc::Unimplemented: return "unimplemented";
    case Errc::Internal: return "internal";
  }
  return "unknown";
}

namespace {
Errc errc_from_errno(int err) {
  switch (err) {
    case ENOENT: case ESRCH: return Errc::NotFound;
    case EEXIST: return Errc::AlreadyExists;
    case EINVAL: case ENAMETOOLONG: case ELOOP: case ENOTDIR: case EISDIR: case EXDEV: return Errc::InvalidArgument;
    case EPERM: case EACCES: case EROFS: return Errc::PermissionDenied;
    case EBUSY: return Errc::Conflict;
    case EAGAIN: case ECONNREFUSED: case ENOSPC: return Errc::Unavailable;
    case ECANCELED: case EINTR: return Errc::Canceled;
    case ENOSYS: case EOPNOTSUPP: return Errc::Unimplemented;
    default: return Errc::Internal;
  }
}
}  // namespace

Error Error::from_errno(int err, std::string_view what) {
  return Error(errc_from_errno(err), fmt::format("{}: {}", what, std::strerror(err)), err);
}

void check_failed(const char* expr, const char* file, int line, std::string_view msg) {
  std::fprintf(stderr, "berth: check failed at %s:%d: %s: %.*s\n", file, line, expr, static_cast<int>(msg.size()),
               msg.data());
  std::abort();
}

}  // namespace berth
