#include "engine/monitor/json_log.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <tuple>
#include <vector>
#include <nlohmann/json.hpp>

#include "base/file.h"

namespace berth::engine::monitor {

namespace {

constexpr size_t kMaxPartial = 16 * 1024;  // dockerd's copier buffer: longer lines become partial records

// days_from_civil (Howard Hinnant's algorithm), so no timezone database or locale is involved.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

std::string format_time(UnixNanos t, bool fixed) {
  int64_t secs = t / 1'000'000'000;
  int64_t nanos = t % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  int64_t y;
  unsigned mo, d;
  civil_from_days(days, y, mo, d);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld", static_cast<long long>(y), mo, d,
                        static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                        static_cast<long long>(rem % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (fixed || nanos != 0) {
    char f[16];
    std::snprintf(f, sizeof f, ".%09lld", static_cast<long long>(nanos));
    std::string frac = f;
    if (!fixed) {
      while (frac.back() == '0') frac.pop_back();
    }
    out += frac;
  }
  out += 'Z';
  return out;
}

// Go's encoding/json string escaping (what dockerd's json-file writer produces): ", \, \n, \r, \t, other
// control characters as \u00XX, <, >, & as \u003c \u003e \u0026, U+2028/U+2029 escaped, invalid UTF-8 as
// \ufffd.
void append_go_json_string(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out += "\\u00";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence; invalid -> U+FFFD for one byte.
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    }
    bool valid = len != 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) valid = false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (valid) {
      if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
          (cp >= 0xd800 && cp <= 0xdfff))
        valid = false;
    }
    if (!valid) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (cp == 0x2028 || cp == 0x2029) {
      out += cp == 0x2028 ? "\\u2028" : "\\u2029";
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out += '"';
}

Result<int64_t> parse_digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return fail(Errc::InvalidArgument, "timestamp `{}`: too short", s);
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return fail(Errc::InvalidArgument, "timestamp `{}`: expected a digit", s);
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

UnixNanos now_unix_nanos() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string format_rfc3339_nano(UnixNanos t) { return format_time(t, false); }
std::string format_rfc3339_nano_fixed(UnixNanos t) { return format_time(t, true); }

Result<UnixNanos> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
    return fail(Errc::InvalidArgument, "timestamp `{}`: not RFC 3339", s);
  int64_t y = BERTH_TRY(parse_digits(s, 0, 4));
  int64_t mo = BERTH_TRY(parse_digits(s, 5, 2));
  int64_t d = BERTH_TRY(parse_digits(s, 8, 2));
  int64_t h = BERTH_TRY(parse_digits(s, 11, 2));
  int64_t mi = BERTH_TRY(parse_digits(s, 14, 2));
  int64_t se = BERTH_TRY(parse_digits(s, 17, 2));
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
    return fail(Errc::InvalidArgument, "timestamp `{}`: out of range", s);
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (pos - start < 9) nanos = nanos * 10 + (s[pos] - '0');
      ++pos;
    }
    if (pos == start) return fail(Errc::InvalidArgument, "timestamp `{}`: empty fraction", s);
    for (size_t k = std::min<size_t>(pos - start, 9); k < 9; ++k) nanos *= 10;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    int64_t oh = BERTH_TRY(parse_digits(s, pos + 1, 2));
    int64_t om = BERTH_TRY(parse_digits(s, pos + 4, 2));
    offset = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return fail(Errc::InvalidArgument, "timestamp `{}`: missing time zone", s);
  }
  if (pos != s.size()) return fail(Errc::InvalidArgument, "timestamp `{}`: trailing characters", s);
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset;
  return secs * 1'000'000'000 + nanos;
}

Result<UnixNanos> parse_unix_timestamp(std::string_view s) {
  if (s.empty()) return fail(Errc::InvalidArgument, "timestamp: empty");
  bool neg = s[0] == '-';
  std::string_view body = neg ? s.substr(1) : s;
  auto dot = body.find('.');
  std::string_view sec = body.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : body.substr(dot + 1);
  if (sec.empty() || sec.size() > 12 || frac.size() > 9 || (dot != std::string_view::npos && frac.empty()))
    return fail(Errc::InvalidArgument, "timestamp `{}`: expected SECONDS[.NANOSECONDS]", s);
  int64_t secs = BERTH_TRY(parse_digits(sec, 0, sec.size()));
  int64_t nanos = frac.empty() ? 0 : BERTH_TRY(parse_digits(frac, 0, frac.size()));
  for (size_t k = frac.size(); k < 9; ++k) nanos *= 10;
  int64_t v = secs * 1'000'000'000 + nanos;
  return neg ? -v : v;
}

