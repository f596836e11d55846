#include "oci/digest.h"

#include <gtest/gtest.h>

namespace berth::oci {
namespace {

constexpr const char* kEmptySha256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Digest, Sha256OfKnownVectors) {
  EXPECT_EQ(Digest::sha256_of("").str(), kEmptySha256);
  EXPECT_EQ(Digest::sha256_of("abc").str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, StreamingEqualsOneShot) {
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>(i * 7);
  Hasher h;
  for (size_t off = 0; off < data.size(); off += 333) h.update(std::string_view(data).substr(off, 333));
  EXPECT_EQ(h.bytes(), data.size());
  EXPECT_EQ(h.digest(), Digest::sha256_of(data));
}

TEST(Digest, Sha512) {
  Hasher h(DigestAlgorithm::Sha512);
  h.update("abc");
  auto d = h.digest();
  EXPECT_EQ(d.algorithm_name(), "sha512");
  EXPECT_EQ(d.hex().substr(0, 16), "ddaf35a193617aba");
  EXPECT_EQ(d.hex().size(), 128u);
}

TEST(Digest, ParseValid) {
  auto d = Digest::parse(kEmptySha256);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->algorithm(), DigestAlgorithm::Sha256);
  EXPECT_EQ(d->hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(*d, Digest::sha256_of(""));
}

TEST(Digest, ParseRejects) {
  const char* bad[] = {
      "",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
      "sha256:e3b0c442",
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
      "md5:d41d8cd98f00b204e9800998ecf8427e",
      "sha256:",
      "sha256:../../etc/passwd",
  };
  for (auto* s : bad) {
    auto d = Digest::parse(s);
    EXPECT_FALSE(d) << s;
    if (!d) {
      EXPECT_EQ(d.error().code(), Errc::InvalidArgument) << s;
    }
  }
  auto e = Digest::parse("md5:abc");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("unsupported algorithm `md5`"), std::string::npos) << e.error().message();
}

TEST(Digest, EmptyAndFormat) {
  Digest d;
  EXPECT_TRUE(d.empty());
  EXPECT_NE(d, Digest::sha256_of(""));
  EXPECT_EQ(fmt::format("{}", Digest::sha256_of("")), kEmptySha256);
}

}  // namespace
}  // namespace berth::oci
