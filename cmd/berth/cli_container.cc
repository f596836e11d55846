// berth ps / logs / inspect / stop / restart / kill / rm / wait / top / rename / port / pause / unpause / diff /
// export / container prune / stats: container commands that do not attach.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "api/client/engine_api.h"
#include "api/client/jsonmessage.h"
#include "api/client/stdcopy.h"
#include "cli_common.h"
#include "commands.h"

namespace berth::cli {
namespace {

using api::client::human_size;

std::string format_ports(const json& ports) {
  std::vector<std::string> out;
  if (!ports.is_array()) return "";
  for (const auto& p : ports) {
    std::string proto = p.value("Type", std::string("tcp"));
    int priv = p.value("PrivatePort", 0);
    if (p.contains("PublicPort") && p.value("PublicPort", 0) != 0) {
      std::string ip = p.value("IP", std::string());
      if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
      out.push_back(fmt::format("{}{}{}->{}/{}", ip, ip.empty() ? "" : ":", p.value("PublicPort", 0), priv, proto));
    } else {
      out.push_back(fmt::format("{}/{}", priv, proto));
    }
  }
  std::string s;
  for (size_t i = 0; i < out.size(); ++i) s += (i ? ", " : "") + out[i];
  return s;
}

std::string created_at(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
  return buf;
}

// The fields docker's container formatter offers (ID, Image, Command, CreatedAt, RunningFor, Ports, State,
// Status, Size, Names, Labels, Mounts, Networks).
json container_row(const json& c, bool trunc) {
  json r;
  std::string id = c.value("Id", std::string());
  r["ID"] = trunc ? short_id(id) : id;
  std::string image = c.value("Image", std::string());
  if (trunc && image.starts_with("sha256:")) image = short_id(image);
  r["Image"] = image;
  std::string command = c.value("Command", std::string());
  if (trunc && command.size() > 20) command = command.substr(0, 19) + "…";
  r["Command"] = "\"" + command + "\"";
  int64_t created = c.value("Created", int64_t{0});
  r["CreatedAt"] = created_at(created);
  r["RunningFor"] = ago(created);
  r["Ports"] = format_ports(c.contains("Ports") ? c["Ports"] : json());
  r["State"] = c.value("State", std::string());
  r["Status"] = c.value("Status", std::string());
  std::string size;
  if (c.contains("SizeRw") || c.contains("SizeRootFs")) {
    size = human_size(c.value("SizeRw", 0.0), 3);
    if (c.contains("SizeRootFs")) size += " (virtual " + human_size(c.value("SizeRootFs", 0.0), 3) + ")";
  }
  r["Size"] = size;
  std::string names;
  if (c.contains("Names") && c["Names"].is_array()) {
    for (const auto& n : c["Names"]) {
      std::string s = strip_slash(n.get<std::string>());
      if (s.find('/') != std::string::npos) continue;  // legacy link names
      join_to(names, ",", s);
    }
  }
  r["Names"] = names;
  std::string labels;
  if (c.contains("Labels") && c["Labels"].is_object())
    for (auto it = c["Labels"].begin(); it != c["Labels"].end(); ++it)
      join_to(labels, ",", it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump()));
  r["Labels"] = labels;
  std::string mounts;
  if (c.contains("Mounts") && c["Mounts"].is_array())
    for (const auto& m : c["Mounts"]) {
      std::string n = m.value("Name", std::string());
      if (n.empty()) n = m.value("Source", std::string());
      if (trunc && n.size() > 15) n = n.substr(0, 15) + "…";
      join_to(mounts, ",", n);
    }
  r["Mounts"] = mounts;
  std::string nets;
  if (c.contains("NetworkSettings") && c["NetworkSettings"].contains("Networks") && c["NetworkSettings"]["Networks"].is_object())
    for (auto it = c["NetworkSettings"]["Networks"].begin(); it != c["NetworkSettings"]["Networks"].end(); ++it)
      join_to(nets, ",", it.key());
  r["Networks"] = nets;
  r["LocalVolumes"] = std::to_string(c.contains("Mounts") && c["Mounts"].is_array() ? c["Mounts"].size() : 0);
  return r;
}

const std::vector<std::pair<std::string, std::string>> kContainerHeaders = {
    {"ID", "CONTAINER ID"}, {"Image", "IMAGE"}, {"Command", "COMMAND"}, {"CreatedAt", "CREATED AT"},
    {"RunningFor", "CREATED"}, {"Ports", "PORTS"}, {"State", "STATE"}, {"Status", "STATUS"}, {"Size", "SIZE"},
    {"Names", "NAMES"}, {"Labels", "LABELS"}, {"Mounts", "MOUNTS"}, {"Networks", "NETWORKS"},
    {"LocalVolumes", "LOCAL VOLUMES"}};

void print_json_indented(const json& j) {
  std::string s = j.dump(4);
  std::printf("%s\n", s.c_str());
}

}  // namespace

