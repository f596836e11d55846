#include "engine/monitor/json_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <sys/socket.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/file.h"
#include "base/testing/temp_dir.h"

namespace berth::engine::monitor {
namespace {

constexpr UnixNanos kT0 = 1'795'608'000'123'456'789;  // 2026-11-25T12:00:00.123456789Z

TEST(JsonLogTime, FormatsLikeGo) {
  EXPECT_EQ(format_rfc3339_nano(kT0), "2026-11-25T12:00:00.123456789Z");
  EXPECT_EQ(format_rfc3339_nano(1'795'608'000'120'000'000), "2026-11-25T12:00:00.12Z");
  EXPECT_EQ(format_rfc3339_nano(1'795'608'000'000'000'000), "2026-11-25T12:00:00Z");
  EXPECT_EQ(format_rfc3339_nano_fixed(1'795'608'000'120'000'000), "2026-11-25T12:00:00.120000000Z");
  EXPECT_EQ(format_rfc3339_nano(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_nano(951'782'400'000'000'001), "2000-02-29T00:00:00.000000001Z");
}

TEST(JsonLogTime, ParsesWhatItFormatsAndOffsets) {
  for (UnixNanos t : {kT0, UnixNanos{0}, UnixNanos{951'782'400'000'000'001}, UnixNanos{1'795'608'000'120'000'000}}) {
    auto p = parse_rfc3339(format_rfc3339_nano(t));
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, t);
  }
  auto off = parse_rfc3339("2026-11-25T13:30:00.5+01:30");
  ASSERT_TRUE(off);
  EXPECT_EQ(*off, 1'795'608'000'500'000'000);
  for (const char* bad : {"", "2026-11-25", "2026-11-25T12:00:00", "2026-13-25T12:00:00Z", "2026-11-25T12:00:00.Z",
                          "2026-11-25T12:00:00Zjunk", "20x6-11-25T12:00:00Z"})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
}

TEST(JsonLogTime, UnixTimestamps) {
  EXPECT_EQ(*parse_unix_timestamp("1795608000.123456789"), kT0);
  EXPECT_EQ(*parse_unix_timestamp("1795608000"), 1'795'608'000'000'000'000);
  EXPECT_EQ(*parse_unix_timestamp("1795608000.5"), 1'795'608'000'500'000'000);
  for (const char* bad : {"", "abc", "1.", ".5", "1.1234567890", "1e9"}) EXPECT_FALSE(parse_unix_timestamp(bad)) << bad;
}

TEST(JsonLogRecord, ExactDockerFormat) {
  EXPECT_EQ(encode_log_record("hi\n", StdStream::Stdout, kT0),
            "{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-25T12:00:00.123456789Z\"}\n");
  // Go's escaping: HTML characters, control characters, invalid UTF-8, U+2028.
  EXPECT_EQ(encode_log_record("<a&b>\t\"\\\x01\xff\xe2\x80\xa8\xc3\xa9\r\n", StdStream::Stderr, kT0),
            "{\"log\":\"\\u003ca\\u0026b\\u003e\\t\\\"\\\\\\u0001\\ufffd\\u2028\xc3\xa9\\r\\n\",\"stream\":\"stderr\","
            "\"time\":\"2026-11-25T12:00:00.123456789Z\"}\n");
}

TEST(JsonLogRecord, RoundTrip) {
  auto r = parse_log_record(encode_log_record("x <y>\n", StdStream::Stderr, kT0));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->log, "x <y>\n");
  EXPECT_EQ(r->stream, StdStream::Stderr);
  EXPECT_EQ(r->time, kT0);
  EXPECT_FALSE(parse_log_record("{\"log\":\"x\""));
  EXPECT_FALSE(parse_log_record("{\"log\":1,\"stream\":\"stdout\",\"time\":\"2026-11-25T12:00:00Z\"}"));
}

std::vector<LogRecord> read_all(const std::string& path) {
  std::vector<LogRecord> out;
  auto text = read_file(path);
  if (!text) return out;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    auto r = parse_log_record(std::string_view(*text).substr(pos, nl - pos));
    EXPECT_TRUE(r);
    if (r) out.push_back(*r);
    pos = nl + 1;
  }
  return out;
}

TEST(JsonLogWriter, SplitsLinesAndHoldsPartials) {
  testing::TempDir tmp;
  auto w = JsonLogWriter::open({tmp / "c-json.log", 0, 3});
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->write(StdStream::Stdout, "one\ntw", kT0));
  ASSERT_TRUE(w->write(StdStream::Stderr, "err\n", kT0 + 1));
  ASSERT_TRUE(w->write(StdStream::Stdout, "o\nthree", kT0 + 2));
  auto recs = read_all(tmp / "c-json.log");
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].log, "one\n");
  EXPECT_EQ(recs[1].log, "err\n");
  EXPECT_EQ(recs[1].stream, StdStream::Stderr);
  EXPECT_EQ(recs[2].log, "two\n");
  EXPECT_EQ(recs[2].time, kT0 + 2);
  ASSERT_TRUE(w->flush(kT0 + 3));
  recs = read_all(tmp / "c-json.log");
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[3].log, "three");
  EXPECT_FALSE(w->write(StdStream::Stdin, "x", kT0));
}

