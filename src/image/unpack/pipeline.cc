#include "image/unpack/pipeline.h"

#include <cstring>

namespace berth::image::unpack {

Pipeline::Pipeline(Decompressor& dec) : dec_(dec), bufs_(kBuffers) {
  for (size_t i = 0; i < kBuffers; i++) {
    bufs_[i].data.resize(kBufSize);
    free_.push_back(i);
  }
  th_ = std::thread([this] { run(); });
}

Pipeline::~Pipeline() {
  {
    std::lock_guard l(mu_);
    cancel_ = true;
  }
  cv_.notify_all();
  if (th_.joinable()) th_.join();
}

void Pipeline::run() {
  std::string_view pending;
  for (;;) {
    size_t idx;
    {
      std::unique_lock l(mu_);
      cv_.wait(l, [&] { return cancel_ || !free_.empty(); });
      if (cancel_) return;
      idx = free_.front();
      free_.pop_front();
    }
    Buf& b = bufs_[idx];
    b.len = 0;
    bool eof = false;
    while (b.len < b.data.size()) {
      if (pending.empty()) {
        auto r = dec_.next();
        if (!r) {
          std::lock_guard l(mu_);
          err_ = std::move(r).error();
          failed_ = true;
          done_ = true;
          cv_.notify_all();
          return;
        }
        pending = *r;
        if (pending.empty()) {
          eof = true;
          break;
        }
      }
      size_t k = std::min(pending.size(), b.data.size() - b.len);
      std::memcpy(b.data.data() + b.len, pending.data(), k);
      b.len += k;
      pending.remove_prefix(k);
    }
    std::lock_guard l(mu_);
    if (b.len > 0) full_.push_back(idx);
    else free_.push_back(idx);
    if (eof) done_ = true;
    cv_.notify_all();
    if (eof) return;
  }
}

Result<std::string_view> Pipeline::next() {
  std::unique_lock l(mu_);
  if (held_ >= 0) {
    free_.push_back(static_cast<size_t>(held_));
    held_ = -1;
    cv_.notify_all();
  }
  cv_.wait(l, [&] { return !full_.empty() || done_; });
  if (!full_.empty()) {
    held_ = static_cast<long>(full_.front());
    full_.pop_front();
    auto& b = bufs_[static_cast<size_t>(held_)];
    return std::string_view(b.data.data(), b.len);
  }
  if (failed_) return fail(err_);
  return std::string_view();
}

Status Pipeline::finish() {
  for (;;) {
    auto v = BERTH_TRY(next());
    if (v.empty()) break;
  }
  if (th_.joinable()) th_.join();
  return ok();
}

}  // namespace berth::image::unpack
