#pragma once
// Docker's stdcopy framing (attach/exec/logs without a TTY): each frame is [stream, 0, 0, 0, size BE32] + payload,
// stream 0 stdin, 1 stdout, 2 stderr, 3 a daemon-side error (its payload is the message).

#include <functional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::api::client {

class StdcopyDemux {
 public:
  using Sink = std::function<Status(int stream, std::string_view payload)>;
  explicit StdcopyDemux(Sink sink) : sink_(std::move(sink)) {}
  // Feeds any number of bytes (frames may be split anywhere); the sink gets each payload piece in order.
  // A stream-3 frame or an unknown stream number fails.
  Status feed(std::string_view data);
  // True when the input ended inside a frame (a truncated stream).
  bool mid_frame() const { return !header_.empty() || left_ > 0; }

 private:
  Sink sink_;
  std::string header_;
  size_t left_ = 0;
  int stream_ = 0;
  std::string syserr_;
};

std::string stdcopy_frame(int stream, std::string_view payload);

}  // namespace berth::api::client
