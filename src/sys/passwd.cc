#include "sys/passwd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "sys/path.h"

namespace berth::sys {
namespace {

// runc/docker accept ids in 0..2^31-1 only.
constexpr uint64_t kMaxId = 0x7fffffff;

std::optional<uint32_t> parse_id(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > kMaxId) return std::nullopt;
  return static_cast<uint32_t>(v);
}

// Iterates over lines; fails on an oversized file, line or entry count.
template <class Fn>
Status for_each_line(std::string_view text, const char* what, Fn&& fn) {
  if (text.size() > kMaxFileBytes)
    return fail(Errc::InvalidArgument, "{}: file too large ({} bytes, limit {})", what, text.size(), kMaxFileBytes);
  size_t entries = 0;
  size_t lineno = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++lineno;
    if (line.size() > kMaxLineBytes)
      return fail(Errc::InvalidArgument, "{}: line {} too long ({} bytes, limit {})", what, lineno, line.size(),
                  kMaxLineBytes);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    // NIS compat entries ("+", "-name") and lines with NUL bytes are not ours to interpret.
    if (line.front() == '+' || line.front() == '-') continue;
    if (line.find('\0') != std::string_view::npos) continue;
    if (fn(line)) {
      if (++entries > kMaxEntries)
        return fail(Errc::InvalidArgument, "{}: more than {} entries", what, kMaxEntries);
    }
  }
  return ok();
}

// Splits into exactly n fields by ':' (the last one keeps no further ':'s); false if the count differs.
template <size_t N>
bool split_fields(std::string_view line, std::string_view (&out)[N]) {
  size_t i = 0;
  while (i < N) {
    size_t c = line.find(':');
    if (c == std::string_view::npos) {
      out[i++] = line;
      break;
    }
    out[i++] = line.substr(0, c);
    line.remove_prefix(c + 1);
    if (i == N) return false;  // too many fields
  }
  return i == N;
}

