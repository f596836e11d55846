// hugetlb controller: hugetlb.<size>.limit_in_bytes (v1) / hugetlb.<size>.max (v2), size as the kernel
// names it ("2MB", "1GB").
#include <fmt/format.h>

#include "runtime/cgroup/cgroup_fs.h"
#include "runtime/cgroup/controllers.h"

namespace berth::runtime::cgroup::detail {

Status validate_hugetlb(const std::vector<oci::HugepageLimit>& limits) {
  for (size_t i = 0; i < limits.size(); ++i) {
    const std::string& s = limits[i].page_size;
    size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    std::string_view unit = std::string_view(s).substr(digits);
    if (digits == 0 || (unit != "KB" && unit != "MB" && unit != "GB"))
      return fail(Errc::InvalidArgument, "linux.resources.hugepageLimits[{}].pageSize: invalid \"{}\" (want e.g. 2MB)", i, s);
  }
  return ok();
}

Status apply_hugetlb_v1(const std::string& dir, const std::vector<oci::HugepageLimit>& limits) {
  BERTH_TRY(validate_hugetlb(limits));
  for (const auto& l : limits)
    BERTH_TRY(fs::write(dir, fmt::format("hugetlb.{}.limit_in_bytes", l.page_size), fmt::format("{}", l.limit)));
  return ok();
}

Status apply_hugetlb_v2(const std::string& dir, const std::vector<oci::HugepageLimit>& limits) {
  BERTH_TRY(validate_hugetlb(limits));
  for (const auto& l : limits)
    BERTH_TRY(fs::write(dir, fmt::format("hugetlb.{}.max", l.page_size), fmt::format("{}", l.limit)));
  return ok();
}

}  // namespace berth::runtime::cgroup::detail