int ps_main(int argc, char** argv) {
  Command cmd("berth ps [OPTIONS]");
  bool all = false, quiet = false, no_trunc = false, size = false, latest = false;
  int64_t last = -1;
  std::vector<std::string> filters;
  std::string format;
  cmd.flags.add_bool("a,all", &all, "show all containers (default shows just running)");
  cmd.flags.add_bool("q,quiet", &quiet, "only display container IDs");
  cmd.flags.add_bool("no-trunc", &no_trunc, "don't truncate output");
  cmd.flags.add_bool("s,size", &size, "display total file sizes");
  cmd.flags.add_bool("l,latest", &latest, "show the latest created container (includes all states)");
  cmd.flags.add_int("n,last", &last, "show n last created containers (includes all states)");
  cmd.flags.add_list("f,filter", &filters, "filter output based on conditions provided");
  cmd.flags.add_string("format", &format, "format output using a template ('table', 'json' or a Go template)");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto list = api::client::container_list(**api, all || latest || last > 0, filters,
                                          latest ? 1 : static_cast<int>(last),
                                          size || format.find(".Size") != std::string::npos);
  if (!list) return report(list.error());
  std::vector<json> rows;
  for (const auto& c : *list) rows.push_back(container_row(c, !no_trunc));
  std::string def = quiet ? "{{.ID}}"
                    : size ? "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
                           : "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
  auto st = print_formatted(rows, quiet ? "{{.ID}}" : format, def, kContainerHeaders);
  if (!st) return report(st.error());
  return 0;
}

int logs_main(int argc, char** argv) {
  Command cmd("berth logs [OPTIONS] CONTAINER");
  bool follow = false, timestamps = false, details = false;
  std::string since, until, tail = "all";
  cmd.flags.add_bool("f,follow", &follow, "follow log output");
  cmd.flags.add_bool("t,timestamps", &timestamps, "show timestamps");
  cmd.flags.add_bool("details", &details, "show extra details provided to logs");
  cmd.flags.add_string("since", &since, "show logs since timestamp or relative (e.g. 42m)");
  cmd.flags.add_string("until", &until, "show logs before a timestamp or relative (e.g. 42m)");
  cmd.flags.add_string("n,tail", &tail, "number of lines to show from the end of the logs");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1, 1)) return rc;
  ::signal(SIGPIPE, SIG_IGN);
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto info = api::client::container_inspect(**api, cmd.args[0]);
  if (!info) return report(info.error());
  std::string id = info->value("Id", cmd.args[0]);
  bool tty = (*info)["Config"].value("Tty", false);
  api::client::LogsOptions lo;
  lo.details = details;
  lo.follow = follow;
  lo.timestamps = timestamps;
  lo.tail = tail;
  if (!since.empty()) {
    auto s = timestamp_param(since);
    if (!s) return report(s.error());
    lo.since = *s;
  }
  if (!until.empty()) {
    auto u = timestamp_param(until);
    if (!u) return report(u.error());
    lo.until = *u;
  }
  auto s = api::client::container_logs(**api, id, lo);
  if (!s) return report(s.error());
  api::client::StdcopyDemux demux([](int stream, std::string_view p) -> Status {
    return api::client::write_all_fd(stream == 2 ? 2 : 1, p);
  });
  for (;;) {
    auto piece = (*s)->next();
    if (!piece) return report(piece.error());
    if (piece->empty()) break;
    Status st = tty ? api::client::write_all_fd(1, *piece) : demux.feed(*piece);
    if (!st) return report(st.error());
  }
  return 0;
}

