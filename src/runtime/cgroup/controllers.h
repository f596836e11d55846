#pragma once
// Per-controller writers and stats readers shared by V1Manager and UnifiedManager (one .cc per controller).
// Each apply_* writes only the fields present (and, as runc does, non-zero where zero means "unset" in
// what docker and containerd send). Validation that needs no files runs in validate_* before any write, so
// a bad config leaves the cgroup untouched.

#include <string>
#include <vector>

#include "base/error.h"
#include "runtime/cgroup/manager.h"

namespace berth::runtime::cgroup::detail {

// memory.cc
Status validate_memory(const oci::MemoryResources& m, Mode mode);
Status apply_memory_v1(const std::string& dir, const oci::MemoryResources& m);
Status apply_memory_v2(const std::string& dir, const oci::MemoryResources& m);
void memory_stats_v1(const std::string& dir, Stats& s);
void memory_stats_v2(const std::string& dir, Stats& s);
// memory.swap.max for a spec swap (memory+swap) and limit; "" when nothing is to be written.
Result<std::string> swap_max_v2(std::optional<int64_t> swap, std::optional<int64_t> limit);

// cpu.cc (cpu, cpuacct, cpuset)
bool cpu_needed(const oci::CpuResources& c);     // anything for the cpu controller
bool cpuset_needed(const oci::CpuResources& c);  // cpus or mems
Status validate_cpu(const oci::CpuResources& c, Mode mode);
Status apply_cpu_v1(const std::string& dir, const oci::CpuResources& c);
Status apply_cpu_v2(const std::string& dir, const oci::CpuResources& c);
Status apply_cpuset(const std::string& dir, const oci::CpuResources& c);
// v1: a cpuset cgroup with empty cpuset.cpus/mems cannot take tasks; copy them from the nearest
// ancestor (below `mount`) that has them.
Status cpuset_inherit_v1(const std::string& mount, const std::string& dir);
uint64_t shares_to_weight(uint64_t shares);
void cpu_stats_v1(const std::string& cpu_dir, Stats& s);
void cpuacct_stats_v1(const std::string& dir, Stats& s);
void cpu_stats_v2(const std::string& dir, Stats& s);

// pids.cc (same files on v1 and v2)
Status apply_pids(const std::string& dir, const oci::PidsResources& p);
void pids_stats(const std::string& dir, Stats& s);

// blkio.cc
bool blkio_needed(const oci::BlockIoResources& b);
Status apply_blkio_v1(const std::string& dir, const oci::BlockIoResources& b);
Status apply_io_v2(const std::string& dir, const oci::BlockIoResources& b);
void blkio_stats_v1(const std::string& dir, Stats& s);
void io_stats_v2(const std::string& dir, Stats& s);

// devices.cc: v1 devices.allow / devices.deny lines, in the spec's order.
Status validate_devices(const std::vector<oci::DeviceCgroupRule>& rules);
std::string device_rule_v1(const oci::DeviceCgroupRule& r);  // "c 1:3 rwm", "a *:* rwm"
Status apply_devices_v1(const std::string& dir, const std::vector<oci::DeviceCgroupRule>& rules);

// hugetlb.cc
Status validate_hugetlb(const std::vector<oci::HugepageLimit>& limits);
Status apply_hugetlb_v1(const std::string& dir, const std::vector<oci::HugepageLimit>& limits);
Status apply_hugetlb_v2(const std::string& dir, const std::vector<oci::HugepageLimit>& limits);

// freezer.cc
Status set_frozen_v1(const std::string& dir, bool frozen, const Options& opt);
Result<bool> frozen_v1(const std::string& dir);
Status set_frozen_v2(const std::string& dir, bool frozen, const Options& opt);
Result<bool> frozen_v2(const std::string& dir);
// The default Options::wait: nothing at attempt 0, then a growing sleep capped at 10 ms.
void default_wait(int attempt);

// unified.cc
Status validate_unified(const std::map<std::string, std::string>& unified, Mode mode);
Status apply_unified(const std::string& dir, const std::map<std::string, std::string>& unified);

// kill.cc: freeze (unless paused already), signal every pid, thaw (unless it was paused and sig is not
// SIGKILL).
Status signal_all(Manager& m, bool can_freeze, int sig, const std::string& id);

// Removes the leaf dir (child cgroups first), retrying while EBUSY. Missing is fine.
Status remove_cgroup_dir(const std::string& dir, const Options& opt);

}  // namespace berth::runtime::cgroup::detail
