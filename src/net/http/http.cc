#include "net/http/http.h"

#include <charconv>
#include <strings.h>

namespace berth::net::http {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

void Headers::set(std::string name, std::string value) {
  remove(name);
  add(std::move(name), std::move(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(items_, [&](const auto& kv) { return iequals(kv.first, name); });
}

std::optional<std::string> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : items_)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

std::vector<std::string> Headers::get_all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : items_)
    if (iequals(k, name)) out.push_back(v);
  return out;
}

namespace {

std::optional<uint64_t> to_u64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string Url::host_header() const {
  bool v6 = host.find(':') != std::string::npos;
  bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  return fmt::format("{}{}{}{}", v6 ? "[" : "", host, v6 ? "]" : "", default_port ? "" : fmt::format(":{}", port));
}

std::string Url::origin() const { return scheme + "://" + host_header(); }

Result<Url> parse_url(std::string_view s) {
  Url u;
  auto sep = s.find("://");
  if (sep == std::string_view::npos) return fail(Errc::InvalidArgument, "url `{}`: no scheme", s);
  u.scheme = std::string(s.substr(0, sep));
  for (auto& c : u.scheme) c = static_cast<char>(::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https") return fail(Errc::InvalidArgument, "url `{}`: unsupported scheme", s);
  std::string_view rest = s.substr(sep + 3);
  auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (u.target[0] == '?') u.target.insert(0, 1, '/');
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(Errc::InvalidArgument, "url `{}`: bad IPv6 literal", s);
    u.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return fail(Errc::InvalidArgument, "url `{}`: bad authority", s);
      port = authority.substr(close + 2);
    }
  } else {
    auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return fail(Errc::InvalidArgument, "url `{}`: no host", s);
  if (port.empty()) {
    u.port = u.scheme == "https" ? 443 : 80;
  } else {
    auto p = to_u64(port);
    if (!p || *p == 0 || *p > 65535) return fail(Errc::InvalidArgument, "url `{}`: bad port", s);
    u.port = static_cast<uint16_t>(*p);
  }
  return u;
}

Result<Url> resolve_url(const Url& base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return parse_url(location);
  Url u = base;
  if (!location.empty() && location[0] == '/') {
    u.target = std::string(location);
  } else {
    std::string path = base.target.substr(0, base.target.find('?'));
    path = path.substr(0, path.rfind('/') + 1);
    u.target = path + std::string(location);
  }
  return u;
}

std::string percent_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && val(s[i + 1]) >= 0 && val(s[i + 2]) >= 0) {
      out += static_cast<char>(val(s[i + 1]) * 16 + val(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Target parse_target(std::string_view target) {
  Target t;
  auto q = target.find('?');
  t.path = percent_decode(target.substr(0, q));
  if (q == std::string_view::npos) return t;
  std::string_view qs = target.substr(q + 1);
  while (!qs.empty()) {
    auto amp = qs.find('&');
    std::string_view kv = qs.substr(0, amp);
    if (!kv.empty()) {
      auto eq = kv.find('=');
      std::string k = percent_decode(kv.substr(0, eq));
      std::string v = eq == std::string_view::npos ? "" : percent_decode(kv.substr(eq + 1));
      t.query.emplace_back(std::move(k), std::move(v));
    }
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
  return t;
}

std::optional<std::string> Target::param(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return std::nullopt;
}

Result<std::optional<ByteRange>> parse_range(std::string_view header, uint64_t total) {
  header = trim(header);
  if (header.substr(0, 6) != "bytes=") return fail(Errc::InvalidArgument, "range `{}`: unit is not bytes", header);
  std::string_view spec = trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return fail(Errc::InvalidArgument, "range `{}`: multiple ranges", header);
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return fail(Errc::InvalidArgument, "range `{}`: no dash", header);
  std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
  if (a.empty()) {  // suffix range: last N bytes
    auto n = to_u64(b);
    if (!n) return fail(Errc::InvalidArgument, "range `{}`: bad suffix length", header);
    if (*n == 0 || total == 0) return std::optional<ByteRange>();
    uint64_t len = std::min(*n, total);
    return std::optional<ByteRange>(ByteRange{total - len, total - 1});
  }
  auto first = to_u64(a);
  if (!first) return fail(Errc::InvalidArgument, "range `{}`: bad first byte", header);
  uint64_t last = total == 0 ? 0 : total - 1;
  if (!b.empty()) {
    auto l = to_u64(b);
    if (!l || *l < *first) return fail(Errc::InvalidArgument, "range `{}`: bad last byte", header);
    last = std::min(*l, last);
  }
  if (*first >= total) return std::optional<ByteRange>();
  return std::optional<ByteRange>(ByteRange{*first, last});
}

Result<ByteRange> parse_content_range(std::string_view header) {
  header = trim(header);
  if (header.substr(0, 6) == "bytes ") header = trim(header.substr(6));
  else if (header.substr(0, 6) == "bytes=") header = trim(header.substr(6));
  auto slash = header.find('/');
  std::string_view spec = header.substr(0, slash);
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return fail(Errc::InvalidArgument, "content-range `{}`: no dash", header);
  auto a = to_u64(trim(spec.substr(0, dash)));
  auto b = to_u64(trim(spec.substr(dash + 1)));
  if (!a || !b || *b < *a) return fail(Errc::InvalidArgument, "content-range `{}`: bad bounds", header);
  return ByteRange{*a, *b};
}

Result<std::pair<ByteRange, std::optional<uint64_t>>> parse_response_content_range(std::string_view header) {
  header = trim(header);
  if (header.substr(0, 6) != "bytes ") return fail(Errc::InvalidArgument, "content-range `{}`: unit is not bytes", header);
  auto slash = header.find('/');
  if (slash == std::string_view::npos) return fail(Errc::InvalidArgument, "content-range `{}`: no total", header);
  auto r = BERTH_TRY(parse_content_range(header.substr(0, slash)));
  std::string_view t = trim(header.substr(slash + 1));
  std::optional<uint64_t> total;
  if (t != "*") {
    total = to_u64(t);
    if (!total || *total <= r.last) return fail(Errc::InvalidArgument, "content-range `{}`: bad total", header);
  }
  return std::make_pair(r, total);
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

}  // namespace berth::net::http
