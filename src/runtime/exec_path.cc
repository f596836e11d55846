#include "runtime/exec_path.h"

#include <sys/stat.h>
#include <unistd.h>

namespace berth::runtime {
namespace {

// 0: executable regular file, EACCES: exists but not executable, other errno: missing.
int check(const std::string& p) {
  struct stat st;
  if (::stat(p.c_str(), &st) < 0) return errno;
  if (!S_ISREG(st.st_mode)) return EACCES;
  if ((st.st_mode & 0111) == 0) return EACCES;
  return 0;
}

}  // namespace

std::string path_from_env(const std::vector<std::string>& env) {
  std::string path(kDefaultPath);
  for (const auto& e : env)
    if (e.starts_with("PATH=")) path = e.substr(5);
  return path;
}

Result<std::string> find_executable(std::string_view name, const std::vector<std::string>& env,
                                    const std::string& root) {
  if (name.empty()) return fail(Errc::InvalidArgument, "exec: empty process.args[0]");
  if (name.find('/') != std::string_view::npos) {
    std::string p(name);
    std::string full = (root.empty() || p[0] != '/') ? p : root + p;
    int e = check(full);
    if (e == 0) return p;
    return fail_errno_n(e, "exec: `{}`", name);
  }
  std::string path = path_from_env(env);
  bool denied = false;
  size_t start = 0;
  for (;;) {
    size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    std::string cand = dir.empty() ? std::string(name) : dir + "/" + std::string(name);
    std::string full = (!root.empty() && cand[0] == '/') ? root + cand : cand;
    int e = check(full);
    if (e == 0) return cand;
    if (e == EACCES) denied = true;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (denied) return fail(Errc::PermissionDenied, "exec: `{}`: permission denied", name);
  return fail(Errc::NotFound, "exec: `{}`: executable file not found in $PATH", name);
}

}  // namespace berth::runtime
