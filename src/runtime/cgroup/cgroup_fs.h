#pragma once
// File access under a cgroup directory, shared by the v1 and v2 managers and the per-controller code.
// Files are opened without O_CREAT (cgroupfs provides them; a fake must too). Every error names the file.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth::runtime::cgroup::fs {

// dir + "/" + name
std::string join(std::string_view dir, std::string_view name);

// Writes value to <dir>/<name> in one write(2) (O_WRONLY|O_TRUNC).
Status write(const std::string& dir, std::string_view name, std::string_view value);
// For several values in a row (devices.allow rules): one open, one write(2) per value. O_TRUNC, so on a
// fake the file ends up holding exactly the values written through this fd.
Result<UniqueFd> open_for_write(const std::string& dir, std::string_view name);
Status write_fd(int fd, const std::string& dir, std::string_view name, std::string_view value);
// Whole file (cgroup files are small; bounded at 1 MiB).
Result<std::string> read(const std::string& dir, std::string_view name);
// Trimmed first line.
Result<std::string> read_line(const std::string& dir, std::string_view name);
// Single number; "max" reads as max_value.
Result<uint64_t> read_u64(const std::string& dir, std::string_view name, uint64_t max_value = UINT64_MAX);
bool exists(const std::string& dir, std::string_view name);

// "key value\n" lines (memory.stat, cpu.stat, memory.events, cpuacct.stat). Unparsable lines are skipped.
std::map<std::string, uint64_t> parse_keyed(std::string_view text);
// Whitespace-separated unsigned numbers (cpuacct.usage_percpu).
std::vector<uint64_t> parse_numbers(std::string_view text);
// cgroup.procs contents.
std::vector<pid_t> parse_pids(std::string_view text);

// Reads cgroup.procs of dir and every descendant directory (appends to out).
Status collect_pids(const std::string& dir, std::vector<pid_t>& out);
// collect_pids into a new list, sorted, each pid once (Manager::pids).
Result<std::vector<pid_t>> sorted_pids(const std::string& dir);

std::string_view trim(std::string_view s);

}  // namespace berth::runtime::cgroup::fs
