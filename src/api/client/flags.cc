#include "api/client/flags.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>

namespace berth::api::client {

void FlagSet::add(std::string_view names, Kind k, void* out, std::string help) {
  Flag f{{}, k, out, std::move(help)};
  size_t i = 0;
  while (i <= names.size()) {
    auto c = names.find(',', i);
    if (c == std::string_view::npos) c = names.size();
    if (c > i) f.names.emplace_back(names.substr(i, c - i));
    i = c + 1;
  }
  flags_.push_back(std::move(f));
}

void FlagSet::add_bool(std::string_view n, bool* o, std::string h) { add(n, Kind::Bool, o, std::move(h)); }
void FlagSet::add_string(std::string_view n, std::string* o, std::string h) { add(n, Kind::String, o, std::move(h)); }
void FlagSet::add_list(std::string_view n, std::vector<std::string>* o, std::string h) {
  add(n, Kind::List, o, std::move(h));
}
void FlagSet::add_int(std::string_view n, int64_t* o, std::string h) { add(n, Kind::Int, o, std::move(h)); }
void FlagSet::add_ignored(std::string_view n, bool is_bool) {
  add(n, is_bool ? Kind::IgnoredBool : Kind::Ignored, nullptr, "(accepted, no effect)");
}

FlagSet::Flag* FlagSet::find(std::string_view name) {
  for (auto& f : flags_)
    for (const auto& n : f.names)
      if (n == name) return &f;
  return nullptr;
}

bool FlagSet::changed(std::string_view name) const {
  for (const auto& f : flags_)
    for (const auto& n : f.names)
      if (n == name) return f.seen;
  return false;
}

Status FlagSet::set(Flag& f, std::string_view name, std::string_view value) {
  f.seen = true;
  switch (f.kind) {
    case Kind::Bool:
    case Kind::IgnoredBool: {
      bool v;
      if (value == "true" || value == "1" || value == "t" || value == "TRUE" || value == "True") {
        v = true;
      } else if (value == "false" || value == "0" || value == "f" || value == "FALSE" || value == "False") {
        v = false;
      } else {
        return fail(Errc::InvalidArgument, "invalid argument \"{}\" for \"{}\" flag: invalid syntax", value, name);
      }
      if (f.out) *static_cast<bool*>(f.out) = v;
      return ok();
    }
    case Kind::String: *static_cast<std::string*>(f.out) = std::string(value); return ok();
    case Kind::List: static_cast<std::vector<std::string>*>(f.out)->emplace_back(value); return ok();
    case Kind::Ignored: return ok();
    case Kind::Int: {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || p != value.data() + value.size())
        return fail(Errc::InvalidArgument, "invalid argument \"{}\" for \"{}\" flag: invalid syntax", value, name);
      *static_cast<int64_t*>(f.out) = v;
      return ok();
    }
  }
  return ok();
}

Result<std::vector<std::string>> FlagSet::parse(int argc, char** argv, bool interspersed) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse(args, interspersed);
}

Result<std::vector<std::string>> FlagSet::parse(const std::vector<std::string>& args, bool interspersed) {
  std::vector<std::string> pos;
  auto takes_value = [](const Flag& f) { return f.kind != Kind::Bool && f.kind != Kind::IgnoredBool; };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      pos.insert(pos.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      if (!interspersed) {
        pos.insert(pos.end(), args.begin() + static_cast<long>(i), args.end());
        break;
      }
      pos.push_back(a);
      continue;
    }
    if (a.starts_with("--")) {
      std::string name = a.substr(2);
      std::optional<std::string> value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      Flag* f = find(name);
      if (!f) {
        if (name == "help") {
          help_ = true;
          return pos;
        }
        return fail(Errc::InvalidArgument, "unknown flag: --{}", name);
      }
      if (!takes_value(*f)) {
        BERTH_TRY(set(*f, name, value ? *value : "true"));
      } else if (value) {
        BERTH_TRY(set(*f, name, *value));
      } else {
        if (i + 1 >= args.size()) return fail(Errc::InvalidArgument, "flag needs an argument: --{}", name);
        BERTH_TRY(set(*f, name, args[++i]));
      }
      continue;
    }
    // Short flags, possibly combined: -it, -dit, -p80:80, -e=X.
    for (size_t k = 1; k < a.size(); ++k) {
      std::string name(1, a[k]);
      Flag* f = find(name);
      if (!f) {
        if (name == "h") {
          help_ = true;
          return pos;
        }
        return fail(Errc::InvalidArgument, "unknown shorthand flag: '{}' in {}", name, a);
      }
      if (!takes_value(*f)) {
        if (k + 1 < a.size() && a[k + 1] == '=') {
          BERTH_TRY(set(*f, name, a.substr(k + 2)));
          break;
        }
        BERTH_TRY(set(*f, name, "true"));
        continue;
      }
      if (k + 1 < a.size()) {
        std::string_view v(a);
        v.remove_prefix(k + 1);
        if (v.starts_with("=")) v.remove_prefix(1);
        BERTH_TRY(set(*f, name, v));
      } else {
        if (i + 1 >= args.size())
          return fail(Errc::InvalidArgument, "flag needs an argument: '{}' in -{}", name, name);
        BERTH_TRY(set(*f, name, args[++i]));
      }
      break;
    }
  }
  return pos;
}

std::string FlagSet::usage() const {
  std::string out = "Usage:  " + usage_ + "\n\nOptions:\n";
  for (const auto& f : flags_) {
    if (f.kind == Kind::Ignored || f.kind == Kind::IgnoredBool) continue;
    std::string n;
    for (const auto& x : f.names) {
      if (!n.empty()) n += ", ";
      n += (x.size() == 1 ? "-" : "--") + x;
    }
    if (f.kind != Kind::Bool) n += f.kind == Kind::List ? " list" : f.kind == Kind::Int ? " int" : " string";
    out += fmt::format("  {:<28} {}\n", n, f.help);
  }
  return out;
}

Result<int64_t> parse_bytes(std::string_view s) {
  if (s.empty()) return fail(Errc::InvalidArgument, "invalid size: ''");
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  double num = std::strtod(std::string(s.substr(0, i)).c_str(), nullptr);
  if (i == 0) return fail(Errc::InvalidArgument, "invalid size: '{}'", s);
  std::string unit(s.substr(i));
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.ends_with("ib")) unit.erase(unit.size() - 2, 1);  // "mib" -> "mb"
  double mul = 1;
  if (unit.empty() || unit == "b") mul = 1;
  else if (unit == "k" || unit == "kb") mul = 1024.0;
  else if (unit == "m" || unit == "mb") mul = 1024.0 * 1024;
  else if (unit == "g" || unit == "gb") mul = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tb") mul = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "p" || unit == "pb") mul = 1024.0 * 1024 * 1024 * 1024 * 1024;
  else return fail(Errc::InvalidArgument, "invalid size: '{}'", s);
  return static_cast<int64_t>(num * mul);
}

Result<int64_t> parse_nano_cpus(std::string_view s) {
  char* end = nullptr;
  std::string str(s);
  double v = std::strtod(str.c_str(), &end);
  if (str.empty() || *end || v < 0) return fail(Errc::InvalidArgument, "invalid argument \"{}\" for \"--cpus\" flag", s);
  return static_cast<int64_t>(std::llround(v * 1e9));
}

}  // namespace berth::api::client
