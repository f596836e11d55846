#include "runtime/cgroup/v1_manager.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "runtime/cgroup/cgroup_fs.h"
#include "runtime/cgroup/controllers.h"
#include "runtime/cgroup/dirs.h"

namespace berth::runtime::cgroup {

using namespace detail;

V1Manager::V1Manager(Layout layout, std::string rel, std::string container_id, Options opt)
    : layout_(std::move(layout)), rel_(std::move(rel)), id_(std::move(container_id)), opt_(std::move(opt)) {}

std::string V1Manager::leaf(const std::string& controller) const {
  return fs::join(layout_.v1_mounts.at(controller), rel_);
}

void V1Manager::ensure_known() {
  if (known_) return;
  known_ = true;
  struct stat st;
  for (const auto& [c, mount] : layout_.v1_mounts) {
    std::string dir = fs::join(mount, rel_);
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) joined_[c] = dir;
  }
  may_have_pids_ = !joined_.empty();
}

Status V1Manager::join(const std::string& controller) {
  if (joined_.count(controller)) return ok();
  auto m = layout_.v1_mounts.find(controller);
  if (m == layout_.v1_mounts.end())
    return fail(Errc::FailedPrecondition, "cgroup v1 controller \"{}\" is not mounted under {}", controller, layout_.root);
  std::string dir = fs::join(m->second, rel_);
  // Co-mounted controllers (cpu,cpuacct) share the directory.
  bool shared = false;
  for (const auto& [c, d] : joined_) shared = shared || d == dir;
  if (!shared) {
    BERTH_TRY(make_cgroup_dirs(m->second, rel_, opt_));
    // Checked even when the dir existed: an empty cpuset cannot take tasks.
    if (controller == "cpuset" || (layout_.v1_mounts.count("cpuset") && layout_.v1_mounts.at("cpuset") == m->second))
      BERTH_TRY(cpuset_inherit_v1(m->second, dir));
    if (may_have_pids_) {
      auto from = primary_dir();
      if (from) {
        std::vector<pid_t> pids;
        BERTH_TRY(fs::collect_pids(*from, pids));
        for (pid_t p : pids) {
          auto st = fs::write(dir, "cgroup.procs", fmt::format("{}", p));
          if (!st && st.error().sys_errno() != ESRCH) return st;
        }
      }
    }
  }
  joined_[controller] = std::move(dir);
  return ok();
}

Status V1Manager::create() {
  known_ = true;
  for (const auto& c : opt_.v1_base) {
    if (!layout_.v1_mounts.count(c)) continue;  // a base controller this host lacks only loses its feature
    BERTH_TRY_CTX(join(c), "create cgroup for container {}", id_);
  }
  return ok();
}

Status V1Manager::apply(const oci::Resources& r) {
  BERTH_TRY(validate_resources(r, Mode::V1));
  ensure_known();
  if (!r.devices.empty()) {
    BERTH_TRY(join("devices"));
    BERTH_TRY(apply_devices_v1(joined_["devices"], r.devices));
  }
  if (r.memory) {
    BERTH_TRY(join("memory"));
    BERTH_TRY(apply_memory_v1(joined_["memory"], *r.memory));
  }
  if (r.cpu) {
    if (cpu_needed(*r.cpu)) {
      BERTH_TRY(join("cpu"));
      BERTH_TRY(apply_cpu_v1(joined_["cpu"], *r.cpu));
    }
    if (cpuset_needed(*r.cpu)) {
      BERTH_TRY(join("cpuset"));
      BERTH_TRY(apply_cpuset(joined_["cpuset"], *r.cpu));
    }
  }
  if (r.pids && r.pids->limit != 0) {
    BERTH_TRY(join("pids"));
    BERTH_TRY(apply_pids(joined_["pids"], *r.pids));
  }
  if (r.block_io && blkio_needed(*r.block_io)) {
    BERTH_TRY(join("blkio"));
    BERTH_TRY(apply_blkio_v1(joined_["blkio"], *r.block_io));
  }
  if (!r.hugepage_limits.empty()) {
    BERTH_TRY(join("hugetlb"));
    BERTH_TRY(apply_hugetlb_v1(joined_["hugetlb"], r.hugepage_limits));
  }
  return ok();
}

Status V1Manager::add_pid(pid_t pid) {
  ensure_known();
  if (joined_.empty()) return fail(Errc::FailedPrecondition, "container {}: no cgroup to join (create() not called?)", id_);
  std::string v = fmt::format("{}", pid);
  std::set<std::string> done;
  for (const auto& [c, dir] : joined_) {
    if (!done.insert(dir).second) continue;
    BERTH_TRY(fs::write(dir, "cgroup.procs", v));
  }
  may_have_pids_ = true;
  return ok();
}

Result<std::string> V1Manager::freezer_dir() {
  ensure_known();
  auto it = joined_.find("freezer");
  if (it == joined_.end())
    return fail(Errc::FailedPrecondition, "container {}: no freezer cgroup ({}/freezer/{} missing)", id_, layout_.root, rel_);
  return it->second;
}

Result<std::string> V1Manager::primary_dir() {
  ensure_known();
  for (const char* c : {"freezer", "memory", "pids", "cpuacct"})
    if (auto it = joined_.find(c); it != joined_.end()) return it->second;
  if (!joined_.empty()) return joined_.begin()->second;
  return fail(Errc::NotFound, "container {}: no cgroup directory under {}", id_, layout_.root);
}

Status V1Manager::freeze() { return set_frozen_v1(BERTH_TRY(freezer_dir()), true, opt_); }
Status V1Manager::thaw() { return set_frozen_v1(BERTH_TRY(freezer_dir()), false, opt_); }
Result<bool> V1Manager::frozen() { return frozen_v1(BERTH_TRY(freezer_dir())); }

Result<std::vector<pid_t>> V1Manager::pids() {
  return fs::sorted_pids(BERTH_TRY(primary_dir()));
}

Result<Stats> V1Manager::stats() {
  ensure_known();
  if (joined_.empty()) return fail(Errc::NotFound, "container {}: no cgroup directory under {}", id_, layout_.root);
  Stats s;
  if (auto it = joined_.find("memory"); it != joined_.end()) memory_stats_v1(it->second, s);
  if (auto it = joined_.find("cpuacct"); it != joined_.end()) cpuacct_stats_v1(it->second, s);
  if (auto it = joined_.find("cpu"); it != joined_.end()) cpu_stats_v1(it->second, s);
  if (auto it = joined_.find("pids"); it != joined_.end()) pids_stats(it->second, s);
  if (auto it = joined_.find("blkio"); it != joined_.end()) blkio_stats_v1(it->second, s);
  return s;
}

Status V1Manager::kill_all(int sig) {
  ensure_known();
  return signal_all(*this, joined_.count("freezer") > 0, sig, id_);
}

Status V1Manager::destroy() {
  std::set<std::string> dirs;
  for (const auto& [c, mount] : layout_.v1_mounts) dirs.insert(fs::join(mount, rel_));
  Status result = ok();
  for (const auto& d : dirs) {
    auto st = remove_cgroup_dir(d, opt_);
    if (!st && result) result = st;
  }
  joined_.clear();
  return result;
}

std::map<std::string, std::string> V1Manager::paths() const {
  if (known_) return joined_;
  std::map<std::string, std::string> out;
  struct stat st;
  for (const auto& [c, mount] : layout_.v1_mounts) {
    std::string dir = fs::join(mount, rel_);
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out[c] = dir;
  }
  return out;
}

}  // namespace berth::runtime::cgroup
