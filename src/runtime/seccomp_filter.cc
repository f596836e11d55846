#include "runtime/seccomp_filter.h"

#include <unistd.h>

#include "runtime/seccomp/seccomp.h"

namespace berth::runtime {

struct SeccompProgram::Impl {
  seccomp::Program program;
};

SeccompProgram::SeccompProgram() = default;
SeccompProgram::~SeccompProgram() = default;
SeccompProgram::SeccompProgram(SeccompProgram&&) noexcept = default;
SeccompProgram& SeccompProgram::operator=(SeccompProgram&&) noexcept = default;

Status SeccompProgram::install(int agent_sock, std::string_view process_state) const {
  if (!impl_) return ok();
  int listener = BERTH_TRY(seccomp::install(impl_->program));
  if (listener < 0) return ok();
  // From here every notified syscall of ours waits for the agent: hand it the listener first.
  Status sent = agent_sock >= 0 ? seccomp::send_listener_fd_on(agent_sock, process_state, listener)
                                : fail(Errc::Internal, "seccomp listener without an agent connection");
  ::close(listener);
  if (!sent) return fail(std::move(sent).error().wrap(fmt::format("seccomp agent at `{}`", impl_->program.listener_path)));
  return ok();
}

bool SeccompProgram::uses_notify() const { return impl_ && impl_->program.uses_notify; }

Result<UniqueFd> SeccompProgram::connect_agent() const {
  if (!uses_notify()) return fail(Errc::Internal, "seccomp profile has no listener");
  auto s = seccomp::connect_listener(impl_->program.listener_path);
  if (!s) return fail(std::move(s).error().wrap("config.json: linux.seccomp.listenerPath"));
  return std::move(*s);
}

std::string SeccompProgram::process_state(pid_t pid, std::string_view state_json) const {
  return seccomp::container_process_state(oci::kOciVersion, pid, impl_ ? impl_->program.listener_metadata : "",
                                          state_json);
}

Result<SeccompProgram> compile_seccomp(const oci::Spec& spec, const std::string& cache_dir) {
  SeccompProgram out;
  if (!spec.linux || !spec.linux->seccomp) return out;
  auto prog = cache_dir.empty() ? seccomp::compile(*spec.linux->seccomp)
                                : seccomp::compile_cached(*spec.linux->seccomp, cache_dir);
  if (!prog) return fail(std::move(prog).error().wrap("config.json"));
  out.impl_ = std::make_unique<SeccompProgram::Impl>();
  out.impl_->program = std::move(*prog);
  return out;
}

}  // namespace berth::runtime
