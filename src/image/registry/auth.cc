#include "image/registry/auth.h"

#include <sys/stat.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "base/file.h"

namespace berth::image::registry {

namespace {

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return o;
}

bool tchar(char c) {
  return isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

Result<std::vector<Challenge>> parse_challenges(std::string_view h) {
  std::vector<Challenge> out;
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  auto token = [&] {
    size_t s = i;
    while (i < h.size() && tchar(h[i])) ++i;
    return h.substr(s, i - s);
  };
  for (;;) {
    skip_ws();
    while (i < h.size() && h[i] == ',') {
      ++i;
      skip_ws();
    }
    if (i >= h.size()) break;
    std::string_view scheme = token();
    if (scheme.empty()) return fail(Errc::InvalidArgument, "WWW-Authenticate `{}`: expected a scheme at {}", h, i);
    Challenge c;
    c.scheme = lower(scheme);
    // auth-params: name=value pairs separated by commas, until a token not followed by '=' (the next scheme).
    for (;;) {
      skip_ws();
      size_t save = i;
      std::string_view name = token();
      skip_ws();
      if (name.empty() || i >= h.size() || h[i] != '=') {
        i = save;
        break;
      }
      ++i;
      skip_ws();
      std::string value;
      if (i < h.size() && h[i] == '"') {
        ++i;
        bool closed = false;
        while (i < h.size()) {
          char ch = h[i++];
          if (ch == '\\' && i < h.size()) {
            value += h[i++];
          } else if (ch == '"') {
            closed = true;
            break;
          } else {
            value += ch;
          }
        }
        if (!closed) return fail(Errc::InvalidArgument, "WWW-Authenticate `{}`: unterminated quoted string", h);
      } else {
        // RFC 7235 wants a token here; registries send URLs unquoted too, so take everything up to , or space.
        size_t st = i;
        while (i < h.size() && h[i] != ',' && h[i] != ' ' && h[i] != '\t') ++i;
        value = std::string(h.substr(st, i - st));
      }
      c.params[lower(name)] = std::move(value);
      skip_ws();
      if (i < h.size() && h[i] == ',') {
        ++i;
        continue;
      }
      break;
    }
    out.push_back(std::move(c));
    skip_ws();
    if (i < h.size() && h[i] != ',' && !tchar(h[i]))
      return fail(Errc::InvalidArgument, "WWW-Authenticate `{}`: unexpected `{}` at {}", h, h[i], i);
  }
  return out;
}

std::string normalize_registry_key(std::string_view key) {
  if (auto p = key.find("://"); p != std::string_view::npos) key = key.substr(p + 3);
  key = key.substr(0, key.find('/'));
  std::string k = lower(key);
  if (k == "index.docker.io" || k == "registry-1.docker.io" || k == "registry.hub.docker.com") return "docker.io";
  return k;
}

Result<std::map<std::string, Credentials>> parse_docker_config(std::string_view text) {
  std::map<std::string, Credentials> out;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return fail(Errc::InvalidArgument, "config.json: {}", e.what());
  }
  if (!j.is_object()) return fail(Errc::InvalidArgument, "config.json: not an object");
  auto auths = j.find("auths");
  if (auths == j.end() || auths->is_null()) return out;
  if (!auths->is_object()) return fail(Errc::InvalidArgument, "config.json: `auths` is not an object");
  for (const auto& [key, entry] : auths->items()) {
    if (!entry.is_object()) return fail(Errc::InvalidArgument, "config.json: auths[\"{}\"] is not an object", key);
    Credentials c;
    auto str = [&e = entry](const char* f) -> std::string {  // clang 14 cannot capture a structured binding
      auto it = e.find(f);
      return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (auto a = str("auth"); !a.empty()) {
      auto dec = base64_decode(a);
      if (!dec) return fail(Errc::InvalidArgument, "config.json: auths[\"{}\"].auth: {}", key, dec.error().message());
      auto colon = dec->find(':');
      if (colon == std::string::npos)
        return fail(Errc::InvalidArgument, "config.json: auths[\"{}\"].auth: not base64(user:password)", key);
      c.username = dec->substr(0, colon);
      c.password = dec->substr(colon + 1);
    }
    if (c.username.empty()) c.username = str("username");
    if (c.password.empty()) c.password = str("password");
    c.identity_token = str("identitytoken");
    if (!c.empty()) out[normalize_registry_key(key)] = std::move(c);
  }
  return out;
}

Result<std::map<std::string, Credentials>> load_docker_config(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) < 0 && errno == ENOENT) return std::map<std::string, Credentials>{};
  auto text = BERTH_TRY(read_file(path, 4 << 20));
  return parse_docker_config(text).map_error([&](Error e) { return std::move(e).wrap(path); });
}

Status store_docker_credentials(const std::string& path, const std::string& registry, const Credentials& c) {
  nlohmann::json j = nlohmann::json::object();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    auto text = BERTH_TRY(read_file(path, 4 << 20));
    try {
      j = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      return fail(Errc::InvalidArgument, "{}: {}", path, e.what());
    }
    if (!j.is_object()) return fail(Errc::InvalidArgument, "{}: not an object", path);
  }
  if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = nlohmann::json::object();
  nlohmann::json e = nlohmann::json::object();
  e["auth"] = base64_encode(c.username + ":" + c.password);
  if (!c.identity_token.empty()) e["identitytoken"] = c.identity_token;
  j["auths"][registry] = e;
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) BERTH_TRY(mkdir_all(path.substr(0, slash), 0700));
  return write_file_atomic(path, j.dump(1, '\t') + "\n", 0600);
}

}  // namespace berth::image::registry
