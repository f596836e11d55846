// `berth version` and `berth images`: the Engine API client side, over the daemon's unix socket.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "engine/engine.h"
#include "net/http/client.h"

namespace berth::cli {
namespace {

constexpr const char* kDefaultHost = "unix:///run/berth/berth.sock";

std::string default_host() {
  const char* h = std::getenv("BERTH_HOST");
  return h && *h ? h : kDefaultHost;
}

// GET path on the daemon; the parsed JSON body, or an error carrying the daemon's message.
Result<nlohmann::json> get_json(const std::string& host, const std::string& path) {
  if (!host.starts_with("unix://")) return fail(Errc::InvalidArgument, "-H {}: only unix:// hosts are supported here", host);
  net::http::ClientOptions o;
  o.unix_socket = host.substr(7);
  auto client = net::http::Client::make(o);
  net::http::ClientRequest req;
  req.url = BERTH_TRY(net::http::parse_url(std::string("http://api.berth.localhost/v") + engine::kApiVersion + path));
  auto resp = BERTH_TRY_CTX(client->send(req), "is the daemon running on {}?", host);
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  if (resp.status / 100 != 2) {
    std::string msg = j.is_object() && j.contains("message") ? j.value("message", std::string()) : resp.body;
    return fail(Errc::Unavailable, "Error response from daemon: {}", msg);
  }
  if (j.is_discarded()) return fail(Errc::Internal, "daemon sent a body that is not JSON");
  return j;
}

std::string human_size(double b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    u++;
  }
  return fmt::format("{:.3g}{}", b, units[u]);
}

std::string ago(int64_t t) {
  int64_t d = static_cast<int64_t>(std::time(nullptr)) - t;
  if (t <= 0) return "N/A";
  if (d < 120) return fmt::format("{} seconds ago", d);
  if (d < 7200) return fmt::format("{} minutes ago", d / 60);
  if (d < 2 * 86400) return fmt::format("{} hours ago", d / 3600);
  if (d < 60 * 86400) return fmt::format("{} days ago", d / 86400);
  if (d < 730 * 86400) return fmt::format("{} months ago", d / (30 * 86400));
  return fmt::format("{} years ago", d / (365 * 86400));
}

int report(const Error& e) {
  std::fprintf(stderr, "berth: %s\n", e.message().c_str());
  return 1;
}

}  // namespace

int version_main(int argc, char** argv) {
  CLI::App app{"show the berth client and daemon versions", "berth version"};
  std::string host = default_host();
  app.add_option("-H,--host", host, "daemon address (BERTH_HOST)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  std::printf("Client:\n Version:      %s\n API version:  %s\n", engine::kEngineVersion, engine::kApiVersion);
  auto v = get_json(host, "/version");
  if (!v) return report(v.error());
  auto s = [&](const char* k) { return v->value(k, std::string()); };
  std::printf("\nServer:\n Version:      %s\n API version:  %s (minimum version %s)\n Kernel:       %s\n OS/Arch:      %s/%s\n",
              s("Version").c_str(), s("ApiVersion").c_str(), s("MinAPIVersion").c_str(), s("KernelVersion").c_str(),
              s("Os").c_str(), s("Arch").c_str());
  return 0;
}

int images_main(int argc, char** argv) {
  CLI::App app{"list the daemon's images", "berth images"};
  std::string host = default_host();
  bool quiet = false;
  app.add_option("-H,--host", host, "daemon address (BERTH_HOST)")->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "only IDs");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  auto list = get_json(host, "/images/json");
  if (!list) return report(list.error());
  if (!quiet) std::printf("%-30s %-12s %-14s %-16s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
  for (auto& img : *list) {
    std::string id = img.value("Id", std::string());
    std::string short_id = id.substr(id.starts_with("sha256:") ? 7 : 0, 12);
    if (quiet) {
      std::printf("%s\n", short_id.c_str());
      continue;
    }
    std::vector<std::pair<std::string, std::string>> rows;
    if (img.contains("RepoTags") && img["RepoTags"].is_array())
      for (auto& t : img["RepoTags"]) {
        auto tag = t.get<std::string>();
        auto colon = tag.rfind(':');
        rows.emplace_back(tag.substr(0, colon), colon == std::string::npos ? "" : tag.substr(colon + 1));
      }
    if (rows.empty()) rows.emplace_back("<none>", "<none>");
    for (auto& [repo, tag] : rows)
      std::printf("%-30s %-12s %-14s %-16s %s\n", repo.c_str(), tag.c_str(), short_id.c_str(),
                  ago(img.value("Created", int64_t{0})).c_str(), human_size(img.value("Size", 0.0)).c_str());
  }
  return 0;
}

}  // namespace berth::cli
