#include "flags.h"

namespace berth::cli {

bool Parsed::flag(const std::string& name) const {
  auto it = values.find(name);
  return it != values.end() && !it->second.empty() && it->second.back() != "false";
}

std::string Parsed::get(const std::string& name, std::string def) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return def;
  return it->second.back();
}

std::vector<std::string> Parsed::all(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

Result<Parsed> parse_flags(const std::vector<FlagDef>& defs, const std::vector<std::string>& args, size_t begin,
                           bool stop_at_positional) {
  Parsed out;
  auto lookup = [&](std::string_view n) -> const FlagDef* {
    for (const auto& d : defs)
      for (const auto& name : d.names)
        if (name == n) return &d;
    return nullptr;
  };
  size_t i = begin;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      if (stop_at_positional) {
        ++i;
        break;
      }
      continue;
    }
    std::string_view body = a;
    body.remove_prefix(body.starts_with("--") ? 2 : 1);
    std::string_view name = body;
    std::optional<std::string> value;
    if (auto eq = body.find('='); eq != std::string_view::npos) {
      name = body.substr(0, eq);
      value = std::string(body.substr(eq + 1));
    }
    const FlagDef* d = lookup(name);
    if (!d) return fail(Errc::InvalidArgument, "flag provided but not defined: -{}", name);
    if (d->takes_value) {
      if (!value) {
        if (i + 1 >= args.size()) return fail(Errc::InvalidArgument, "flag needs an argument: -{}", name);
        value = args[++i];
      }
    } else {
      if (!value) value = "true";
      if (*value != "true" && *value != "false" && *value != "1" && *value != "0")
        return fail(Errc::InvalidArgument, "invalid boolean value \"{}\" for -{}", *value, name);
      if (*value == "1") value = "true";
      if (*value == "0") value = "false";
    }
    out.values[d->names[0]].push_back(*value);
  }
  for (; i < args.size(); ++i) out.positional.push_back(args[i]);
  return out;
}

}  // namespace berth::cli
