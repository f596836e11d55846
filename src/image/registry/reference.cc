#include "image/registry/reference.h"

#include <cctype>

namespace berth::image::registry {

namespace {

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool valid_component(std::string_view c) {
  if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
  for (size_t i = 0; i < c.size(); ++i) {
    if (lower_alnum(c[i])) continue;
    // separators: '.', '_', '__', or one or more '-'
    if (c[i] == '.') {
      if (!lower_alnum(c[i + 1])) return false;
    } else if (c[i] == '_') {
      if (c[i + 1] == '_') ++i;
      if (!lower_alnum(c[i + 1])) return false;
    } else if (c[i] == '-') {
      while (c[i + 1] == '-') ++i;
      if (!lower_alnum(c[i + 1])) return false;
    } else {
      return false;
    }
  }
  return true;
}

bool valid_registry(std::string_view r) {
  if (r.empty()) return false;
  if (r.front() == '[') {
    auto close = r.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view rest = r.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':' || rest.size() < 2) return false;
    for (char c : rest.substr(1))
      if (!isdigit(static_cast<unsigned char>(c))) return false;
    return true;
  }
  auto colon = r.find(':');
  std::string_view host = r.substr(0, colon);
  if (host.empty()) return false;
  for (char c : host)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
  if (colon != std::string_view::npos) {
    std::string_view port = r.substr(colon + 1);
    if (port.empty() || port.size() > 5) return false;
    for (char c : port)
      if (!isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

bool valid_repository_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  size_t start = 0;
  for (;;) {
    auto slash = name.find('/', start);
    if (!valid_component(name.substr(start, slash - start))) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t[0])) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

bool is_loopback_registry(std::string_view r) {
  std::string_view host = r;
  if (!r.empty() && r.front() == '[') {
    host = r.substr(1, r.find(']') - 1);
    return host == "::1";
  }
  host = r.substr(0, r.find(':'));
  return host == "localhost" || host.substr(0, 4) == "127.";
}

std::string Reference::str() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest.str();
  return s;
}

Result<Reference> parse_reference(std::string_view s) {
  Reference ref;
  std::string_view rest = s;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto d = oci::Digest::parse(rest.substr(at + 1));
    if (!d) return fail(std::move(d).error().wrap(fmt::format("reference `{}`", s)));
    ref.digest = *d;
    rest = rest.substr(0, at);
  }
  // A tag is after the last ':' that follows the last '/' (a ':' before it belongs to host:port).
  auto last_slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    if (!valid_tag(ref.tag)) return fail(Errc::InvalidArgument, "reference `{}`: invalid tag `{}`", s, ref.tag);
    rest = rest.substr(0, colon);
  }
  auto slash = rest.find('/');
  std::string_view first = rest.substr(0, slash);
  if (slash != std::string_view::npos &&
      (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
       first == "localhost" || (!first.empty() && first.front() == '['))) {
    if (!valid_registry(first)) return fail(Errc::InvalidArgument, "reference `{}`: invalid registry `{}`", s, first);
    ref.registry = std::string(first);
    ref.repository = std::string(rest.substr(slash + 1));
  } else {
    ref.registry = std::string(kDockerHub);
    ref.repository = std::string(rest);
    if (slash == std::string_view::npos) ref.repository = "library/" + ref.repository;
  }
  if (!valid_repository_name(ref.repository))
    return fail(Errc::InvalidArgument, "reference `{}`: invalid repository name `{}` (lower-case letters, digits, "
                "separators . _ __ -)", s, ref.repository);
  if (ref.registry.size() + 1 + ref.repository.size() > 255)
    return fail(Errc::InvalidArgument, "reference `{}`: name longer than 255 characters", s);
  if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
  return ref;
}

}  // namespace berth::image::registry
