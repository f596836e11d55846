#include "api/client/template.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace berth::api::client {

using nlohmann::json;

namespace {

struct Value {
  json v;
  bool missing = false;
};

struct Arg {
  enum Kind { Dot, Field, Root, String, Number, Bool, Ident, Sub } kind = Dot;
  std::vector<std::string> path;  // Field / Root path
  std::string text;               // String / Ident
  json num;
  bool b = false;
  std::vector<std::vector<Arg>> sub;  // Sub: a parenthesized pipeline
};
using Command = std::vector<Arg>;
using Pipeline = std::vector<Command>;

}  // namespace

struct TemplateNode {
  enum Kind { Text, Action, If, Range, With } kind = Text;
  std::string text;
  Pipeline pipe;
  std::vector<std::unique_ptr<TemplateNode>> body, alt;
};

namespace {

// ---- lexing of one action ------------------------------------------------------------------------------
Result<std::vector<std::string>> tokenize(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '|' || c == '(' || c == ')') {
      out.emplace_back(1, c);
      ++i;
    } else if (c == '"') {
      std::string t = "\"";
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) {
          char e = s[++i];
          t += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        } else {
          t += s[i];
        }
        ++i;
      }
      if (i >= s.size()) return fail(Errc::InvalidArgument, "template: unterminated quoted string");
      ++i;
      out.push_back(t);
    } else if (c == '`') {
      auto end = s.find('`', i + 1);
      if (end == std::string_view::npos) return fail(Errc::InvalidArgument, "template: unterminated raw string");
      std::string t = "\"";
      t.append(s.substr(i + 1, end - i - 1));
      out.push_back(std::move(t));
      i = end + 1;
    } else {
      size_t j = i;
      while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])) && s[j] != '|' && s[j] != '(' &&
             s[j] != ')')
        ++j;
      out.emplace_back(s.substr(i, j - i));
      i = j;
    }
  }
  return out;
}

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < p.size()) {
    auto dot = p.find('.', i);
    if (dot == std::string_view::npos) dot = p.size();
    if (dot > i) out.emplace_back(p.substr(i, dot - i));
    i = dot + 1;
  }
  return out;
}

Result<Pipeline> parse_pipeline(const std::vector<std::string>& toks, size_t& i, bool in_paren) {
  Pipeline pipe;
  Command cmd;
  for (; i < toks.size(); ++i) {
    const auto& t = toks[i];
    Arg a;
    if (t == "|") {
      if (cmd.empty()) return fail(Errc::InvalidArgument, "template: missing command before |");
      pipe.push_back(std::move(cmd));
      cmd.clear();
      continue;
    }
    if (t == ")") {
      if (!in_paren) return fail(Errc::InvalidArgument, "template: unexpected )");
      break;
    }
    if (t == "(") {
      ++i;
      auto sub = BERTH_TRY(parse_pipeline(toks, i, true));
      if (i >= toks.size()) return fail(Errc::InvalidArgument, "template: unclosed (");
      a.kind = Arg::Sub;
      a.sub = std::move(sub);
    } else if (t == ".") {
      a.kind = Arg::Dot;
    } else if (t.starts_with(".")) {
      a.kind = Arg::Field;
      a.path = split_path(t);
    } else if (t == "$") {
      a.kind = Arg::Root;
    } else if (t.starts_with("$.")) {
      a.kind = Arg::Root;
      a.path = split_path(t.substr(1));
    } else if (t.starts_with("\"")) {
      a.kind = Arg::String;
      a.text = t.substr(1);
    } else if (t == "true" || t == "false") {
      a.kind = Arg::Bool;
      a.b = t == "true";
    } else if (std::isdigit(static_cast<unsigned char>(t[0])) || (t[0] == '-' && t.size() > 1)) {
      a.kind = Arg::Number;
      auto j = json::parse(t, nullptr, false);
      if (j.is_discarded() || !j.is_number()) return fail(Errc::InvalidArgument, "template: bad number `{}`", t);
      a.num = j;
    } else {
      a.kind = Arg::Ident;
      a.text = t;
    }
    cmd.push_back(std::move(a));
  }
  if (cmd.empty()) return fail(Errc::InvalidArgument, "template: empty command");
  pipe.push_back(std::move(cmd));
  return pipe;
}

