#pragma once
// HTTP/1.1 vocabulary shared by the server and client in this module, with no Boost in sight: headers,
// URLs, query strings, percent-encoding and the Range / Content-Range grammar the distribution spec uses.
// Only server.cc and client.cc include Beast (it is expensive to compile).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace berth::net::http {

// Case-insensitive, order-preserving multi-map of header fields.
class Headers {
 public:
  void add(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }
  // Replaces every field with this name.
  void set(std::string name, std::string value);
  void remove(std::string_view name);
  // First value with this name.
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> get_all(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

bool iequals(std::string_view a, std::string_view b);

// "http://host:port/path?q" split into parts. Port defaults to 80/443. IPv6 literals keep their brackets in
// `host_header` ("[::1]:5000") and lose them in `host`.
struct Url {
  std::string scheme;  // "http" | "https"
  std::string host;
  uint16_t port = 0;
  std::string target;  // path + "?" + query, never empty ("/")
  std::string host_header() const;
  std::string origin() const;  // scheme://host_header
  std::string str() const { return origin() + target; }
};
Result<Url> parse_url(std::string_view s);
// Resolves a Location header (absolute URL, absolute path or relative path) against base.
Result<Url> resolve_url(const Url& base, std::string_view location);

std::string percent_encode(std::string_view s);  // RFC 3986 unreserved kept
std::string percent_decode(std::string_view s);  // '+' is kept as is

// Splits a request target into decoded path and query parameters.
struct Target {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::optional<std::string> param(std::string_view name) const;
};
Target parse_target(std::string_view target);

// A byte range, both ends inclusive (as written on the wire).
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t size() const { return last - first + 1; }
};

// Request "Range: bytes=A-B" / "bytes=A-" / "bytes=-N" against a resource of `total` bytes.
// Returns nullopt for a syntactically valid but unsatisfiable range (-> 416), InvalidArgument for garbage
// or multiple ranges (which the caller may ignore and serve 200).
Result<std::optional<ByteRange>> parse_range(std::string_view header, uint64_t total);

// Distribution-spec upload "Content-Range: A-B" (no unit) or the RFC form "bytes A-B/total".
Result<ByteRange> parse_content_range(std::string_view header);

// Response "Content-Range: bytes A-B/T" (T may be '*'); returns the range and total (nullopt for '*').
Result<std::pair<ByteRange, std::optional<uint64_t>>> parse_response_content_range(std::string_view header);

std::string_view reason_phrase(int status);

}  // namespace berth::net::http
