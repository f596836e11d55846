#pragma once
// Wire helpers of the shim protocol (shared by ShimClient and the shim): unix sockets whose paths may be
// longer than sun_path, and the one-line JSON request/reply framing.
//
//   request  = JSON object with "op" + arguments, then "\n"          (at most kMaxRequestLine bytes)
//   reply    = {"ok":true,...}\n | {"ok":false,"error":"msg","code":"NotFound|InvalidArgument|..."}\n
// After an ok reply to attach / exec_start the connection carries the raw stream.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth::engine::monitor {

inline constexpr size_t kMaxRequestLine = 1 << 20;

// Binds + listens (SOCK_CLOEXEC | SOCK_NONBLOCK), replacing a stale socket file. Paths longer than
// sun_path go through /proc/self/fd/<dirfd>/<name>.
Result<UniqueFd> listen_unix(const std::string& path, int backlog = 128);
// Connects (blocking, SOCK_CLOEXEC). Unavailable when nobody listens (ENOENT, ECONNREFUSED).
Result<UniqueFd> connect_unix(const std::string& path);

// Reads one '\n'-terminated line without consuming a byte past it (MSG_PEEK), so a stream may follow.
// timeout_ms -1 = forever; Unavailable on EOF before the newline, or timeout ("timed out").
Result<std::string> read_line(int fd, size_t max_len, int timeout_ms = -1);
Status send_line(int fd, std::string_view line_without_newline);

// Errc <-> the "code" strings of replies ("NotFound", ...).
Errc errc_from_name(std::string_view name);
const char* errc_wire_name(Errc c);
std::string error_reply(const Error& e);
// Parses a reply line: the JSON object of an ok reply, or the Error it carries.
Result<nlohmann::json> parse_reply(std::string_view line);
// Parses a request line: an object with a string "op". InvalidArgument otherwise.
Result<nlohmann::json> parse_request(std::string_view line);

}  // namespace berth::engine::monitor