Result<Pipeline> parse_pipeline(const std::vector<std::string>& toks, size_t start) {
  size_t i = start;
  auto p = BERTH_TRY(parse_pipeline(toks, i, false));
  if (i < toks.size()) return fail(Errc::InvalidArgument, "template: unexpected `{}`", toks[i]);
  return p;
}

// ---- parsing of the node tree --------------------------------------------------------------------------
struct Parser {
  std::string_view src;
  size_t pos = 0;
  bool trim_next = false;

  // Next raw piece: text, or an action's inside. Returns false at the end.
  struct Piece {
    bool action;
    std::string text;
  };
  Result<bool> next(Piece& p) {
    if (pos >= src.size()) return false;
    auto open = src.find("{{", pos);
    if (open != pos) {
      size_t end = open == std::string_view::npos ? src.size() : open;
      std::string t(src.substr(pos, end - pos));
      if (trim_next) {
        size_t k = 0;
        while (k < t.size() && std::isspace(static_cast<unsigned char>(t[k]))) ++k;
        t.erase(0, k);
      }
      trim_next = false;
      if (open != std::string_view::npos && src.substr(open).starts_with("{{-") && open + 3 < src.size() &&
          std::isspace(static_cast<unsigned char>(src[open + 3]))) {
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
      }
      pos = end;
      p = {false, t};
      return true;
    }
    auto close = src.find("}}", open + 2);
    if (close == std::string_view::npos) return fail(Errc::InvalidArgument, "template: unclosed action");
    std::string inner(src.substr(open + 2, close - open - 2));
    if (inner.starts_with("-") && inner.size() > 1 && std::isspace(static_cast<unsigned char>(inner[1])))
      inner.erase(0, 1);
    trim_next = false;
    if (inner.size() > 1 && inner.ends_with("-") && std::isspace(static_cast<unsigned char>(inner[inner.size() - 2]))) {
      inner.pop_back();
      trim_next = true;
    }
    pos = close + 2;
    p = {true, inner};
    return true;
  }

  // Parses nodes until `else`/`end` (returned in *stop) or the end of input.
  Status parse_list(std::vector<std::unique_ptr<TemplateNode>>& out, std::string* stop, size_t* stop_tok_start,
                    std::vector<std::string>* stop_toks) {
    Piece p;
    while (BERTH_TRY(next(p))) {
      if (!p.action) {
        auto n = std::make_unique<TemplateNode>();
        n->text = p.text;
        out.push_back(std::move(n));
        continue;
      }
      auto toks = BERTH_TRY(tokenize(p.text));
      if (toks.empty()) return fail(Errc::InvalidArgument, "template: empty action");
      if (toks[0].starts_with("/*")) continue;  // comment
      const auto& w = toks[0];
      if (w == "end" || w == "else") {
        if (!stop) return fail(Errc::InvalidArgument, "template: unexpected {{{{{}}}}}", w);
        *stop = w;
        if (stop_toks) *stop_toks = toks;
        if (stop_tok_start) *stop_tok_start = 1;
        return ok();
      }
      auto n = std::make_unique<TemplateNode>();
      if (w == "if" || w == "range" || w == "with") {
        n->kind = w == "if" ? TemplateNode::If : w == "range" ? TemplateNode::Range : TemplateNode::With;
        n->pipe = BERTH_TRY(parse_pipeline(toks, 1));
        BERTH_TRY(parse_branches(*n));
      } else {
        n->kind = TemplateNode::Action;
        n->pipe = BERTH_TRY(parse_pipeline(toks, 0));
      }
      out.push_back(std::move(n));
    }
    if (stop) return fail(Errc::InvalidArgument, "template: missing {{{{end}}}}");
    return ok();
  }

  Status parse_branches(TemplateNode& n) {
    std::string stop;
    std::vector<std::string> toks;
    BERTH_TRY(parse_list(n.body, &stop, nullptr, &toks));
    if (stop == "end") return ok();
    // else, or "else if ..."
    if (toks.size() > 1 && toks[1] == "if") {
      auto inner = std::make_unique<TemplateNode>();
      inner->kind = TemplateNode::If;
      inner->pipe = BERTH_TRY(parse_pipeline(toks, 2));
      BERTH_TRY(parse_branches(*inner));
      n.alt.push_back(std::move(inner));
      return ok();
    }
    BERTH_TRY(parse_list(n.alt, &stop, nullptr, nullptr));
    if (stop != "end") return fail(Errc::InvalidArgument, "template: expected {{{{end}}}}");
    return ok();
  }
};