int inspect_main(int argc, char** argv) {
  Command cmd("berth inspect [OPTIONS] NAME|ID [NAME|ID...]");
  std::string format, type;
  bool size = false;
  cmd.flags.add_string("f,format", &format, "format output using a Go template ('json' or a template)");
  cmd.flags.add_string("type", &type, "only inspect objects of the given type (container, image, volume, network)");
  cmd.flags.add_bool("s,size", &size, "display total file sizes if the type is container");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  std::optional<api::client::Template> tmpl;
  if (!format.empty() && format != "json") {
    auto t = api::client::Template::parse(format);
    if (!t) return report(t.error());
    tmpl = std::move(*t);
  }
  struct Kind {
    const char* name;
    std::string (*path)(const std::string&);
  };
  static const Kind kinds[] = {
      {"container", [](const std::string& n) { return "/containers/" + n + "/json"; }},
      {"image", [](const std::string& n) { return "/images/" + n + "/json"; }},
      {"network", [](const std::string& n) { return "/networks/" + n; }},
      {"volume", [](const std::string& n) { return "/volumes/" + n; }},
  };
  if (!type.empty() && type != "container" && type != "image" && type != "network" && type != "volume") {
    std::fprintf(stderr, "berth inspect: \"%s\" is not a valid value for --type\n", type.c_str());
    return 125;
  }
  json out = json::array();
  int failed = 0;
  for (const auto& n : cmd.args) {
    std::optional<json> found;
    bool other_error = false;
    for (const auto& k : kinds) {
      if (!type.empty() && type != k.name) continue;
      Query q;
      if (size && std::string(k.name) == "container") q.emplace_back("size", "1");
      auto r = (*api)->get(k.path(n), q);
      if (r) {
        found = *r;
        break;
      }
      if (r.error().code() != Errc::NotFound) {
        report(r.error());
        other_error = true;
        break;
      }
    }
    if (!found) {
      if (!other_error)
        std::fprintf(stderr, "Error: No such %s: %s\n", type.empty() ? "object" : type.c_str(), n.c_str());
      failed = 1;
      continue;
    }
    if (tmpl) {
      auto line = tmpl->render(*found);
      if (!line) {
        std::fprintf(stderr, "template parsing error: %s\n", line.error().message().c_str());
        return 1;
      }
      std::printf("%s\n", line->c_str());
    } else if (format == "json") {
      std::printf("%s\n", found->dump().c_str());
    } else {
      out.push_back(*found);
    }
  }
  if (!tmpl && format != "json") print_json_indented(out);
  return failed;
}

namespace {

// stop and restart: the same flags (-t seconds before SIGKILL, -s signal), one call per container.
int stop_like(int argc, char** argv, const char* usage,
              Status (*op)(ApiClient&, const std::string&, int, const std::string&)) {
  Command cmd(usage);
  int64_t t = -1;
  std::string sig;
  cmd.flags.add_int("t,time", &t, "seconds to wait before killing the container");
  cmd.flags.add_string("s,signal", &sig, "signal to send to the container");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  return for_each(cmd,
                  [&](ApiClient& api, const std::string& c) { return op(api, c, static_cast<int>(t), sig); });
}

}  // namespace

int stop_main(int argc, char** argv) {
  return stop_like(argc, argv, "berth stop [OPTIONS] CONTAINER [CONTAINER...]", api::client::container_stop);
}

int restart_main(int argc, char** argv) {
  return stop_like(argc, argv, "berth restart [OPTIONS] CONTAINER [CONTAINER...]",
                   api::client::container_restart);
}

int kill_main(int argc, char** argv) {
  Command cmd("berth kill [OPTIONS] CONTAINER [CONTAINER...]");
  std::string sig;
  cmd.flags.add_string("s,signal", &sig, "signal to send to the container");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  return for_each(cmd, [&](ApiClient& api, const std::string& c) -> Status {
    return api::client::container_kill(api, c, sig);
  });
}

