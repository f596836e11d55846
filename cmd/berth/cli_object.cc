// berth volume create|ls|inspect|rm|prune and berth network create|ls|inspect|rm|connect|disconnect|prune.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "api/client/jsonmessage.h"
#include "cli_common.h"
#include "commands.h"

namespace berth::cli {
namespace {

json kv_map(const std::vector<std::string>& kvs) {
  json m = json::object();
  for (const auto& s : kvs) {
    auto eq = s.find('=');
    m[s.substr(0, eq)] = eq == std::string::npos ? "" : s.substr(eq + 1);
  }
  return m;
}

int inspect_objects(Command& cmd, const std::string& prefix, const std::string& format, const char* kind) {
  auto api = cmd.api();
  if (!api) return report(api.error());
  std::optional<api::client::Template> tmpl;
  if (!format.empty() && format != "json") {
    auto t = api::client::Template::parse(format);
    if (!t) return report(t.error());
    tmpl = std::move(*t);
  }
  json out = json::array();
  int failed = 0;
  for (const auto& n : cmd.args) {
    auto r = (*api)->get(prefix + n);
    if (!r) {
      if (r.error().code() == Errc::NotFound) std::fprintf(stderr, "Error: No such %s: %s\n", kind, n.c_str());
      else report(r.error());
      failed = 1;
      continue;
    }
    if (tmpl) {
      auto line = tmpl->render(*r);
      if (!line) return report(line.error());
      std::printf("%s\n", line->c_str());
    } else if (format == "json") {
      std::printf("%s\n", r->dump().c_str());
    } else {
      out.push_back(*r);
    }
  }
  if (!tmpl && format != "json") std::printf("%s\n", out.dump(4).c_str());
  return failed;
}

int volume_create(int argc, char** argv) {
  Command cmd("berth volume create [OPTIONS] [VOLUME]");
  std::string driver = "local", name;
  std::vector<std::string> labels, opts;
  cmd.flags.add_string("d,driver", &driver, "specify volume driver name");
  cmd.flags.add_string("name", &name, "specify volume name");
  cmd.flags.add_list("label", &labels, "set metadata for a volume");
  cmd.flags.add_list("o,opt", &opts, "set driver specific options");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 1)) return rc;
  if (cmd.args.size() == 1) {
    if (!name.empty() && name != cmd.args[0]) {
      std::fprintf(stderr, "berth volume create: conflicting options: either specify --name or provide positional arg, not both\n");
      return 125;
    }
    name = cmd.args[0];
  }
  auto api = cmd.api();
  if (!api) return report(api.error());
  json body = {{"Driver", driver}, {"Name", name}};
  if (!opts.empty()) body["DriverOpts"] = kv_map(opts);
  if (!labels.empty()) body["Labels"] = kv_map(labels);
  auto r = (*api)->post("/volumes/create", {}, Body::json(body));
  if (!r) return report(r.error());
  std::printf("%s\n", r->value("Name", std::string()).c_str());
  return 0;
}

int volume_ls(int argc, char** argv) {
  ListCommand cmd("berth volume ls [OPTIONS]", "only display volume names",
                  "provide filter values (e.g. 'dangling=true')");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  auto r = cmd.fetch("/volumes");
  if (!r) return report(r.error());
  std::vector<json> rows;
  if ((*r)["Volumes"].is_array())
    for (const auto& v : (*r)["Volumes"]) {
      json row = v;
      std::string labels;
      if (v.contains("Labels") && v["Labels"].is_object())
        for (auto it = v["Labels"].begin(); it != v["Labels"].end(); ++it)
          join_to(labels, ",", it.key() + "=" + it->get<std::string>());
      row["Labels"] = labels;
      rows.push_back(row);
    }
  std::sort(rows.begin(), rows.end(), [](const json& a, const json& b) { return a.value("Name", "") < b.value("Name", ""); });
  return cmd.print(rows, "{{.Name}}", "table {{.Driver}}\t{{.Name}}",
                   {{"Driver", "DRIVER"},
                    {"Name", "VOLUME NAME"},
                    {"Mountpoint", "MOUNTPOINT"},
                    {"Labels", "LABELS"},
                    {"Scope", "SCOPE"},
                    {"CreatedAt", "CREATED"}});
}

int volume_inspect(int argc, char** argv) {
  Command cmd("berth volume inspect [OPTIONS] VOLUME [VOLUME...]");
  std::string format;
  cmd.flags.add_string("f,format", &format, "format output using a template");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  return inspect_objects(cmd, "/volumes/", format, "volume");
}

