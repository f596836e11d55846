#include "runtime/cgroup/cgroup_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "base/unique_fd.h"

namespace berth::runtime::cgroup::fs {

std::string join(std::string_view dir, std::string_view name) {
  std::string p;
  p.reserve(dir.size() + name.size() + 1);
  p.append(dir);
  p.push_back('/');
  p.append(name);
  return p;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<UniqueFd> open_for_write(const std::string& dir, std::string_view name) {
  std::string path = join(dir, name);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return fail_errno("open `{}`", path);
  return fd;
}

Status write_fd(int fd, const std::string& dir, std::string_view name, std::string_view value) {
  for (;;) {
    ssize_t n = ::write(fd, value.data(), value.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("write {}={} in {}", name, trim(value), dir);
    // cgroupfs consumes a write whole; a short write only happens on a fake (regular file, full disk).
    if (static_cast<size_t>(n) != value.size())
      return fail(Errc::Internal, "short write {}={} in {}", name, trim(value), dir);
    return ok();
  }
}

Status write(const std::string& dir, std::string_view name, std::string_view value) {
  UniqueFd fd = BERTH_TRY(open_for_write(dir, name));
  return write_fd(fd.get(), dir, name, value);
}

Result<std::string> read(const std::string& dir, std::string_view name) {
  std::string path = join(dir, name);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open `{}`", path);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read `{}`", path);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1u << 20)) return fail(Errc::InvalidArgument, "`{}` is larger than 1 MiB", path);
  }
  return out;
}

Result<std::string> read_line(const std::string& dir, std::string_view name) {
  std::string s = BERTH_TRY(read(dir, name));
  std::string_view v = s;
  if (auto nl = v.find('\n'); nl != std::string_view::npos) v = v.substr(0, nl);
  return std::string(trim(v));
}

Result<uint64_t> read_u64(const std::string& dir, std::string_view name, uint64_t max_value) {
  std::string s = BERTH_TRY(read_line(dir, name));
  if (s == "max") return max_value;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    return fail(Errc::InvalidArgument, "`{}`: not a number: \"{}\"", join(dir, name), s);
  return v;
}

bool exists(const std::string& dir, std::string_view name) {
  return ::access(join(dir, name).c_str(), F_OK) == 0;
}

namespace {
bool parse_u64(std::string_view s, uint64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

std::map<std::string, uint64_t> parse_keyed(std::string_view text) {
  std::map<std::string, uint64_t> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    uint64_t v = 0;
    if (parse_u64(trim(line.substr(sp + 1)), v)) out.emplace(std::string(line.substr(0, sp)), v);
  }
  return out;
}

std::vector<uint64_t> parse_numbers(std::string_view text) {
  std::vector<uint64_t> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t')) ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\n' && text[j] != '\t') ++j;
    uint64_t v = 0;
    if (j > i && parse_u64(text.substr(i, j - i), v)) out.push_back(v);
    i = j;
  }
  return out;
}

std::vector<pid_t> parse_pids(std::string_view text) {
  std::vector<pid_t> out;
  for (uint64_t v : parse_numbers(text)) out.push_back(static_cast<pid_t>(v));
  return out;
}

Result<std::vector<pid_t>> sorted_pids(const std::string& dir) {
  std::vector<pid_t> out;
  BERTH_TRY(collect_pids(dir, out));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Status collect_pids(const std::string& dir, std::vector<pid_t>& out) {
  auto procs = read(dir, "cgroup.procs");
  if (!procs) return fail(std::move(procs).error());
  for (pid_t p : parse_pids(*procs)) out.push_back(p);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return fail_errno("opendir `{}`", dir);
  std::vector<std::string> children;
  while (dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    children.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const auto& c : children) {
    auto st = collect_pids(join(dir, c), out);
    // A child cgroup removed while we walk is fine.
    if (!st && st.error().sys_errno() != ENOENT) return st;
  }
  return ok();
}

}  // namespace berth::runtime::cgroup::fs
