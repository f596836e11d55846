#pragma once
// Per-container cgroup manager: creates the container's cgroup(s), applies oci::Resources, moves processes
// in, freezes/thaws, reports stats and removes everything on destroy.
//
// Layout detection (detect_layout) looks only at the directory tree under `root`:
//   Unified  cgroup2 at <root> (statfs magic, or a cgroup.controllers file at <root> in a fake);
//            container dir = <root>/<cgroups_path>; controllers enabled via cgroup.subtree_control of every
//            ancestor
//   V1       every subdirectory of <root> that holds a cgroup.procs file (and no cgroup.controllers) is a
//            v1 hierarchy; its name, split at ',', lists its controllers ("cpu,cpuacct" co-mounts map both
//            names to the same directory). container dir = <root>/<dir>/<cgroups_path>
//   Hybrid   v1 controllers plus an (empty) cgroup2 at <root>/unified: treated as V1 (this host)
// Tests point `root` at a temp dir posing as cgroupfs (plain files, see testing/fake_cgroupfs.h), so nothing
// here depends on the kernel beyond open/read/write/mkdir/rmdir of files under root. Files are opened
// without O_CREAT: a file the "kernel" does not provide is an error, exactly as on cgroupfs.
//
// On-disk tree (V1, this host; cgroups_path "/a/b"):
//   /sys/fs/cgroup/
//     freezer/a/b/{cgroup.procs, freezer.state}        always (pause, ps, kill_all)
//     memory/a/b/{memory.limit_in_bytes, ...}          always (stats, OOM accounting)
//     pids/a/b/{pids.max, pids.current}                always (stats, fork bombs)
//     cpuacct/a/b/{cpuacct.usage, ...}                 always (stats)
//     cpu/, cpuset/, blkio/, devices/, hugetlb/        only when Resources set something for them
// Unified: /sys/fs/cgroup/a/b/{cgroup.procs, memory.max, cpu.max, ...}
//
// cgroups_path semantics (runtime-spec config-linux.md#cgroups-path): absolute -> relative to the root of
// each hierarchy; relative -> also relative to the hierarchy root (the runtime runs from the root cgroup);
// empty -> "/<container_id>". The systemd form "slice:prefix:name" fails with Errc::Unimplemented ("systemd
// cgroup driver is not supported"). ".." components fail with Errc::InvalidArgument.
//
// Which v1 controllers are joined: Options::v1_base (default freezer, memory, pids, cpuacct) at create(),
// plus every controller a later apply() has something to write to (cpu, cpuset, blkio, devices, hugetlb).
// A controller first needed by apply() after add_pid() (an `update`) is created then and every pid of the
// container is moved into it. A Manager made for an existing container (pause, ps, kill, delete) does not
// know which controllers were joined: its freeze/pids/stats/destroy look at every hierarchy where the
// directory exists.
//
// Errors: Errc::InvalidArgument for resources the layout cannot express (a `unified` key on v1, swap <
// limit, swappiness > 100, rt settings on v2), Errc::Unimplemented for systemd paths; errno-derived errors
// otherwise, each naming the file ("write memory.limit_in_bytes=... in /sys/fs/cgroup/memory/x: ...").
// Not thread-safe; one Manager per container operation.

#include <sys/types.h>

#include <cstdint>
#include <functional>
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

// Inspects `root` (see the header comment). Errc::NotFound when root does not exist or holds neither a
// cgroup2 nor any v1 hierarchy.
Result<Layout> detect_layout(const std::string& root = "/sys/fs/cgroup");

struct Stats {
  uint64_t memory_usage = 0, memory_limit = 0, memory_max_usage = 0;
  uint64_t memory_cache = 0;
  uint64_t memory_swap_usage = 0, memory_swap_limit = 0;  // v1: memsw (memory+swap); v2: swap only
  uint64_t memory_failcnt = 0;
  uint64_t oom_kill_count = 0;  // memory.oom_control oom_kill (v1) / memory.events oom_kill (v2)
  std::map<std::string, uint64_t> memory_raw;  // memory.stat as is
  uint64_t cpu_usage_ns = 0, cpu_user_ns = 0, cpu_system_ns = 0;
  uint64_t throttled_periods = 0, throttled_time_ns = 0, cpu_periods = 0;
  std::vector<uint64_t> percpu_usage_ns;  // v1 only
  uint64_t pids_current = 0, pids_limit = 0;  // limit 0 = max
  // blkio: (major, minor, op) -> bytes / ios; op as runc reports it ("Read", "Write", "Sync", "Total", ...)
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

