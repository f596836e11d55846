#pragma once
// Docker-style (pflag) command-line flags: `-d`, combined `-it`, `-e X`, `-eX`, `-e=X`, `--name X`,
// `--name=X`, `--rm=false`, repeated list flags, `--` ends the flags. With interspersed=false (run, exec,
// create) parsing stops at the first positional argument, so the container's command keeps its own flags.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::api::client {

class FlagSet {
 public:
  explicit FlagSet(std::string usage) : usage_(std::move(usage)) {}

  // names: "d,detach" (one-letter names are short flags, longer ones long flags).
  void add_bool(std::string_view names, bool* out, std::string help);
  void add_string(std::string_view names, std::string* out, std::string help);
  void add_list(std::string_view names, std::vector<std::string>* out, std::string help);
  void add_int(std::string_view names, int64_t* out, std::string help);
  // Accepted and ignored (a docker flag this CLI takes but does not act on); takes a value unless is_bool.
  void add_ignored(std::string_view names, bool is_bool);

  // The positional arguments. `--help` (and `-h` unless defined) sets help_requested() and stops.
  Result<std::vector<std::string>> parse(const std::vector<std::string>& args, bool interspersed = true);
  Result<std::vector<std::string>> parse(int argc, char** argv, bool interspersed = true);  // argv[0] = command

  bool help_requested() const { return help_; }
  // Was the flag given on the command line (by any of its names)?
  bool changed(std::string_view name) const;
  std::string usage() const;

 private:
  enum class Kind { Bool, String, List, Int, Ignored, IgnoredBool };
  struct Flag {
    std::vector<std::string> names;
    Kind kind;
    void* out;
    std::string help;
    bool seen = false;
  };
  Flag* find(std::string_view name);
  Status set(Flag& f, std::string_view name, std::string_view value);
  void add(std::string_view names, Kind k, void* out, std::string help);

  std::string usage_;
  std::vector<Flag> flags_;
  bool help_ = false;
};

// "512m" / "1g" / "1024" -> bytes (docker's RAMInBytes: b, k, m, g, t, p, binary multiples).
Result<int64_t> parse_bytes(std::string_view s);
// "1.5" -> 1500000000 NanoCPUs.
Result<int64_t> parse_nano_cpus(std::string_view s);

}  // namespace berth::api::client
