#include "registry/htpasswd.h"

#include <crypt.h>

#include <cstring>
#include <memory>

#include "base/file.h"
#include "oci/digest.h"

namespace berth::registry {

Result<Htpasswd> Htpasswd::parse(std::string_view text) {
  Htpasswd h;
  size_t lineno = 0;
  while (!text.empty()) {
    ++lineno;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return fail(Errc::InvalidArgument, "htpasswd line {}: expected user:hash", lineno);
    std::string_view hash = line.substr(colon + 1);
    if (hash.substr(0, 4) != "$2y$" && hash.substr(0, 4) != "$2b$" && hash.substr(0, 4) != "$2a$")
      return fail(Errc::InvalidArgument, "htpasswd line {}: only bcrypt hashes are supported (htpasswd -B)", lineno);
    h.users_[std::string(line.substr(0, colon))] = std::string(hash);
  }
  return h;
}

Result<Htpasswd> Htpasswd::load(const std::string& path) {
  auto text = BERTH_TRY(read_file(path, 16 << 20));
  return parse(text).map_error([&](Error e) { return std::move(e).wrap(path); });
}

bool Htpasswd::check(const std::string& user, const std::string& password) {
  auto it = users_.find(user);
  if (it == users_.end()) return false;
  std::string key = oci::Digest::sha256_of(user + '\0' + password + '\0' + it->second).str();
  {
    std::lock_guard lk(mu_);
    if (verified_.count(key)) return true;
  }
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = ::crypt_r(password.c_str(), it->second.c_str(), data.get());
  if (!out || out[0] == '*' || it->second != out) return false;
  std::lock_guard lk(mu_);
  verified_.insert(key);
  return true;
}

Result<std::string> Htpasswd::make_entry(const std::string& user, const std::string& password, int cost) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!::crypt_gensalt_rn("$2y$", static_cast<unsigned long>(cost), nullptr, 0, salt, sizeof salt))
    return fail_errno("crypt_gensalt");
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = ::crypt_r(password.c_str(), salt, data.get());
  if (!out || out[0] == '*') return fail(Errc::Internal, "bcrypt failed");
  return user + ":" + out;
}

}  // namespace berth::registry
