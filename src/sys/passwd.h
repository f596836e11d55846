#pragma once
// Users and groups from a container's /etc/passwd and /etc/group, parsed by hand (glibc's NSS must never be
// consulted after entering a container rootfs: it would dlopen libraries from the container).
// Input is untrusted: files larger than kMaxFileBytes, lines longer than kMaxLineBytes or more than
// kMaxEntries entries fail with InvalidArgument; malformed lines are skipped.

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::sys {

inline constexpr size_t kMaxFileBytes = 16 << 20;
inline constexpr size_t kMaxLineBytes = 64 << 10;
inline constexpr size_t kMaxEntries = 1 << 20;

struct PasswdEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string shell;
};
struct GroupEntry {
  std::string name;
  gid_t gid = 0;
  std::vector<std::string> members;
};

Result<std::vector<PasswdEntry>> parse_passwd(std::string_view text);
Result<std::vector<GroupEntry>> parse_group(std::string_view text);

// Resolves a docker-style user spec "name", "uid", "name:group", "uid:gid" against the given files
// (contents may be empty if the files are missing). Numeric ids need no entry. Supplementary groups are the
// groups listing the user by name. Unknown names fail with NotFound ("unable to find user foo").
struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  std::string home = "/";
};
Result<ResolvedUser> resolve_user(std::string_view spec, std::string_view passwd_text, std::string_view group_text);

}  // namespace berth::sys
