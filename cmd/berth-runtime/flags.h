#pragma once
// A command-line parser with the conventions of runc's (urfave/cli over Go's flag package):
//   -name and --name are the same flag; values as "--name value" or "--name=value"; booleans take no value
//   but accept "--name=true|false"; parsing stops at the first positional argument (or "--") when
//   stop_at_positional is set (exec: the rest is the command), otherwise flags and positionals may mix.
// Unknown flags fail with InvalidArgument "flag provided but not defined: -x" (runc's wording).

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::cli {

struct FlagDef {
  std::vector<std::string> names;  // first is canonical: {"bundle", "b"}
  bool takes_value = false;
};

struct Parsed {
  std::map<std::string, std::vector<std::string>> values;  // canonical -> every value given (bool: "true"/"false")
  std::vector<std::string> positional;

  bool has(const std::string& name) const { return values.count(name) > 0; }
  bool flag(const std::string& name) const;  // bool flag set and not "false"
  std::string get(const std::string& name, std::string def = "") const;  // last value
  std::vector<std::string> all(const std::string& name) const;
};

// Parses args[begin..end).
Result<Parsed> parse_flags(const std::vector<FlagDef>& defs, const std::vector<std::string>& args, size_t begin,
                           bool stop_at_positional);

}  // namespace berth::cli
