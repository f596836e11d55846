// Making and removing cgroup directories.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "runtime/cgroup/cgroup_fs.h"
#include "runtime/cgroup/controllers.h"
#include "runtime/cgroup/dirs.h"

namespace berth::runtime::cgroup::detail {

Result<bool> make_cgroup_dirs(const std::string& base, const std::string& rel, const Options& opt) {
  std::string path = fs::join(base, rel);
  // Common case: the parent exists and this is one mkdir.
  if (::mkdir(path.c_str(), 0755) == 0) {
    if (opt.after_mkdir_for_test) opt.after_mkdir_for_test(path);
    return true;
  }
  if (errno == EEXIST) return false;
  if (errno != ENOENT) return fail_errno("mkdir `{}`", path);
  size_t slash = rel.rfind('/');
  if (slash == std::string::npos) return fail_errno_n(ENOENT, "mkdir `{}`", path);
  std::string parent_rel = rel.substr(0, slash);
  BERTH_TRY(make_cgroup_dirs(base, parent_rel, opt));
  if (::mkdir(path.c_str(), 0755) == 0) {
    if (opt.after_mkdir_for_test) opt.after_mkdir_for_test(path);
    return true;
  }
  if (errno == EEXIST) return false;
  return fail_errno("mkdir `{}`", path);
}

namespace {

std::vector<std::string> child_dirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (e->d_type == DT_DIR) out.push_back(fs::join(dir, e->d_name));
  }
  ::closedir(d);
  return out;
}

int rmdir_once(const std::string& dir, const Options& opt) {
  if (opt.before_rmdir_for_test) opt.before_rmdir_for_test(dir);
  return ::rmdir(dir.c_str()) == 0 ? 0 : errno;
}

}  // namespace

Status remove_cgroup_dir(const std::string& dir, const Options& opt) {
  // Exiting tasks keep the cgroup busy for a moment after kill (EBUSY); child cgroups made inside the
  // container (ENOTEMPTY on a fake, EBUSY on cgroupfs) are removed first. ~1 s at most.
  constexpr int kAttempts = 60;
  int err = 0;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    err = rmdir_once(dir, opt);
    if (err == 0 || err == ENOENT) return ok();
    if (err != EBUSY && err != ENOTEMPTY) break;
    for (const auto& child : child_dirs(dir)) (void)remove_cgroup_dir(child, opt);
    err = rmdir_once(dir, opt);
    if (err == 0 || err == ENOENT) return ok();
    if (err != EBUSY && err != ENOTEMPTY) break;
    default_wait(attempt < 10 ? attempt + 1 : 10);
  }
  if (err == EBUSY || err == ENOTEMPTY)
    return fail(Error(Errc::Conflict, fmt::format("rmdir `{}`: still busy (tasks inside)", dir), err));
  return fail_errno_n(err, "rmdir `{}`", dir);
}

}  // namespace berth::runtime::cgroup::detail
