#include "runtime/cgroup/unified_manager.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "base/log.h"
#include "runtime/cgroup/cgroup_fs.h"
#include "runtime/cgroup/controllers.h"
#include "runtime/cgroup/device_filter.h"

namespace berth::runtime::cgroup {

using namespace detail;

namespace {

// Controllers a container can use; enabled in every ancestor when the parent offers them (as runc does),
// so limits set by a later `update` and every stat work.
constexpr std::string_view kWanted[] = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"};

std::set<std::string> words(std::string_view s) {
  std::set<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\n') ++j;
    if (j > i) out.emplace(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

UnifiedManager::UnifiedManager(Layout layout, std::string rel, std::string container_id, Options opt)
    : layout_(std::move(layout)),
      rel_(std::move(rel)),
      id_(std::move(container_id)),
      opt_(std::move(opt)),
      dir_(fs::join(layout_.root, rel_)) {}

Status UnifiedManager::enable_controllers(const std::string& dir) {
  auto avail = words(BERTH_TRY(fs::read(dir, "cgroup.controllers")));
  auto enabled = words(BERTH_TRY(fs::read(dir, "cgroup.subtree_control")));
  std::string add;
  for (auto c : kWanted) {
    std::string name(c);
    if (avail.count(name) && !enabled.count(name)) add += (add.empty() ? "+" : " +") + name;
  }
  if (add.empty()) return ok();
  if (fs::write(dir, "cgroup.subtree_control", add)) return ok();
  // One controller can refuse (e.g. cpu with realtime tasks in the parent); enable the others one by one.
  for (const auto& c : words(add)) {
    auto st = fs::write(dir, "cgroup.subtree_control", c);
    if (!st) log::debug("cgroup v2: enabling {} in {}: {}", c, dir, st.error().message());
  }
  return ok();
}

Status UnifiedManager::create() {
  std::string cur = layout_.root;
  size_t pos = 0;
  while (pos <= rel_.size()) {
    size_t slash = rel_.find('/', pos);
    if (slash == std::string::npos) slash = rel_.size();
    BERTH_TRY_CTX(enable_controllers(cur), "create cgroup for container {}", id_);
    cur = fs::join(cur, std::string_view(rel_).substr(pos, slash - pos));
    if (::mkdir(cur.c_str(), 0755) == 0) {
      if (opt_.after_mkdir_for_test) opt_.after_mkdir_for_test(cur);
    } else if (errno != EEXIST) {
      return fail_errno("create cgroup for container {}: mkdir `{}`", id_, cur);
    }
    pos = slash + 1;
  }
  return ok();
}

Status UnifiedManager::apply(const oci::Resources& r) {
  BERTH_TRY(validate_resources(r, Mode::Unified));

  if (!r.devices.empty()) {
    if (opt_.install_device_filter) {
      BERTH_TRY(opt_.install_device_filter(dir_, r.devices));
    } else {
      BERTH_TRY(install_device_filter(dir_, r.devices));
    }
  }
  if (r.memory) BERTH_TRY(apply_memory_v2(dir_, *r.memory));
  if (r.cpu) {
    BERTH_TRY(apply_cpu_v2(dir_, *r.cpu));
    BERTH_TRY(apply_cpuset(dir_, *r.cpu));
  }
  if (r.pids) BERTH_TRY(apply_pids(dir_, *r.pids));
  if (r.block_io) BERTH_TRY(apply_io_v2(dir_, *r.block_io));
  BERTH_TRY(apply_hugetlb_v2(dir_, r.hugepage_limits));
  // Last, so raw keys override the structured fields (runtime-spec: unified may set the same files).
  BERTH_TRY(apply_unified(dir_, r.unified));
  return ok();
}

Status UnifiedManager::add_pid(pid_t pid) { return fs::write(dir_, "cgroup.procs", fmt::format("{}", pid)); }

Status UnifiedManager::freeze() { return set_frozen_v2(dir_, true, opt_); }
Status UnifiedManager::thaw() { return set_frozen_v2(dir_, false, opt_); }
Result<bool> UnifiedManager::frozen() { return frozen_v2(dir_); }

Result<std::vector<pid_t>> UnifiedManager::pids() { return fs::sorted_pids(dir_); }

Result<Stats> UnifiedManager::stats() {
  struct stat st;
  if (::stat(dir_.c_str(), &st) != 0) return fail_errno("container {}: stat `{}`", id_, dir_);
  Stats s;
  memory_stats_v2(dir_, s);
  cpu_stats_v2(dir_, s);
  pids_stats(dir_, s);
  io_stats_v2(dir_, s);
  return s;
}

Status UnifiedManager::kill_all(int sig) {
  // cgroup.kill (5.14+) kills the whole subtree atomically, forks included.
  if (sig == SIGKILL && fs::exists(dir_, "cgroup.kill")) return fs::write(dir_, "cgroup.kill", "1");
  return signal_all(*this, true, sig, id_);
}

Status UnifiedManager::destroy() { return remove_cgroup_dir(dir_, opt_); }

}  // namespace berth::runtime::cgroup
