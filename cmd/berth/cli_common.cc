#include "cli_common.h"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sys/ioctl.h>

#include "api/client/jsonmessage.h"
#include "base/base64.h"

namespace berth::cli {

std::string default_host() {
  const char* h = std::getenv("BERTH_HOST");
  return h && *h ? h : kDefaultHost;
}

api::client::TlsOptions tls_from_env() {
  auto env = [](const char* k) -> std::string {
    const char* v = std::getenv(k);
    return v && *v && std::string_view(v) != "0" && std::string_view(v) != "false" ? v : "";
  };
  api::client::TlsOptions t;
  std::string dir = env("BERTH_CERT_PATH");
  auto file = [&](const char* k, const char* name) {
    std::string v = env(k);
    if (v.empty() && !dir.empty()) v = dir + "/" + name;
    return v;
  };
  t.verify = !env("BERTH_TLS_VERIFY").empty();
  t.enabled = t.verify || !env("BERTH_TLS").empty() || !env("BERTH_TLS_CACERT").empty() ||
              !env("BERTH_TLS_CERT").empty() || !dir.empty();
  if (!t.enabled) return t;
  t.ca_file = file("BERTH_TLS_CACERT", "ca.pem");
  t.cert_file = file("BERTH_TLS_CERT", "cert.pem");
  t.key_file = file("BERTH_TLS_KEY", "key.pem");
  return t;
}

Command::Command(std::string usage) : flags(std::move(usage)) {
  flags.add_string("H,host", &host, "daemon socket to connect to (BERTH_HOST)");
}

bool Command::parse(int argc, char** argv, int* rc, bool interspersed, size_t min_args, size_t max_args) {
  auto r = flags.parse(argc, argv, interspersed);
  if (!r) {
    std::fprintf(stderr, "berth %s: %s\nSee 'berth %s --help'.\n", argv[0], r.error().message().c_str(), argv[0]);
    *rc = 125;
    return false;
  }
  if (flags.help_requested()) {
    std::fputs(flags.usage().c_str(), stdout);
    *rc = 0;
    return false;
  }
  args = std::move(*r);
  if (args.size() < min_args || args.size() > max_args) {
    std::fprintf(stderr, "berth %s: requires %s argument(s).\n%s", argv[0],
                 min_args == max_args ? std::to_string(min_args).c_str()
                 : max_args == SIZE_MAX ? ("at least " + std::to_string(min_args)).c_str()
                                        : ("at most " + std::to_string(max_args)).c_str(),
                 flags.usage().c_str());
    *rc = 125;
    return false;
  }
  return true;
}

Result<ApiClient*> Command::api() {
  if (!api_) api_ = BERTH_TRY(ApiClient::connect(host, tls_from_env()));
  return api_.get();
}

int report(const Error& e) {
  std::fprintf(stderr, "%s\n", e.message().c_str());
  return 1;
}

bool is_tty(int fd) { return ::isatty(fd) == 1; }

int for_each(Command& cmd, const std::function<Status(ApiClient&, const std::string&)>& op, bool print) {
  auto api = cmd.api();
  if (!api) return report(api.error());
  int failed = 0;
  for (const auto& a : cmd.args) {
    auto st = op(**api, a);
    if (!st) {
      report(st.error());
      failed = 1;
      continue;
    }
    if (print) std::printf("%s\n", a.c_str());
  }
  return failed;
}

Status add_filters(Query& q, const std::vector<std::string>& filters) {
  auto f = BERTH_TRY(api::client::encode_filters(filters));
  if (!f.empty()) q.emplace_back("filters", std::move(f));
  return ok();
}

bool confirm(std::string_view what) {
  std::printf("WARNING! This will remove%.*s\nAre you sure you want to continue? [y/N] ",
              static_cast<int>(what.size()), what.data());
  std::fflush(stdout);
  char buf[16] = {};
  return std::fgets(buf, sizeof buf, stdin) && (buf[0] == 'y' || buf[0] == 'Y');
}

void print_deleted(const char* title, const json& items, bool blank_after) {
  if (!items.is_array() || items.empty()) return;
  std::printf("%s:\n", title);
  for (const auto& e : items) {
    if (e.is_string()) {
      std::printf("%s\n", e.get<std::string>().c_str());
    } else if (e.is_object()) {
      if (e.contains("Untagged")) std::printf("untagged: %s\n", e["Untagged"].get<std::string>().c_str());
      if (e.contains("Deleted")) std::printf("deleted: %s\n", e["Deleted"].get<std::string>().c_str());
    }
  }
  if (blank_after) std::printf("\n");
}

ListCommand::ListCommand(std::string usage, const char* quiet_help, const char* filter_help)
    : Command(std::move(usage)) {
  flags.add_bool("q,quiet", &quiet, quiet_help);
  flags.add_list("f,filter", &filters, filter_help);
  flags.add_string("format", &format, "format output using a template");
}

Result<json> ListCommand::fetch(const std::string& path, Query q) {
  auto client = BERTH_TRY(api());
  BERTH_TRY(add_filters(q, filters));
  return client->get(path, q);
}

int ListCommand::print(const std::vector<json>& rows, const char* quiet_format,
                       const std::string& default_format,
                       const std::vector<std::pair<std::string, std::string>>& headers) {
  auto st = print_formatted(rows, quiet ? quiet_format : format, default_format, headers);
  return st ? 0 : report(st.error());
}

PruneCommand::PruneCommand(std::string usage, const char* filter_help) : Command(std::move(usage)) {
  flags.add_bool("f,force", &force, "do not prompt for confirmation");
  flags.add_list("filter", &filters, filter_help);
}

int PruneCommand::run(std::string_view what, const std::string& path, const char* list_key,
                      const char* title) {
  if (!force && !confirm(what)) return 0;
  auto client = api();
  if (!client) return report(client.error());
  Query q;
  if (auto st = add_filters(q, filters); !st) return report(st.error());
  auto r = (*client)->post(path, q);
  if (!r) return report(r.error());
  bool total = r->contains("SpaceReclaimed");
  print_deleted(title, (*r)[list_key], total);
  if (total)
    std::printf("Total reclaimed space: %s\n",
                api::client::human_size(r->value("SpaceReclaimed", 0.0)).c_str());
  return 0;
}

std::string short_id(std::string_view id) {
  if (id.starts_with("sha256:")) id.remove_prefix(7);
  return std::string(id.substr(0, 12));
}

std::string strip_slash(std::string_view name) {
  if (name.starts_with("/")) name.remove_prefix(1);
  return std::string(name);
}

std::string human_duration(int64_t s) {
  if (s < 1) return "Less than a second";
  if (s == 1) return "1 second";
  if (s < 60) return fmt::format("{} seconds", s);
  int64_t m = s / 60;
  if (m == 1) return "About a minute";
  if (m < 60) return fmt::format("{} minutes", m);
  int64_t h = (s + 1800) / 3600;
  if (h == 1) return "About an hour";
  if (h < 48) return fmt::format("{} hours", h);
  if (h < 24 * 7 * 2) return fmt::format("{} days", h / 24);
  if (h < 24 * 30 * 2) return fmt::format("{} weeks", h / 24 / 7);
  if (h < 24 * 365 * 2) return fmt::format("{} months", h / 24 / 30);
  return fmt::format("{} years", h / 24 / 365);
}

std::string ago(int64_t t) {
  if (t <= 0) return "N/A";
  return human_duration(static_cast<int64_t>(std::time(nullptr)) - t) + " ago";
}

std::optional<int64_t> parse_rfc3339(std::string_view s) {
  std::tm tm{};
  std::string str(s);
  const char* p = ::strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) return std::nullopt;
  if (*p == '.')
    while (std::isdigit(static_cast<unsigned char>(*++p))) {
    }
  int64_t off = 0;
  if (*p == '+' || *p == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(p + 1, "%d:%d", &hh, &mm) < 1) return std::nullopt;
    off = (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
  } else if (*p != 'Z' && *p != 'z' && *p != '\0') {
    return std::nullopt;
  }
  return static_cast<int64_t>(::timegm(&tm)) - off;
}

