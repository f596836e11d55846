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

// Resolves a docker-style user spec "name", "uid", "name:group", "uid:gid", "uid:groupname" against the given
// files (contents may be empty if the files are missing). "" means uid 0.
//  - A numeric user matches passwd entries by uid only; with no entry, uid is the number, gid 0 (unless a
//    group is given) and home "/".
//  - A name must have an entry; otherwise NotFound ("unable to find user foo").
//  - A group (name or number) sets the primary gid; a name must exist in /etc/group (NotFound otherwise).
//  - Supplementary groups are the /etc/group entries listing the user by name, and only when no group was
//    given explicitly (runc/docker semantics).
//  - Ids must be in 0..2^31-1; other numbers, more than one ':' and a NUL byte fail with InvalidArgument.
// Malformed passwd/group lines (non-numeric ids, too few fields, NUL bytes) are skipped, never read as 0.
struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  std::string home = "/";
};
Result<ResolvedUser> resolve_user(std::string_view spec, std::string_view passwd_text, std::string_view group_text);

// /etc/passwd and /etc/group of the root at root_fd (an O_PATH directory fd; the container rootfs, or "/"
// after pivot_root), opened with open_in_root (symlinks stay inside root). A missing file reads as "";
// anything but a regular file (a FIFO, a device) or a file larger than kMaxFileBytes fails with
// InvalidArgument. Does not use NSS.
struct UserFiles {
  std::string passwd;
  std::string group;
};
Result<UserFiles> read_user_files(int root_fd);
// read_user_files + resolve_user.
Result<ResolvedUser> resolve_user_in_root(int root_fd, std::string_view spec);

}  // namespace berth::sys
