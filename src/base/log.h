#pragma once
// Minimal leveled logger: text or JSON lines (runc's --log-format json) to stderr or a file.
// Cheap to start (no threads, no allocation until a line is written), so the runtime can use it.
// Thread-safe: each line is one write(2).

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace berth::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };
enum class Format { Text, Json };

// Sets where log lines go. fd is not owned; -1 restores stderr.
void set_fd(int fd);
void set_level(Level l);
void set_format(Format f);
Level level();
void write(Level l, std::string_view msg);

template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... a) {
  if (level() <= Level::Debug) write(Level::Debug, fmt::format(f, std::forward<Args>(a)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... a) {
  if (level() <= Level::Info) write(Level::Info, fmt::format(f, std::forward<Args>(a)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... a) {
  if (level() <= Level::Warn) write(Level::Warn, fmt::format(f, std::forward<Args>(a)...));
}
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... a) {
  write(Level::Error, fmt::format(f, std::forward<Args>(a)...));
}

}  // namespace berth::log
