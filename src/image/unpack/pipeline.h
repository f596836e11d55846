#pragma once
// Runs a Decompressor on its own thread, handing fixed-size buffers of uncompressed data to the tar reader:
// inflate + SHA-256 overlap with file creation (the same split `tar -xzf` gets from a separate gzip process).

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "image/unpack/decompress.h"

namespace berth::image::unpack {

class Pipeline {
 public:
  static constexpr size_t kBuffers = 4;
  static constexpr size_t kBufSize = 1 << 20;

  explicit Pipeline(Decompressor& dec);
  ~Pipeline();  // cancels and joins
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Next chunk (valid until the next call); empty at the end of the stream.
  Result<std::string_view> next();
  // Consumes the rest of the stream (so the digest covers it) and joins the producer.
  Status finish();

 private:
  struct Buf {
    std::vector<char> data;
    size_t len = 0;
  };
  void run();

  Decompressor& dec_;
  std::vector<Buf> bufs_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<size_t> free_, full_;
  bool done_ = false, cancel_ = false;
  Error err_;
  bool failed_ = false;
  long held_ = -1;  // buffer the consumer is reading
  std::thread th_;
};

}  // namespace berth::image::unpack