int rm_main(int argc, char** argv) {
  Command cmd("berth rm [OPTIONS] CONTAINER [CONTAINER...]");
  bool force = false, volumes = false, link = false;
  cmd.flags.add_bool("f,force", &force, "force the removal of a running container (uses SIGKILL)");
  cmd.flags.add_bool("v,volumes", &volumes, "remove anonymous volumes associated with the container");
  cmd.flags.add_bool("l,link", &link, "remove the specified link");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  return for_each(cmd, [&](ApiClient& api, const std::string& c) -> Status {
    Query q;
    if (force) q.emplace_back("force", "1");
    if (link) q.emplace_back("link", "1");
    if (volumes) q.emplace_back("v", "1");
    BERTH_TRY(api.call("DELETE", "/containers/" + c, q));
    return ok();
  });
}

int wait_main(int argc, char** argv) {
  Command cmd("berth wait CONTAINER [CONTAINER...]");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  return for_each(
      cmd,
      [&](ApiClient& api, const std::string& c) -> Status {
        auto r = BERTH_TRY(api.post("/containers/" + c + "/wait"));
        if (r.contains("Error") && r["Error"].is_object() && !r["Error"].value("Message", std::string()).empty())
          return fail(Errc::Internal, "{}", r["Error"].value("Message", std::string()));
        std::printf("%d\n", r.value("StatusCode", 0));
        return ok();
      },
      false);
}

int pause_main(int argc, char** argv) {
  Command cmd("berth pause CONTAINER [CONTAINER...]");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  return for_each(cmd, [&](ApiClient& api, const std::string& c) -> Status { return api::client::container_pause(api, c); });
}

int unpause_main(int argc, char** argv) {
  Command cmd("berth unpause CONTAINER [CONTAINER...]");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  return for_each(cmd, [&](ApiClient& api, const std::string& c) -> Status { return api::client::container_unpause(api, c); });
}

int rename_main(int argc, char** argv) {
  Command cmd("berth rename CONTAINER NEW_NAME");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 2, 2)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto r = api::client::container_rename(**api, cmd.args[0], cmd.args[1]);
  if (!r) return report(r.error());
  return 0;
}

int top_main(int argc, char** argv) {
  Command cmd("berth top CONTAINER [ps OPTIONS]");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, false, 1)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  Query q;
  if (cmd.args.size() > 1) {
    std::string a;
    for (size_t i = 1; i < cmd.args.size(); ++i) {
      if (i > 1) a += ' ';
      a.append(cmd.args[i]);
    }
    q.emplace_back("ps_args", a);
  }
  auto r = (*api)->get("/containers/" + cmd.args[0] + "/top", q);
  if (!r) return report(r.error());
  std::vector<std::string> lines;
  std::string head;
  for (const auto& t : (*r)["Titles"]) join_to(head, "\t", t.get<std::string>());
  lines.push_back(head);
  for (const auto& p : (*r)["Processes"]) {
    std::string l;
    for (const auto& c : p) join_to(l, "\t", (c.is_string() ? c.get<std::string>() : c.dump()));
    lines.push_back(l);
  }
  std::fputs(api::client::tabulate(lines).c_str(), stdout);
  return 0;
}

int port_main(int argc, char** argv) {
  Command cmd("berth port CONTAINER [PRIVATE_PORT[/PROTO]]");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1, 2)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto r = (*api)->get("/containers/" + cmd.args[0] + "/json");
  if (!r) return report(r.error());
  const json& ports = (*r)["NetworkSettings"]["Ports"];
  std::string want;
  if (cmd.args.size() == 2) want = cmd.args[1].find('/') == std::string::npos ? cmd.args[1] + "/tcp" : cmd.args[1];
  bool any = false;
  if (ports.is_object()) {
    for (auto it = ports.begin(); it != ports.end(); ++it) {
      if (!want.empty() && it.key() != want) continue;
      if (!it->is_array()) continue;
      for (const auto& b : *it) {
        std::string ip = b.value("HostIp", std::string());
        if (ip.empty()) ip = "0.0.0.0";
        if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
        if (want.empty()) std::printf("%s -> %s:%s\n", it.key().c_str(), ip.c_str(), b.value("HostPort", std::string()).c_str());
        else std::printf("%s:%s\n", ip.c_str(), b.value("HostPort", std::string()).c_str());
        any = true;
      }
    }
  }
  if (!want.empty() && !any) {
    std::fprintf(stderr, "Error: No public port '%s' published for %s\n", want.c_str(), cmd.args[0].c_str());
    return 1;
  }
  return 0;
}

