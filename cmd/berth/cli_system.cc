// berth version / info / events / system df / system prune.
#include <signal.h>

#include <cstdio>
#include <ctime>

#include "api/client/jsonmessage.h"
#include "cli_common.h"
#include "commands.h"
#include "engine/engine.h"

namespace berth::cli {
namespace {

using api::client::human_size;

std::string str(const json& j, const char* k) {
  if (!j.is_object() || !j.contains(k)) return "";
  const json& v = j[k];
  return v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
}

}  // namespace

int version_main(int argc, char** argv) {
  Command cmd("berth version [OPTIONS]");
  std::string format;
  cmd.flags.add_string("f,format", &format, "format output using a template");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  json client = {{"Version", engine::kEngineVersion}, {"ApiVersion", api::client::kClientApiVersion},
                 {"Os", "linux"}, {"Arch", "amd64"}};
  auto api = cmd.api();
  json server;
  if (api) {
    auto v = (*api)->get("/version");
    if (v) server = *v;
    else api = fail(v.error());
  }
  if (!format.empty()) {
    auto t = api::client::Template::parse(format);
    if (!t) return report(t.error());
    auto out = t->render({{"Client", client}, {"Server", server}});
    if (!out) return report(out.error());
    std::printf("%s\n", out->c_str());
    return api ? 0 : 1;
  }
  std::printf("Client:\n Version:      %s\n API version:  %s\n OS/Arch:      linux/%s\n",
              engine::kEngineVersion, api::client::kClientApiVersion, str(client, "Arch").c_str());
  if (!api) {
    std::printf("\n");
    return report(api.error());
  }
  std::printf("\nServer:\n Version:      %s\n API version:  %s (minimum version %s)\n"
              " OS/Arch:      %s/%s\n Kernel:       %s\n",
              str(server, "Version").c_str(), str(server, "ApiVersion").c_str(), str(server, "MinAPIVersion").c_str(),
              str(server, "Os").c_str(), str(server, "Arch").c_str(), str(server, "KernelVersion").c_str());
  return 0;
}

int info_main(int argc, char** argv) {
  Command cmd("berth info [OPTIONS]");
  std::string format;
  cmd.flags.add_string("f,format", &format, "format output using a template");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto i = (*api)->get("/info");
  if (!i) return report(i.error());
  if (!format.empty()) {
    auto t = api::client::Template::parse(format);
    if (!t) return report(t.error());
    auto out = t->render(*i);
    if (!out) return report(out.error());
    std::printf("%s\n", out->c_str());
    return 0;
  }
  const json& j = *i;
  auto n = [&](const char* k) { return j.value(k, int64_t{0}); };
  std::printf("Server:\n");
  std::printf(" Containers: %lld\n  Running: %lld\n  Paused: %lld\n  Stopped: %lld\n", (long long)n("Containers"),
              (long long)n("ContainersRunning"), (long long)n("ContainersPaused"), (long long)n("ContainersStopped"));
  std::printf(" Images: %lld\n", (long long)n("Images"));
  std::printf(" Server Version: %s\n", str(j, "ServerVersion").c_str());
  std::printf(" Storage Driver: %s\n", str(j, "Driver").c_str());
  std::printf(" Logging Driver: %s\n", str(j, "LoggingDriver").c_str());
  std::printf(" Cgroup Driver: %s\n", str(j, "CgroupDriver").c_str());
  std::printf(" Cgroup Version: %s\n", str(j, "CgroupVersion").c_str());
  if (j.contains("Runtimes") && j["Runtimes"].is_object()) {
    std::string rts;
    for (auto it = j["Runtimes"].begin(); it != j["Runtimes"].end(); ++it) rts += " " + it.key();
    std::printf(" Runtimes:%s\n", rts.c_str());
  }
  std::printf(" Default Runtime: %s\n", str(j, "DefaultRuntime").c_str());
  if (j.contains("SecurityOptions") && j["SecurityOptions"].is_array()) {
    std::printf(" Security Options:\n");
    for (const auto& s : j["SecurityOptions"]) std::printf("  %s\n", s.is_string() ? s.get<std::string>().c_str() : s.dump().c_str());
  }
  std::printf(" Kernel Version: %s\n", str(j, "KernelVersion").c_str());
  std::printf(" Operating System: %s\n", str(j, "OperatingSystem").c_str());
  std::printf(" OSType: %s\n", str(j, "OSType").c_str());
  std::printf(" Architecture: %s\n", str(j, "Architecture").c_str());
  std::printf(" CPUs: %lld\n", (long long)n("NCPU"));
  std::printf(" Total Memory: %s\n", human_size(j.value("MemTotal", 0.0)).c_str());
  std::printf(" Name: %s\n", str(j, "Name").c_str());
  std::printf(" ID: %s\n", str(j, "ID").c_str());
  std::printf(" Docker Root Dir: %s\n", str(j, "DockerRootDir").c_str());
  std::printf(" Live Restore Enabled: %s\n", j.value("LiveRestoreEnabled", false) ? "true" : "false");
  if (j.contains("Warnings") && j["Warnings"].is_array())
    for (const auto& w : j["Warnings"]) std::fprintf(stderr, "%s\n", w.get<std::string>().c_str());
  return 0;
}

int events_main(int argc, char** argv) {
  Command cmd("berth events [OPTIONS]");
  std::string since, until, format;
  std::vector<std::string> filters;
  cmd.flags.add_string("since", &since, "show all events created since timestamp");
  cmd.flags.add_string("until", &until, "stream events until this timestamp");
  cmd.flags.add_list("f,filter", &filters, "filter output based on conditions provided");
  cmd.flags.add_string("format", &format, "format output using a template ('json' or a Go template)");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  ::signal(SIGPIPE, SIG_IGN);
  auto api = cmd.api();
  if (!api) return report(api.error());
  Query q;
  if (!since.empty()) {
    auto s = timestamp_param(since);
    if (!s) return report(s.error());
    q.emplace_back("since", *s);
  }
  if (!until.empty()) {
    auto u = timestamp_param(until);
    if (!u) return report(u.error());
    q.emplace_back("until", *u);
  }
  if (auto st = add_filters(q, filters); !st) return report(st.error());
  std::optional<api::client::Template> tmpl;
  if (!format.empty()) {
    auto t = api::client::Template::parse(format);
    if (!t) return report(t.error());
    tmpl = std::move(*t);
  }
  auto s = (*api)->stream("GET", "/events", q);
  if (!s) return report(s.error());
  std::string partial;
  for (;;) {
    auto piece = (*s)->next();
    if (!piece) return report(piece.error());
    if (piece->empty()) break;
    partial.append(*piece);
    size_t nl;
    while ((nl = partial.find('\n')) != std::string::npos) {
      std::string line = partial.substr(0, nl);
      partial.erase(0, nl + 1);
      auto e = json::parse(line, nullptr, false);
      if (!e.is_object()) continue;
      if (tmpl) {
        auto out = tmpl->render(e);
        if (!out) return report(out.error());
        std::printf("%s\n", out->c_str());
      } else {
        // 2026-11-25T11:00:00.123456789Z container create <id> (image=busybox, name=web)
        int64_t tn = e.value("timeNano", int64_t{0});
        if (tn == 0) tn = e.value("time", int64_t{0}) * 1000000000;
        std::time_t secs = static_cast<std::time_t>(tn / 1000000000);
        std::tm tm{};
        ::gmtime_r(&secs, &tm);
        char ts[40];
        std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        std::string attrs;
        const json& actor = e.contains("Actor") ? e["Actor"] : json::object();
        if (actor.contains("Attributes") && actor["Attributes"].is_object())
          for (auto it = actor["Attributes"].begin(); it != actor["Attributes"].end(); ++it)
            join_to(attrs, ", ", it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump()));
        std::printf("%s.%09lldZ %s %s %s%s\n", ts, static_cast<long long>(tn % 1000000000), str(e, "Type").c_str(),
                    str(e, "Action").c_str(), str(actor, "ID").c_str(), attrs.empty() ? "" : (" (" + attrs + ")").c_str());
      }
      std::fflush(stdout);
    }
  }
  return 0;
}