Result<std::string> timestamp_param(std::string_view v) {
  if (v.empty()) return std::string();
  // A Go duration: 10m, 1h30m, 90s, 1.5h
  {
    double total = 0;
    size_t i = 0;
    bool any = false;
    while (i < v.size()) {
      size_t j = i;
      while (j < v.size() && (std::isdigit(static_cast<unsigned char>(v[j])) || v[j] == '.')) ++j;
      if (j == i) break;
      double n = std::strtod(std::string(v.substr(i, j - i)).c_str(), nullptr);
      size_t k = j;
      while (k < v.size() && std::isalpha(static_cast<unsigned char>(v[k]))) ++k;
      auto unit = v.substr(j, k - j);
      double mul = unit == "h" ? 3600 : unit == "m" ? 60 : unit == "s" ? 1 : unit == "ms" ? 1e-3 : unit == "us" ? 1e-6 : unit == "ns" ? 1e-9 : -1;
      if (mul < 0) {
        any = false;
        break;
      }
      total += n * mul;
      any = true;
      i = k;
    }
    if (any && i == v.size()) {
      timespec now{};
      ::clock_gettime(CLOCK_REALTIME, &now);
      double t = static_cast<double>(now.tv_sec) + now.tv_nsec / 1e9 - total;
      int64_t sec = static_cast<int64_t>(t);
      return fmt::format("{}.{:09d}", sec, static_cast<int64_t>((t - static_cast<double>(sec)) * 1e9));
    }
  }
  bool numeric = std::all_of(v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
  if (numeric) return std::string(v);
  if (auto t = parse_rfc3339(v)) return std::to_string(*t);
  // A date alone.
  std::tm tm{};
  std::string s(v);
  if (const char* p = ::strptime(s.c_str(), "%Y-%m-%d", &tm); p && !*p) return std::to_string(::timegm(&tm));
  return fail(Errc::InvalidArgument, "invalid time value `{}` (use a duration like 10m, a unix timestamp or RFC 3339)", v);
}

Result<std::string> format_items(const std::vector<json>& items, const std::string& format,
                                 const std::string& default_format,
                                 const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string f = format.empty() ? default_format : format;
  std::string body;
  bool table = api::client::template_is_table(f, &body);
  if (!table) body = f;
  if (table && body.empty()) api::client::template_is_table(default_format, &body);
  auto tmpl = BERTH_TRY(api::client::Template::parse(body));
  std::vector<std::string> lines;
  if (table) lines.push_back(api::client::table_header(body, headers));
  std::string out;
  for (const auto& it : items) {
    std::string line = BERTH_TRY(tmpl.render(it));
    if (table) {
      lines.push_back(std::move(line));
    } else {
      out += line;
      out += '\n';
    }
  }
  if (table) out = api::client::tabulate(lines);
  return out;
}

Status print_formatted(const std::vector<json>& items, const std::string& format,
                       const std::string& default_format,
                       const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out = BERTH_TRY(format_items(items, format, default_format, headers));
  std::fputs(out.c_str(), stdout);
  return ok();
}

Result<std::vector<std::string>> read_env_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail_errno("open env file {}", path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t k = 0;
    while (k < line.size() && (line[k] == ' ' || line[k] == '\t')) ++k;
    line.erase(0, k);
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == 0) return fail(Errc::InvalidArgument, "invalid environment variable: {}", line);
    if (eq == std::string::npos) {
      if (const char* v = std::getenv(line.c_str())) out.push_back(line + "=" + v);
      continue;
    }
    out.push_back(line);
  }
  return out;
}

