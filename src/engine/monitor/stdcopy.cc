#include "engine/monitor/stdcopy.h"

#include <algorithm>

namespace berth::engine::monitor {

std::string_view stream_name(StdStream s) {
  switch (s) {
    case StdStream::Stdin: return "stdin";
    case StdStream::Stdout: return "stdout";
    case StdStream::Stderr: return "stderr";
    case StdStream::SystemErr: return "systemerr";
  }
  return "stdout";
}

void stdcopy_header(char out[kStdcopyHeaderSize], StdStream s, uint32_t size) {
  out[0] = static_cast<char>(s);
  out[1] = out[2] = out[3] = 0;
  out[4] = static_cast<char>((size >> 24) & 0xff);
  out[5] = static_cast<char>((size >> 16) & 0xff);
  out[6] = static_cast<char>((size >> 8) & 0xff);
  out[7] = static_cast<char>(size & 0xff);
}

void stdcopy_append(std::string& out, StdStream s, std::string_view payload) {
  do {
    size_t n = std::min<size_t>(payload.size(), UINT32_MAX);
    char h[kStdcopyHeaderSize];
    stdcopy_header(h, s, static_cast<uint32_t>(n));
    out.append(h, sizeof h);
    out.append(payload.substr(0, n));
    payload.remove_prefix(n);
  } while (!payload.empty());
}

Result<std::optional<StdcopyFrame>> StdcopyDecoder::next() {
  if (pending() < kStdcopyHeaderSize) return std::optional<StdcopyFrame>();
  const auto* h = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  if (h[0] > 3) return fail(Errc::InvalidArgument, "stdcopy: invalid stream {}", h[0]);
  if (h[1] || h[2] || h[3]) return fail(Errc::InvalidArgument, "stdcopy: invalid frame header");
  uint32_t size = (uint32_t{h[4]} << 24) | (uint32_t{h[5]} << 16) | (uint32_t{h[6]} << 8) | uint32_t{h[7]};
  if (size > kStdcopyMaxFrame) return fail(Errc::InvalidArgument, "stdcopy: frame of {} bytes is too large", size);
  if (pending() < kStdcopyHeaderSize + size) return std::optional<StdcopyFrame>();
  StdcopyFrame f;
  f.stream = static_cast<StdStream>(h[0]);
  f.payload.assign(buf_, pos_ + kStdcopyHeaderSize, size);
  pos_ += kStdcopyHeaderSize + size;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 64 * 1024 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return std::optional<StdcopyFrame>(std::move(f));
}

}  // namespace berth::engine::monitor