int system_df_main(int argc, char** argv) {
  Command cmd("berth system df [OPTIONS]");
  bool verbose = false;
  std::string format;
  cmd.flags.add_bool("v,verbose", &verbose, "show detailed information on space usage");
  cmd.flags.add_string("format", &format, "format output using a template");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto r = (*api)->get("/system/df");
  if (!r) return report(r.error());
  const json& d = *r;
  auto arr = [&](const char* k) { return d.contains(k) && d[k].is_array() ? d[k] : json::array(); };
  std::vector<json> rows;
  auto pct = [](double part, double total) {
    return total > 0 ? fmt::format(" ({:.0f}%)", part * 100 / total) : std::string();
  };
  {
    double total = 0, shared = 0, reclaim = 0;
    int active = 0;
    for (const auto& i : arr("Images")) {
      double size = i.value("Size", 0.0);
      total += size;
      shared += std::max(0.0, i.value("SharedSize", 0.0));
      if (i.value("Containers", int64_t{0}) > 0) active++;
      else reclaim += size - std::max(0.0, i.value("SharedSize", 0.0));
    }
    if (d.contains("LayersSize")) total = d.value("LayersSize", total);
    rows.push_back({{"Type", "Images"}, {"TotalCount", std::to_string(arr("Images").size())}, {"Active", std::to_string(active)},
                    {"Size", human_size(total)}, {"Reclaimable", human_size(reclaim) + pct(reclaim, total)}});
  }
  {
    double total = 0, reclaim = 0;
    int active = 0;
    for (const auto& c : arr("Containers")) {
      double size = c.value("SizeRw", 0.0);
      total += size;
      if (c.value("State", std::string()) == "running") active++;
      else reclaim += size;
    }
    rows.push_back({{"Type", "Containers"}, {"TotalCount", std::to_string(arr("Containers").size())},
                    {"Active", std::to_string(active)}, {"Size", human_size(total)},
                    {"Reclaimable", human_size(reclaim) + pct(reclaim, total)}});
  }
  {
    double total = 0, reclaim = 0;
    int active = 0;
    for (const auto& v : arr("Volumes")) {
      double size = v.contains("UsageData") ? std::max(0.0, v["UsageData"].value("Size", 0.0)) : 0;
      total += size;
      if (v.contains("UsageData") && v["UsageData"].value("RefCount", int64_t{0}) > 0) active++;
      else reclaim += size;
    }
    rows.push_back({{"Type", "Local Volumes"}, {"TotalCount", std::to_string(arr("Volumes").size())},
                    {"Active", std::to_string(active)}, {"Size", human_size(total)},
                    {"Reclaimable", human_size(reclaim) + pct(reclaim, total)}});
  }
  {
    double total = 0, reclaim = 0;
    int active = 0;
    for (const auto& b : arr("BuildCache")) {
      total += b.value("Size", 0.0);
      if (b.value("InUse", false)) active++;
      else reclaim += b.value("Size", 0.0);
    }
    rows.push_back({{"Type", "Build Cache"}, {"TotalCount", std::to_string(arr("BuildCache").size())},
                    {"Active", std::to_string(active)}, {"Size", human_size(total)}, {"Reclaimable", human_size(reclaim)}});
  }
  auto st = print_formatted(rows, format, "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
                            {{"Type", "TYPE"}, {"TotalCount", "TOTAL"}, {"Active", "ACTIVE"}, {"Size", "SIZE"},
                             {"Reclaimable", "RECLAIMABLE"}});
  if (!st) return report(st.error());
  if (verbose) {
    std::printf("\nImages space usage:\n\n");
    std::vector<std::string> lines = {"REPOSITORY\tTAG\tIMAGE ID\tSIZE\tCONTAINERS"};
    for (const auto& i : arr("Images")) {
      std::string tag = i.contains("RepoTags") && i["RepoTags"].is_array() && !i["RepoTags"].empty()
                            ? i["RepoTags"][0].get<std::string>() : "<none>:<none>";
      auto colon = tag.rfind(':');
      lines.push_back(tag.substr(0, colon) + "\t" + tag.substr(colon + 1) + "\t" + short_id(i.value("Id", std::string())) +
                      "\t" + human_size(i.value("Size", 0.0)) + "\t" + std::to_string(i.value("Containers", int64_t{0})));
    }
    std::fputs(api::client::tabulate(lines).c_str(), stdout);
    std::printf("\nContainers space usage:\n\n");
    lines = {"CONTAINER ID\tIMAGE\tSIZE\tSTATUS\tNAMES"};
    for (const auto& c : arr("Containers")) {
      std::string name = c.contains("Names") && c["Names"].is_array() && !c["Names"].empty() ? strip_slash(c["Names"][0].get<std::string>()) : "";
      lines.push_back(short_id(c.value("Id", std::string())) + "\t" + c.value("Image", std::string()) + "\t" +
                      human_size(c.value("SizeRw", 0.0)) + "\t" + c.value("Status", std::string()) + "\t" + name);
    }
    std::fputs(api::client::tabulate(lines).c_str(), stdout);
    std::printf("\nLocal Volumes space usage:\n\n");
    lines = {"VOLUME NAME\tLINKS\tSIZE"};
    for (const auto& v : arr("Volumes")) {
      const json& u = v.contains("UsageData") ? v["UsageData"] : json::object();
      lines.push_back(v.value("Name", std::string()) + "\t" + std::to_string(u.value("RefCount", int64_t{0})) + "\t" +
                      human_size(std::max(0.0, u.value("Size", 0.0))));
    }
    std::fputs(api::client::tabulate(lines).c_str(), stdout);
  }
  return 0;
}

