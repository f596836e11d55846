#pragma once
// Path resolution that can never leave a root directory. Every path derived from untrusted data (a container
// rootfs, a layer tarball, a volume, docker cp) goes through these: the path is resolved by the kernel
// relative to an O_PATH directory fd with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so ".." and
// symlinks (absolute or relative, chained) are clamped to the root as if it were "/" (CVE-2021-30465).

#include <fcntl.h>
#include <sys/stat.h>

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth::sys {

// Opens root itself (O_PATH|O_DIRECTORY|O_CLOEXEC).
Result<UniqueFd> open_root(const std::string& root);

// openat2(root_fd, path, flags, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS [| extra_resolve]). path may be
// absolute (taken as relative to root); "" and "/" open root itself. flags include O_CLOEXEC always.
// Errors carry the errno (ENOENT -> NotFound, ...); paths longer than PATH_MAX fail with InvalidArgument.
// None of the functions below allocate on success except those returning std::string.
Result<UniqueFd> open_in_root(int root_fd, std::string_view path, int flags, mode_t mode = 0,
                              uint64_t extra_resolve = 0);

// mkdir -p inside root (each component created with mkdirat on the fd of the resolved parent; never
// follows a symlink out). Returns an O_PATH fd of the final directory. Existing symlinks on the way are
// followed *inside* root (an absolute target restarts at root, ".." stops at root), including dangling
// ones, whose target is then created inside root. A non-directory on the way fails with ENOTDIR
// (FailedPrecondition); more than 40 symlinks with ELOOP. The result is checked with is_beneath(); a
// directory moved out of root while we walked fails with EXDEV (PermissionDenied).
Result<UniqueFd> mkdir_all_in_root(int root_fd, std::string_view path, mode_t mode = 0755);

// Creates (if missing) a regular file at path inside root, parents included; returns an O_PATH fd.
// An existing file (of any type but a directory) is returned as is; a symlink as the last component is
// followed inside root. An existing directory fails with EISDIR.
Result<UniqueFd> create_file_in_root(int root_fd, std::string_view path, mode_t mode = 0644);

// True if the directory (or, for other files, nothing: pass a directory) open at fd is root itself or lies
// beneath it, checked by walking ".." from fd and comparing device/inode with root_fd — the path strings in
// /proc are not trusted. Used after resolution to catch a directory that a concurrent rename moved out of
// root (e.g. through a volume shared with another container), and to verify a container's cwd
// (CVE-2024-21626). Best effort against a still-running rename race; no allocation.
Result<bool> is_beneath(int root_fd, int dir_fd);

// "/proc/self/fd/<n>" for use as a mount source/target of an fd-resolved path.
std::string fd_path(int fd);
// The same without allocating (for use between clone and exec): fd_path_buf(fd).c_str().
struct FdPathBuf {
  char buf[32];
  const char* c_str() const { return buf; }
};
FdPathBuf fd_path_buf(int fd);

// Lexical clean: collapse "//", ".", ".." (never above "/"), strip trailing "/". Always returns absolute.
std::string clean_path(std::string_view p);

// True if the fd refers to a file on a real procfs (fstatfs PROC_SUPER_MAGIC) — used before every write
// to /proc (sysctls, oom_score_adj, setgroups, uid_map) so that a container cannot redirect it.
Result<bool> is_procfs(int fd);
// Opens path (absolute, under /proc) and verifies it lives on procfs; fails with PermissionDenied if not.
Result<UniqueFd> open_proc_verified(const std::string& path, int flags);

// True if fd is the character device 1:3 (/dev/null) — masked paths are bound only from a verified null.
Result<bool> is_dev_null(int fd);

}  // namespace berth::sys
