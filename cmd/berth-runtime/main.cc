// berth-runtime: OCI runtime with runc's command line. Argument parsing and output formatting only; every
// operation is one call into src/runtime.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/log.h"
#include "flags.h"
#include "oci/runtime_spec.h"
#include "runtime/container.h"
#include "runtime/exe_guard.h"
#include "runtime/features.h"
#include "runtime/signals.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.1.0"
#endif

namespace berth {
namespace {

using cli::FlagDef;
using cli::Parsed;
using nlohmann::json;

const std::vector<FlagDef> kGlobalFlags = {
    {{"root"}, true},         {{"log"}, true},      {{"log-format"}, true}, {{"debug"}, false},
    {{"systemd-cgroup"}, false}, {{"criu"}, true},  {{"rootless"}, true},   {{"version", "v"}, false},
    {{"help", "h"}, false},
};

const std::vector<FlagDef> kCreateFlags = {
    {{"bundle", "b"}, true},   {{"console-socket"}, true}, {{"pid-file"}, true},
    {{"no-pivot"}, false},     {{"no-new-keyring"}, false}, {{"preserve-fds"}, true},
    {{"detach", "d"}, false},  {{"keep"}, false},          {{"no-subreaper"}, false},
};

const char* kUsage =
    "usage: berth-runtime [global options] command [command options] [arguments...]\n\n"
    "commands: create start run exec state kill delete list ps pause resume update events spec features\n"
    "global options: --root DIR --log FILE --log-format text|json --debug --systemd-cgroup --version\n";

int g_log_fd = -1;

int report(const Error& e) {
  // One clear line on stderr; the same line in the log file (containerd's shim reads it on failure).
  if (g_log_fd >= 0) log::error("{}", e.message());
  fprintf(stderr, "berth-runtime: %s\n", e.message().c_str());
  return 1;
}

Result<int> to_int(const std::string& s, const char* what) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return fail(Errc::InvalidArgument, "invalid value `{}` for {}", s, what);
  return v;
}

Result<int64_t> to_i64(const std::string& s, const char* what) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return fail(Errc::InvalidArgument, "invalid value `{}` for {}", s, what);
  return v;
}

// "512m", "1g", "1024" -> bytes (docker/runc's units, base 1024); "-1" for unlimited.
Result<int64_t> to_bytes(const std::string& s, const char* what) {
  if (s == "-1") return -1;
  if (s.empty()) return fail(Errc::InvalidArgument, "empty value for {}", what);
  int64_t mult = 1;
  std::string num = s;
  char last = static_cast<char>(std::tolower(static_cast<unsigned char>(num.back())));
  if (last == 'b' && num.size() > 1) {
    num.pop_back();
    last = static_cast<char>(std::tolower(static_cast<unsigned char>(num.back())));
  }
  if (last == 'k') mult = 1LL << 10;
  if (last == 'm') mult = 1LL << 20;
  if (last == 'g') mult = 1LL << 30;
  if (last == 't') mult = 1LL << 40;
  if (mult != 1) num.pop_back();
  int64_t v = BERTH_TRY(to_i64(num, what));
  return v * mult;
}

Result<runtime::CreateOptions> create_options(const Parsed& p, const char* cmd) {
  if (p.positional.size() != 1)
    return fail(Errc::InvalidArgument, "{}: exactly one container id expected, got {}", cmd, p.positional.size());
  runtime::CreateOptions o;
  o.id = p.positional[0];
  o.bundle = p.get("bundle");
  o.console_socket = p.get("console-socket");
  o.pid_file = p.get("pid-file");
  o.no_pivot = p.flag("no-pivot");
  o.no_new_keyring = p.flag("no-new-keyring");
  if (p.has("preserve-fds")) o.preserve_fds = BERTH_TRY(to_int(p.get("preserve-fds"), "--preserve-fds"));
  return o;
}

