#pragma once
// Seccomp profiles in Docker's format (what `--security-opt seccomp=<file>` sends, and the shape of Docker's
// built-in default profile) and their conversion to the OCI linux.seccomp a container gets.
//
// Docker's format is the OCI one plus conditions: "archMap" (native architecture -> sub-architectures to
// list as well) and per-rule "includes"/"excludes" with "caps" (a rule applies only when the container holds
// every capability in includes.caps and none in excludes.caps), "arches" (Go names: amd64, arm64, x32, ...;
// matched against the native architecture) and "minKernel" ("4.8": the running kernel must be at least
// that). default_seccomp_profile() is Docker's default profile as data, in one table (seccomp_profile.cc).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "oci/runtime_spec.h"

namespace berth::engine::spec {

struct ProfileConditions {
  std::vector<std::string> caps;    // "CAP_SYS_ADMIN"
  std::vector<std::string> arches;  // Go spelling: "amd64", "x32", "x86", "arm64", ...
  std::string min_kernel;           // "4.8" (includes only)
};

struct ProfileRule {
  std::vector<std::string> names;
  std::string action;                // SCMP_ACT_*
  std::optional<uint32_t> errno_ret;
  std::vector<oci::SeccompArg> args;
  ProfileConditions includes, excludes;
};

struct ArchMapEntry {
  std::string architecture;  // SCMP_ARCH_X86_64
  std::vector<std::string> sub_architectures;
};

struct SeccompProfile {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<ArchMapEntry> arch_map;
  std::vector<std::string> architectures;  // the older flat form; used when arch_map is empty
  std::vector<std::string> flags;
  std::vector<ProfileRule> syscalls;
};

// Docker's default profile (defaultAction SCMP_ACT_ERRNO with EPERM; clone3 answers ENOSYS without
// CAP_SYS_ADMIN so libc falls back to clone).
const SeccompProfile& default_seccomp_profile();

// Parses a profile in Docker's format (or a plain OCI linux.seccomp object). InvalidArgument naming the field
// for wrong types, unknown actions/operators/architectures, and rules without names.
Result<SeccompProfile> parse_seccomp_profile(std::string_view json);

// The Go name of the architecture this binary runs on ("amd64", "arm64", ...).
std::string_view native_go_arch();
// The SCMP_ARCH_* name of the native architecture.
std::string_view native_scmp_arch();
// "6.1.0-13-amd64" -> {6, 1}; unknown -> {0, 0}.
std::pair<int, int> parse_kernel_version(std::string_view release);

struct ProfileTarget {
  std::vector<std::string> capabilities;  // the container's bounding set
  std::string go_arch;                    // native_go_arch() by default
  std::pair<int, int> kernel{0, 0};       // running kernel (major, minor)
};

// Applies the conditions and produces the OCI seccomp object for one container.
oci::Seccomp profile_to_oci(const SeccompProfile& profile, const ProfileTarget& target);

}  // namespace berth::engine::spec
