#pragma once
// Streaming decompression of a layer (gzip incl. multi-member, zstd, plain) with SHA-256 of the uncompressed
// output (the diff_id) and optionally of the compressed input, and a cap on the uncompressed size.

#include <zlib.h>
#include <zstd.h>

#include <memory>
#include <optional>
#include <vector>

#include "image/unpack/unpack.h"

namespace berth::image::unpack {

class Decompressor {
 public:
  Decompressor(Source& in, std::optional<oci::Compression> c, uint64_t max_bytes, bool hash_compressed);
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // Next chunk of uncompressed data (valid until the next call); empty at the end of the stream.
  Result<std::string_view> next();
  // Reads and hashes whatever is left (tar padding after the end-of-archive blocks).
  Status drain();

  uint64_t out_bytes() const { return out_bytes_; }
  uint64_t in_bytes() const { return in_bytes_; }
  oci::Digest diff_id() { return out_hash_.digest(); }
  oci::Digest compressed_digest() { return in_hash_.digest(); }

 private:
  Result<size_t> fill_input();
  Result<std::string_view> produce();

  Source& in_;
  std::optional<oci::Compression> comp_;
  uint64_t max_bytes_;
  bool hash_in_;
  std::vector<char> ibuf_, obuf_;
  size_t ipos_ = 0, ilen_ = 0;
  bool in_eof_ = false, out_eof_ = false;
  z_stream zs_{};
  bool z_init_ = false;
  int gz_members_ = 0;
  ZSTD_DStream* zd_ = nullptr;
  uint64_t out_bytes_ = 0, in_bytes_ = 0;
  oci::Hasher out_hash_, in_hash_;
};

}  // namespace berth::image::unpack