std::string encode_log_record(std::string_view log, StdStream stream, UnixNanos time) {
  std::string out;
  out.reserve(log.size() + 80);
  out += "{\"log\":";
  append_go_json_string(out, log);
  out += ",\"stream\":\"";
  out += stream_name(stream);
  out += "\",\"time\":\"";
  out += format_rfc3339_nano(time);
  out += "\"}\n";
  return out;
}

Result<LogRecord> parse_log_record(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  try {
    auto j = nlohmann::json::parse(line);
    if (!j.is_object()) return fail(Errc::InvalidArgument, "log record: not an object");
    LogRecord r;
    auto l = j.find("log");
    if (l == j.end() || !l->is_string()) return fail(Errc::InvalidArgument, "log record: no log");
    r.log = l->get<std::string>();
    std::string s = j.value("stream", "stdout");
    if (s == "stdout") r.stream = StdStream::Stdout;
    else if (s == "stderr") r.stream = StdStream::Stderr;
    else return fail(Errc::InvalidArgument, "log record: unknown stream `{}`", s);
    auto t = j.find("time");
    if (t == j.end() || !t->is_string()) return fail(Errc::InvalidArgument, "log record: no time");
    r.time = BERTH_TRY(parse_rfc3339(t->get<std::string>()));
    return r;
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::InvalidArgument, "log record: {}", e.what());
  }
}

// ---- writer ----