int diff_main(int argc, char** argv) {
  Command cmd("berth diff CONTAINER");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1, 1)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto r = api::client::container_changes(**api, cmd.args[0]);
  if (!r) return report(r.error());
  if (r->is_array())
    for (const auto& c : *r) {
      int k = c.value("Kind", 0);
      std::printf("%c %s\n", k == 0 ? 'C' : k == 1 ? 'A' : 'D', c.value("Path", std::string()).c_str());
    }
  return 0;
}

int export_main(int argc, char** argv) {
  Command cmd("berth export [OPTIONS] CONTAINER");
  std::string output;
  cmd.flags.add_string("o,output", &output, "write to a file, instead of STDOUT");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1, 1)) return rc;
  if (output.empty() && is_tty(1)) {
    std::fprintf(stderr, "berth export: refusing to write to a terminal (use -o or redirect)\n");
    return 1;
  }
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto s = (*api)->stream("GET", "/containers/" + cmd.args[0] + "/export");
  if (!s) return report(s.error());
  int fd = 1;
  if (!output.empty()) fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return report(Error::from_errno(errno, "open " + output));
  for (;;) {
    auto p = (*s)->next();
    if (!p) return report(p.error());
    if (p->empty()) break;
    if (auto st = api::client::write_all_fd(fd, *p); !st) return report(st.error());
  }
  if (fd != 1 && ::close(fd) != 0) return report(Error::from_errno(errno, "close " + output));
  return 0;
}

int container_prune_main(int argc, char** argv) {
  PruneCommand cmd("berth container prune [OPTIONS]", "provide filter values (e.g. 'until=<timestamp>')");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  return cmd.run(" all stopped containers.", "/containers/prune", "ContainersDeleted", "Deleted Containers");
}