Result<std::string> one_id(const Parsed& p, const char* cmd) {
  if (p.positional.size() != 1)
    return fail(Errc::InvalidArgument, "{}: exactly one container id expected, got {}", cmd, p.positional.size());
  return p.positional[0];
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (w.size() <= i) w.push_back(0);
      w[i] = std::max(w[i], r[i].size());
    }
  std::string out;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out.append(std::max<size_t>(w[i] + 3, 12) - r[i].size(), ' ');
    }
    out += "\n";
  }
  return out;
}

// linux.resources JSON (the `update -r` format) -> oci::Resources.
Result<oci::Resources> parse_resources_json(const std::string& text) {
  try {
    json j = json::parse(text);
    oci::Resources r;
    if (j.contains("memory") && j["memory"].is_object()) {
      auto& m = j["memory"];
      oci::MemoryResources mr;
      if (m.contains("limit")) mr.limit = m["limit"].get<int64_t>();
      if (m.contains("reservation")) mr.reservation = m["reservation"].get<int64_t>();
      if (m.contains("swap")) mr.swap = m["swap"].get<int64_t>();
      if (m.contains("kernel")) mr.kernel = m["kernel"].get<int64_t>();
      if (m.contains("kernelTCP")) mr.kernel_tcp = m["kernelTCP"].get<int64_t>();
      if (m.contains("swappiness")) mr.swappiness = m["swappiness"].get<uint64_t>();
      r.memory = mr;
    }
    if (j.contains("cpu") && j["cpu"].is_object()) {
      auto& c = j["cpu"];
      oci::CpuResources cr;
      if (c.contains("shares")) cr.shares = c["shares"].get<uint64_t>();
      if (c.contains("quota")) cr.quota = c["quota"].get<int64_t>();
      if (c.contains("period")) cr.period = c["period"].get<uint64_t>();
      if (c.contains("realtimeRuntime")) cr.realtime_runtime = c["realtimeRuntime"].get<int64_t>();
      if (c.contains("realtimePeriod")) cr.realtime_period = c["realtimePeriod"].get<uint64_t>();
      if (c.contains("cpus")) cr.cpus = c["cpus"].get<std::string>();
      if (c.contains("mems")) cr.mems = c["mems"].get<std::string>();
      r.cpu = cr;
    }
    if (j.contains("pids") && j["pids"].is_object() && j["pids"].contains("limit"))
      r.pids = oci::PidsResources{j["pids"]["limit"].get<int64_t>()};
    if (j.contains("blockIO") && j["blockIO"].is_object()) {
      oci::BlockIoResources b;
      if (j["blockIO"].contains("weight")) b.weight = j["blockIO"]["weight"].get<uint16_t>();
      r.block_io = b;
    }
    return r;
  } catch (const json::exception& e) {
    return fail(Errc::InvalidArgument, "resources JSON: {}", e.what());
  }
}

json stats_json(const runtime::cgroup::Stats& s) {
  json d;
  d["cpu"] = {{"usage",
               {{"total", s.cpu_usage_ns}, {"percpu", s.percpu_usage_ns}, {"kernel", s.cpu_system_ns},
                {"user", s.cpu_user_ns}}},
              {"throttling", {{"periods", 0}, {"throttledPeriods", s.throttled_periods}, {"throttledTime", s.throttled_time_ns}}}};
  d["memory"] = {{"cache", s.memory_cache},
                 {"usage", {{"limit", s.memory_limit}, {"usage", s.memory_usage}, {"max", s.memory_max_usage}}}};
  d["pids"] = {{"current", s.pids_current}, {"limit", s.pids_limit}};
  json bytes = json::array(), ios = json::array();
  for (const auto& e : s.blkio_bytes) bytes.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
  for (const auto& e : s.blkio_ios) ios.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
  d["blkio"] = {{"ioServiceBytesRecursive", bytes}, {"ioServicedRecursive", ios}};
  return d;
}

