#include "sys/rlimit.h"

#include <sys/resource.h>

#include <cerrno>

namespace berth::sys {
namespace {

struct Entry {
  const char* name;
  int resource;
};
constexpr Entry kLimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};
static_assert(sizeof kLimits / sizeof kLimits[0] == RLIMIT_NLIMITS);

}  // namespace

Result<int> rlimit_from_name(std::string_view name) {
  for (const auto& e : kLimits)
    if (name == e.name) return e.resource;
  return fail(Errc::InvalidArgument, "unknown rlimit \"{}\"", name);
}

std::string rlimit_name(int resource) {
  for (const auto& e : kLimits)
    if (e.resource == resource) return e.name;
  return fmt::format("RLIMIT_{}", resource);
}

Status set_rlimit(int resource, uint64_t soft, uint64_t hard) {
  if (soft > hard)
    return fail(Errc::InvalidArgument, "{}: soft limit {} is above the hard limit {}", rlimit_name(resource), soft,
                hard);
  struct rlimit64 want{soft, hard};
  struct rlimit64 old{};
  if (::prlimit64(0, static_cast<__rlimit_resource>(resource), &want, &old) == 0) return ok();
  int err = errno;
  if (err == EPERM) {
    struct rlimit64 cur{};
    if (::prlimit64(0, static_cast<__rlimit_resource>(resource), nullptr, &cur) == 0 && hard > cur.rlim_max)
      return fail(Error(Errc::PermissionDenied,
                        fmt::format("set {} hard limit {} above the current {} needs CAP_SYS_RESOURCE",
                                    rlimit_name(resource), hard, cur.rlim_max),
                        EPERM));
  }
  if (err == EINVAL && resource == RLIMIT_NOFILE)
    return fail_errno_n(err, "set RLIMIT_NOFILE to {}/{} (above fs.nr_open?)", soft, hard);
  return fail_errno_n(err, "set {} to soft {} hard {}", rlimit_name(resource), soft, hard);
}

}  // namespace berth::sys
