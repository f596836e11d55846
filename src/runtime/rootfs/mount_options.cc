#include "runtime/rootfs/mount_options.h"

#include <sys/mount.h>

#include <array>

namespace berth::runtime::rootfs {
namespace {

struct FlagOption {
  std::string_view name;
  bool clear;
  unsigned long flag;
};

// mount(8) names. "acl" is deliberately absent: MS_POSIXACL is not a per-mount flag (runc#3738), so it goes
// to the filesystem as data.
constexpr std::array<FlagOption, 33> kFlagOptions{{
    {"async", true, MS_SYNCHRONOUS},
    {"atime", true, MS_NOATIME},
    {"bind", false, MS_BIND},
    {"defaults", false, 0},
    {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},
    {"iversion", false, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME},
    {"loud", true, MS_SILENT},
    {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},
    {"noiversion", true, MS_I_VERSION},
    {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"silent", false, MS_SILENT},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"symfollow", true, MS_NOSYMFOLLOW},
    {"sync", false, MS_SYNCHRONOUS},
}};

struct PropagationOption {
  std::string_view name;
  unsigned long flag;
};

constexpr std::array<PropagationOption, 8> kPropagation{{
    {"private", MS_PRIVATE},
    {"rprivate", MS_PRIVATE | MS_REC},
    {"slave", MS_SLAVE},
    {"rslave", MS_SLAVE | MS_REC},
    {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC},
    {"unbindable", MS_UNBINDABLE},
    {"runbindable", MS_UNBINDABLE | MS_REC},
}};

struct RecAttrOption {
  std::string_view name;
  bool clear;
  uint64_t attr;
};

constexpr std::array<RecAttrOption, 18> kRecAttr{{
    {"rro", false, MOUNT_ATTR_RDONLY},
    {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},
    {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},
    {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},
    {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW},
    {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
    // The atime modes are an enum inside MOUNT_ATTR__ATIME; handled specially below.
    {"rrelatime", false, MOUNT_ATTR_RELATIME},
    {"rnorelatime", true, MOUNT_ATTR_RELATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},
    {"ratime", true, MOUNT_ATTR_NOATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME},
    {"rnostrictatime", true, MOUNT_ATTR_STRICTATIME},
}};

bool is_atime_rec(std::string_view name) {
  return name == "rrelatime" || name == "rnorelatime" || name == "rnoatime" || name == "ratime" ||
         name == "rstrictatime" || name == "rnostrictatime";
}

}  // namespace

bool MountOptions::is_bind() const { return (flags & MS_BIND) != 0; }
bool MountOptions::is_recursive() const { return (flags & MS_REC) != 0; }

Result<MountOptions> parse_mount_options(const std::vector<std::string>& options) {
  MountOptions out;
  for (const std::string& opt : options) {
    if (opt.empty()) return fail(Errc::InvalidArgument, "empty mount option");
    if (opt.find(',') != std::string::npos)
      return fail(Errc::InvalidArgument, "mount option `{}` contains ','", opt);
    bool known = false;
    for (const FlagOption& f : kFlagOptions) {
      if (f.name != opt) continue;
      known = true;
      if (f.clear) {
        out.flags &= ~f.flag;
        out.clear_flags |= f.flag;
      } else {
        out.flags |= f.flag;
        out.clear_flags &= ~f.flag;
      }
      break;
    }
    if (known) continue;
    for (const PropagationOption& p : kPropagation) {
      if (p.name == opt) {
        out.propagation.push_back(p.flag);
        known = true;
        break;
      }
    }
    if (known) continue;
    for (const RecAttrOption& r : kRecAttr) {
      if (r.name != opt) continue;
      known = true;
      if (is_atime_rec(opt)) {
        // Any atime choice replaces the whole atime field; clearing one ("ratime") selects relatime,
        // the kernel default, as mount(8) does.
        out.rec_attr_clr |= MOUNT_ATTR__ATIME;
        out.rec_attr_set &= ~static_cast<uint64_t>(MOUNT_ATTR__ATIME);
        if (!r.clear) out.rec_attr_set |= r.attr;
      } else if (r.clear) {
        out.rec_attr_set &= ~r.attr;
        out.rec_attr_clr |= r.attr;
      } else {
        out.rec_attr_clr &= ~r.attr;
        out.rec_attr_set |= r.attr;
      }
      break;
    }
    if (known) continue;
    if (opt == "tmpcopyup") {
      out.tmpcopyup = true;
      continue;
    }
    if (opt == "idmap" || opt == "ridmap") {
      out.idmap = true;
      continue;
    }
    if (!out.data.empty()) out.data += ',';
    out.data += opt;
  }
  return out;
}

Result<unsigned long> parse_propagation(std::string_view name) {
  if (name.empty()) return 0UL;
  for (const PropagationOption& p : kPropagation)
    if (p.name == name) return p.flag;
  return fail(Errc::InvalidArgument, "linux.rootfsPropagation: unknown propagation \"{}\"", name);
}

uint64_t ms_to_mount_attr(unsigned long ms, bool* atime_given) {
  uint64_t attr = 0;
  if (ms & MS_RDONLY) attr |= MOUNT_ATTR_RDONLY;
  if (ms & MS_NOSUID) attr |= MOUNT_ATTR_NOSUID;
  if (ms & MS_NODEV) attr |= MOUNT_ATTR_NODEV;
  if (ms & MS_NOEXEC) attr |= MOUNT_ATTR_NOEXEC;
  if (ms & MS_NODIRATIME) attr |= MOUNT_ATTR_NODIRATIME;
  if (ms & MS_NOSYMFOLLOW) attr |= MOUNT_ATTR_NOSYMFOLLOW;
  bool given = true;
  // The same precedence as mount(2): strictatime wins over noatime wins over relatime.
  if (ms & MS_STRICTATIME)
    attr |= MOUNT_ATTR_STRICTATIME;
  else if (ms & MS_NOATIME)
    attr |= MOUNT_ATTR_NOATIME;
  else if (ms & MS_RELATIME)
    attr |= MOUNT_ATTR_RELATIME;
  else
    given = false;
  if (atime_given) *atime_given = given;
  return attr;
}

std::string mount_flags_string(unsigned long ms) {
  std::string out;
  auto add = [&](unsigned long bit, std::string_view name) {
    if (!(ms & bit)) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(MS_RDONLY, "ro");
  add(MS_NOSUID, "nosuid");
  add(MS_NODEV, "nodev");
  add(MS_NOEXEC, "noexec");
  add(MS_SYNCHRONOUS, "sync");
  add(MS_REMOUNT, "remount");
  add(MS_MANDLOCK, "mand");
  add(MS_DIRSYNC, "dirsync");
  add(MS_NOSYMFOLLOW, "nosymfollow");
  add(MS_NOATIME, "noatime");
  add(MS_NODIRATIME, "nodiratime");
  add(MS_BIND, "bind");
  add(MS_REC, "rec");
  add(MS_SILENT, "silent");
  add(MS_RELATIME, "relatime");
  add(MS_STRICTATIME, "strictatime");
  add(MS_LAZYTIME, "lazytime");
  add(MS_I_VERSION, "iversion");
  return out;
}

}  // namespace berth::runtime::rootfs
