#include "sys/rlimit.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

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

// fs.nr_open without allocating (0 if unreadable).
uint64_t read_nr_open() {
  int fd = ::open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[32];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  uint64_t v = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) v = v * 10 + static_cast<uint64_t>(buf[i] - '0');
  return v;
}

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
  if (err == EPERM && resource == RLIMIT_NOFILE) {
    // The kernel also answers EPERM (not EINVAL) for a nofile limit above fs.nr_open, even with the capability.
    uint64_t nr_open = read_nr_open();
    if (nr_open && hard > nr_open)
      return fail(Error(Errc::InvalidArgument,
                        fmt::format("set RLIMIT_NOFILE hard limit {} above fs.nr_open ({})", hard, nr_open), EPERM));
  }
  if (err == EPERM) {
    struct rlimit64 cur{};
    if (::prlimit64(0, static_cast<__rlimit_resource>(resource), nullptr, &cur) == 0 && hard > cur.rlim_max)
      return fail(Error(Errc::PermissionDenied,
                        fmt::format("set {} hard limit {} above the current {} needs CAP_SYS_RESOURCE",
                                    rlimit_name(resource), hard, cur.rlim_max),
                        EPERM));
  }
  return fail_errno_n(err, "set {} to soft {} hard {}", rlimit_name(resource), soft, hard);
}

}  // namespace berth::sys