// ---- evaluation ----------------------------------------------------------------------------------------
bool truthy(const Value& v) {
  if (v.missing) return false;
  const json& j = v.v;
  if (j.is_null()) return false;
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number()) return j.get<double>() != 0;
  if (j.is_string() || j.is_array() || j.is_object()) return !j.empty();
  return true;
}

std::string print_value(const Value& v) { return v.missing ? "<no value>" : go_print(v.v); }

Value field(const Value& base, const std::vector<std::string>& path) {
  Value cur = base;
  for (const auto& k : path) {
    if (cur.missing || !cur.v.is_object()) return Value{json(), true};
    auto it = cur.v.find(k);
    if (it == cur.v.end()) return Value{json(), true};
    cur = Value{*it, false};
  }
  return cur;
}

std::string title_case(std::string s) {
  bool start = true;
  for (auto& c : s) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      if (start) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      start = false;
    } else {
      start = true;
    }
  }
  return s;
}

std::string go_printf(const std::string& f, const std::vector<Value>& args) {
  std::string out;
  size_t ai = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%' || i + 1 >= f.size()) {
      out += f[i];
      continue;
    }
    char verb = f[++i];
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (ai >= args.size()) {
      out += fmt::format("%!{}(MISSING)", verb);
      continue;
    }
    const Value& a = args[ai++];
    if (verb == 'q') {
      out += json(print_value(a)).dump();
    } else {
      out += print_value(a);
    }
  }
  return out;
}

bool equal_values(const Value& a, const Value& b) {
  if (a.v.is_number() && b.v.is_number()) return a.v.get<double>() == b.v.get<double>();
  return a.v == b.v;
}

struct Eval {
  const json& root;
  Result<Value> pipeline(const Pipeline& p, const Value& dot) const {
    std::optional<Value> piped;
    for (const auto& cmd : p) piped = BERTH_TRY(command(cmd, dot, piped));
    return *piped;
  }

  Result<Value> arg(const Arg& a, const Value& dot) const {
    switch (a.kind) {
      case Arg::Dot: return dot;
      case Arg::Field: return field(dot, a.path);
      case Arg::Root: return field(Value{root, false}, a.path);
      case Arg::String: return Value{json(a.text), false};
      case Arg::Number: return Value{a.num, false};
      case Arg::Bool: return Value{json(a.b), false};
      case Arg::Sub: return pipeline(a.sub, dot);
      case Arg::Ident: return call(a.text, {}, dot);
    }
    return Value{};
  }

  Result<Value> command(const Command& c, const Value& dot, const std::optional<Value>& piped) const {
    if (c[0].kind == Arg::Ident) {
      std::vector<Value> args;
      for (size_t i = 1; i < c.size(); ++i) args.push_back(BERTH_TRY(arg(c[i], dot)));
      if (piped) args.push_back(*piped);
      return call(c[0].text, args, dot);
    }
    if (c.size() > 1 || piped) return fail(Errc::InvalidArgument, "template: can't give an argument to a non-function");
    return arg(c[0], dot);
  }

