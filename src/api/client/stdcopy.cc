#include "api/client/stdcopy.h"

namespace berth::api::client {

Status StdcopyDemux::feed(std::string_view data) {
  while (!data.empty()) {
    if (left_ == 0) {
      size_t want = 8 - header_.size();
      size_t take = std::min(want, data.size());
      header_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (header_.size() < 8) return ok();
      auto b = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(header_[i])); };
      stream_ = static_cast<int>(b(0));
      left_ = (b(4) << 24) | (b(5) << 16) | (b(6) << 8) | b(7);
      header_.clear();
      if (stream_ > 3) return fail(Errc::InvalidArgument, "unrecognized input header: {}", stream_);
      if (left_ == 0 && stream_ == 3) return fail(Errc::Internal, "error from daemon in stream");
      continue;
    }
    size_t take = std::min(left_, data.size());
    auto piece = data.substr(0, take);
    data.remove_prefix(take);
    left_ -= take;
    if (stream_ == 3) {
      syserr_.append(piece);
      if (left_ == 0) return fail(Errc::Internal, "error from daemon in stream: {}", syserr_);
      continue;
    }
    BERTH_TRY(sink_(stream_, piece));
  }
  return ok();
}

std::string stdcopy_frame(int stream, std::string_view payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(payload.size());
  f[4] = static_cast<char>(n >> 24);
  f[5] = static_cast<char>(n >> 16);
  f[6] = static_cast<char>(n >> 8);
  f[7] = static_cast<char>(n);
  f.append(payload);
  return f;
}

}  // namespace berth::api::client
