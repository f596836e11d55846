#pragma once
// htpasswd files as docker-registry's "htpasswd" auth reads them: one "user:hash" per line, bcrypt hashes
// ($2y$/$2b$/$2a$) checked with libxcrypt's crypt_r(). Other hash types are refused at load time.
// Successful checks are remembered (keyed by a SHA-256 of user and password) so bcrypt's deliberate cost is
// paid once per credential, not once per request. Thread-safe.

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::registry {

class Htpasswd {
 public:
  static Result<Htpasswd> parse(std::string_view text);
  static Result<Htpasswd> load(const std::string& path);
  Htpasswd(Htpasswd&& o) noexcept : users_(std::move(o.users_)) {}

  bool check(const std::string& user, const std::string& password);
  // A bcrypt "user:hash" line (cost 5..31), for tests and tools.
  static Result<std::string> make_entry(const std::string& user, const std::string& password, int cost = 5);

 private:
  Htpasswd() = default;
  std::map<std::string, std::string> users_;
  std::mutex mu_;
  std::set<std::string> verified_;  // guarded by mu_
};

}  // namespace berth::registry