// ---- stats ---------------------------------------------------------------------------------------------------
namespace {

// s[key] when it is an object, else an empty object (a first streamed sample has no precpu_stats).
const json& member(const json& s, const char* key) {
  static const json empty = json::object();
  auto it = s.find(key);
  return it != s.end() && it->is_object() ? *it : empty;
}

json stats_row(const std::string& name, const json& s) {
  json r;
  std::string id = s.value("id", std::string());
  r["ID"] = short_id(id);
  r["Container"] = name;
  r["Name"] = strip_slash(s.value("name", name));
  double cpu = 0;
  const json& cs = member(s, "cpu_stats");
  const json& ps = member(s, "precpu_stats");
  if (!cs.empty() && !ps.empty()) {
    double cpu_delta =
        member(cs, "cpu_usage").value("total_usage", 0.0) - member(ps, "cpu_usage").value("total_usage", 0.0);
    double sys_delta = cs.value("system_cpu_usage", 0.0) - ps.value("system_cpu_usage", 0.0);
    double online = cs.value("online_cpus", 0.0);
    const json& cu = member(cs, "cpu_usage");
    if (online == 0 && cu.contains("percpu_usage") && cu["percpu_usage"].is_array())
      online = static_cast<double>(cu["percpu_usage"].size());
    if (online == 0) online = 1;
    if (sys_delta > 0 && cpu_delta > 0) cpu = cpu_delta / sys_delta * online * 100.0;
  }
  r["CPUPerc"] = fmt::format("{:.2f}%", cpu);
  const json& ms = member(s, "memory_stats");
  double usage = ms.is_object() ? ms.value("usage", 0.0) : 0;
  const json& mst = member(ms, "stats");
  double inactive = mst.value("total_inactive_file", mst.value("inactive_file", 0.0));
  if (inactive < usage) usage -= inactive;
  double limit = ms.is_object() ? ms.value("limit", 0.0) : 0;
  auto bin = [](double b) {
    const char* u[] = {"B",   "KiB", "MiB", "GiB", "TiB",
                       "PiB", "EiB", "ZiB", "YiB"};  // docker's units.BytesSize
    int i = 0;
    while (b >= 1024 && i < 8) {
      b /= 1024;
      i++;
    }
    return fmt::format("{:.4g}{}", b, u[i]);
  };
  r["MemUsage"] = bin(usage) + " / " + bin(limit);
  r["MemPerc"] = fmt::format("{:.2f}%", limit > 0 ? usage / limit * 100 : 0.0);
  double rx = 0, tx = 0;
  for (const auto& n : member(s, "networks")) {
    if (!n.is_object()) continue;
    rx += n.value("rx_bytes", 0.0);
    tx += n.value("tx_bytes", 0.0);
  }
  r["NetIO"] = human_size(rx) + " / " + human_size(tx);
  double rd = 0, wr = 0;
  auto io = member(s, "blkio_stats").find("io_service_bytes_recursive");
  if (io != member(s, "blkio_stats").end() && io->is_array())
    for (const auto& e : *io) {
      if (!e.is_object()) continue;
      std::string op = e.value("op", std::string());
      if (op == "Read" || op == "read") rd += e.value("value", 0.0);
      if (op == "Write" || op == "write") wr += e.value("value", 0.0);
    }
  r["BlockIO"] = human_size(rd) + " / " + human_size(wr);
  r["PIDs"] = std::to_string(member(s, "pids_stats").value("current", 0));
  return r;
}

}  // namespace

