#include "engine/monitor/protocol.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstring>

namespace berth::engine::monitor {

namespace {

constexpr std::array<std::pair<Errc, const char*>, 10> kCodes = {{
    {Errc::NotFound, "NotFound"},
    {Errc::AlreadyExists, "AlreadyExists"},
    {Errc::InvalidArgument, "InvalidArgument"},
    {Errc::FailedPrecondition, "FailedPrecondition"},
    {Errc::PermissionDenied, "PermissionDenied"},
    {Errc::Conflict, "Conflict"},
    {Errc::Unavailable, "Unavailable"},
    {Errc::Canceled, "Canceled"},
    {Errc::Unimplemented, "Unimplemented"},
    {Errc::Internal, "Internal"},
}};

// Fills addr for path; a long path is reached through an O_PATH fd of its directory (kept in dirfd).
Result<socklen_t> make_addr(const std::string& path, sockaddr_un& addr, UniqueFd& dirfd) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  std::string p = path;
  if (p.size() >= sizeof addr.sun_path) {
    auto slash = p.rfind('/');
    if (slash == std::string::npos) return fail(Errc::InvalidArgument, "socket path `{}` too long", path);
    std::string dir = slash == 0 ? "/" : p.substr(0, slash);
    dirfd.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dirfd) return fail_errno("open socket directory `{}`", dir);
    p = fmt::format("/proc/self/fd/{}/{}", dirfd.get(), p.substr(slash + 1));
    if (p.size() >= sizeof addr.sun_path) return fail(Errc::InvalidArgument, "socket name in `{}` too long", path);
  }
  std::memcpy(addr.sun_path, p.data(), p.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + p.size() + 1);
}

}  // namespace

Result<UniqueFd> listen_unix(const std::string& path, int backlog) {
  sockaddr_un addr;
  UniqueFd dirfd;
  socklen_t len = BERTH_TRY(make_addr(path, addr, dirfd));
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) return fail_errno("socket");
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), len) < 0) return fail_errno("bind `{}`", path);
  if (::listen(s.get(), backlog) < 0) return fail_errno("listen `{}`", path);
  return s;
}

Result<UniqueFd> connect_unix(const std::string& path) {
  sockaddr_un addr;
  UniqueFd dirfd;
  socklen_t len = BERTH_TRY(make_addr(path, addr, dirfd));
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return fail_errno("socket");
  int r;
  do {
    r = ::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), len);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
      return fail(Errc::Unavailable, "connect to shim `{}`: {}", path, std::strerror(e));
    return fail_errno_n(e, "connect to shim `{}`", path);
  }
  return s;
}

Result<std::string> read_line(int fd, size_t max_len, int timeout_ms) {
  std::string out;
  char buf[4096];
  for (;;) {
    if (timeout_ms >= 0) {
      struct pollfd p = {fd, POLLIN, 0};
      int r = ::poll(&p, 1, timeout_ms);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return fail_errno("poll");
      if (r == 0) return fail(Errc::Unavailable, "timed out");
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_PEEK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == ECONNRESET || errno == EPIPE))
      return fail(Errc::Unavailable, "connection closed before a complete line");
    if (n < 0) return fail_errno("read from shim connection");
    if (n == 0) return fail(Errc::Unavailable, "connection closed before a complete line");
    auto* nl = static_cast<char*>(std::memchr(buf, '\n', static_cast<size_t>(n)));
    size_t take = nl ? static_cast<size_t>(nl - buf) + 1 : static_cast<size_t>(n);
    ssize_t got;
    do {
      got = ::recv(fd, buf, take, 0);
    } while (got < 0 && errno == EINTR);
    if (got != static_cast<ssize_t>(take)) return fail_errno("read from shim connection");
    out.append(buf, take);
    if (nl) {
      out.pop_back();
      return out;
    }
    if (out.size() > max_len) return fail(Errc::InvalidArgument, "line longer than {} bytes", max_len);
  }
}

Status send_line(int fd, std::string_view line) {
  std::string l(line);
  l += '\n';
  std::string_view rest = l;
  while (!rest.empty()) {
    ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Errc::Unavailable, "write to shim connection: {}", std::strerror(errno));
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

const char* errc_wire_name(Errc c) {
  for (const auto& [e, n] : kCodes)
    if (e == c) return n;
  return "Internal";
}

Errc errc_from_name(std::string_view name) {
  for (const auto& [e, n] : kCodes)
    if (name == n) return e;
  return Errc::Internal;
}

std::string error_reply(const Error& e) {
  nlohmann::json j = {{"ok", false}, {"error", e.message()}, {"code", errc_wire_name(e.code())}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<nlohmann::json> parse_reply(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("ok") || !j["ok"].is_boolean())
    return fail(Errc::Internal, "malformed reply from shim: {}", line.substr(0, 200));
  if (j["ok"].get<bool>()) return j;
  std::string msg = j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "shim error";
  std::string code = j.contains("code") && j["code"].is_string() ? j["code"].get<std::string>() : "Internal";
  return fail(Error(errc_from_name(code), msg));
}

Result<nlohmann::json> parse_request(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) return fail(Errc::InvalidArgument, "request is not valid JSON");
  if (!j.is_object()) return fail(Errc::InvalidArgument, "request must be a JSON object");
  auto op = j.find("op");
  if (op == j.end() || !op->is_string()) return fail(Errc::InvalidArgument, "request: \"op\" (string) is required");
  return j;
}

}  // namespace berth::engine::monitor