  // mkdir the container cgroup in every hierarchy that is always needed (idempotent: existing dirs are
  // fine). On v1, new cpuset dirs get cpuset.cpus/mems copied from their parent. On v2, every ancestor's
  // cgroup.subtree_control enables the controllers the root offers.
  virtual Status create() = 0;
  // Write the resource limits (create and update). Only keys present in `r` are touched. Creates (and
  // joins the container's pids to) v1 hierarchies first needed now.
  virtual Status apply(const oci::Resources& r) = 0;
  // Move pid into the cgroup in every joined hierarchy.
  virtual Status add_pid(pid_t pid) = 0;
  // Freezer (v1 freezer.state FROZEN/THAWED, v2 cgroup.freeze + cgroup.events "frozen"); waits until the
  // state settles (Options::wait between polls). A freeze that does not settle is undone and fails with
  // Errc::Unavailable.
  virtual Status freeze() = 0;
  virtual Status thaw() = 0;
  virtual Result<bool> frozen() = 0;
  // All pids in the container cgroup and its descendants (cgroup.procs), sorted.
  virtual Result<std::vector<pid_t>> pids() = 0;
  // Missing controllers or files leave their fields zero.
  virtual Result<Stats> stats() = 0;
  // Kill everything inside with `sig` (cgroup.kill on v2 when sig == SIGKILL and the kernel has it; else
  // freeze, signal every pid, thaw). Pids that exit meanwhile are not an error.
  virtual Status kill_all(int sig) = 0;
  // rmdir the container cgroup (the leaf only) in every hierarchy, retrying briefly while tasks exit
  // (EBUSY; Errc::Conflict when they never do). Missing dirs are fine.
  virtual Status destroy() = 0;
  // Directory per hierarchy, for state.json ("memory" -> path on v1, "" -> path on unified). On v1 lists
  // the joined controllers (all existing ones for a Manager made for an existing container).
  virtual std::map<std::string, std::string> paths() const = 0;
  // The unified leaf directory (for clone3 CLONE_INTO_CGROUP: open it O_PATH|O_DIRECTORY); empty on v1.
  virtual std::string unified_path() const = 0;
};

struct Options {
  // v1 hierarchies joined at create() even when Resources ask nothing of them. freezer is what pause/ps/
  // kill_all rely on; memory/cpuacct/pids feed stats. Trim for speed (each costs one mkdir + one write per
  // add_pid + one rmdir, 15-40 us on this host).
  std::vector<std::string> v1_base = {"freezer", "memory", "pids", "cpuacct"};
  // Called before each poll of the freezer state; attempt 0 comes right after the write. The default
  // sleeps a growing interval (nothing at attempt 0) and gives up after max_wait_attempts. Unit tests
  // pass a function that plays the kernel (rewrites freezer.state / cgroup.events).
  std::function<void(int attempt)> wait;
  int max_wait_attempts = 200;  // with the default backoff ~2 s
  // cgroup v2 device rules: loads and attaches the BPF_PROG_TYPE_CGROUP_DEVICE program to the directory
  // (replacing the one attached before). Empty = the real eBPF installer (device_filter.h). Unit tests on a
  // fake cgroupfs pass a recorder.
  std::function<Status(const std::string& dir, const std::vector<oci::DeviceCgroupRule>& rules)> install_device_filter;
  // Fake cgroupfs only: plays the kernel's part when a cgroup directory is made (populate its files) and
  // before one is removed (a plain directory with files cannot be rmdir'ed).
  std::function<void(const std::string& dir)> after_mkdir_for_test;
  std::function<void(const std::string& dir)> before_rmdir_for_test;
};

// Everything apply() refuses without touching a file (bad values, v2-only keys on v1, rt on v2, ...), so
// a caller can reject a config before it creates anything. apply() runs it too.
Status validate_resources(const oci::Resources& r, Mode mode);

// Splits and checks cgroups_path (see the header comment); returns the path relative to each hierarchy
// root, without leading '/', e.g. "a/b". Errc::Unimplemented for the systemd form.
Result<std::string> resolve_cgroups_path(const std::string& cgroups_path, const std::string& container_id);

// cgroups_path as in the spec; container_id is used for the default path and in messages.
Result<std::unique_ptr<Manager>> make_manager(const Layout& layout, const std::string& cgroups_path,
                                              const std::string& container_id, Options options = {});

}  // namespace berth::runtime::cgroup