int run_main(const std::vector<std::string>& args, char** argv, char** envp) {
  auto g = parse_flags(kGlobalFlags, args, 1, true);
  if (!g) return report(g.error());
  const Parsed& gp = *g;
  if (gp.flag("version")) {
    printf("berth-runtime version %s\nspec: 1.1.0\n", BERTH_VERSION);
    return 0;
  }
  if (gp.flag("help") || gp.positional.empty()) {
    fputs(kUsage, gp.positional.empty() && !gp.flag("help") ? stderr : stdout);
    return gp.flag("help") ? 0 : 1;
  }
  if (gp.has("log")) {
    g_log_fd = ::open(gp.get("log").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (g_log_fd < 0) return report(Error::from_errno(errno, fmt::format("open log `{}`", gp.get("log"))));
    log::set_fd(g_log_fd);
  }
  if (gp.get("log-format", "text") == "json") log::set_format(log::Format::Json);
  else if (gp.get("log-format", "text") != "text")
    return report(Error(Errc::InvalidArgument, fmt::format("unknown log format `{}`", gp.get("log-format"))));
  if (gp.flag("debug")) log::set_level(log::Level::Debug);
  if (gp.flag("systemd-cgroup"))
    return report(Error(Errc::Unimplemented, "--systemd-cgroup is not supported (use the cgroupfs driver)"));

  runtime::RuntimeOptions ro;
  if (gp.has("root")) ro.root = gp.get("root");
  runtime::Runtime rt(ro);

  const std::string cmd = gp.positional[0];
  // Commands that put a runtime process into a container run from a read-only binary (CVE-2019-5736).
  if (cmd == "create" || cmd == "run" || cmd == "exec") {
    if (auto st = runtime::ensure_readonly_exe(argv, envp); !st) return report(st.error());
  }
  // Position of the command in args, to parse its own flags.
  size_t cmd_at = args.size() - (gp.positional.size());
  auto sub = [&](const std::vector<FlagDef>& defs, bool stop = false) { return parse_flags(defs, args, cmd_at + 1, stop); };

  if (cmd == "create" || cmd == "run") {
    auto p = sub(kCreateFlags);
    if (!p) return report(p.error());
    auto o = create_options(*p, cmd.c_str());
    if (!o) return report(o.error());
    if (cmd == "create") {
      if (auto st = rt.create(*o); !st) return report(st.error());
      return 0;
    }
    auto code = rt.run(*o, p->flag("detach"));
    if (!code) return report(code.error());
    return *code;
  }
  if (cmd == "start") {
    auto p = sub({});
    if (!p) return report(p.error());
    auto id = one_id(*p, "start");
    if (!id) return report(id.error());
    if (auto st = rt.start(*id); !st) return report(st.error());
    return 0;
  }
  if (cmd == "state") {
    auto p = sub({});
    if (!p) return report(p.error());
    auto id = one_id(*p, "state");
    if (!id) return report(id.error());
    auto s = rt.state_json(*id);
    if (!s) return report(s.error());
    printf("%s\n", s->c_str());
    return 0;
  }
  if (cmd == "kill") {
    auto p = sub({{{"all", "a"}, false}});
    if (!p) return report(p.error());
    if (p->positional.empty() || p->positional.size() > 2)
      return report(Error(Errc::InvalidArgument, "kill: usage: kill [--all] ID [SIGNAL]"));
    int sig = SIGTERM;
    if (p->positional.size() == 2) {
      auto s = runtime::parse_signal(p->positional[1]);
      if (!s) return report(s.error());
      sig = *s;
    }
    if (auto st = rt.kill(p->positional[0], sig, p->flag("all")); !st) return report(st.error());
    return 0;
  }
  if (cmd == "delete") {
    auto p = sub({{{"force", "f"}, false}});
    if (!p) return report(p.error());
    auto id = one_id(*p, "delete");
    if (!id) return report(id.error());
    if (auto st = rt.remove(*id, p->flag("force")); !st) return report(st.error());
    return 0;
  }
  if (cmd == "list") {
    auto p = sub({{{"format", "f"}, true}, {{"quiet", "q"}, false}});
    if (!p) return report(p.error());
    auto l = rt.list();
    if (!l) return report(l.error());
    if (p->flag("quiet")) {
      for (const auto& c : *l) printf("%s\n", c.state.id.c_str());
      return 0;
    }
    std::string fmt_name = p->get("format", "table");
    if (fmt_name == "json") {
      json arr = json::array();
      for (const auto& c : *l) {
        json j = json::parse(runtime::oci_state_json(c.state, c.status, -1));
        j["owner"] = c.state.owner == 0 ? "root" : std::to_string(c.state.owner);
        arr.push_back(j);
      }
      printf("%s\n", arr.dump().c_str());
      return 0;
    }
    if (fmt_name != "table") return report(Error(Errc::InvalidArgument, fmt::format("invalid format option `{}`", fmt_name)));
    std::vector<std::vector<std::string>> rows = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
    for (const auto& c : *l) {
      bool stopped = c.status == runtime::ContainerStatus::Stopped;
      rows.push_back({c.state.id, std::to_string(stopped ? 0 : c.state.pid), std::string(runtime::status_name(c.status)),
                      c.state.bundle, c.state.created, c.state.owner == 0 ? "root" : std::to_string(c.state.owner)});
    }
    fputs(format_table(rows).c_str(), stdout);
    return 0;
  }
  if (cmd == "ps") {
    auto p = sub({{{"format", "f"}, true}});
    if (!p) return report(p.error());
    if (p->positional.empty()) return report(Error(Errc::InvalidArgument, "ps: container id expected"));
    auto pids = rt.pids(p->positional[0]);
    if (!pids) return report(pids.error());
    if (p->get("format", "table") == "json") {
      printf("%s\n", json(*pids).dump().c_str());
      return 0;
    }
    // Table: ps(1)'s own output, filtered to the container's pids (as runc does).
    std::string ps_args = "-ef";
    if (p->positional.size() > 1) {
      ps_args.clear();
      for (size_t i = 1; i < p->positional.size(); ++i) ps_args += (i > 1 ? " " : "") + p->positional[i];
    }
    std::string cmdline = "ps " + ps_args;
    FILE* f = ::popen(cmdline.c_str(), "r");
    if (!f) return report(Error::from_errno(errno, "run ps"));
    char line[8192];
    int pid_col = -1;
    bool header = true;
    while (fgets(line, sizeof line, f)) {
      std::vector<std::string> fields;
      std::string cur;
      for (char* c = line; *c; ++c) {
        if (*c == ' ' || *c == '\t' || *c == '\n') {
          if (!cur.empty()) fields.push_back(cur), cur.clear();
        } else {
          cur.push_back(*c);
        }
      }
      if (!cur.empty()) fields.push_back(cur);
      if (header) {
        header = false;
        for (size_t i = 0; i < fields.size(); ++i)
          if (fields[i] == "PID") pid_col = static_cast<int>(i);
        fputs(line, stdout);
        if (pid_col < 0) break;
        continue;
      }
      if (static_cast<size_t>(pid_col) >= fields.size()) continue;
      int pid = atoi(fields[static_cast<size_t>(pid_col)].c_str());
      if (std::find(pids->begin(), pids->end(), pid) != pids->end()) fputs(line, stdout);
    }
    ::pclose(f);
    if (pid_col < 0) return report(Error(Errc::InvalidArgument, "ps output has no PID column"));
    return 0;
  }
  if (cmd == "pause" || cmd == "resume") {
    auto p = sub({});
    if (!p) return report(p.error());
    auto id = one_id(*p, cmd.c_str());
    if (!id) return report(id.error());
    auto st = cmd == "pause" ? rt.pause(*id) : rt.resume(*id);
    if (!st) return report(st.error());
    return 0;
  }
  if (cmd == "update") {
    auto p = sub({{{"resources", "r"}, true},
                  {{"memory"}, true},
                  {{"memory-swap"}, true},
                  {{"memory-reservation"}, true},
                  {{"kernel-memory"}, true},
                  {{"kernel-memory-tcp"}, true},
                  {{"cpu-shares"}, true},
                  {{"cpu-quota"}, true},
                  {{"cpu-period"}, true},
                  {{"cpu-rt-period"}, true},
                  {{"cpu-rt-runtime"}, true},
                  {{"cpuset-cpus"}, true},
                  {{"cpuset-mems"}, true},
                  {{"pids-limit"}, true},
                  {{"blkio-weight"}, true},
                  {{"l3-cache-schema"}, true},
                  {{"mem-bw-schema"}, true}});
    if (!p) return report(p.error());
    auto id = one_id(*p, "update");
    if (!id) return report(id.error());
    oci::Resources r;
    auto fill = [&]() -> Status {
      if (p->has("resources")) {
        std::string path = p->get("resources");
        std::string text = path == "-" ? BERTH_TRY(read_fd(0, 1 << 20)) : BERTH_TRY(read_file(path, 1 << 20));
        r = BERTH_TRY(parse_resources_json(text));
        return ok();
      }
      auto mem = [&]() -> oci::MemoryResources& {
        if (!r.memory) r.memory = oci::MemoryResources{};
        return *r.memory;
      };
      auto cpu = [&]() -> oci::CpuResources& {
        if (!r.cpu) r.cpu = oci::CpuResources{};
        return *r.cpu;
      };
      if (p->has("memory")) mem().limit = BERTH_TRY(to_bytes(p->get("memory"), "--memory"));
      if (p->has("memory-swap")) mem().swap = BERTH_TRY(to_bytes(p->get("memory-swap"), "--memory-swap"));
      if (p->has("memory-reservation"))
        mem().reservation = BERTH_TRY(to_bytes(p->get("memory-reservation"), "--memory-reservation"));
      if (p->has("cpu-shares")) cpu().shares = static_cast<uint64_t>(BERTH_TRY(to_i64(p->get("cpu-shares"), "--cpu-shares")));
      if (p->has("cpu-quota")) cpu().quota = BERTH_TRY(to_i64(p->get("cpu-quota"), "--cpu-quota"));
      if (p->has("cpu-period")) cpu().period = static_cast<uint64_t>(BERTH_TRY(to_i64(p->get("cpu-period"), "--cpu-period")));
      if (p->has("cpu-rt-period"))
        cpu().realtime_period = static_cast<uint64_t>(BERTH_TRY(to_i64(p->get("cpu-rt-period"), "--cpu-rt-period")));
      if (p->has("cpu-rt-runtime")) cpu().realtime_runtime = BERTH_TRY(to_i64(p->get("cpu-rt-runtime"), "--cpu-rt-runtime"));
      if (p->has("cpuset-cpus")) cpu().cpus = p->get("cpuset-cpus");
      if (p->has("cpuset-mems")) cpu().mems = p->get("cpuset-mems");
      if (p->has("pids-limit")) r.pids = oci::PidsResources{BERTH_TRY(to_i64(p->get("pids-limit"), "--pids-limit"))};
      if (p->has("blkio-weight")) {
        oci::BlockIoResources b;
        b.weight = static_cast<uint16_t>(BERTH_TRY(to_int(p->get("blkio-weight"), "--blkio-weight")));
        r.block_io = b;
      }
      return ok();
    };
    if (auto st = fill(); !st) return report(st.error());
    if (auto st = rt.update(*id, r); !st) return report(st.error());
    return 0;
  }
  if (cmd == "events") {
    auto p = sub({{{"stats"}, false}, {{"interval"}, true}});
    if (!p) return report(p.error());
    auto id = one_id(*p, "events");
    if (!id) return report(id.error());
    int interval = 5;
    if (p->has("interval")) {
      std::string iv = p->get("interval");
      if (!iv.empty() && iv.back() == 's') iv.pop_back();
      auto v = to_int(iv, "--interval");
      if (!v || *v <= 0) return report(Error(Errc::InvalidArgument, "--interval: expected seconds, e.g. 5s"));
      interval = *v;
    }
    for (;;) {
      auto s = rt.stats(*id);
      if (!s) return report(s.error());
      json ev = {{"type", "stats"}, {"id", *id}, {"data", stats_json(*s)}};
      printf("%s\n", ev.dump().c_str());
      fflush(stdout);
      if (p->flag("stats")) return 0;
      auto i = rt.info(*id);
      if (!i || i->status == runtime::ContainerStatus::Stopped) return 0;
      ::sleep(static_cast<unsigned>(interval));
    }
  }
  if (cmd == "exec") {
    auto p = sub({{{"process", "p"}, true},
                  {{"tty", "t"}, false},
                  {{"detach", "d"}, false},
                  {{"pid-file"}, true},
                  {{"console-socket"}, true},
                  {{"cwd"}, true},
                  {{"env", "e"}, true},
                  {{"user", "u"}, true},
                  {{"additional-gids", "g"}, true},
                  {{"cap", "c"}, true},
                  {{"no-new-privs"}, false},
                  {{"preserve-fds"}, true},
                  {{"apparmor"}, true},
                  {{"process-label"}, true},
                  {{"cgroup"}, true},
                  {{"ignore-paused"}, false}},
                 true);
    if (!p) return report(p.error());
    if (p->positional.empty()) return report(Error(Errc::InvalidArgument, "exec: container id expected"));
    runtime::ExecOptions eo;
    eo.id = p->positional[0];
    eo.args.assign(p->positional.begin() + 1, p->positional.end());
    auto fill = [&]() -> Status {
      if (p->has("process")) {
        std::string text = BERTH_TRY(read_file(p->get("process"), 16 << 20));
        eo.process = BERTH_TRY_CTX(oci::parse_process(text), "--process");
      }
      if (p->has("tty")) eo.tty = p->flag("tty");
      eo.detach = p->flag("detach");
      eo.pid_file = p->get("pid-file");
      eo.console_socket = p->get("console-socket");
      eo.cwd = p->get("cwd");
      eo.env = p->all("env");
      eo.add_caps = p->all("cap");
      eo.no_new_privs = p->flag("no-new-privs");
      if (p->has("preserve-fds")) eo.preserve_fds = BERTH_TRY(to_int(p->get("preserve-fds"), "--preserve-fds"));
      if (p->has("user")) {
        std::string u = p->get("user");
        auto colon = u.find(':');
        eo.uid = static_cast<uint32_t>(BERTH_TRY(to_i64(u.substr(0, colon), "--user (uid[:gid])")));
        if (colon != std::string::npos)
          eo.gid = static_cast<uint32_t>(BERTH_TRY(to_i64(u.substr(colon + 1), "--user (uid[:gid])")));
      }
      for (const auto& gs : p->all("additional-gids")) {
        size_t start = 0;
        while (start <= gs.size()) {
          size_t comma = gs.find(',', start);
          std::string one = gs.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
          if (!one.empty()) eo.additional_gids.push_back(static_cast<uint32_t>(BERTH_TRY(to_i64(one, "--additional-gids"))));
          if (comma == std::string::npos) break;
          start = comma + 1;
        }
      }
      if (!eo.process && eo.args.empty()) return fail(Errc::InvalidArgument, "exec: process args cannot be empty");
      return ok();
    };
    if (auto st = fill(); !st) return report(st.error());
    auto code = rt.exec(eo);
    if (!code) return report(code.error());
    return *code;
  }
  if (cmd == "spec") {
    auto p = sub({{{"bundle", "b"}, true}, {{"rootless"}, false}});
    if (!p) return report(p.error());
    std::string bundle = p->get("bundle", ".");
    std::string path = bundle + "/config.json";
    struct stat st;
    if (::stat(path.c_str(), &st) == 0)
      return report(Error(Errc::AlreadyExists, "File config.json exists. Remove it first"));
    std::string text = oci::to_json(oci::default_spec(p->flag("rootless")), 2) + "\n";
    if (auto w = write_file_atomic(path, text, 0644); !w) return report(w.error());
    return 0;
  }
  if (cmd == "features") {
    auto p = sub({});
    if (!p) return report(p.error());
    printf("%s\n", runtime::features_json().c_str());
    return 0;
  }
  if (cmd == "checkpoint" || cmd == "restore")
    return report(Error(Errc::Unimplemented, fmt::format("{} is not supported", cmd)));
  return report(Error(Errc::InvalidArgument, fmt::format("unknown command `{}`", cmd)));
}

}  // namespace
}  // namespace berth

int main(int argc, char** argv, char** envp) {
  std::vector<std::string> args(argv, argv + argc);
  return berth::run_main(args, argv, envp);
}