TEST(JsonLogWriter, LongLinesBecomePartialRecords) {
  testing::TempDir tmp;
  auto w = JsonLogWriter::open({tmp / "c-json.log", 0, 3});
  ASSERT_TRUE(w);
  std::string big(40000, 'a');
  ASSERT_TRUE(w->write(StdStream::Stdout, big + "\n", kT0));
  auto recs = read_all(tmp / "c-json.log");
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].log.size(), 16384u);
  EXPECT_EQ(recs[1].log.size(), 16384u);
  EXPECT_EQ(recs[2].log, std::string(40000 - 32768, 'a') + "\n");
}

TEST(JsonLogWriter, RotatesByMaxSizeAndMaxFiles) {
  testing::TempDir tmp;
  std::string path = tmp / "c-json.log";
  auto w = JsonLogWriter::open({path, 1000, 3});
  ASSERT_TRUE(w);
  // Each record is about 100 bytes: ~10 per file.
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(w->write(StdStream::Stdout, fmt::format("line {:04}........................\n", i), kT0 + i));
  auto files = log_files(path, 3);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0], path + ".2");
  EXPECT_EQ(files[2], path);
  EXPECT_NE(::access((path + ".3").c_str(), F_OK), 0);
  for (const auto& f : files) {
    struct stat st;
    ASSERT_EQ(::stat(f.c_str(), &st), 0);
    EXPECT_LT(st.st_size, 1000 + 200);
  }
  // The newest record is the last line of the current file; the files chain without gaps.
  std::vector<LogRecord> all;
  for (const auto& f : files) {
    auto r = read_all(f);
    all.insert(all.end(), r.begin(), r.end());
  }
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().log, "line 0099........................\n");
  for (size_t i = 1; i < all.size(); ++i) EXPECT_EQ(all[i].time, all[i - 1].time + 1);
}

TEST(JsonLogWriter, SingleFileTruncates) {
  testing::TempDir tmp;
  std::string path = tmp / "c-json.log";
  auto w = JsonLogWriter::open({path, 500, 1});
  ASSERT_TRUE(w);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(w->write(StdStream::Stdout, "0123456789012345678901234567890123456789\n", kT0));
  EXPECT_EQ(log_files(path, 1).size(), 1u);
  EXPECT_NE(::access((path + ".1").c_str(), F_OK), 0);
  EXPECT_LT(w->current_size(), 500u);
}

TEST(JsonLogWriter, AppendsToAnExistingLog) {
  testing::TempDir tmp;
  std::string path = tmp / "c-json.log";
  {
    auto w = JsonLogWriter::open({path, 0, 3});
    ASSERT_TRUE(w->write(StdStream::Stdout, "a\n", kT0));
  }
  auto w = JsonLogWriter::open({path, 0, 3});
  ASSERT_TRUE(w);
  EXPECT_GT(w->current_size(), 0u);
  ASSERT_TRUE(w->write(StdStream::Stdout, "b\n", kT0));
  EXPECT_EQ(read_all(path).size(), 2u);
}

