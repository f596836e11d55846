// detect_layout, cgroups_path resolution and make_manager.
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <algorithm>
#include <set>

#include "runtime/cgroup/cgroup_fs.h"
#include "runtime/cgroup/controllers.h"
#include "runtime/cgroup/manager.h"
#include "runtime/cgroup/unified_manager.h"
#include "runtime/cgroup/v1_manager.h"

namespace berth::runtime::cgroup {
namespace {

const std::set<std::string_view> kV1Controllers = {"blkio",   "cpu",      "cpuacct",    "cpuset", "devices",
                                                    "freezer", "hugetlb",  "memory",     "net_cls", "net_prio",
                                                    "perf_event", "pids",  "rdma",       "misc"};

}  // namespace

Result<Layout> detect_layout(const std::string& root) {
  struct statfs sfs;
  if (::statfs(root.c_str(), &sfs) != 0) return fail_errno("cgroup root `{}`", root);
  Layout l;
  l.root = root;
  if (sfs.f_type == CGROUP2_SUPER_MAGIC || fs::exists(root, "cgroup.controllers")) {
    l.mode = Mode::Unified;
    return l;
  }
  l.mode = Mode::V1;
  DIR* d = ::opendir(root.c_str());
  if (!d) return fail_errno("opendir `{}`", root);
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    // Symlinks ("cpu" -> "cpu,cpuacct") alias a real directory whose name lists the controllers.
    if (e->d_type == DT_LNK) continue;
    std::string dir = fs::join(root, e->d_name);
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      if (::fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
    } else if (e->d_type != DT_DIR) {
      continue;
    }
    // The hybrid layout's cgroup2 at <root>/unified has cgroup.controllers; v1 hierarchies do not.
    if (!fs::exists(dir, "cgroup.procs") || fs::exists(dir, "cgroup.controllers")) continue;
    std::string_view name = e->d_name;
    while (!name.empty()) {
      size_t comma = name.find(',');
      std::string_view c = name.substr(0, comma);
      if (kV1Controllers.count(c)) l.v1_mounts.emplace(std::string(c), dir);
      name = comma == std::string_view::npos ? std::string_view() : name.substr(comma + 1);
    }
  }
  ::closedir(d);
  if (l.v1_mounts.empty())
    return fail(Errc::NotFound, "no cgroup v1 hierarchy or cgroup2 mount found under `{}`", root);
  return l;
}

Status validate_resources(const oci::Resources& r, Mode mode) {
  BERTH_TRY(detail::validate_unified(r.unified, mode));
  if (r.memory) BERTH_TRY(detail::validate_memory(*r.memory, mode));
  if (r.cpu) BERTH_TRY(detail::validate_cpu(*r.cpu, mode));
  BERTH_TRY(detail::validate_devices(r.devices));
  BERTH_TRY(detail::validate_hugetlb(r.hugepage_limits));
  return ok();
}

Result<std::string> resolve_cgroups_path(const std::string& cgroups_path, const std::string& container_id) {
  if (cgroups_path.empty()) {
    if (container_id.empty() || container_id == "." || container_id == ".." ||
        container_id.find('/') != std::string::npos)
      return fail(Errc::InvalidArgument, "container id \"{}\" cannot name a cgroup", container_id);
    return container_id;
  }
  if (cgroups_path.front() != '/' && std::count(cgroups_path.begin(), cgroups_path.end(), ':') == 2)
    return fail(Errc::Unimplemented,
                "linux.cgroupsPath \"{}\": systemd cgroup driver is not supported (slice:prefix:name form)", cgroups_path);
  std::string out;
  std::string_view rest = cgroups_path;
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..")
      return fail(Errc::InvalidArgument, "linux.cgroupsPath \"{}\": \"..\" is not allowed", cgroups_path);
    if (!out.empty()) out.push_back('/');
    out.append(part);
  }
  if (out.empty())
    return fail(Errc::InvalidArgument, "linux.cgroupsPath \"{}\" names the root cgroup", cgroups_path);
  return out;
}

Result<std::unique_ptr<Manager>> make_manager(const Layout& layout, const std::string& cgroups_path,
                                              const std::string& container_id, Options options) {
  std::string rel = BERTH_TRY(resolve_cgroups_path(cgroups_path, container_id));
  if (layout.mode == Mode::Unified)
    return std::unique_ptr<Manager>(new UnifiedManager(layout, std::move(rel), container_id, std::move(options)));
  return std::unique_ptr<Manager>(new V1Manager(layout, std::move(rel), container_id, std::move(options)));
}

}  // namespace berth::runtime::cgroup
