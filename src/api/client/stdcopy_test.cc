#include "api/client/stdcopy.h"

#include <gtest/gtest.h>

#include <vector>

namespace berth::api::client {
namespace {

struct Collected {
  std::string out, err;
  std::vector<std::pair<int, std::string>> pieces;
  StdcopyDemux demux{[this](int s, std::string_view p) -> Status {
    (s == 2 ? err : out).append(p);
    pieces.emplace_back(s, std::string(p));
    return ok();
  }};
};

TEST(Stdcopy, FrameLayoutAsOnTheWire) {
  // "echo hi" as dockerd frames it: 01 00 00 00 00 00 00 03 'h' 'i' '\n'
  EXPECT_EQ(stdcopy_frame(1, "hi\n"), std::string("\x01\0\0\0\0\0\0\x03hi\n", 11));
}

TEST(Stdcopy, DemuxesInterleavedStreams) {
  Collected c;
  std::string wire = stdcopy_frame(2, "e1\n") + stdcopy_frame(1, "o1\n") + stdcopy_frame(1, "o2\n") +
                     stdcopy_frame(2, "e2\n");
  ASSERT_TRUE(c.demux.feed(wire));
  EXPECT_EQ(c.out, "o1\no2\n");
  EXPECT_EQ(c.err, "e1\ne2\n");
  EXPECT_FALSE(c.demux.mid_frame());
}

TEST(Stdcopy, FramesSplitAtEveryByte) {
  std::string big(70000, 'x');
  std::string wire = stdcopy_frame(1, "hello") + stdcopy_frame(2, big) + stdcopy_frame(1, "");
  Collected c;
  for (char ch : wire) ASSERT_TRUE(c.demux.feed(std::string_view(&ch, 1)));
  EXPECT_EQ(c.out, "hello");
  EXPECT_EQ(c.err, big);
  EXPECT_FALSE(c.demux.mid_frame());
}

TEST(Stdcopy, TruncatedStreamIsVisible) {
  Collected c;
  std::string wire = stdcopy_frame(1, "abcdef");
  ASSERT_TRUE(c.demux.feed(wire.substr(0, 10)));
  EXPECT_TRUE(c.demux.mid_frame());
  EXPECT_EQ(c.out, "ab");
  Collected h;
  ASSERT_TRUE(h.demux.feed(wire.substr(0, 5)));  // inside the header
  EXPECT_TRUE(h.demux.mid_frame());
}

TEST(Stdcopy, BadStreamAndSystemErrorFrames) {
  Collected c;
  auto st = c.demux.feed(std::string("\x07\0\0\0\0\0\0\x01z", 9));
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("unrecognized"), std::string::npos);
  Collected e;
  auto st2 = e.demux.feed(stdcopy_frame(3, "container gone"));
  ASSERT_FALSE(st2);
  EXPECT_NE(st2.error().message().find("container gone"), std::string::npos);
}

TEST(Stdcopy, SinkErrorStopsTheDemux) {
  int calls = 0;
  StdcopyDemux d([&](int, std::string_view) -> Status {
    ++calls;
    return fail(Errc::Unavailable, "stdout closed");
  });
  EXPECT_FALSE(d.feed(stdcopy_frame(1, "a") + stdcopy_frame(1, "b")));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace berth::api::client