// Writes records i = 0..n-1 ("rI\n", time kT0 + I seconds; odd ones on stderr), rotating at max_size.
void write_records(const std::string& path, int n, uint64_t max_size) {
  auto w = JsonLogWriter::open({path, max_size, 3});
  ASSERT_TRUE(w);
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(w->write(i % 2 ? StdStream::Stderr : StdStream::Stdout, fmt::format("r{}\n", i),
                         kT0 + UnixNanos{i} * 1'000'000'000));
}

std::vector<StdcopyFrame> frames_of(const std::string& wire) {
  StdcopyDecoder d;
  d.feed(wire);
  std::vector<StdcopyFrame> out;
  for (;;) {
    auto f = d.next();
    EXPECT_TRUE(f);
    if (!f || !*f) break;
    out.push_back(std::move(**f));
  }
  EXPECT_EQ(d.pending(), 0u);
  return out;
}

std::string read_log(const std::string& path, LogReadOptions o) {
  std::string out;
  auto st = read_json_log(path, 3, o, [&](std::string_view b) {
    out.append(b);
    return true;
  });
  EXPECT_TRUE(st) << st.error().message();
  return out;
}

TEST(JsonLogReader, AllFramedAcrossRotatedFiles) {
  testing::TempDir tmp;
  std::string path = tmp / "c-json.log";
  write_records(path, 20, 600);
  ASSERT_GE(log_files(path, 3).size(), 2u);
  auto frames = frames_of(read_log(path, {}));
  // Everything still on disk, in order, ending with the newest.
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().payload, "r19\n");
  EXPECT_EQ(frames.back().stream, StdStream::Stderr);
  int first = std::stoi(frames.front().payload.substr(1));
  EXPECT_EQ(frames.size(), static_cast<size_t>(20 - first));
  for (size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(frames[i].payload, fmt::format("r{}\n", first + static_cast<int>(i)));
}

TEST(JsonLogReader, TailCountsRecordsAcrossFiles) {
  testing::TempDir tmp;
  std::string path = tmp / "c-json.log";
  write_records(path, 20, 600);
  for (int64_t n : {1, 2, 5, 9, 12}) {
    LogReadOptions o;
    o.tail = n;
    o.raw = true;
    std::string want;
    for (int64_t i = 20 - n; i < 20; ++i) want += fmt::format("r{}\n", i);
    EXPECT_EQ(read_log(path, o), want) << "tail " << n;
  }
  LogReadOptions zero;
  zero.tail = 0;
  EXPECT_EQ(read_log(path, zero), "");
  LogReadOptions huge;
  huge.tail = 1000;
  huge.raw = true;
  EXPECT_EQ(read_log(path, huge), read_log(path, LogReadOptions{.raw = true}));
}

TEST(JsonLogReader, TailMatchesANaiveReadingForManyShapes) {
  // Deterministic pseudo-random record sizes and rotation sizes; tail N must be the last N of everything
  // still on disk, in order.
  uint64_t seed = 12345;
  auto rnd = [&](uint64_t n) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (seed >> 33) % n;
  };
  for (int shape = 0; shape < 20; ++shape) {
    testing::TempDir tmp;
    std::string path = tmp / "c-json.log";
    uint64_t max_size = 200 + rnd(3000);
    {
      auto w = JsonLogWriter::open({path, max_size, 3});
      ASSERT_TRUE(w);
      int n = 1 + static_cast<int>(rnd(200));
      for (int i = 0; i < n; ++i) {
        std::string line = fmt::format("{}:{}\n", i, std::string(rnd(300), 'x'));
        ASSERT_TRUE(w->write(rnd(2) ? StdStream::Stdout : StdStream::Stderr, line, kT0 + i));
      }
    }
    LogReadOptions all;
    all.raw = true;
    std::string everything = read_log(path, all);
    std::vector<std::string> lines;
    for (size_t p = 0; p < everything.size();) {
      size_t nl = everything.find('\n', p);
      lines.push_back(everything.substr(p, nl + 1 - p));
      p = nl + 1;
    }
    for (int64_t t : {int64_t{1}, int64_t{3}, int64_t{17}, static_cast<int64_t>(lines.size()),
                      static_cast<int64_t>(lines.size()) + 5}) {
      LogReadOptions o;
      o.raw = true;
      o.tail = t;
      std::string want;
      for (size_t i = lines.size() - std::min<size_t>(lines.size(), static_cast<size_t>(t)); i < lines.size(); ++i)
        want += lines[i];
      EXPECT_EQ(read_log(path, o), want) << "shape " << shape << " tail " << t << " max_size " << max_size;
    }
  }
}

TEST(JsonLogReader, TailIgnoresARecordBeingWritten) {
  testing::TempDir tmp;
  std::string path = tmp / "c-json.log";
  write_records(path, 5, 0);
  auto text = read_file(path);
  ASSERT_TRUE(write_file_atomic(path, *text + "{\"log\":\"half"));
  LogReadOptions o;
  o.tail = 2;
  o.raw = true;
  EXPECT_EQ(read_log(path, o), "r3\nr4\n");
  o.tail = 1;
  EXPECT_EQ(read_log(path, o), "r4\n");
}

TEST(JsonLogReader, TailThenStreamFilterLikeDocker) {
  testing::TempDir tmp;
  std::string path = tmp / "c-json.log";
  write_records(path, 10, 0);
  LogReadOptions o;
  o.tail = 4;  // r6..r9; only stdout ones (even) remain
  o.stderr_stream = false;
  auto frames = frames_of(read_log(path, o));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].payload, "r6\n");
  EXPECT_EQ(frames[1].payload, "r8\n");
}

