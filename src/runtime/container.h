#pragma once
// The OCI runtime as a library: every operation of the runc-compatible CLI (cmd/berth-runtime) is one call
// here, so the engine's per-container monitor can use the runtime in-process.
//
// Lifecycle (runtime-spec runtime.md): create -> (created) -> start -> (running) <-> pause/resume ->
// (stopped) -> delete. `run` = create + start (+ wait + delete unless detached).
//
// No re-exec: create clones the container's init straight from this (single-threaded) process into its new
// namespaces; see init.h for the parent/child protocol. Every failure during create undoes everything
// (process, cgroup, state directory) before returning.
//
// Errors: NotFound (no such container), AlreadyExists (id taken), InvalidArgument (bad id, config, flags),
// FailedPrecondition (wrong status for the operation, e.g. start on a running container), Unimplemented
// (e.g. --systemd-cgroup), errno-derived errors otherwise. Messages are one line, ready for the CLI.
// Not thread-safe: it forks and installs signal handlers; use from a single-threaded process.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "oci/runtime_spec.h"
#include "runtime/cgroup/manager.h"
#include "runtime/state_store.h"

namespace berth::runtime {

struct RuntimeOptions {
  std::string root = "/run/berth/runtime";  // --root: state directory
  std::string cgroup_root = "/sys/fs/cgroup";
};

struct CreateOptions {
  std::string id;
  std::string bundle;          // "" = current directory
  std::string console_socket;  // AF_UNIX socket that receives the pty master (process.terminal)
  std::string pid_file;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;  // fds 3..3+n-1 are passed to the container
};

struct ExecOptions {
  std::string id;
  std::optional<oci::Process> process;  // --process FILE; otherwise built from the container's process:
  std::vector<std::string> args;
  std::optional<bool> tty;
  std::string cwd;
  std::vector<std::string> env;  // appended (KEY=VALUE; overrides same keys)
  std::optional<uint32_t> uid, gid;
  std::vector<uint32_t> additional_gids;
  std::vector<std::string> add_caps;
  bool no_new_privs = false;
  std::string console_socket;
  std::string pid_file;
  bool detach = false;
  int preserve_fds = 0;
};

struct ContainerInfo {
  ContainerState state;
  ContainerStatus status = ContainerStatus::Stopped;
};

// Resources for `update`: each set field is applied.
struct UpdateOptions {
  oci::Resources resources;
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions opts);

  Status create(const CreateOptions& opts);
  Status start(const std::string& id);
  // create + start; detached: returns 0 once started; otherwise waits, forwards signals to the container,
  // deletes it and returns its exit code (128+signal when killed by a signal).
  Result<int> run(const CreateOptions& opts, bool detach);
  // sig to init (pid + start time verified), or with all to every process in the container's cgroup.
  Status kill(const std::string& id, int sig, bool all);
  // Removes a stopped (or created) container; force kills a running one first. Runs poststop hooks.
  Status remove(const std::string& id, bool force);
  Result<ContainerInfo> info(const std::string& id);
  Result<std::string> state_json(const std::string& id);
  Result<std::vector<ContainerInfo>> list();
  Result<std::vector<pid_t>> pids(const std::string& id);
  Status pause(const std::string& id);
  Status resume(const std::string& id);
  Status update(const std::string& id, const oci::Resources& resources);
  Result<cgroup::Stats> stats(const std::string& id);
  // detached: 0 once the process runs; otherwise its exit code.
  Result<int> exec(const ExecOptions& opts);

  const RuntimeOptions& options() const { return opts_; }

 private:
  struct Created;
  Result<Created> create_impl(const CreateOptions& opts, bool foreground, bool run_mode);
  Result<ContainerStatus> status_of(const ContainerState& s);
  Result<std::unique_ptr<cgroup::Manager>> manager_for(const std::string& cgroups_path, const std::string& id);
  Status start_impl(const ContainerState& s, const oci::Spec& spec);
  Status destroy(const ContainerState& s, const oci::Spec* spec);

  RuntimeOptions opts_;
  StateStore store_;
  std::optional<cgroup::Layout> layout_;
};

// Exit code of a wait status as shells report it: code, or 128+signal.
int exit_code_from_status(int wait_status);

}  // namespace berth::runtime