int volume_rm(int argc, char** argv) {
  Command cmd("berth volume rm [OPTIONS] VOLUME [VOLUME...]");
  bool force = false;
  cmd.flags.add_bool("f,force", &force, "force the removal of one or more volumes");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  return for_each(cmd, [&](ApiClient& api, const std::string& v) -> Status {
    BERTH_TRY(api.call("DELETE", "/volumes/" + v, force ? Query{{"force", "1"}} : Query{}));
    return ok();
  });
}

int volume_prune(int argc, char** argv) {
  PruneCommand cmd("berth volume prune [OPTIONS]");
  bool all = false;
  cmd.flags.add_bool("a,all", &all, "remove all unused volumes, not just anonymous ones");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  if (all) cmd.filters.push_back("all=true");
  return cmd.run(" all local volumes not used by at least one container.", "/volumes/prune", "VolumesDeleted",
                 "Deleted Volumes");
}

int network_create(int argc, char** argv) {
  Command cmd("berth network create [OPTIONS] NETWORK");
  std::string driver = "bridge";
  bool internal = false, attachable = false, ipv6 = false;
  std::vector<std::string> labels, opts, subnets, gateways, ip_ranges;
  cmd.flags.add_string("d,driver", &driver, "driver to manage the network");
  cmd.flags.add_bool("internal", &internal, "restrict external access to the network");
  cmd.flags.add_bool("attachable", &attachable, "enable manual container attachment");
  cmd.flags.add_bool("ipv6", &ipv6, "enable IPv6 networking");
  cmd.flags.add_list("label", &labels, "set metadata on a network");
  cmd.flags.add_list("o,opt", &opts, "set driver specific options");
  cmd.flags.add_list("subnet", &subnets, "subnet in CIDR format");
  cmd.flags.add_list("gateway", &gateways, "IPv4 or IPv6 gateway for the master subnet");
  cmd.flags.add_list("ip-range", &ip_ranges, "allocate container ip from a sub-range");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1, 1)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  json cfg = json::array();
  for (size_t i = 0; i < subnets.size(); ++i) {
    json c = {{"Subnet", subnets[i]}};
    if (i < gateways.size()) c["Gateway"] = gateways[i];
    if (i < ip_ranges.size()) c["IPRange"] = ip_ranges[i];
    cfg.push_back(c);
  }
  json body = {{"Name", cmd.args[0]},
               {"Driver", driver},
               {"CheckDuplicate", true},
               {"EnableIPv6", ipv6},
               {"IPAM", {{"Driver", "default"}, {"Options", json::object()}, {"Config", cfg}}},
               {"Internal", internal},
               {"Attachable", attachable},
               {"Ingress", false},
               {"ConfigOnly", false},
               {"ConfigFrom", nullptr},
               {"Options", kv_map(opts)},
               {"Labels", kv_map(labels)},
               {"Scope", ""}};
  auto r = (*api)->post("/networks/create", {}, Body::json(body));
  if (!r) return report(r.error());
  if (r->contains("Warning") && !(*r)["Warning"].get<std::string>().empty())
    std::fprintf(stderr, "WARNING: %s\n", (*r)["Warning"].get<std::string>().c_str());
  std::printf("%s\n", r->value("Id", std::string()).c_str());
  return 0;
}

int network_ls(int argc, char** argv) {
  ListCommand cmd("berth network ls [OPTIONS]", "only display network IDs",
                  "provide filter values (e.g. 'driver=bridge')");
  bool no_trunc = false;
  cmd.flags.add_bool("no-trunc", &no_trunc, "do not truncate the output");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  auto r = cmd.fetch("/networks");
  if (!r) return report(r.error());
  std::vector<json> rows;
  for (const auto& n : *r) {
    json row = n;
    std::string id = n.value("Id", std::string());
    row["ID"] = no_trunc ? id : short_id(id);
    row["IPv6"] = n.value("EnableIPv6", false) ? "true" : "false";
    row["Internal"] = n.value("Internal", false) ? "true" : "false";
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end(), [](const json& a, const json& b) { return a.value("Name", "") < b.value("Name", ""); });
  return cmd.print(rows, "{{.ID}}", "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
                   {{"ID", "NETWORK ID"},
                    {"Name", "NAME"},
                    {"Driver", "DRIVER"},
                    {"Scope", "SCOPE"},
                    {"IPv6", "IPV6"},
                    {"Internal", "INTERNAL"},
                    {"Labels", "LABELS"},
                    {"Created", "CREATED AT"}});
}

int network_inspect(int argc, char** argv) {
  Command cmd("berth network inspect [OPTIONS] NETWORK [NETWORK...]");
  std::string format;
  cmd.flags.add_string("f,format", &format, "format output using a template");
  cmd.flags.add_ignored("v,verbose", true);
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  return inspect_objects(cmd, "/networks/", format, "network");
}

