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
// Lines go to the file at path (O_WRONLY | O_APPEND | O_CREAT, mode, close-on-exec, the fd moved to >= min_fd),
// opened when the first line is written: nothing is created while nothing is logged. Call before other
// threads log; until the first line, set_fd's target is not used. If the open fails, lines go to that target.
void set_file_lazy(const std::string& path, unsigned mode, int min_fd);
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
