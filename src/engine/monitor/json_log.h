#pragma once
// Docker's json-file log driver: the writer (used by berth-shim) and the reader (used by the daemon's
// GET /containers/{id}/logs).
//
// Files (max_files = 3):
//   <id>-json.log      current file, appended to
//   <id>-json.log.1    previous file
//   <id>-json.log.2    oldest file; deleted at the next rotation
// One JSON object per line, exactly as dockerd writes it (field order, Go's JSON escaping, Go's RFC3339Nano
// time with trailing zeros trimmed):
//   {"log":"hi\n","stream":"stdout","time":"2026-11-25T12:00:00.123456789Z"}
// Rotation: after a write leaves the current file at >= max_size bytes, .N-1 -> .N, ..., current -> .1 and a
// new current file is created; with max_files = 1 the current file is truncated instead. max_size 0 means
// no limit. Docker's defaults in Berth: 10 MB x 3 (disk never fills up silently).
//
// Times are nanoseconds since the Unix epoch (UTC) throughout.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "engine/monitor/stdcopy.h"

namespace berth::engine::monitor {

using UnixNanos = int64_t;

UnixNanos now_unix_nanos();
// Go's time.RFC3339Nano in UTC: "2026-11-25T12:00:00.1234Z" (trailing zeros trimmed, no fraction if 0).
std::string format_rfc3339_nano(UnixNanos t);
// Docker's RFC3339NanoFixed (logs --timestamps): always 9 fraction digits.
std::string format_rfc3339_nano_fixed(UnixNanos t);
// Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)"; InvalidArgument otherwise.
Result<UnixNanos> parse_rfc3339(std::string_view s);
// The API's since/until: "SECONDS[.NANOS]" (what the docker CLI sends, e.g. "1700000000.000000001").
Result<UnixNanos> parse_unix_timestamp(std::string_view s);

// One record as the file stores it: {"log":...,"stream":...,"time":...}\n.
std::string encode_log_record(std::string_view log, StdStream stream, UnixNanos time);
struct LogRecord {
  std::string log;
  StdStream stream = StdStream::Stdout;
  UnixNanos time = 0;
};
// Parses one line (without or with its trailing newline). InvalidArgument for anything else.
Result<LogRecord> parse_log_record(std::string_view line);

struct JsonLogOptions {
  std::string path;           // <dir>/<id>-json.log
  uint64_t max_size = 10'000'000;  // bytes; 0 = never rotate
  int max_files = 3;          // >= 1
};

// Appends container output to the json-file log. Output is split into lines: each complete line is one
// record (with its "\n"); an unterminated line is held per stream until its newline arrives, until it
// reaches 16 KiB (then written as a partial record, as dockerd does) or until flush(). Write errors are
// returned (the shim logs them and keeps serving the container; output is never blocked on the log).
// Not thread-safe.
class JsonLogWriter {
 public:
  // Opens (creating, 0640) or appends to options.path.
  static Result<JsonLogWriter> open(JsonLogOptions options);
  JsonLogWriter(JsonLogWriter&&) = default;
  JsonLogWriter& operator=(JsonLogWriter&&) = default;

  // Container output read at `time` on `stream`.
  Status write(StdStream stream, std::string_view data, UnixNanos time);
  // Writes any held partial line of every stream as a record (at container exit).
  Status flush(UnixNanos time);
  uint64_t current_size() const { return size_; }
  const JsonLogOptions& options() const { return opts_; }

 private:
  explicit JsonLogWriter(JsonLogOptions o) : opts_(std::move(o)) {}
  Status split_lines(StdStream stream, std::string_view data, UnixNanos time);
  Status append_record(std::string_view log, StdStream stream, UnixNanos time);
  Status write_batch();
  Status rotate();

  JsonLogOptions opts_;
  UniqueFd fd_;
  uint64_t size_ = 0;  // bytes in the current file (written)
  std::string batch_;  // records not yet written
  std::string partial_[3];  // by stream (stdin unused)
};

// The files of a log, oldest first: path.{max_files-1} ... path.1, path (only those that exist).
std::vector<std::string> log_files(const std::string& path, int max_files);

struct LogReadOptions {
  bool stdout_stream = true;
  bool stderr_stream = true;
  std::optional<UnixNanos> since;  // records with time >= since
  std::optional<UnixNanos> until;  // records with time <= until; following stops at the first later one
  int64_t tail = -1;               // the last N records (before the stream filter, as docker); -1 = all
  bool timestamps = false;         // prefix each payload with format_rfc3339_nano_fixed(time) + " "
  bool raw = false;                // TTY container: raw payload bytes instead of stdcopy frames
  bool follow = false;
  // While following: when stop_fd becomes readable (an eventfd or pipe the daemon signals when the
  // container exits), the reader emits what the files hold by then and returns.
  int stop_fd = -1;
  // While following: when cancel_fd reports hang-up or error (pass the client's connection), return at
  // once without draining. Readability is not watched.
  int cancel_fd = -1;
};

// Reads the log at path (with its rotated files, max_files as written) and hands the output, already
// framed (or raw), to sink in chunks; sink returns false to stop (client gone). Following survives
// rotation (inotify on the directory; the open file is read to its end before moving to the new one).
// A missing log is an empty log. InvalidArgument for corrupt lines is not returned: they are skipped
// (a crash can leave a torn last line), as dockerd does.
Status read_json_log(const std::string& path, int max_files, const LogReadOptions& options,
                     const std::function<bool(std::string_view)>& sink);

}  // namespace berth::engine::monitor