Result<JsonLogWriter> JsonLogWriter::open(JsonLogOptions options) {
  if (options.max_files < 1) options.max_files = 1;
  JsonLogWriter w(std::move(options));
  w.fd_.reset(::open(w.opts_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!w.fd_) return fail_errno("open log `{}`", w.opts_.path);
  struct stat st;
  if (::fstat(w.fd_.get(), &st) < 0) return fail_errno("stat log `{}`", w.opts_.path);
  w.size_ = static_cast<uint64_t>(st.st_size);
  return w;
}

Status JsonLogWriter::rotate() {
  if (opts_.max_files <= 1) {
    if (::ftruncate(fd_.get(), 0) < 0) return fail_errno("truncate log `{}`", opts_.path);
    size_ = 0;
    return ok();
  }
  for (int i = opts_.max_files - 1; i >= 1; --i) {
    std::string from = i == 1 ? opts_.path : opts_.path + "." + std::to_string(i - 1);
    std::string to = opts_.path + "." + std::to_string(i);
    if (::rename(from.c_str(), to.c_str()) < 0 && errno != ENOENT) return fail_errno("rotate log `{}`", from);
  }
  UniqueFd fd(::open(opts_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd) return fail_errno("open log `{}`", opts_.path);
  fd_ = std::move(fd);
  size_ = 0;
  return ok();
}

// Records are batched (one write(2) per container read, not per line); the batch is written out before a
// rotation, so rotation still happens after the record that reaches max_size.
Status JsonLogWriter::append_record(std::string_view log, StdStream stream, UnixNanos time) {
  batch_ += encode_log_record(log, stream, time);
  if (opts_.max_size > 0 && size_ + batch_.size() >= opts_.max_size) {
    BERTH_TRY(write_batch());
    BERTH_TRY(rotate());
  }
  return ok();
}

Status JsonLogWriter::write_batch() {
  if (batch_.empty()) return ok();
  std::string b = std::move(batch_);
  batch_.clear();
  BERTH_TRY_CTX(write_all(fd_.get(), b), "write log `{}`", opts_.path);
  size_ += b.size();
  return ok();
}

Status JsonLogWriter::write(StdStream stream, std::string_view data, UnixNanos time) {
  Status st = split_lines(stream, data, time);
  Status w = write_batch();
  if (!st) return st;
  return w;
}

Status JsonLogWriter::split_lines(StdStream stream, std::string_view data, UnixNanos time) {
  int si = static_cast<int>(stream);
  if (si < 1 || si > 2) return fail(Errc::InvalidArgument, "log: stream {} is not output", si);
  std::string& part = partial_[si];
  while (!data.empty()) {
    auto nl = data.find('\n');
    if (nl == std::string_view::npos) {
      part.append(data);
      while (part.size() >= kMaxPartial) {
        BERTH_TRY(append_record(std::string_view(part).substr(0, kMaxPartial), stream, time));
        part.erase(0, kMaxPartial);
      }
      break;
    }
    std::string joined;
    std::string_view line = data.substr(0, nl + 1);
    if (!part.empty()) {
      joined = std::move(part);
      part.clear();
      joined.append(line);
      line = joined;
    }
    // Longer lines are cut into 16 KiB partial records, the last one carrying the newline.
    while (line.size() > kMaxPartial) {
      BERTH_TRY(append_record(line.substr(0, kMaxPartial), stream, time));
      line.remove_prefix(kMaxPartial);
    }
    BERTH_TRY(append_record(line, stream, time));
    data.remove_prefix(nl + 1);
  }
  return ok();
}

Status JsonLogWriter::flush(UnixNanos time) {
  for (int si = 1; si <= 2; ++si) {
    if (partial_[si].empty()) continue;
    std::string line = std::move(partial_[si]);
    partial_[si].clear();
    BERTH_TRY(append_record(line, static_cast<StdStream>(si), time));
  }
  return write_batch();
}

// ---- reader ----

std::vector<std::string> log_files(const std::string& path, int max_files) {
  std::vector<std::string> out;
  for (int i = std::max(max_files, 1) - 1; i >= 1; --i) {
    std::string p = path + "." + std::to_string(i);
    if (::access(p.c_str(), F_OK) == 0) out.push_back(p);
  }
  if (::access(path.c_str(), F_OK) == 0) out.push_back(path);
  return out;
}

namespace {

// Emits records through the filters; returns false when the reader must stop (sink false or past until).
class Emitter {
 public:
  Emitter(const LogReadOptions& o, const std::function<bool(std::string_view)>& sink) : o_(o), sink_(sink) {}

  // false: stop reading.
  bool line(std::string_view line) {
    if (line.empty() || line == "\n") return true;
    auto rec = parse_log_record(line);
    if (!rec) return true;  // torn or foreign line: skipped
    if (o_.until && rec->time > *o_.until) {
      past_until_ = true;
      return false;
    }
    if (o_.since && rec->time < *o_.since) return true;
    if (rec->stream == StdStream::Stdout && !o_.stdout_stream) return true;
    if (rec->stream == StdStream::Stderr && !o_.stderr_stream) return true;
    std::string payload;
    if (o_.timestamps) payload = format_rfc3339_nano_fixed(rec->time) + " ";
    payload += rec->log;
    out_.clear();
    if (o_.raw) out_ = std::move(payload);
    else stdcopy_append(out_, rec->stream, payload);
    if (!sink_(out_)) {
      sink_stopped_ = true;
      return false;
    }
    return true;
  }
  bool stopped() const { return past_until_ || sink_stopped_; }

 private:
  const LogReadOptions& o_;
  const std::function<bool(std::string_view)>& sink_;
  std::string out_;
  bool past_until_ = false;
  bool sink_stopped_ = false;
};

// Reads fd from offset to EOF, handing complete lines to em; a trailing partial line stays in carry.
// Returns false when the emitter stopped.
bool pump(int fd, off_t& offset, std::string& carry, Emitter& em) {
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    offset += n;
    std::string_view data(buf, static_cast<size_t>(n));
    while (!data.empty()) {
      auto nl = data.find('\n');
      if (nl == std::string_view::npos) {
        carry.append(data);
        if (carry.size() > (4u << 20)) carry.clear();  // no record is that long: garbage
        break;
      }
      bool go;
      if (carry.empty()) {
        go = em.line(data.substr(0, nl + 1));
      } else {
        carry.append(data.substr(0, nl + 1));
        std::string l = std::move(carry);
        carry.clear();
        go = em.line(l);
      }
      if (!go) return false;
      data.remove_prefix(nl + 1);
    }
  }
}

// Where the last `tail` records of the files begin: (file index, offset). Scans backwards. The last '\n' of a
// file ends its last complete record; bytes after it are a record being written (or torn), not counted.
std::pair<size_t, off_t> tail_start(const std::vector<UniqueFd>& fds, int64_t tail) {
  if (tail < 0 || fds.empty()) return {0, 0};
  int64_t want = tail;
  char buf[64 * 1024];
  for (size_t fi = fds.size(); fi-- > 0;) {
    struct stat st;
    if (::fstat(fds[fi].get(), &st) < 0 || st.st_size == 0) continue;
    off_t end = st.st_size;
    bool seen_end = false;
    int64_t found = 0;  // newlines seen that start a record
    while (end > 0) {
      off_t start = std::max<off_t>(0, end - static_cast<off_t>(sizeof buf));
      ssize_t n = ::pread(fds[fi].get(), buf, static_cast<size_t>(end - start), start);
      if (n <= 0) break;
      for (ssize_t i = n - 1; i >= 0; --i) {
        if (buf[i] != '\n') continue;
        if (!seen_end) {
          seen_end = true;
          continue;
        }
        if (++found == want) return {fi, start + i + 1};
      }
      end = start;
    }
    if (!seen_end) continue;  // no complete record in this file
    // This whole file holds found + 1 complete records.
    if (found + 1 >= want) return {fi, 0};
    want -= found + 1;
  }
  return {0, 0};
}

// The files written after the one identified by st (now rotated to <path>.k), oldest first, ending with the
// current file; opened as one consistent snapshot (retried if a rotation moves them meanwhile). Empty when
// the file is gone (rotated out entirely: the records between are lost, as with dockerd).
std::vector<UniqueFd> files_after(const std::string& path, int max_files, const struct stat& st) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    int k = 0;
    for (int i = 1; i < max_files && k == 0; ++i) {
      struct stat s;
      if (::stat((path + "." + std::to_string(i)).c_str(), &s) == 0 && s.st_ino == st.st_ino && s.st_dev == st.st_dev) k = i;
    }
    if (k == 0) return {};
    std::vector<UniqueFd> out;
    for (int i = k - 1; i >= 0; --i) {
      std::string p = i == 0 ? path : path + "." + std::to_string(i);
      UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd) out.push_back(std::move(fd));
    }
    struct stat again;
    std::string pk = path + "." + std::to_string(k);
    if (::stat(pk.c_str(), &again) == 0 && again.st_ino == st.st_ino && again.st_dev == st.st_dev) return out;
  }
  return {};
}

}  // namespace

