#pragma once
// Where the runtime keeps what it knows about each container between invocations.
//
//   <root>/                      mode 0700 (--root, default /run/berth/runtime)
//     <id>/                      mode 0700, created by `create` (its existence reserves the id)
//       state.json               ContainerState, replaced atomically (write tmp, rename; no fsync: nothing
//                                in it survives a reboot)
//       exec.fifo                present from `create` until `start`: the container's init blocks opening it
//                                for writing; `start` opens it for reading, reads one byte and removes it
//
// A container's status is never stored; it is derived live (derive_status): the init pid is alive and its
// start time (/proc/<pid>/stat field 22) equals the recorded one, so a reused pid is never mistaken for the
// container; exec.fifo present -> created; cgroup frozen -> paused; else running; otherwise stopped.
// Not thread-safe; concurrent invocations on one id are serialised by the caller (flock on the id dir).

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth::runtime {

// Same order as oci::ContainerStatus.
enum class ContainerStatus { Creating, Created, Running, Stopped, Paused };
std::string_view status_name(ContainerStatus s);  // "created", ...

struct ContainerState {
  std::string id;
  pid_t pid = 0;               // init, in the runtime's pid namespace
  uint64_t start_time = 0;     // /proc/<pid>/stat field 22 (clock ticks since boot)
  std::string bundle;          // absolute
  std::string rootfs;          // absolute
  std::string created;         // RFC 3339, UTC, nanoseconds
  uid_t owner = 0;
  std::map<std::string, std::string> annotations;
  std::string cgroups_path;    // as resolved at create ("/berth/<id>" when the config gave none)
  std::map<std::string, std::string> cgroup_paths;  // hierarchy -> directory
  bool new_pid_ns = false;     // true: killing init kills everything else in the container
  std::string config_json;     // the config.json the container was created from (as parsed)
};

// tmp file + rename, no fsync (see StateStore::save).
Status write_file_replace(const std::string& path, std::string_view data, mode_t mode);

std::string state_to_json(const ContainerState& s);
Result<ContainerState> state_from_json(std::string_view text);

// The OCI state (runtime-spec "state" section + runc's extra rootfs/created/owner fields).
std::string oci_state_json(const ContainerState& s, ContainerStatus status, int indent = 2);

// /proc/<pid>/stat field 22. NotFound if the process does not exist. proc_root is for tests.
Result<uint64_t> process_start_time(pid_t pid, const std::string& proc_root = "/proc");
// Parses the content of a /proc/<pid>/stat file: (state char, start time). The comm field may contain
// spaces and parentheses; parsing starts after the last ')'.
Result<std::pair<char, uint64_t>> parse_proc_stat(std::string_view stat);

// True if pid is alive (not a zombie) and still the process that had start_time.
bool process_matches(pid_t pid, uint64_t start_time);

// Current UTC time as RFC 3339 with nanoseconds.
std::string now_rfc3339();

class StateStore {
 public:
  explicit StateStore(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }
  std::string dir(const std::string& id) const { return root_ + "/" + id; }

  // mkdir -p root (0700), then mkdir <root>/<id> (0700). AlreadyExists if the id is taken.
  Status create_dir(const std::string& id);
  Status save(const ContainerState& s);
  // NotFound: "container `x` does not exist".
  Result<ContainerState> load(const std::string& id) const;
  bool exists(const std::string& id) const;
  // Removes <root>/<id> and everything in it.
  Status remove(const std::string& id);
  // Ids with a state directory, sorted. Missing root -> empty.
  Result<std::vector<std::string>> list() const;
  // Exclusive flock on the id directory; held while the returned fd lives.
  Result<UniqueFd> lock(const std::string& id) const;

 private:
  std::string root_;
};

}  // namespace berth::runtime
