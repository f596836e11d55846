#include "runtime/exe_guard.h"

#include <limits.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace berth::runtime {

Result<bool> exe_is_readonly() {
  struct statvfs sv;
  if (::statvfs("/proc/self/exe", &sv) < 0) return fail_errno("statvfs /proc/self/exe");
  return (sv.f_flag & ST_RDONLY) != 0;
}

Status ensure_readonly_exe(char** argv, char** envp) {
  if (BERTH_TRY(exe_is_readonly())) return ok();
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return fail_errno("readlink /proc/self/exe");
  exe[n] = 0;
  if (std::string_view(exe, static_cast<size_t>(n)).ends_with(" (deleted)"))
    return fail(Errc::FailedPrecondition, "the runtime binary `{}` was replaced while running", exe);
  if (::unshare(CLONE_NEWNS) < 0) return fail_errno("protect runtime binary: unshare mount namespace");
  if (::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
    return fail_errno("protect runtime binary: make mounts slave");
  if (::mount(exe, exe, nullptr, MS_BIND, nullptr) < 0) return fail_errno("protect runtime binary: bind `{}`", exe);
  if (::mount(nullptr, exe, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) < 0)
    return fail_errno("protect runtime binary: remount `{}` read-only", exe);
  ::execve(exe, argv, envp);
  return fail_errno("protect runtime binary: re-exec `{}`", exe);
}

}  // namespace berth::runtime