Result<std::string> read_bounded(int root_fd, const char* path) {
  auto fd = open_in_root(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!fd) {
    if (fd.error().sys_errno() == ENOENT) return std::string();
    return fail(std::move(fd).error());
  }
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return fail_errno("stat {}", path);
  if (!S_ISREG(st.st_mode)) return fail(Errc::InvalidArgument, "{} is not a regular file", path);
  if (static_cast<uint64_t>(st.st_size) > kMaxFileBytes)
    return fail(Errc::InvalidArgument, "{} too large ({} bytes, limit {})", path, st.st_size, kMaxFileBytes);
  std::string out;
  out.resize(static_cast<size_t>(st.st_size) + 1);
  size_t got = 0;
  while (true) {
    if (got == out.size()) {
      // Grew since fstat (or a file that lies about its size).
      if (out.size() > kMaxFileBytes) return fail(Errc::InvalidArgument, "{} too large (limit {})", path, kMaxFileBytes);
      out.resize(std::min(out.size() * 2 + 4096, kMaxFileBytes + 1));
    }
    ssize_t n = ::read(fd->get(), out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read {}", path);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > kMaxFileBytes) return fail(Errc::InvalidArgument, "{} too large (limit {})", path, kMaxFileBytes);
  out.resize(got);
  return out;
}

}  // namespace

Result<std::vector<PasswdEntry>> parse_passwd(std::string_view text) {
  std::vector<PasswdEntry> out;
  BERTH_TRY(for_each_line(text, "passwd", [&](std::string_view line) {
    // name:password:uid:gid:gecos:home:shell
    std::string_view f[7];
    if (!split_fields(line, f) || f[0].empty()) return false;
    auto uid = parse_id(f[2]);
    auto gid = parse_id(f[3]);
    if (!uid || !gid) return false;
    out.push_back(PasswdEntry{std::string(f[0]), *uid, *gid, std::string(f[5]), std::string(f[6])});
    return true;
  }));
  return out;
}

Result<std::vector<GroupEntry>> parse_group(std::string_view text) {
  std::vector<GroupEntry> out;
  BERTH_TRY(for_each_line(text, "group", [&](std::string_view line) {
    // name:password:gid:member,member,...
    std::string_view f[4];
    if (!split_fields(line, f) || f[0].empty()) return false;
    auto gid = parse_id(f[2]);
    if (!gid) return false;
    GroupEntry g{std::string(f[0]), *gid, {}};
    std::string_view m = f[3];
    while (!m.empty()) {
      size_t comma = m.find(',');
      std::string_view one = m.substr(0, comma);
      m = comma == std::string_view::npos ? std::string_view{} : m.substr(comma + 1);
      while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
      while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
      if (!one.empty()) g.members.emplace_back(one);
    }
    out.push_back(std::move(g));
    return true;
  }));
  return out;
}

Result<ResolvedUser> resolve_user(std::string_view spec, std::string_view passwd_text, std::string_view group_text) {
  if (spec.find('\0') != std::string_view::npos) return fail(Errc::InvalidArgument, "user spec contains a NUL byte");
  std::string_view user_arg = spec, group_arg;
  bool has_group = false;
  if (size_t c = spec.find(':'); c != std::string_view::npos) {
    user_arg = spec.substr(0, c);
    group_arg = spec.substr(c + 1);
    has_group = true;
    if (group_arg.find(':') != std::string_view::npos)
      return fail(Errc::InvalidArgument, "invalid user spec \"{}\": more than one ':'", spec);
    if (group_arg.empty()) return fail(Errc::InvalidArgument, "invalid user spec \"{}\": empty group", spec);
  }

  ResolvedUser out;
  auto is_digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  std::optional<uint32_t> uid_num;
  if (user_arg.empty()) {
    uid_num = 0;
  } else if (is_digits(user_arg)) {
    uid_num = parse_id(user_arg);
    if (!uid_num) return fail(Errc::InvalidArgument, "uid {} out of range (0-2147483647)", user_arg);
  }

  auto users = BERTH_TRY(parse_passwd(passwd_text));
  const PasswdEntry* match = nullptr;
  for (const auto& u : users) {
    if (uid_num ? u.uid == *uid_num : u.name == user_arg) {
      match = &u;
      break;
    }
  }
  if (match) {
    out.uid = match->uid;
    out.gid = match->gid;
    if (!match->home.empty()) out.home = match->home;
  } else if (uid_num) {
    out.uid = *uid_num;
  } else {
    return fail(Errc::NotFound, "unable to find user {}: no matching entries in passwd file", user_arg);
  }

  if (!has_group && !match) return out;
  auto groups = BERTH_TRY(parse_group(group_text));
  if (has_group) {
    std::optional<uint32_t> gid_num;
    if (is_digits(group_arg)) {
      gid_num = parse_id(group_arg);
      if (!gid_num) return fail(Errc::InvalidArgument, "gid {} out of range (0-2147483647)", group_arg);
      out.gid = *gid_num;  // a numeric group needs no entry
      return out;
    }
    for (const auto& g : groups) {
      if (g.name == group_arg) {
        out.gid = g.gid;
        return out;
      }
    }
    return fail(Errc::NotFound, "unable to find group {}: no matching entries in group file", group_arg);
  }
  for (const auto& g : groups) {
    for (const auto& m : g.members) {
      if (m == match->name) {
        out.additional_gids.push_back(g.gid);
        break;
      }
    }
  }
  return out;
}

Result<UserFiles> read_user_files(int root_fd) {
  UserFiles f;
  f.passwd = BERTH_TRY(read_bounded(root_fd, "/etc/passwd"));
  f.group = BERTH_TRY(read_bounded(root_fd, "/etc/group"));
  return f;
}

Result<ResolvedUser> resolve_user_in_root(int root_fd, std::string_view spec) {
  UserFiles f = BERTH_TRY(read_user_files(root_fd));
  return BERTH_TRY_CTX(resolve_user(spec, f.passwd, f.group), "resolve user \"{}\"", spec);
}

}  // namespace berth::sys
