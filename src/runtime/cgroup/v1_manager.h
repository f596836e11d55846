#pragma once
// cgroup v1 (and hybrid) Manager: one directory per joined hierarchy, see manager.h.
#include "runtime/cgroup/manager.h"

namespace berth::runtime::cgroup {

class V1Manager final : public Manager {
 public:
  // rel: the resolved cgroups path ("a/b").
  V1Manager(Layout layout, std::string rel, std::string container_id, Options opt);

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
  std::map<std::string, std::string> paths() const override;
  std::string unified_path() const override { return {}; }

 private:
  std::string leaf(const std::string& controller) const;
  // Learns the joined set from the directories that exist (Manager made for an existing container).
  void ensure_known();
  Status join(const std::string& controller);
  Result<std::string> freezer_dir();
  Result<std::string> primary_dir();

  Layout layout_;
  std::string rel_;
  std::string id_;
  Options opt_;
  std::map<std::string, std::string> joined_;  // controller -> container dir
  bool known_ = false;
  bool may_have_pids_ = false;  // joining a hierarchy later must move the container's pids too
};

}  // namespace berth::runtime::cgroup
