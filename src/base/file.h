#pragma once
// Small, durable file helpers.
//
// write_file_atomic: the acknowledged-write protocol used everywhere in Berth:
//   write <dir>/.<name>.tmp.<pid> -> fsync -> rename over <dir>/<name> -> fsync <dir>.
// After it returns ok the new content survives a crash; readers see either the old or the new file.

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth {

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644);
// Same, relative to an open directory fd (name must be a single path component).
Status write_file_atomic_at(int dirfd, const std::string& name, std::string_view data, mode_t mode = 0644);

// write_file_replace: the same tmp -> rename protocol without any fsync, for files that are regenerated from a
// durable record (or are hints): readers still see the old or the new file, never a torn one, while the system
// runs; after a host crash the file may be old, empty or missing, so its owner must be able to rebuild it.
Status write_file_replace(const std::string& path, std::string_view data, mode_t mode = 0644);
Status write_file_replace_at(int dirfd, const std::string& name, std::string_view data, mode_t mode = 0644);

// Reads the whole file (bounded by max_bytes; larger files fail with InvalidArgument).
Result<std::string> read_file(const std::string& path, size_t max_bytes = 64 << 20);
Result<std::string> read_fd(int fd, size_t max_bytes = 64 << 20);

// Writes all bytes, retrying on EINTR and short writes.
Status write_all(int fd, std::string_view data);

// Opens a directory (O_DIRECTORY|O_CLOEXEC) and fsyncs it.
Status fsync_dir(const std::string& path);

// mkdir -p with the given mode for created directories.
Status mkdir_all(const std::string& path, mode_t mode = 0755);

// rm -rf that does not cross mount points and never follows symlinks.
Status remove_all(const std::string& path);

}  // namespace berth
