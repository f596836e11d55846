#include "sys/caps.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace berth::sys {
namespace {

static_assert(CAP_CHECKPOINT_RESTORE == kCapMax);
static_assert(kCapNames.size() == kCapMax + 1);

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

std::atomic<int> g_last_cap{-1};

int read_last_cap() {
  int fd = ::open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return kCapMax;
  char buf[16];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return kCapMax;
  int v = 0;
  bool any = false;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) {
    v = v * 10 + (buf[i] - '0');
    any = true;
    if (v > 63) return kCapMax;
  }
  return any ? v : kCapMax;
}

uint64_t valid_mask() {
  int last = cap_last_cap();
  return last >= 63 ? ~uint64_t{0} : (uint64_t{1} << (last + 1)) - 1;
}

}  // namespace

Result<int> cap_from_name(std::string_view name) {
  for (int i = 0; i <= kCapMax; ++i)
    if (iequals(name, kCapNames[static_cast<size_t>(i)])) return i;
  return fail(Errc::InvalidArgument, "unknown capability \"{}\"", name);
}

std::string cap_name(int cap) {
  if (cap >= 0 && cap <= kCapMax) return std::string(kCapNames[static_cast<size_t>(cap)]);
  return fmt::format("CAP_{}", cap);
}

int cap_last_cap() {
  int v = g_last_cap.load(std::memory_order_relaxed);
  if (v < 0) {
    v = read_last_cap();
    g_last_cap.store(v, std::memory_order_relaxed);
  }
  return v;
}

uint64_t caps_mask(const std::vector<int>& caps) {
  uint64_t m = 0;
  for (int c : caps)
    if (c >= 0 && c < 64) m |= uint64_t{1} << c;
  return m;
}

Result<uint64_t> caps_mask_from_names(const std::vector<std::string>& names) {
  uint64_t m = 0;
  for (const auto& n : names) m |= uint64_t{1} << BERTH_TRY(cap_from_name(n));
  return m;
}

std::vector<std::string> cap_names(uint64_t mask) {
  std::vector<std::string> out;
  for (int i = 0; i < 64; ++i)
    if (mask & (uint64_t{1} << i)) out.push_back(cap_name(i));
  return out;
}

Result<CapMasks> compile_caps(const CapSets& sets) {
  auto one = [](const char* what, const std::vector<int>& v) -> Result<uint64_t> {
    for (int c : v)
      if (c < 0 || c > 63) return fail(Errc::InvalidArgument, "{} capability {} out of range", what, c);
    return caps_mask(v);
  };
  CapMasks m;
  m.bounding = BERTH_TRY(one("bounding", sets.bounding));
  m.effective = BERTH_TRY(one("effective", sets.effective));
  m.inheritable = BERTH_TRY(one("inheritable", sets.inheritable));
  m.permitted = BERTH_TRY(one("permitted", sets.permitted));
  m.ambient = BERTH_TRY(one("ambient", sets.ambient));
  return m;
}

Status apply_caps(const CapMasks& in) {
  const int last = cap_last_cap();
  const uint64_t valid = valid_mask();

  __user_cap_header_struct hdr{};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  __user_cap_data_struct data[2]{};
  // After a uid change with PR_SET_KEEPCAPS the effective set is empty while permitted is kept; raise
  // effective to permitted first so that CAP_SETPCAP is usable for the bounding-set drop.
  if (::syscall(SYS_capget, &hdr, data) != 0) return fail_errno("capget");
  if (data[0].effective != data[0].permitted || data[1].effective != data[1].permitted) {
    data[0].effective = data[0].permitted;
    data[1].effective = data[1].permitted;
    if (::syscall(SYS_capset, &hdr, data) != 0) return fail_errno("capset (raise effective to permitted)");
  }

  for (int c = 0; c <= last; ++c) {
    if (in.bounding & (uint64_t{1} << c)) continue;
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) {
      // EINVAL: the kernel does not know c (cap_last_cap lied); nothing to drop.
      if (errno == EINVAL) continue;
      return fail_errno("drop {} from the bounding set", cap_name(c));
    }
  }

  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return fail_errno("clear the ambient capability set");

  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  const uint64_t eff = in.effective & valid, prm = in.permitted & valid, inh = in.inheritable & valid;
  data[0].effective = static_cast<uint32_t>(eff);
  data[1].effective = static_cast<uint32_t>(eff >> 32);
  data[0].permitted = static_cast<uint32_t>(prm);
  data[1].permitted = static_cast<uint32_t>(prm >> 32);
  data[0].inheritable = static_cast<uint32_t>(inh);
  data[1].inheritable = static_cast<uint32_t>(inh >> 32);
  if (::syscall(SYS_capset, &hdr, data) != 0)
    return fail_errno("capset (effective {:#x}, permitted {:#x}, inheritable {:#x})", eff, prm, inh);

  for (int c = 0; c <= last; ++c) {
    if (!(in.ambient & (uint64_t{1} << c))) continue;
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0)
      return fail_errno("raise ambient {} (it must be in permitted and inheritable)", cap_name(c));
  }
  return ok();
}

Status apply_caps(const CapSets& sets) {
  CapMasks m = BERTH_TRY(compile_caps(sets));
  return apply_caps(m);
}

Status set_keep_caps(bool keep) {
  if (::prctl(PR_SET_KEEPCAPS, keep ? 1 : 0, 0, 0, 0) != 0) return fail_errno("prctl(PR_SET_KEEPCAPS)");
  return ok();
}

Status switch_user(uid_t uid, gid_t gid, const gid_t* groups, size_t n_groups, bool set_groups) {
  BERTH_TRY(set_keep_caps(true));
  if (set_groups && ::syscall(SYS_setgroups, n_groups, groups) != 0)
    return fail_errno("setgroups ({} groups)", n_groups);
  if (::syscall(SYS_setresgid, gid, gid, gid) != 0) return fail_errno("setresgid {}", gid);
  if (::syscall(SYS_setresuid, uid, uid, uid) != 0) return fail_errno("setresuid {}", uid);
  return set_keep_caps(false);
}

Result<CapMasks> current_caps() {
  __user_cap_header_struct hdr{};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &hdr, data) != 0) return fail_errno("capget");
  CapMasks m;
  m.effective = data[0].effective | (uint64_t{data[1].effective} << 32);
  m.permitted = data[0].permitted | (uint64_t{data[1].permitted} << 32);
  m.inheritable = data[0].inheritable | (uint64_t{data[1].inheritable} << 32);
  const int last = cap_last_cap();
  for (int c = 0; c <= last; ++c) {
    int b = ::prctl(PR_CAPBSET_READ, c, 0, 0, 0);
    if (b < 0) return fail_errno("prctl(PR_CAPBSET_READ, {})", c);
    if (b) m.bounding |= uint64_t{1} << c;
    int a = ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0);
    if (a < 0) return fail_errno("prctl(PR_CAP_AMBIENT_IS_SET, {})", c);
    if (a) m.ambient |= uint64_t{1} << c;
  }
  return m;
}

}  // namespace berth::sys
