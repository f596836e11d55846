#include "base/log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "base/json_escape.h"

namespace berth::log {
namespace {
std::atomic<int> g_fd{2};
std::atomic<Level> g_level{Level::Info};
std::atomic<Format> g_format{Format::Text};
std::atomic<bool> g_lazy{false};
std::mutex g_lazy_mu;
std::string g_lazy_path;
unsigned g_lazy_mode = 0600;
int g_lazy_min_fd = 0;

void open_lazy() {
  std::lock_guard lk(g_lazy_mu);
  if (!g_lazy) return;
  int fd = ::open(g_lazy_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, g_lazy_mode);
  if (fd >= 0 && fd < g_lazy_min_fd) {
    int hi = ::fcntl(fd, F_DUPFD_CLOEXEC, g_lazy_min_fd);
    ::close(fd);
    fd = hi;
  }
  if (fd >= 0) g_fd = fd;
  g_lazy = false;
}

std::string_view level_name(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warning";
    case Level::Error: return "error";
  }
  return "info";
}
}  // namespace

void set_fd(int fd) { g_fd = fd < 0 ? 2 : fd; }
void set_file_lazy(const std::string& path, unsigned mode, int min_fd) {
  std::lock_guard lk(g_lazy_mu);
  g_lazy_path = path;
  g_lazy_mode = mode;
  g_lazy_min_fd = min_fd;
  g_lazy = true;
}
void set_level(Level l) { g_level = l; }
void set_format(Format f) { g_format = f; }
Level level() { return g_level; }

void write(Level l, std::string_view msg) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char tbuf[64];
  snprintf(tbuf, sizeof tbuf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
  std::string line;
  if (g_format == Format::Json) {
    line = fmt::format("{{\"level\":\"{}\",\"msg\":\"{}\",\"time\":\"{}\"}}\n", level_name(l), json_escape(msg), tbuf);
  } else {
    line = fmt::format("{} {}: {}\n", tbuf, level_name(l), msg);
  }
  if (g_lazy) open_lazy();
  const char* p = line.data();
  size_t n = line.size();
  int fd = g_fd;
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w <= 0) break;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace berth::log