  Result<Value> call(const std::string& fn, const std::vector<Value>& a, const Value&) const {
    auto need = [&](size_t n) -> Status {
      if (a.size() != n) return fail(Errc::InvalidArgument, "template: wrong number of args for {}: want {} got {}", fn, n, a.size());
      return ok();
    };
    auto str = [](const Value& v) { return v.v.is_string() ? v.v.get<std::string>() : print_value(v); };
    if (fn == "json") {
      BERTH_TRY(need(1));
      return Value{json(a[0].missing ? "null" : a[0].v.dump()), false};
    }
    if (fn == "upper" || fn == "lower" || fn == "title") {
      BERTH_TRY(need(1));
      std::string s = str(a[0]);
      if (fn == "title") return Value{json(title_case(s)), false};
      for (auto& ch : s) ch = static_cast<char>(fn == "upper" ? std::toupper(static_cast<unsigned char>(ch)) : std::tolower(static_cast<unsigned char>(ch)));
      return Value{json(s), false};
    }
    if (fn == "len") {
      BERTH_TRY(need(1));
      const json& v = a[0].v;
      if (!(v.is_string() || v.is_array() || v.is_object())) return fail(Errc::InvalidArgument, "template: len of {}", v.type_name());
      return Value{json(v.is_string() ? v.get<std::string>().size() : v.size()), false};
    }
    if (fn == "index") {
      if (a.empty()) return fail(Errc::InvalidArgument, "template: index needs arguments");
      Value cur = a[0];
      for (size_t i = 1; i < a.size(); ++i) {
        if (cur.v.is_object() && a[i].v.is_string()) {
          auto it = cur.v.find(a[i].v.get<std::string>());
          cur = it == cur.v.end() ? Value{json(), true} : Value{*it, false};
        } else if (cur.v.is_array() && a[i].v.is_number_integer()) {
          auto k = a[i].v.get<int64_t>();
          if (k < 0 || static_cast<size_t>(k) >= cur.v.size()) return fail(Errc::InvalidArgument, "template: index out of range: {}", k);
          cur = Value{cur.v[static_cast<size_t>(k)], false};
        } else if (cur.v.is_null() || cur.missing) {
          cur = Value{json(), true};
        } else {
          return fail(Errc::InvalidArgument, "template: can't index item of type {}", cur.v.type_name());
        }
      }
      return cur;
    }
    if (fn == "join") {
      BERTH_TRY(need(2));
      std::string out;
      if (a[0].v.is_array())
        for (size_t i = 0; i < a[0].v.size(); ++i) out += (i ? str(a[1]) : "") + str(Value{a[0].v[i], false});
      return Value{json(out), false};
    }
    if (fn == "split") {
      BERTH_TRY(need(2));
      std::string s = str(a[0]), sep = str(a[1]);
      json arr = json::array();
      size_t i = 0;
      if (sep.empty()) return fail(Errc::InvalidArgument, "template: split by empty string");
      for (;;) {
        auto k = s.find(sep, i);
        arr.push_back(s.substr(i, k == std::string::npos ? std::string::npos : k - i));
        if (k == std::string::npos) break;
        i = k + sep.size();
      }
      return Value{arr, false};
    }
    if (fn == "println" || fn == "print") {
      std::string out;
      for (size_t i = 0; i < a.size(); ++i) {
        if (i && fn == "println") out += ' ';
        out.append(print_value(a[i]));
      }
      if (fn == "println") out += "\n";
      return Value{json(out), false};
    }
    if (fn == "printf") {
      if (a.empty()) return fail(Errc::InvalidArgument, "template: printf needs a format");
      return Value{json(go_printf(str(a[0]), std::vector<Value>(a.begin() + 1, a.end()))), false};
    }
    if (fn == "eq" || fn == "ne") {
      if (a.size() < 2) return fail(Errc::InvalidArgument, "template: {} needs two arguments", fn);
      bool any = false;
      for (size_t i = 1; i < a.size(); ++i) any = any || equal_values(a[0], a[i]);
      return Value{json(fn == "eq" ? any : !any), false};
    }
    if (fn == "not") {
      BERTH_TRY(need(1));
      return Value{json(!truthy(a[0])), false};
    }
    if (fn == "and" || fn == "or") {
      if (a.empty()) return fail(Errc::InvalidArgument, "template: {} needs arguments", fn);
      for (const auto& v : a)
        if (truthy(v) == (fn == "or")) return v;
      return a.back();
    }
    return fail(Errc::InvalidArgument, "template: function \"{}\" not defined", fn);
  }

  Status nodes(const std::vector<std::unique_ptr<TemplateNode>>& ns, const Value& dot, std::string& out) const {
    for (const auto& n : ns) {
      switch (n->kind) {
        case TemplateNode::Text: out += n->text; break;
        case TemplateNode::Action: out += print_value(BERTH_TRY(pipeline(n->pipe, dot))); break;
        case TemplateNode::If: {
          auto v = BERTH_TRY(pipeline(n->pipe, dot));
          BERTH_TRY(nodes(truthy(v) ? n->body : n->alt, dot, out));
          break;
        }
        case TemplateNode::With: {
          auto v = BERTH_TRY(pipeline(n->pipe, dot));
          if (truthy(v)) {
            BERTH_TRY(nodes(n->body, v, out));
          } else {
            BERTH_TRY(nodes(n->alt, dot, out));
          }
          break;
        }
        case TemplateNode::Range: {
          auto v = BERTH_TRY(pipeline(n->pipe, dot));
          if (!truthy(v)) {
            BERTH_TRY(nodes(n->alt, dot, out));
            break;
          }
          if (v.v.is_array() || v.v.is_object()) {
            for (const auto& el : v.v) BERTH_TRY(nodes(n->body, Value{el, false}, out));
          } else {
            return fail(Errc::InvalidArgument, "template: range can't iterate over {}", print_value(v));
          }
          break;
        }
      }
    }
    return ok();
  }
};

