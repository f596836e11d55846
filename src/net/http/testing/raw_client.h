#pragma once
// A raw client for the server tests: bytes on the wire exactly as written, read back as they come. Every read
// waits at most 20 s for data, a bound that keeps a broken server from hanging a test (not a timing
// assertion).
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

namespace berth::net::http::testing {

inline int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool send_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t w = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (w <= 0) return false;
    s.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

// Everything until EOF; `err` gets the errno of a failed read (0 for a clean EOF, ETIMEDOUT for the guard).
inline std::string read_to_eof(int fd, int* err = nullptr) {
  std::string out;
  char buf[65536];
  if (err) *err = 0;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20'000) <= 0) {
      if (err) *err = ETIMEDOUT;
      break;
    }
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && err) *err = errno;
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

// Reads until `want` has appeared in the accumulated data (or EOF / the guard).
inline std::string read_until(int fd, std::string_view want) {
  std::string out;
  char buf[4096];
  while (out.find(want) == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20'000) <= 0) break;
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

}  // namespace berth::net::http::testing
