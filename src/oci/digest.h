#pragma once
// Content digests as used by the OCI image-spec ("algorithm:encoded").
// https://github.com/opencontainers/image-spec/blob/v1.1.0/descriptor.md#digests
//
// Digest::parse() accepts only the registered algorithms with their canonical encodings:
//   sha256:<64 lowercase hex>   sha512:<128 lowercase hex>
// Anything else (upper-case hex, wrong length, unknown algorithm, empty) fails with Errc::InvalidArgument and
// a message quoting the offending text. A default-constructed Digest is empty() and compares unequal to any
// parsed one.
//
// Hasher streams data through OpenSSL EVP (SHA-256 by default) and yields a Digest; it is not thread-safe
// (one per stream) but cheap to move.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/error.h"

namespace berth::oci {

enum class DigestAlgorithm { Sha256, Sha512 };

class Digest {
 public:
  Digest() = default;

  // Strict parse of "sha256:<hex>" / "sha512:<hex>".
  static Result<Digest> parse(std::string_view s);
  // Builds a digest from an algorithm and a hex string; the hex is validated the same way parse() does.
  static Result<Digest> from_hex(DigestAlgorithm alg, std::string_view hex);
  // SHA-256 of an in-memory buffer.
  static Digest sha256_of(std::string_view data);

  bool empty() const { return str_.empty(); }
  explicit operator bool() const { return !empty(); }
  const std::string& str() const { return str_; }
  DigestAlgorithm algorithm() const { return alg_; }
  std::string_view algorithm_name() const;
  // The encoded part after the colon.
  std::string_view hex() const;

  friend bool operator==(const Digest& a, const Digest& b) { return a.str_ == b.str_; }
  friend auto operator<=>(const Digest& a, const Digest& b) { return a.str_ <=> b.str_; }

 private:
  Digest(DigestAlgorithm alg, std::string s) : alg_(alg), str_(std::move(s)) {}
  DigestAlgorithm alg_ = DigestAlgorithm::Sha256;
  std::string str_;
};

// Streaming hash. update() any number of times, then digest() once (further updates are invalid).
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm alg = DigestAlgorithm::Sha256);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  uint64_t bytes() const { return bytes_; }
  // Finishes the hash; the Hasher must not be updated afterwards.
  Digest digest();
  // An independent copy of the running state (e.g. to report the digest so far and keep hashing).
  Hasher clone() const;

 private:
  struct Ctx;
  DigestAlgorithm alg_;
  std::unique_ptr<Ctx> ctx_;
  uint64_t bytes_ = 0;
};

}  // namespace berth::oci

template <>
struct fmt::formatter<berth::oci::Digest> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const berth::oci::Digest& d, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(d.empty() ? std::string_view("<no digest>") : d.str(), ctx);
  }
};

template <>
struct std::hash<berth::oci::Digest> {
  size_t operator()(const berth::oci::Digest& d) const noexcept { return std::hash<std::string>()(d.str()); }
};