TEST(JsonLogReader, SinceUntilAndTimestamps) {
  testing::TempDir tmp;
  std::string path = tmp / "c-json.log";
  write_records(path, 10, 0);
  LogReadOptions o;
  o.since = kT0 + 3'000'000'000;
  o.until = kT0 + 5'000'000'000;
  o.raw = true;
  EXPECT_EQ(read_log(path, o), "r3\nr4\nr5\n");
  o.timestamps = true;
  o.until = o.since;
  EXPECT_EQ(read_log(path, o), "2026-11-25T12:00:03.123456789Z r3\n");
}

TEST(JsonLogReader, MissingLogIsEmptyAndTornLinesAreSkipped) {
  testing::TempDir tmp;
  EXPECT_EQ(read_log(tmp / "none-json.log", {}), "");
  std::string path = tmp / "c-json.log";
  write_records(path, 2, 0);
  auto text = read_file(path);
  ASSERT_TRUE(write_file_atomic(path, "garbage line\n" + *text + "{\"log\":\"torn"));
  LogReadOptions o;
  o.raw = true;
  EXPECT_EQ(read_log(path, o), "r0\nr1\n");
}

TEST(JsonLogReader, SinkCanStop) {
  testing::TempDir tmp;
  std::string path = tmp / "c-json.log";
  write_records(path, 10, 0);
  int calls = 0;
  ASSERT_TRUE(read_json_log(path, 3, {}, [&](std::string_view) { return ++calls < 3; }));
  EXPECT_EQ(calls, 3);
}

TEST(JsonLogReader, FollowSeesNewRecordsAcrossRotationUntilStopped) {
  testing::TempDir tmp;
  std::string path = tmp / "c-json.log";
  write_records(path, 3, 0);
  int stop[2];
  ASSERT_EQ(::pipe2(stop, O_CLOEXEC), 0);
  UniqueFd stop_r(stop[0]), stop_w(stop[1]);
  LogReadOptions o;
  o.follow = true;
  o.raw = true;
  o.tail = 1;
  o.stop_fd = stop_r.get();
  std::string got;
  // Lock-step: the writer appends one record (rotating every few), then waits until the reader has
  // delivered it; so every rotation happens while the reader is following. At the end the last batch is
  // written without waiting and stop is signalled: the reader must still drain it.
  std::mutex mu;
  std::condition_variable cv;
  int delivered = 0;
  std::thread writer([&] {
    auto w = JsonLogWriter::open({path, 300, 3});
    ASSERT_TRUE(w);
    for (int i = 3; i < 40; ++i) {
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return delivered >= i - 2; });
      }
      ASSERT_TRUE(w->write(StdStream::Stdout, fmt::format("r{}\n", i), kT0));
    }
    for (int i = 40; i < 45; ++i) ASSERT_TRUE(w->write(StdStream::Stdout, fmt::format("r{}\n", i), kT0));
    ASSERT_EQ(::write(stop_w.get(), "x", 1), 1);
  });
  auto st = read_json_log(path, 3, o, [&](std::string_view b) {
    got.append(b);
    std::lock_guard<std::mutex> l(mu);
    ++delivered;
    cv.notify_all();
    return true;
  });
  writer.join();
  ASSERT_TRUE(st) << st.error().message();
  std::string want = "r2\n";
  for (int i = 3; i < 45; ++i) want += fmt::format("r{}\n", i);
  EXPECT_EQ(got, want);
  EXPECT_GE(log_files(path, 3).size(), 3u);
}

TEST(JsonLogReader, FollowStopsOnCancel) {
  testing::TempDir tmp;
  std::string path = tmp / "c-json.log";
  write_records(path, 2, 0);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd mine(sv[0]), peer(sv[1]);
  peer.reset();  // the client is already gone
  LogReadOptions o;
  o.follow = true;
  o.cancel_fd = mine.get();
  o.raw = true;
  EXPECT_EQ(read_log(path, o), "r0\nr1\n");
}

}  // namespace
}  // namespace berth::engine::monitor