namespace {

// X-Registry-Auth is URL-safe base64 (what dockerd decodes).
std::string base64(std::string_view in, bool url) {
  const char* tbl = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string registry_of(std::string_view ref) {
  auto slash = ref.find('/');
  if (slash == std::string_view::npos) return "https://index.docker.io/v1/";
  auto first = ref.substr(0, slash);
  if (first.find('.') == std::string_view::npos && first.find(':') == std::string_view::npos && first != "localhost")
    return "https://index.docker.io/v1/";
  return std::string(first);
}

}  // namespace

std::string registry_auth_header(std::string_view reference) {
  std::string dir;
  if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) {
    dir = d;
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    dir = std::string(h) + "/.docker";
  }
  std::string reg = registry_of(reference);
  if (!dir.empty()) {
    std::ifstream in(dir + "/config.json");
    if (in) {
      auto cfg = json::parse(in, nullptr, false);
      if (cfg.is_object() && cfg.contains("auths") && cfg["auths"].is_object() && cfg["auths"].contains(reg)) {
        auto& a = cfg["auths"][reg];
        std::string up = base64_decode(a.value("auth", std::string())).value_or("");
        auto colon = up.find(':');
        if (colon != std::string::npos) {
          json auth = {{"username", up.substr(0, colon)}, {"password", up.substr(colon + 1)}, {"serveraddress", reg}};
          return base64(auth.dump(), true);
        }
      }
    }
  }
  return "e30=";
}

Status pull_image(ApiClient& api, const std::string& reference, bool quiet, FILE* out) {
  std::string name = reference, tag;
  if (auto at = reference.find('@'); at != std::string::npos) {
    name = reference.substr(0, at);
    tag = reference.substr(at + 1);
  } else {
    auto slash = reference.rfind('/');
    auto colon = reference.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
      name = reference.substr(0, colon);
      tag = reference.substr(colon + 1);
    } else {
      tag = "latest";
    }
  }
  net::http::Headers h;
  h.add("X-Registry-Auth", registry_auth_header(name));
  auto s = BERTH_TRY(api.stream("POST", "/images/create", {{"fromImage", name}, {"tag", tag}}, std::nullopt, h));
  struct winsize ws {};
  bool tty = !quiet && is_tty(::fileno(out));
  int width = tty && ::ioctl(::fileno(out), TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 80;
  api::client::ProgressPrinter pp(quiet ? nullptr : out, tty, width);
  for (;;) {
    auto piece = BERTH_TRY(s->next());
    if (piece.empty()) break;
    BERTH_TRY(pp.feed(piece));
  }
  BERTH_TRY(pp.finish());
  return ok();
}

int start_error_exit_code(std::string_view msg) {
  auto has = [&](std::string_view s) { return msg.find(s) != std::string_view::npos; };
  if (has("executable file not found") || has("no such file or directory")) return 127;
  if (has("permission denied") || has("is a directory")) return 126;
  return 125;
}

}  // namespace berth::cli