int system_prune_main(int argc, char** argv) {
  Command cmd("berth system prune [OPTIONS]");
  bool force = false, all = false, volumes = false;
  std::vector<std::string> filters;
  cmd.flags.add_bool("f,force", &force, "do not prompt for confirmation");
  cmd.flags.add_bool("a,all", &all, "remove all unused images not just dangling ones");
  cmd.flags.add_bool("volumes", &volumes, "prune anonymous volumes");
  cmd.flags.add_list("filter", &filters, "provide filter values");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  if (!force &&
      !confirm(std::string(
                   ":\n  - all stopped containers\n  - all networks not used by at least one container\n") +
               (volumes ? "  - all anonymous volumes not used by at least one container\n" : "") +
               "  - all " + (all ? "images without at least one container associated to them" : "dangling") +
               " images\n"))
    return 0;
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto enc = [&](std::vector<std::string> extra) -> Result<Query> {
    std::vector<std::string> f = filters;
    f.insert(f.end(), extra.begin(), extra.end());
    auto s = BERTH_TRY(api::client::encode_filters(f));
    return s.empty() ? Query{} : Query{{"filters", s}};
  };
  double reclaimed = 0;
  auto q = enc({});
  if (!q) return report(q.error());
  auto c = (*api)->post("/containers/prune", *q);
  if (!c) return report(c.error());
  print_deleted("Deleted Containers", (*c)["ContainersDeleted"]);
  reclaimed += c->value("SpaceReclaimed", 0.0);
  if (volumes) {
    auto v = (*api)->post("/volumes/prune", *q);
    if (!v) return report(v.error());
    print_deleted("Deleted Volumes", (*v)["VolumesDeleted"]);
    reclaimed += v->value("SpaceReclaimed", 0.0);
  }
  auto n = (*api)->post("/networks/prune", *q);
  if (!n) return report(n.error());
  print_deleted("Deleted Networks", (*n)["NetworksDeleted"]);
  auto iq = enc({all ? "dangling=false" : "dangling=true"});
  if (!iq) return report(iq.error());
  auto i = (*api)->post("/images/prune", *iq);
  if (!i) return report(i.error());
  print_deleted("Deleted Images", (*i)["ImagesDeleted"]);
  reclaimed += i->value("SpaceReclaimed", 0.0);
  std::printf("Total reclaimed space: %s\n", human_size(reclaimed).c_str());
  return 0;
}

}  // namespace berth::cli
