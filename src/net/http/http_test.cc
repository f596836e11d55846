#include "net/http/http.h"

#include <gtest/gtest.h>

namespace berth::net::http {
namespace {

TEST(Headers, CaseInsensitiveAndSetReplaces) {
  Headers h;
  h.add("Content-Type", "a");
  h.add("content-type", "b");
  EXPECT_EQ(h.get("CONTENT-TYPE"), "a");
  EXPECT_EQ(h.get_all("Content-Type").size(), 2u);
  h.set("Content-TYPE", "c");
  EXPECT_EQ(h.get_all("content-type"), std::vector<std::string>{"c"});
  EXPECT_FALSE(h.get("Accept"));
}

TEST(Url, ParsesSchemesPortsAndIpv6) {
  auto u = parse_url("https://reg.example:5443/v2/x?y=1").value();
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "reg.example");
  EXPECT_EQ(u.port, 5443);
  EXPECT_EQ(u.target, "/v2/x?y=1");
  EXPECT_EQ(u.host_header(), "reg.example:5443");
  auto d = parse_url("http://h").value();
  EXPECT_EQ(d.port, 80);
  EXPECT_EQ(d.target, "/");
  EXPECT_EQ(d.host_header(), "h");
  auto v6 = parse_url("http://[::1]:5000/v2/").value();
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.host_header(), "[::1]:5000");
  EXPECT_FALSE(parse_url("ftp://x/"));
  EXPECT_FALSE(parse_url("http://h:99999/"));
  EXPECT_FALSE(parse_url("no-scheme"));
}

TEST(Url, ResolvesLocations) {
  auto base = parse_url("http://h:1/v2/r/blobs/uploads/?x=1").value();
  EXPECT_EQ(resolve_url(base, "/v2/r/blobs/uploads/abc?s=1")->str(), "http://h:1/v2/r/blobs/uploads/abc?s=1");
  EXPECT_EQ(resolve_url(base, "https://o:9/p")->str(), "https://o:9/p");
  EXPECT_EQ(resolve_url(base, "abc")->str(), "http://h:1/v2/r/blobs/uploads/abc");
}

TEST(Target, DecodesPathAndQuery) {
  auto t = parse_target("/v2/a%2Fb/blobs/uploads/?mount=sha256%3Aabc&from=x&flag");
  EXPECT_EQ(t.path, "/v2/a/b/blobs/uploads/");
  EXPECT_EQ(t.param("mount"), "sha256:abc");
  EXPECT_EQ(t.param("from"), "x");
  EXPECT_EQ(t.param("flag"), "");
  EXPECT_FALSE(t.param("n"));
  EXPECT_EQ(percent_encode("sha256:ab/c d"), "sha256%3Aab%2Fc%20d");
  EXPECT_EQ(percent_decode("%zz%41"), "%zzA");
}

TEST(Range, RequestForms) {
  auto r = parse_range("bytes=10-19", 100).value();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 10u);
  EXPECT_EQ(r->last, 19u);
  EXPECT_EQ(r->size(), 10u);
  r = parse_range("bytes=90-", 100).value();
  EXPECT_EQ(r->first, 90u);
  EXPECT_EQ(r->last, 99u);
  r = parse_range("bytes=50-500", 100).value();
  EXPECT_EQ(r->last, 99u);
  r = parse_range("bytes=-5", 100).value();
  EXPECT_EQ(r->first, 95u);
  EXPECT_EQ(r->last, 99u);
  EXPECT_FALSE(parse_range("bytes=100-", 100).value());  // unsatisfiable -> 416
  EXPECT_FALSE(parse_range("bytes=-0", 100).value());
  EXPECT_FALSE(parse_range("items=1-2", 100));
  EXPECT_FALSE(parse_range("bytes=5-1", 100));
  EXPECT_FALSE(parse_range("bytes=1-2,4-5", 100));
  EXPECT_FALSE(parse_range("bytes=x-", 100));
}

TEST(Range, UploadContentRange) {
  auto r = parse_content_range("0-1023").value();
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 1023u);
  r = parse_content_range("bytes 1024-2047/4096").value();
  EXPECT_EQ(r.first, 1024u);
  EXPECT_EQ(r.last, 2047u);
  EXPECT_FALSE(parse_content_range("10-5"));
  EXPECT_FALSE(parse_content_range("abc"));
  EXPECT_FALSE(parse_content_range("-5"));
}

TEST(Range, ResponseContentRange) {
  auto [r, total] = parse_response_content_range("bytes 5-9/10").value();
  EXPECT_EQ(r.first, 5u);
  EXPECT_EQ(r.last, 9u);
  EXPECT_EQ(total, 10u);
  auto star = parse_response_content_range("bytes 0-0/*").value();
  EXPECT_FALSE(star.second);
  EXPECT_FALSE(parse_response_content_range("bytes 5-10/10"));
  EXPECT_FALSE(parse_response_content_range("5-9/10"));
}

}  // namespace
}  // namespace berth::net::http
