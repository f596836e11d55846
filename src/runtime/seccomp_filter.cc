#include "runtime/seccomp_filter.h"

namespace berth::runtime {

struct SeccompProgram::Impl {};

SeccompProgram::SeccompProgram() = default;
SeccompProgram::~SeccompProgram() = default;
SeccompProgram::SeccompProgram(SeccompProgram&&) noexcept = default;
SeccompProgram& SeccompProgram::operator=(SeccompProgram&&) noexcept = default;

Status SeccompProgram::install() const { return ok(); }

Result<SeccompProgram> compile_seccomp(const oci::Spec& spec) {
  if (spec.linux && spec.linux->seccomp)
    return fail(Errc::Unimplemented, "config.json: linux.seccomp: not supported yet by this build");
  return SeccompProgram{};
}

}  // namespace berth::runtime
