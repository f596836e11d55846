#pragma once
// cgroup v2 Manager: one directory, controllers enabled through the ancestors' cgroup.subtree_control.
#include "runtime/cgroup/manager.h"

namespace berth::runtime::cgroup {

class UnifiedManager final : public Manager {
 public:
  UnifiedManager(Layout layout, std::string rel, std::string container_id, Options opt);

  Status create() override;
  Status apply(const oci::Resources& r) override;
  Status add_pid(pid_t pid) override;
  Status freeze() override;
  Status thaw() override;
  Result<bool> frozen() override;
  Result<std::vector<pid_t>> pids() override;
  Result<Stats> stats() override;
  Status kill_all(int sig) override;
  Status destroy() override;
  std::map<std::string, std::string> paths() const override { return {{"", dir_}}; }
  std::string unified_path() const override { return dir_; }

 private:
  Status enable_controllers(const std::string& dir);

  Layout layout_;
  std::string rel_;
  std::string id_;
  Options opt_;
  std::string dir_;
};

}  // namespace berth::runtime::cgroup
