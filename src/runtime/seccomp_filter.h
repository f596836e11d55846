#pragma once
// Adapter between the container's linux.seccomp and the seccomp module: compiled in the parent (all
// errors surface before clone), installed in the child as late as possible.

#include <memory>
#include <string>

#include "base/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

class SeccompProgram {
 public:
  SeccompProgram();
  ~SeccompProgram();
  SeccompProgram(SeccompProgram&&) noexcept;
  SeccompProgram& operator=(SeccompProgram&&) noexcept;
  // No-op when the config has no seccomp section. Runs in the child; no allocation on success.
  Status install() const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// cache_dir: compiled programs are cached there (see seccomp::compile_cached); "" compiles every time.
Result<SeccompProgram> compile_seccomp(const oci::Spec& spec, const std::string& cache_dir = "");

}  // namespace berth::runtime
