#pragma once
// Per-container cgroup manager: creates the container's cgroup(s), applies oci::Resources, moves processes
// in, freezes/thaws, reports stats and removes everything on destroy.
//
// Layout detection (detect_layout) reads /proc/self/mountinfo-equivalent information under `root`:
//   V1      controllers each mounted at <root>/<controller> (cpu, cpuacct, cpuset, memory, pids, blkio,
//           devices, freezer, ...); container dir = <root>/<controller>/<cgroups_path>
//   Unified cgroup2 at <root>; container dir = <root>/<cgroups_path>; controllers enabled via
//           cgroup.subtree_control of every ancestor
//   Hybrid  v1 controllers plus an (empty) cgroup2 at <root>/unified: treated as V1 (this host)
// Tests point `root` at a temp dir posing as cgroupfs (a fake: plain files), so nothing here may depend on
// the kernel beyond open/read/write/mkdir/rmdir of files under root.
//
// cgroups_path semantics (runtime-spec config-linux.md#cgroups-path): absolute -> relative to the root of
// each hierarchy; relative -> relative to the runtime's own cgroup (we use the root, as runc does with
// cgroupfs); empty -> "/berth/<id>"... chosen by the caller. "slice:prefix:name" (systemd form) is refused with
// Errc::Unimplemented unless a systemd driver exists.
//
// Errors: Errc::InvalidArgument for resources the layout cannot express (e.g. a v2-only `unified` key on
// v1, swap < limit), errno-derived errors otherwise. Not thread-safe; one Manager per container operation.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime::cgroup {

enum class Mode { V1, Unified };

struct Layout {
  Mode mode = Mode::V1;
  std::string root = "/sys/fs/cgroup";
  // V1: controller name -> mount directory (e.g. "memory" -> "/sys/fs/cgroup/memory"). Co-mounted
  // controllers (cpu,cpuacct) map to the same directory.
  std::map<std::string, std::string> v1_mounts;
};

// Inspects `root` (default /sys/fs/cgroup). With root != "/sys/fs/cgroup" (tests), the layout is inferred
// from the directory tree: cgroup.controllers at root => Unified, else each subdirectory is a v1 controller.
Result<Layout> detect_layout(const std::string& root = "/sys/fs/cgroup");

struct Stats {
  uint64_t memory_usage = 0, memory_limit = 0, memory_max_usage = 0;
  uint64_t memory_cache = 0;
  uint64_t oom_kill_count = 0;  // memory.oom_control oom_kill (v1) / memory.events oom_kill (v2)
  uint64_t cpu_usage_ns = 0, cpu_user_ns = 0, cpu_system_ns = 0;
  uint64_t throttled_periods = 0, throttled_time_ns = 0;
  std::vector<uint64_t> percpu_usage_ns;
  uint64_t pids_current = 0, pids_limit = 0;  // limit 0 = max
  // blkio: (major, minor, op) -> bytes / ios
  struct BlkioEntry {
    uint64_t major = 0, minor = 0;
    std::string op;
    uint64_t value = 0;
  };
  std::vector<BlkioEntry> blkio_bytes, blkio_ios;
};

class Manager {
 public:
  virtual ~Manager() = default;

  // mkdir the container cgroup in every hierarchy that is needed (idempotent).
  virtual Status create() = 0;
  // Write the resource limits (create/update). Only keys present in `r` are touched.
  virtual Status apply(const oci::Resources& r) = 0;
  // Move pid into the cgroup in every hierarchy.
  virtual Status add_pid(pid_t pid) = 0;
  // Freezer (v1 freezer.state FROZEN/THAWED, v2 cgroup.freeze); waits until the state settles.
  virtual Status freeze() = 0;
  virtual Status thaw() = 0;
  virtual Result<bool> frozen() = 0;
  // All pids in the container cgroup (and below).
  virtual Result<std::vector<pid_t>> pids() = 0;
  virtual Result<Stats> stats() = 0;
  // Kill everything inside with `sig` (cgroup.kill on v2 when sig == SIGKILL, else iterate pids).
  virtual Status kill_all(int sig) = 0;
  // rmdir the container cgroup in every hierarchy (retries while tasks are exiting). Missing dirs are fine.
  virtual Status destroy() = 0;
  // Directory per hierarchy, for state.json ("memory" -> path) / ("" -> path on unified).
  virtual std::map<std::string, std::string> paths() const = 0;
};

// cgroups_path as in the spec; container_id is used only in messages.
Result<std::unique_ptr<Manager>> make_manager(const Layout& layout, const std::string& cgroups_path,
                                              const std::string& container_id);

}  // namespace berth::runtime::cgroup
