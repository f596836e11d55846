#include "oci/digest.h"

// The one-shot SHA-2 functions, not EVP: an EVP digest makes OpenSSL 3 load its default provider and register
// every algorithm on first use (~1.9 MB of libcrypto pages resident in the daemon for the rest of its life);
// SHA256_*/SHA512_* run the same assembly without that (docs/design/engine-performance.md, idle RSS).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

namespace berth::oci {

namespace {
size_t hex_len(DigestAlgorithm a) { return a == DigestAlgorithm::Sha256 ? 64 : 128; }
std::string_view alg_name(DigestAlgorithm a) { return a == DigestAlgorithm::Sha256 ? "sha256" : "sha512"; }

bool is_lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string to_hex(const unsigned char* p, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '\0');
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 15];
  }
  return out;
}
}  // namespace

Result<Digest> Digest::from_hex(DigestAlgorithm alg, std::string_view hex) {
  if (hex.size() != hex_len(alg))
    return fail(Errc::InvalidArgument, "digest `{}:{}`: {} hex must be {} characters, got {}", alg_name(alg), hex,
                alg_name(alg), hex_len(alg), hex.size());
  if (!is_lower_hex(hex))
    return fail(Errc::InvalidArgument, "digest `{}:{}`: encoded part must be lowercase hex", alg_name(alg), hex);
  return Digest(alg, fmt::format("{}:{}", alg_name(alg), hex));
}

Result<Digest> Digest::parse(std::string_view s) {
  auto colon = s.find(':');
  if (s.empty()) return fail(Errc::InvalidArgument, "empty digest");
  if (s.size() > 200) return fail(Errc::InvalidArgument, "digest too long ({} bytes)", s.size());
  if (colon == std::string_view::npos)
    return fail(Errc::InvalidArgument, "digest `{}`: missing `algorithm:` prefix", s);
  auto alg = s.substr(0, colon);
  auto hex = s.substr(colon + 1);
  if (alg == "sha256") return from_hex(DigestAlgorithm::Sha256, hex);
  if (alg == "sha512") return from_hex(DigestAlgorithm::Sha512, hex);
  return fail(Errc::InvalidArgument, "digest `{}`: unsupported algorithm `{}` (want sha256 or sha512)", s, alg);
}

std::string_view Digest::algorithm_name() const { return alg_name(alg_); }

std::string_view Digest::hex() const {
  if (str_.empty()) return {};
  return std::string_view(str_).substr(str_.find(':') + 1);
}

Digest Digest::sha256_of(std::string_view data) {
  Hasher h;
  h.update(data);
  return h.digest();
}

struct Hasher::Ctx {
  union {
    SHA256_CTX s256;
    SHA512_CTX s512;
  };
};

Hasher::Hasher(DigestAlgorithm alg) : alg_(alg), ctx_(std::make_unique<Ctx>()) {
  int r = alg == DigestAlgorithm::Sha256 ? SHA256_Init(&ctx_->s256) : SHA512_Init(&ctx_->s512);
  BERTH_CHECK(r == 1, "SHA init");
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, size_t n) {
  if (n == 0) return;
  int r = alg_ == DigestAlgorithm::Sha256 ? SHA256_Update(&ctx_->s256, data, n) : SHA512_Update(&ctx_->s512, data, n);
  BERTH_CHECK(r == 1, "SHA update");
  bytes_ += n;
}

Hasher Hasher::clone() const {
  Hasher h(alg_);
  *h.ctx_ = *ctx_;  // plain structs: the state copies by value
  h.bytes_ = bytes_;
  return h;
}

Digest Hasher::digest() {
  unsigned char out[SHA512_DIGEST_LENGTH];
  size_t len = alg_ == DigestAlgorithm::Sha256 ? SHA256_DIGEST_LENGTH : SHA512_DIGEST_LENGTH;
  int r = alg_ == DigestAlgorithm::Sha256 ? SHA256_Final(out, &ctx_->s256) : SHA512_Final(out, &ctx_->s512);
  BERTH_CHECK(r == 1, "SHA final");
  return Digest::from_hex(alg_, to_hex(out, len)).value();
}

}  // namespace berth::oci
