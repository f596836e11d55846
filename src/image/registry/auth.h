#pragma once
// Registry authentication pieces that need no network: WWW-Authenticate challenge parsing (RFC 7235 as
// registries use it), docker-compatible config.json credentials, and base64.
//
//   WWW-Authenticate: Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"
//   config.json: {"auths": {"host:port": {"auth": base64("user:password")}, ...}}
//     Keys may carry a scheme and path ("https://index.docker.io/v1/"); they are normalised to host[:port].
//     "username"/"password" fields and "identitytoken" are honoured too. credsStore/credHelpers are not
//     supported (helpers are external programs); entries served only by them are reported as absent.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base64.h"
#include "base/error.h"

namespace berth::image::registry {

struct Challenge {
  std::string scheme;                         // lower-case: "bearer", "basic"
  std::map<std::string, std::string> params;  // keys lower-case: realm, service, scope, error
  std::string param(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? std::string() : it->second;
  }
};

// Parses one header value that may hold several challenges. Malformed input -> InvalidArgument.
Result<std::vector<Challenge>> parse_challenges(std::string_view header);

struct Credentials {
  std::string username;
  std::string password;
  std::string identity_token;  // OAuth2 refresh token (docker login with an identity provider)
  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
};

// "https://reg:5000/v1/" -> "reg:5000"; "index.docker.io" -> "docker.io" (what references use).
std::string normalize_registry_key(std::string_view key);

// Parses config.json text into registry -> credentials.
Result<std::map<std::string, Credentials>> parse_docker_config(std::string_view json);
// Reads a config.json; a missing file is an empty map.
Result<std::map<std::string, Credentials>> load_docker_config(const std::string& path);
// Adds or replaces the "auths" entry for registry in the config.json at path (created if missing), durably.
Status store_docker_credentials(const std::string& path, const std::string& registry, const Credentials& c);

using berth::base64_decode;  // base/base64.h
using berth::base64_encode;

}  // namespace berth::image::registry