namespace {

// One container's stats stream (GET /containers/{id}/stats?stream=1 on a connection and thread of its own, as
// the docker CLI does): the latest sample, or the error that ended the stream. Shared with the thread, which
// outlives nothing but may outlive the command (it is detached; the process exit ends it).
struct StatsFeed {
  explicit StatsFeed(std::string t) : target(std::move(t)) {}
  const std::string target;
  std::mutex mu;
  std::optional<json> latest;
  std::optional<Error> error;
  bool done = false;
};

void follow_stats(const std::string& host, const std::shared_ptr<StatsFeed>& f) {
  auto finish = [&](std::optional<Error> e) {
    std::lock_guard lk(f->mu);
    f->error = std::move(e);
    f->done = true;
  };
  auto api = ApiClient::connect(host, tls_from_env());
  if (!api) return finish(api.error());
  auto s = (*api)->stream("GET", "/containers/" + f->target + "/stats", {{"stream", "1"}});
  if (!s) return finish(s.error());
  std::string buf;
  for (;;) {
    auto chunk = (*s)->next();
    if (!chunk) return finish(chunk.error());
    if (chunk->empty()) return finish(std::nullopt);
    buf.append(*chunk);
    for (size_t nl; (nl = buf.find('\n')) != std::string::npos; buf.erase(0, nl + 1)) {
      auto j = json::parse(std::string_view(buf).substr(0, nl), nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;
      std::lock_guard lk(f->mu);
      f->latest = std::move(j);
    }
  }
}

std::shared_ptr<StatsFeed> start_feed(const std::string& host, const std::string& target) {
  auto f = std::make_shared<StatsFeed>(target);
  std::thread([host, f] { follow_stats(host, f); }).detach();
  return f;
}

// Redraws `text` over the previous frame on a terminal: cursor home, each line cleared to its end, and the
// rest of the screen cleared (fewer containers than before), all in one write so the table does not flicker.
void redraw(const std::string& text) {
  std::string frame = "\x1b[H";
  size_t p = 0;
  while (p < text.size()) {
    size_t e = text.find('\n', p);
    if (e == std::string::npos) e = text.size();
    frame.append(text, p, e - p);
    frame += "\x1b[K\n";
    p = e + 1;
  }
  frame += "\x1b[J";
  std::fwrite(frame.data(), 1, frame.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

int stats_main(int argc, char** argv) {
  Command cmd("berth stats [OPTIONS] [CONTAINER...]");
  bool all = false, no_stream = false, no_trunc = false;
  std::string format;
  cmd.flags.add_bool("a,all", &all, "show all containers (default shows just running)");
  cmd.flags.add_bool("no-stream", &no_stream, "disable streaming stats and only pull the first result");
  cmd.flags.add_bool("no-trunc", &no_trunc, "do not truncate output");
  cmd.flags.add_string("format", &format, "format output using a template");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true)) return rc;
  ::signal(SIGPIPE, SIG_IGN);
  auto api = cmd.api();
  if (!api) return report(api.error());
  const std::vector<std::string>& names = cmd.args;
  const std::string def =
      "table "
      "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
  const std::vector<std::pair<std::string, std::string>> headers = {{"ID", "CONTAINER ID"},
                                                                    {"Name", "NAME"},
                                                                    {"Container", "CONTAINER"},
                                                                    {"CPUPerc", "CPU %"},
                                                                    {"MemUsage", "MEM USAGE / LIMIT"},
                                                                    {"MemPerc", "MEM %"},
                                                                    {"NetIO", "NET I/O"},
                                                                    {"BlockIO", "BLOCK I/O"},
                                                                    {"PIDs", "PIDS"}};
  auto list_targets = [&]() -> Result<std::vector<std::string>> {
    if (!names.empty()) return names;
    auto list = BERTH_TRY((*api)->get("/containers/json", all ? Query{{"all", "1"}} : Query{}));
    std::vector<std::string> out;
    for (const auto& c : list) out.push_back(short_id(c.value("Id", std::string())));
    return out;
  };

  if (no_stream) {  // one sample each (the daemon takes two to compute the CPU share)
    auto targets = list_targets();
    if (!targets) return report(targets.error());
    std::vector<json> rows;
    int failed = 0;
    for (const auto& t : *targets) {
      auto s = api::client::container_stats_once(**api, t);
      if (!s) {
        report(s.error());
        failed = 1;
        continue;
      }
      rows.push_back(stats_row(t, *s));
    }
    auto st = print_formatted(rows, format, def, headers);
    if (!st) return report(st.error());
    return failed;
  }

  // Streaming: one feed per container; the table is redrawn from the latest samples every half second.
  bool tty = is_tty(1);
  std::vector<std::shared_ptr<StatsFeed>> feeds;
  auto ready = [](const std::shared_ptr<StatsFeed>& f) {
    std::lock_guard lk(f->mu);
    return f->latest.has_value() || f->done;
  };
  if (tty) std::fputs("\x1b[2J", stdout);
  for (bool first = true;; first = false) {
    if (first || names.empty()) {  // all containers: follow the ones that come and go
      auto targets = list_targets();
      if (!targets) return report(targets.error());
      std::vector<std::shared_ptr<StatsFeed>> next;
      for (const auto& t : *targets) {
        auto it = std::find_if(feeds.begin(), feeds.end(), [&](const auto& f) { return f->target == t; });
        next.push_back(it != feeds.end() ? *it : start_feed(cmd.host, t));
      }
      feeds = std::move(next);
    }
    if (first)  // the first frame waits for every container's first sample (or its error)
      while (!std::all_of(feeds.begin(), feeds.end(), ready))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::vector<json> rows;
    for (const auto& f : feeds) {
      std::lock_guard lk(f->mu);
      if (f->error && !f->latest && !names.empty()) {  // a named container that cannot be followed
        if (tty) std::fputs("\x1b[2J\x1b[H", stdout);
        return report(*f->error);
      }
      if (f->latest) rows.push_back(stats_row(f->target, *f->latest));
    }
    auto text = format_items(rows, format, def, headers);
    if (!text) return report(text.error());
    if (tty) {
      redraw(*text);
    } else {
      std::fputs(text->c_str(), stdout);
      if (std::fflush(stdout) != 0) return 1;  // the reader went away
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace berth::cli
