// linux.resources.unified: raw cgroup v2 "file": "value" pairs, written to the container's directory.
#include <fmt/format.h>

#include "runtime/cgroup/cgroup_fs.h"
#include "runtime/cgroup/controllers.h"

namespace berth::runtime::cgroup::detail {

Status validate_unified(const std::map<std::string, std::string>& unified, Mode mode) {
  if (unified.empty()) return ok();
  if (mode != Mode::Unified)
    return fail(Errc::InvalidArgument, "linux.resources.unified: needs cgroup v2, but this host uses cgroup v1 (key \"{}\")",
                unified.begin()->first);
  for (const auto& [k, v] : unified) {
    // A key names one file in the container's own directory: no path separators, no "." / "..".
    if (k.empty() || k.find('/') != std::string::npos || k.find('.') == std::string::npos || k.front() == '.')
      return fail(Errc::InvalidArgument, "linux.resources.unified: invalid key \"{}\"", k);
  }
  return ok();
}

Status apply_unified(const std::string& dir, const std::map<std::string, std::string>& unified) {
  BERTH_TRY(validate_unified(unified, Mode::Unified));
  for (const auto& [k, v] : unified) {
    auto st = fs::write(dir, k, v);
    if (!st) {
      if (st.error().sys_errno() == ENOENT) {
        std::string ctrl = k.substr(0, k.find('.'));
        return fail(Errc::InvalidArgument,
                    "linux.resources.unified: key \"{}\": no such file in {} (controller \"{}\" not enabled or unknown)",
                    k, dir, ctrl);
      }
      return fail(std::move(st).error().wrap("linux.resources.unified"));
    }
  }
  return ok();
}

}  // namespace berth::runtime::cgroup::detail
