#pragma once
// Adapter between the container's linux.seccomp and the seccomp module: compiled in the parent (all
// errors surface before clone), installed in the child as late as possible.
//
// SCMP_ACT_NOTIFY (linux.seccomp.listenerPath): the parent connects to the agent before clone
// (connect_agent: the path is resolved in the host's mount namespace, and an absent agent fails the
// create before anything exists); the child inherits the connected socket and, right after installing
// the filter, sends the listener fd with the container process state over it (install).

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

class SeccompProgram {
 public:
  SeccompProgram();
  ~SeccompProgram();
  SeccompProgram(SeccompProgram&&) noexcept;
  SeccompProgram& operator=(SeccompProgram&&) noexcept;
  // No-op when the config has no seccomp section. Runs in the child; no allocation on success.
  // With a listener (uses_notify), sends it and process_state to the agent on agent_sock and closes the
  // listener; agent_sock stays open (the caller closes it).
  Status install(int agent_sock = -1, std::string_view process_state = {}) const;

  // True when the profile uses SCMP_ACT_NOTIFY (then listenerPath is set).
  bool uses_notify() const;
  // Parent, before clone: connects to listenerPath. Errors name the field:
  //   `config.json: linux.seccomp.listenerPath: connect to seccomp agent at `/run/a.sock`: No such file ...`
  Result<UniqueFd> connect_agent() const;
  // The OCI container process state for the agent: pid as the runtime sees it, the container state JSON.
  std::string process_state(pid_t pid, std::string_view state_json) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// cache_dir: compiled programs are cached there (see seccomp::compile_cached); "" compiles every time.
Result<SeccompProgram> compile_seccomp(const oci::Spec& spec, const std::string& cache_dir = "");

}  // namespace berth::runtime
