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

Status SeccompProgram::install() const {
  if (!impl_) return ok();
  int listener = BERTH_TRY(seccomp::install(impl_->program));
  if (listener >= 0) ::close(listener);
  return ok();
}

Result<SeccompProgram> compile_seccomp(const oci::Spec& spec, const std::string& cache_dir) {
  SeccompProgram out;
  if (!spec.linux || !spec.linux->seccomp) return out;
  auto prog = cache_dir.empty() ? seccomp::compile(*spec.linux->seccomp)
                                : seccomp::compile_cached(*spec.linux->seccomp, cache_dir);
  if (!prog) return fail(std::move(prog).error().wrap("config.json"));
  if (prog->uses_notify)
    return fail(Errc::Unimplemented, "config.json: linux.seccomp: SCMP_ACT_NOTIFY (listenerPath) is not supported");
  out.impl_ = std::make_unique<SeccompProgram::Impl>();
  out.impl_->program = std::move(*prog);
  return out;
}

}  // namespace berth::runtime