int network_rm(int argc, char** argv) {
  Command cmd("berth network rm NETWORK [NETWORK...]");
  bool force = false;
  cmd.flags.add_bool("f,force", &force, "do not error if the network does not exist");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  int failed = 0;
  for (const auto& n : cmd.args) {
    auto g = (*api)->get("/networks/" + n);  // docker looks the network up first
    Status st = g ? Status{} : Status{fail(g.error())};
    if (g) {
      auto r = (*api)->call("DELETE", "/networks/" + n);
      st = r ? Status{} : Status{fail(r.error())};
    }
    if (!st) {
      if (force && st.error().code() == Errc::NotFound) continue;
      report(st.error());
      failed = 1;
      continue;
    }
    std::printf("%s\n", n.c_str());
  }
  return failed;
}

int network_connect(int argc, char** argv) {
  Command cmd("berth network connect [OPTIONS] NETWORK CONTAINER");
  std::vector<std::string> aliases;
  std::string ip;
  cmd.flags.add_list("alias", &aliases, "add network-scoped alias for the container");
  cmd.flags.add_string("ip", &ip, "IPv4 address");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 2, 2)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  json ep = json::object();
  if (!aliases.empty()) ep["Aliases"] = aliases;
  if (!ip.empty()) ep["IPAMConfig"] = {{"IPv4Address", ip}};
  auto r = (*api)->post("/networks/" + cmd.args[0] + "/connect", {},
                        Body::json({{"Container", cmd.args[1]}, {"EndpointConfig", ep}}));
  if (!r) return report(r.error());
  return 0;
}

int network_disconnect(int argc, char** argv) {
  Command cmd("berth network disconnect [OPTIONS] NETWORK CONTAINER");
  bool force = false;
  cmd.flags.add_bool("f,force", &force, "force the container to disconnect from a network");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 2, 2)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto r = (*api)->post("/networks/" + cmd.args[0] + "/disconnect", {},
                        Body::json({{"Container", cmd.args[1]}, {"Force", force}}));
  if (!r) return report(r.error());
  return 0;
}

int network_prune(int argc, char** argv) {
  PruneCommand cmd("berth network prune [OPTIONS]");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  return cmd.run(" all custom networks not used by at least one container.", "/networks/prune",
                 "NetworksDeleted", "Deleted Networks");
}

struct Sub {
  const char* name;
  int (*run)(int, char**);
};

int dispatch(const char* group, const Sub* subs, size_t n, int argc, char** argv) {
  if (argc >= 2) {
    for (size_t i = 0; i < n; ++i)
      if (!std::strcmp(argv[1], subs[i].name)) return subs[i].run(argc - 1, argv + 1);
  }
  FILE* out = argc >= 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) ? stdout : stderr;
  std::fprintf(out, "Usage:  berth %s COMMAND\n\nCommands:\n", group);
  for (size_t i = 0; i < n; ++i) std::fprintf(out, "  %s\n", subs[i].name);
  return out == stdout ? 0 : 125;
}

}  // namespace

int volume_main(int argc, char** argv) {
  static const Sub subs[] = {{"create", volume_create}, {"ls", volume_ls},   {"list", volume_ls},
                             {"inspect", volume_inspect}, {"rm", volume_rm}, {"remove", volume_rm},
                             {"prune", volume_prune}};
  return dispatch("volume", subs, std::size(subs), argc, argv);
}

int network_main(int argc, char** argv) {
  static const Sub subs[] = {{"create", network_create},   {"ls", network_ls},         {"list", network_ls},
                             {"inspect", network_inspect}, {"rm", network_rm},         {"remove", network_rm},
                             {"connect", network_connect}, {"disconnect", network_disconnect},
                             {"prune", network_prune}};
  return dispatch("network", subs, std::size(subs), argc, argv);
}

int container_main(int argc, char** argv) {
  static const Sub subs[] = {
      {"run", run_main},       {"create", create_main},   {"start", start_main},   {"attach", attach_main},
      {"exec", exec_main},     {"ls", ps_main},           {"list", ps_main},       {"ps", ps_main},
      {"logs", logs_main},     {"inspect", inspect_main}, {"stop", stop_main},     {"restart", restart_main},
      {"kill", kill_main},     {"rm", rm_main},           {"remove", rm_main},     {"wait", wait_main},
      {"top", top_main},       {"rename", rename_main},   {"port", port_main},     {"pause", pause_main},
      {"unpause", unpause_main}, {"diff", diff_main},     {"export", export_main}, {"stats", stats_main},
      {"cp", cp_main},         {"prune", container_prune_main}};
  return dispatch("container", subs, std::size(subs), argc, argv);
}

int system_main(int argc, char** argv) {
  static const Sub subs[] = {{"df", system_df_main}, {"prune", system_prune_main}, {"info", info_main},
                             {"events", events_main}};
  return dispatch("system", subs, std::size(subs), argc, argv);
}

}  // namespace berth::cli
