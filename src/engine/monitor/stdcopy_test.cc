#include "engine/monitor/stdcopy.h"

#include <gtest/gtest.h>

namespace berth::engine::monitor {
namespace {

TEST(Stdcopy, FrameMatchesDockerBytes) {
  std::string f = stdcopy_frame(StdStream::Stdout, "hi\n");
  EXPECT_EQ(f, std::string("\x01\x00\x00\x00\x00\x00\x00\x03hi\n", 11));
  std::string e = stdcopy_frame(StdStream::Stderr, std::string(0x01020304 & 0xffff, 'x'));
  EXPECT_EQ(static_cast<unsigned char>(e[0]), 2);
  EXPECT_EQ(static_cast<unsigned char>(e[6]), 0x03);
  EXPECT_EQ(static_cast<unsigned char>(e[7]), 0x04);
  EXPECT_EQ(e.size(), 8u + 0x0304);
}

TEST(Stdcopy, EmptyPayloadIsOneHeader) {
  EXPECT_EQ(stdcopy_frame(StdStream::Stdout, ""), std::string("\x01\0\0\0\0\0\0\0", 8));
}

TEST(Stdcopy, DecoderHandlesAnyChunking) {
  std::string wire = stdcopy_frame(StdStream::Stdout, "hello\n") + stdcopy_frame(StdStream::Stderr, "oops") +
                     stdcopy_frame(StdStream::Stdout, "");
  for (size_t chunk = 1; chunk <= wire.size(); ++chunk) {
    StdcopyDecoder d;
    std::vector<StdcopyFrame> got;
    for (size_t i = 0; i < wire.size(); i += chunk) {
      d.feed(std::string_view(wire).substr(i, chunk));
      for (;;) {
        auto f = d.next();
        ASSERT_TRUE(f) << f.error().message();
        if (!*f) break;
        got.push_back(std::move(**f));
      }
    }
    ASSERT_EQ(got.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(got[0].stream, StdStream::Stdout);
    EXPECT_EQ(got[0].payload, "hello\n");
    EXPECT_EQ(got[1].stream, StdStream::Stderr);
    EXPECT_EQ(got[1].payload, "oops");
    EXPECT_EQ(got[2].payload, "");
    EXPECT_EQ(d.pending(), 0u);
  }
}

TEST(Stdcopy, DecoderRejectsGarbage) {
  StdcopyDecoder d;
  d.feed(std::string("\x07\0\0\0\0\0\0\x01x", 9));
  auto f = d.next();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), Errc::InvalidArgument);

  StdcopyDecoder big;
  big.feed(std::string("\x01\0\0\0\x7f\xff\xff\xff", 8));
  EXPECT_FALSE(big.next());

  StdcopyDecoder pad;
  pad.feed(std::string("\x01\x01\0\0\0\0\0\x01x", 9));
  EXPECT_FALSE(pad.next());
}

TEST(Stdcopy, PartialFrameStaysPending) {
  StdcopyDecoder d;
  std::string w = stdcopy_frame(StdStream::Stdout, "abcdef");
  d.feed(std::string_view(w).substr(0, 10));
  auto f = d.next();
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->has_value());
  EXPECT_EQ(d.pending(), 10u);
}

}  // namespace
}  // namespace berth::engine::monitor
