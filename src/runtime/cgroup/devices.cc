// devices controller, v1: each spec rule becomes one line in devices.allow or devices.deny, in order (a
// leading "deny all" resets the exception list; later allows punch holes). v2 uses an eBPF program
// instead (device_filter.cc).
#include <fmt/format.h>

#include "runtime/cgroup/cgroup_fs.h"
#include "runtime/cgroup/controllers.h"

namespace berth::runtime::cgroup::detail {

Status validate_devices(const std::vector<oci::DeviceCgroupRule>& rules) {
  for (size_t i = 0; i < rules.size(); ++i) {
    const auto& r = rules[i];
    if (!r.type.empty() && r.type != "a" && r.type != "b" && r.type != "c")
      return fail(Errc::InvalidArgument, "linux.resources.devices[{}].type: must be a, b or c, got \"{}\"", i, r.type);
    for (char c : r.access)
      if (c != 'r' && c != 'w' && c != 'm')
        return fail(Errc::InvalidArgument, "linux.resources.devices[{}].access: must be a subset of rwm, got \"{}\"", i,
                    r.access);
    if ((r.major && *r.major < -1) || (r.minor && *r.minor < -1))
      return fail(Errc::InvalidArgument, "linux.resources.devices[{}]: negative major/minor", i);
  }
  return ok();
}

std::string device_rule_v1(const oci::DeviceCgroupRule& r) {
  auto num = [](const std::optional<int64_t>& v) { return v && *v >= 0 ? fmt::format("{}", *v) : std::string("*"); };
  std::string type = r.type.empty() ? "a" : r.type;
  std::string access = r.access.empty() ? "rwm" : r.access;
  return fmt::format("{} {}:{} {}", type, num(r.major), num(r.minor), access);
}

Status apply_devices_v1(const std::string& dir, const std::vector<oci::DeviceCgroupRule>& rules) {
  BERTH_TRY(validate_devices(rules));
  // One fd per file for the whole list: a runtime's default list is ~20 rules.
  UniqueFd allow, deny;
  for (const auto& r : rules) {
    const char* name = r.allow ? "devices.allow" : "devices.deny";
    UniqueFd& fd = r.allow ? allow : deny;
    if (!fd) fd = BERTH_TRY(fs::open_for_write(dir, name));
    BERTH_TRY(fs::write_fd(fd.get(), dir, name, device_rule_v1(r) + "\n"));
  }
  return ok();
}

}  // namespace berth::runtime::cgroup::detail