std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 't' || s[i + 1] == 'n')) {
      out += s[i + 1] == 't' ? '\t' : '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;
Template::~Template() = default;

Result<Template> Template::parse(std::string_view text) {
  std::string src = text == "json" ? std::string("{{json .}}") : unescape(text);
  Parser p{src};
  Template t;
  BERTH_TRY(p.parse_list(t.nodes_, nullptr, nullptr, nullptr));
  return t;
}

Result<std::string> Template::render(const json& dot) const {
  Eval e{dot};
  std::string out;
  BERTH_TRY(e.nodes(nodes_, Value{dot, false}, out));
  return out;
}

std::string go_print(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "<nil>";
    case json::value_t::string: return v.get<std::string>();
    case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer: return std::to_string(v.get<int64_t>());
    case json::value_t::number_unsigned: return std::to_string(v.get<uint64_t>());
    case json::value_t::number_float: {
      double d = v.get<double>();
      if (std::floor(d) == d && std::fabs(d) < 1e21) return fmt::format("{:.0f}", d);
      return fmt::format("{}", d);
    }
    case json::value_t::array: {
      std::string out = "[";
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ' ';
        first = false;
        out += go_print(e);
      }
      return out + "]";
    }
    case json::value_t::object: {
      std::string out = "map[";
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ' ';
        first = false;
        out += it.key() + ":" + go_print(it.value());
      }
      return out + "]";
    }
    default: return v.dump();
  }
}

bool template_is_table(std::string_view format, std::string* rest) {
  if (format == "table") {
    if (rest) rest->clear();
    return true;
  }
  if (!format.starts_with("table ")) return false;
  if (rest) *rest = std::string(format.substr(6));
  return true;
}

std::string table_header(std::string_view format, const std::vector<std::pair<std::string, std::string>>& names) {
  std::string f = unescape(format), out;
  size_t i = 0;
  while (i < f.size()) {
    auto open = f.find("{{", i);
    if (open == std::string::npos) {
      out += f.substr(i);
      break;
    }
    out += f.substr(i, open - i);
    auto close = f.find("}}", open);
    if (close == std::string::npos) break;
    std::string inner = f.substr(open + 2, close - open - 2);
    auto toks = tokenize(inner);
    std::string name;
    if (toks && !toks->empty()) {
      for (const auto& t : *toks)
        if (t.starts_with(".") && t.size() > 1) name = split_path(t).back();
    }
    std::string header;
    for (const auto& [k, h] : names)
      if (k == name) header = h;
    if (header.empty()) {
      header = name;
      for (auto& c : header) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    out += header;
    i = close + 2;
  }
  return out;
}

namespace {
// Display width: UTF-8 code points ("…" is one column, three bytes).
size_t display_width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}
}  // namespace

std::string tabulate(const std::vector<std::string>& lines) {
  std::vector<std::vector<std::string>> rows;
  std::vector<size_t> width;
  for (const auto& l : lines) {
    std::vector<std::string> cells;
    size_t i = 0;
    for (;;) {
      auto t = l.find('\t', i);
      cells.push_back(l.substr(i, t == std::string::npos ? std::string::npos : t - i));
      if (t == std::string::npos) break;
      i = t + 1;
    }
    for (size_t c = 0; c + 1 < cells.size(); ++c) {
      if (width.size() <= c) width.resize(c + 1, 0);
      width[c] = std::max(width[c], display_width(cells[c]));
    }
    rows.push_back(std::move(cells));
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      // docker's tabwriter: padding 3, cells at least 10 wide
      if (c + 1 < r.size()) line += std::string(std::max<size_t>(width[c] + 3, 10) - display_width(r[c]), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace berth::api::client
