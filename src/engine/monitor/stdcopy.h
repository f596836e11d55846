#pragma once
// Docker's stdcopy framing: the byte stream of a non-TTY attach, exec and logs response.
//
//   frame = [stream u8, 0, 0, 0, size u32 big-endian] payload[size]
//   stream: 0 stdin, 1 stdout, 2 stderr, 3 systemerr
//
// e.g. "hi\n" on stdout = 01 00 00 00 00 00 00 03 68 69 0a. TTY streams are raw bytes, never framed.
// Pure functions and a small incremental decoder; no I/O. Thread-compatible.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::engine::monitor {

enum class StdStream : uint8_t { Stdin = 0, Stdout = 1, Stderr = 2, SystemErr = 3 };

inline constexpr size_t kStdcopyHeaderSize = 8;
// A decoder refuses frames larger than this (docker's own readers have no limit; a peer that sends 1 GiB
// in one frame is broken or hostile).
inline constexpr uint32_t kStdcopyMaxFrame = 64u << 20;

// "stdout" / "stderr" / "stdin" / "systemerr".
std::string_view stream_name(StdStream s);

// Appends one frame for payload to out (payloads over 4 GiB are split into several frames).
void stdcopy_append(std::string& out, StdStream s, std::string_view payload);
// The 8-byte header of a frame carrying size bytes.
void stdcopy_header(char out[kStdcopyHeaderSize], StdStream s, uint32_t size);
inline std::string stdcopy_frame(StdStream s, std::string_view payload) {
  std::string out;
  stdcopy_append(out, s, payload);
  return out;
}

struct StdcopyFrame {
  StdStream stream = StdStream::Stdout;
  std::string payload;
};

// Incremental decoder: feed() any chunking of the stream, then next() until it yields nothing.
class StdcopyDecoder {
 public:
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // A complete frame, std::nullopt when more bytes are needed; InvalidArgument for a stream byte > 3,
  // non-zero padding or a frame above kStdcopyMaxFrame (the decoder is then unusable).
  Result<std::optional<StdcopyFrame>> next();
  // Bytes fed but not yet returned (a partial frame at EOF means the stream was cut).
  size_t pending() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
};

}  // namespace berth::engine::monitor