Status read_json_log(const std::string& path, int max_files, const LogReadOptions& options,
                     const std::function<bool(std::string_view)>& sink) {
  Emitter em(options, sink);
  if (options.tail == 0 && !options.follow) return ok();

  UniqueFd ino;
  int wd = -1;
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  if (dir.empty()) dir = ".";
  if (options.follow) {
    // Watch before opening, so a rotation between the open and the watch is not missed.
    ino.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!ino) return fail_errno("inotify");
    wd = ::inotify_add_watch(ino.get(), dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
    if (wd < 0) return fail_errno("watch log directory `{}`", dir);
  }

  std::vector<UniqueFd> fds;
  for (const auto& f : log_files(path, max_files)) {
    UniqueFd fd(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd) fds.push_back(std::move(fd));
  }
  size_t first = 0;
  off_t offset = 0;
  if (options.tail > 0) {
    std::tie(first, offset) = tail_start(fds, options.tail);
  } else if (options.tail == 0) {
    // Only new output: start at the end of the current file.
    first = fds.empty() ? 0 : fds.size() - 1;
    struct stat st;
    offset = (!fds.empty() && ::fstat(fds.back().get(), &st) == 0) ? st.st_size : 0;
  }
  std::string carry;
  for (size_t i = first; i < fds.size(); ++i) {
    off_t off = i == first ? offset : 0;
    // Rotated files do not grow; the last one is the current file and is followed below.
    if (!pump(fds[i].get(), off, carry, em)) return ok();
    if (i + 1 < fds.size()) carry.clear();
    if (i + 1 == fds.size()) offset = off;
  }
  if (!options.follow) return ok();

  // Follow the current file (or wait for it to appear).
  UniqueFd cur;
  off_t cur_off = 0;
  if (!fds.empty()) {
    cur = std::move(fds.back());
    cur_off = offset;
  }
  fds.clear();
  bool stopping = false;
  for (;;) {
    if (cur) {
      if (!pump(cur.get(), cur_off, carry, em)) return ok();
      // Rotated or truncated?
      struct stat cs, ps;
      if (::fstat(cur.get(), &cs) == 0 && cs.st_size < cur_off) cur_off = 0;  // truncated (max_files 1)
      if (::stat(path.c_str(), &ps) == 0 && (ps.st_ino != cs.st_ino || ps.st_dev != cs.st_dev)) {
        // The open file was rotated away: it is complete (the writer rotates after a whole record). Continue
        // with the files that came after it, even if the writer rotated more than once meanwhile.
        if (!pump(cur.get(), cur_off, carry, em)) return ok();
        carry.clear();
        std::vector<UniqueFd> next = files_after(path, max_files, cs);
        for (size_t i = 0; i + 1 < next.size(); ++i) {
          off_t off = 0;
          if (!pump(next[i].get(), off, carry, em)) return ok();
          carry.clear();
        }
        cur_off = 0;
        if (next.empty()) cur.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        else cur = std::move(next.back());
        continue;
      }
    } else {
      cur.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      cur_off = 0;
      if (cur) continue;
    }
    if (stopping) return ok();
    struct pollfd p[3] = {{ino.get(), POLLIN, 0}, {options.stop_fd, POLLIN, 0}, {options.cancel_fd, POLLRDHUP, 0}};
    int r = ::poll(p, 3, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      return fail_errno("poll");
    }
    if (p[2].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return ok();
    if (p[0].revents & POLLIN) {
      char ev[4096];
      while (::read(ino.get(), ev, sizeof ev) > 0) {
      }
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) stopping = true;  // one last pass, then return
  }
}

}  // namespace berth::engine::monitor
