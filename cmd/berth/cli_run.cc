// berth run / create / start / attach / exec: the commands that attach to a container's stdio.
// Call order as docker's CLI: create (404 "No such image" -> pull -> create again) -> attach (hijack, 101) ->
// wait (its response headers in before anything else) -> start -> resize (TTY) ... output until the daemon
// closes the attach stream -> the wait body gives the exit code.
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>

#include "api/client/engine_api.h"
#include "cli_common.h"
#include "commands.h"

namespace berth::cli {
namespace {

using api::client::Hijacked;

// ---- terminal --------------------------------------------------------------------------------------------
class RawTerminal {
 public:
  void enable(int fd) {
    if (::tcgetattr(fd, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);  // output processing off too: the container's pty already sends \r\n
    if (::tcsetattr(fd, TCSANOW, &raw) == 0) {
      fd_ = fd;
      active_ = true;
    }
  }
  void restore() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
    active_ = false;
  }
  ~RawTerminal() { restore(); }

 private:
  termios saved_{};
  int fd_ = -1;
  bool active_ = false;
};

bool terminal_size(int* h, int* w) {
  winsize ws{};
  for (int fd : {1, 0, 2})
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
      *h = ws.ws_row;
      *w = ws.ws_col;
      return true;
    }
  return false;
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "INT";
    case SIGTERM: return "TERM";
    case SIGHUP: return "HUP";
    case SIGQUIT: return "QUIT";
    case SIGUSR1: return "USR1";
    case SIGUSR2: return "USR2";
    case SIGWINCH: return "WINCH";
    default: return nullptr;
  }
}

// Forwards signals to the container (docker's sig-proxy) and terminal resizes to the container or exec.
// Signals are blocked in every thread and taken here with sigwait, on connections of its own.
class SignalProxy {
 public:
  SignalProxy(std::string host, std::string container, std::string exec_id, bool tty, bool proxy)
      : host_(std::move(host)), container_(std::move(container)), exec_id_(std::move(exec_id)), tty_(tty), proxy_(proxy) {}
  static void block_all() {
    sigset_t s;
    sigemptyset(&s);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&s, sig);
    ::pthread_sigmask(SIG_BLOCK, &s, nullptr);
  }
  void start() {
    std::thread([this] { loop(); }).detach();
  }
  void resize() {
    int h = 0, w = 0;
    if (!tty_ || !terminal_size(&h, &w)) return;
    auto api = ApiClient::connect(host_, tls_from_env());
    if (!api) return;
    if (exec_id_.empty()) {
      (void)api::client::container_resize(**api, container_, h, w);
    } else {
      (void)api::client::exec_resize(**api, exec_id_, h, w);
    }
  }

 private:
  void loop() {
    sigset_t s;
    sigemptyset(&s);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&s, sig);
    for (;;) {
      int sig = 0;
      if (::sigwait(&s, &sig) != 0) continue;
      if (sig == SIGWINCH) {
        if (proxy_ && exec_id_.empty()) kill(sig);
        resize();
        continue;
      }
      if (proxy_ && exec_id_.empty()) kill(sig);
    }
  }
  void kill(int sig) {
    const char* n = signal_name(sig);
    if (!n) return;
    auto api = ApiClient::connect(host_, tls_from_env());
    if (api) (void)api::client::container_kill(**api, container_, n);
  }

  std::string host_, container_, exec_id_;
  bool tty_, proxy_;
};

// The attached part of run, start -a, attach and exec once the stream is up: the terminal size sent and the
// signal proxy started, the local terminal raw when it is one and stdin is attached, then stdin/stdout/stderr
// pumped until the daemon closes the stream. Detaching with the detach keys exits 0 at once, as docker does
// (the container goes on). `proxy` must live until the process exits (its thread keeps running).
Status pump_attached(SignalProxy& proxy, Hijacked& hj, bool tty, bool in, const std::string& keys) {
  proxy.resize();
  proxy.start();
  RawTerminal term;
  bool tty_in = tty && in && is_tty(0);
  if (tty_in) term.enable(0);
  auto pumped = api::client::pump_hijacked(hj, in ? 0 : -1, tty, 1, 2, tty_in ? keys : std::string());
  term.restore();
  if (!pumped && pumped.error().code() == Errc::Canceled) {
    std::fflush(stdout);
    std::fputs("\n", stderr);
    ::_exit(0);
  }
  return pumped;
}

// Exits with the container's exit code, or with 125 after saying why there is none.
[[noreturn]] void exit_with(const Result<int>& code, const char* prefix) {
  std::fflush(stdout);
  if (!code) {
    std::fprintf(stderr, "%s%s\n", prefix, code.error().message().c_str());
    ::_exit(125);
  }
  ::_exit(*code);
}

// ---- create ------------------------------------------------------------------------------------------------
struct RunOptions {
  bool detach = false, interactive = false, tty = false, rm = false, init = false, read_only = false;
  bool privileged = false, publish_all = false, oom_kill_disable = false, no_healthcheck = false, sig_proxy = true;
  std::vector<std::string> env, env_file, volumes, mounts, publish, expose, labels, label_file, cap_add, cap_drop,
      security_opt, dns, dns_search, dns_option, add_host, tmpfs, ulimit, sysctl, device, log_opt, group_add,
      volumes_from, attach, link, storage_opt;
  std::string name, workdir, user, entrypoint, memory, memory_swap, memory_reservation, cpus, cpuset_cpus,
      cpuset_mems, restart, network, hostname, domainname, stop_signal, shm_size, log_driver, health_cmd,
      health_interval, health_timeout, health_start_period, ipc, pid, uts, userns, cgroupns, cgroup_parent, runtime,
      platform, pull = "missing", cidfile, mac_address, ip, detach_keys;
  int64_t cpu_shares = 0, cpu_quota = 0, cpu_period = 0, pids_limit = 0, stop_timeout = -1, health_retries = 0,
          oom_score_adj = 0;
  bool entrypoint_set = false;
};

void add_run_flags(FlagSet& f, RunOptions& o) {
  f.add_bool("d,detach", &o.detach, "run in the background and print the container ID");
  f.add_bool("i,interactive", &o.interactive, "keep STDIN open even if not attached");
  f.add_bool("t,tty", &o.tty, "allocate a pseudo-TTY");
  f.add_bool("rm", &o.rm, "remove the container when it exits");
  f.add_list("e,env", &o.env, "set environment variables");
  f.add_list("env-file", &o.env_file, "read in a file of environment variables");
  f.add_list("v,volume", &o.volumes, "bind mount a volume");
  f.add_list("mount", &o.mounts, "attach a filesystem mount to the container");
  f.add_string("name", &o.name, "assign a name to the container");
  f.add_string("w,workdir", &o.workdir, "working directory inside the container");
  f.add_string("u,user", &o.user, "username or UID (format: <name|uid>[:<group|gid>])");
  f.add_string("entrypoint", &o.entrypoint, "overwrite the default ENTRYPOINT of the image");
  f.add_string("m,memory", &o.memory, "memory limit");
  f.add_string("memory-swap", &o.memory_swap, "swap limit equal to memory plus swap: -1 for unlimited");
  f.add_string("memory-reservation", &o.memory_reservation, "memory soft limit");
  f.add_string("cpus", &o.cpus, "number of CPUs");
  f.add_int("c,cpu-shares", &o.cpu_shares, "CPU shares (relative weight)");
  f.add_int("cpu-quota", &o.cpu_quota, "limit CPU CFS quota");
  f.add_int("cpu-period", &o.cpu_period, "limit CPU CFS period");
  f.add_string("cpuset-cpus", &o.cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
  f.add_string("cpuset-mems", &o.cpuset_mems, "MEMs in which to allow execution");
  f.add_int("pids-limit", &o.pids_limit, "tune container pids limit (-1 for unlimited)");
  f.add_string("restart", &o.restart, "restart policy: no, always, on-failure[:N], unless-stopped");
  f.add_bool("init", &o.init, "run an init inside the container that forwards signals and reaps processes");
  f.add_bool("read-only", &o.read_only, "mount the container's root filesystem as read only");
  f.add_bool("privileged", &o.privileged, "give extended privileges to this container");
  f.add_list("cap-add", &o.cap_add, "add Linux capabilities");
  f.add_list("cap-drop", &o.cap_drop, "drop Linux capabilities");
  f.add_list("security-opt", &o.security_opt, "security options");
  f.add_string("network,net", &o.network, "connect a container to a network");
  f.add_string("h,hostname", &o.hostname, "container host name");
  f.add_string("domainname", &o.domainname, "container NIS domain name");
  f.add_list("p,publish", &o.publish, "publish a container's port(s) to the host");
  f.add_bool("P,publish-all", &o.publish_all, "publish all exposed ports to random ports");
  f.add_list("expose", &o.expose, "expose a port or a range of ports");
  f.add_list("l,label", &o.labels, "set meta data on a container");
  f.add_list("label-file", &o.label_file, "read in a line delimited file of labels");
  f.add_list("dns", &o.dns, "set custom DNS servers");
  f.add_list("dns-search", &o.dns_search, "set custom DNS search domains");
  f.add_list("dns-option", &o.dns_option, "set DNS options");
  f.add_list("add-host", &o.add_host, "add a custom host-to-IP mapping (host:ip)");
  f.add_list("tmpfs", &o.tmpfs, "mount a tmpfs directory");
  f.add_list("ulimit", &o.ulimit, "ulimit options");
  f.add_list("sysctl", &o.sysctl, "sysctl options");
  f.add_list("device", &o.device, "add a host device to the container");
  f.add_string("stop-signal", &o.stop_signal, "signal to stop the container");
  f.add_int("stop-timeout", &o.stop_timeout, "timeout (in seconds) to stop a container");
  f.add_string("shm-size", &o.shm_size, "size of /dev/shm");
  f.add_string("log-driver", &o.log_driver, "logging driver for the container");
  f.add_list("log-opt", &o.log_opt, "log driver options");
  f.add_string("health-cmd", &o.health_cmd, "command to run to check health");
  f.add_string("health-interval", &o.health_interval, "time between running the check (ms|s|m|h)");
  f.add_string("health-timeout", &o.health_timeout, "maximum time to allow one check to run (ms|s|m|h)");
  f.add_string("health-start-period", &o.health_start_period, "start period for the container to initialize");
  f.add_int("health-retries", &o.health_retries, "consecutive failures needed to report unhealthy");
  f.add_bool("no-healthcheck", &o.no_healthcheck, "disable any container-specified HEALTHCHECK");
  f.add_bool("oom-kill-disable", &o.oom_kill_disable, "disable OOM Killer");
  f.add_int("oom-score-adj", &o.oom_score_adj, "tune host's OOM preferences (-1000 to 1000)");
  f.add_list("group-add", &o.group_add, "add additional groups to join");
  f.add_list("volumes-from", &o.volumes_from, "mount volumes from the specified container(s)");
  f.add_list("a,attach", &o.attach, "attach to STDIN, STDOUT or STDERR");
  f.add_string("ipc", &o.ipc, "IPC mode to use");
  f.add_string("pid", &o.pid, "PID namespace to use");
  f.add_string("uts", &o.uts, "UTS namespace to use");
  f.add_string("userns", &o.userns, "user namespace to use");
  f.add_string("cgroupns", &o.cgroupns, "cgroup namespace to use (host|private)");
  f.add_string("cgroup-parent", &o.cgroup_parent, "optional parent cgroup for the container");
  f.add_string("runtime", &o.runtime, "runtime to use for this container");
  f.add_string("platform", &o.platform, "set platform if server is multi-platform capable");
  f.add_string("pull", &o.pull, "pull image before running (always, missing, never)");
  f.add_string("cidfile", &o.cidfile, "write the container ID to the file");
  f.add_bool("sig-proxy", &o.sig_proxy, "proxy received signals to the process");
  f.add_list("link", &o.link, "add link to another container");
  f.add_list("storage-opt", &o.storage_opt, "storage driver options");
  f.add_string("mac-address", &o.mac_address, "container MAC address");
  f.add_string("ip", &o.ip, "IPv4 address");
  f.add_string("detach-keys", &o.detach_keys, "override the key sequence for detaching a container");
  f.add_ignored("isolation", false);
  f.add_ignored("gpus", false);
  f.add_ignored("q,quiet", true);
}

// Go duration ("30s", "1m30s", "500ms") to nanoseconds.
Result<int64_t> go_duration_ns(std::string_view v) {
  if (v.empty()) return int64_t{0};
  double total = 0;
  size_t i = 0;
  while (i < v.size()) {
    size_t j = i;
    while (j < v.size() && (std::isdigit(static_cast<unsigned char>(v[j])) || v[j] == '.')) ++j;
    if (j == i) return fail(Errc::InvalidArgument, "time: invalid duration \"{}\"", v);
    double n = std::strtod(std::string(v.substr(i, j - i)).c_str(), nullptr);
    size_t k = j;
    while (k < v.size() && std::isalpha(static_cast<unsigned char>(v[k]))) ++k;
    auto u = v.substr(j, k - j);
    double mul = u == "h" ? 3.6e12 : u == "m" ? 6e10 : u == "s" ? 1e9 : u == "ms" ? 1e6 : u == "us" ? 1e3 : u == "ns" ? 1 : -1;
    if (mul < 0) return fail(Errc::InvalidArgument, "time: invalid duration \"{}\"", v);
    total += n * mul;
    i = k;
  }
  return static_cast<int64_t>(total);
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  for (;;) {
    auto k = s.find(sep, i);
    out.emplace_back(s.substr(i, k == std::string_view::npos ? std::string_view::npos : k - i));
    if (k == std::string_view::npos) break;
    i = k + 1;
  }
  return out;
}

Result<json> parse_mount(std::string_view spec) {
  json m = {{"Type", "volume"}};
  json bind_opts, vol_opts = json::object(), tmpfs_opts = json::object();
  for (const auto& field : split(spec, ',')) {
    auto eq = field.find('=');
    std::string k = field.substr(0, eq), v = eq == std::string::npos ? "" : field.substr(eq + 1);
    if (k == "type") m["Type"] = v;
    else if (k == "source" || k == "src") m["Source"] = v;
    else if (k == "target" || k == "destination" || k == "dst") m["Target"] = v;
    else if (k == "readonly" || k == "ro") m["ReadOnly"] = eq == std::string::npos || v == "true" || v == "1";
    else if (k == "bind-propagation") bind_opts["Propagation"] = v;
    else if (k == "volume-nocopy") vol_opts["NoCopy"] = eq == std::string::npos || v == "true";
    else if (k == "volume-opt") {
      auto e2 = v.find('=');
      vol_opts["DriverConfig"]["Options"][v.substr(0, e2)] = e2 == std::string::npos ? "" : v.substr(e2 + 1);
    } else if (k == "volume-label") {
      auto e2 = v.find('=');
      vol_opts["Labels"][v.substr(0, e2)] = e2 == std::string::npos ? "" : v.substr(e2 + 1);
    } else if (k == "tmpfs-size") tmpfs_opts["SizeBytes"] = BERTH_TRY(api::client::parse_bytes(v));
    else if (k == "tmpfs-mode") tmpfs_opts["Mode"] = std::strtol(v.c_str(), nullptr, 8);
    else if (k == "consistency") m["Consistency"] = v;
    else return fail(Errc::InvalidArgument, "invalid argument \"{}\" for \"--mount\" flag: unexpected key '{}'", spec, k);
  }
  if (!m.contains("Target")) return fail(Errc::InvalidArgument, "invalid argument \"{}\" for \"--mount\" flag: target is required", spec);
  if (m["Type"] == "bind" && !bind_opts.is_null()) m["BindOptions"] = bind_opts;
  if (m["Type"] == "volume" && !vol_opts.empty()) m["VolumeOptions"] = vol_opts;
  if (m["Type"] == "tmpfs" && !tmpfs_opts.empty()) m["TmpfsOptions"] = tmpfs_opts;
  return m;
}

Status parse_publish(std::string_view spec, json& exposed, json& bindings) {
  std::string s(spec), proto = "tcp";
  if (auto sl = s.rfind('/'); sl != std::string::npos) {
    proto = s.substr(sl + 1);
    s = s.substr(0, sl);
  }
  std::string ip, host_port, ctr;
  auto parts = split(s, ':');
  if (parts.size() == 1) {
    ctr = parts[0];
  } else if (parts.size() == 2) {
    host_port = parts[0];
    ctr = parts[1];
  } else if (parts.size() == 3) {
    ip = parts[0];
    host_port = parts[1];
    ctr = parts[2];
  } else {
    return fail(Errc::InvalidArgument, "invalid publish spec: {}", spec);
  }
  if (ctr.empty() || !std::all_of(ctr.begin(), ctr.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '-'; }))
    return fail(Errc::InvalidArgument, "invalid containerPort: {}", ctr);
  std::string key = ctr + "/" + proto;
  exposed[key] = json::object();
  bindings[key].push_back({{"HostIp", ip}, {"HostPort", host_port}});
  return ok();
}

Result<json> build_create_body(RunOptions& o, const std::string& image, const std::vector<std::string>& cmd) {
  json c = json::object();
  bool attach_in = false, attach_out = !o.detach, attach_err = !o.detach;
  if (!o.attach.empty()) {
    attach_out = attach_err = false;
    for (const auto& a : o.attach) {
      std::string l = a;
      for (auto& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (l == "stdin") attach_in = true;
      else if (l == "stdout") attach_out = true;
      else if (l == "stderr") attach_err = true;
      else return fail(Errc::InvalidArgument, "invalid argument \"{}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR", a);
    }
  } else if (o.interactive && !o.detach) {
    attach_in = true;
  }
  if (o.detach && !o.attach.empty()) return fail(Errc::InvalidArgument, "conflicting options: cannot specify both --attach and --detach");
  c["Hostname"] = o.hostname;
  c["Domainname"] = o.domainname;
  c["User"] = o.user;
  c["AttachStdin"] = attach_in;
  c["AttachStdout"] = attach_out;
  c["AttachStderr"] = attach_err;
  json exposed = json::object(), bindings = json::object();
  for (const auto& p : o.publish) BERTH_TRY(parse_publish(p, exposed, bindings));
  for (const auto& e : o.expose) {
    std::string k = e.find('/') == std::string::npos ? e + "/tcp" : e;
    exposed[k] = json::object();
  }
  if (!exposed.empty()) c["ExposedPorts"] = exposed;
  c["Tty"] = o.tty;
  c["OpenStdin"] = o.interactive;
  c["StdinOnce"] = o.interactive && attach_in;
  std::vector<std::string> env;
  for (const auto& f : o.env_file) {
    auto lines = BERTH_TRY(read_env_file(f));
    env.insert(env.end(), lines.begin(), lines.end());
  }
  for (const auto& e : o.env) {
    if (e.find('=') == std::string::npos) {
      if (const char* v = std::getenv(e.c_str())) env.push_back(e + "=" + v);
      continue;
    }
    env.push_back(e);
  }
  c["Env"] = env.empty() ? json(nullptr) : json(env);
  c["Cmd"] = cmd.empty() ? json(nullptr) : json(cmd);
  if (o.no_healthcheck) {
    c["Healthcheck"] = {{"Test", {"NONE"}}};
  } else if (!o.health_cmd.empty() || !o.health_interval.empty() || !o.health_timeout.empty() ||
             !o.health_start_period.empty() || o.health_retries) {
    json h = json::object();
    if (!o.health_cmd.empty()) h["Test"] = {"CMD-SHELL", o.health_cmd};
    h["Interval"] = BERTH_TRY(go_duration_ns(o.health_interval));
    h["Timeout"] = BERTH_TRY(go_duration_ns(o.health_timeout));
    h["StartPeriod"] = BERTH_TRY(go_duration_ns(o.health_start_period));
    h["Retries"] = o.health_retries;
    c["Healthcheck"] = h;
  }
  c["Image"] = image;
  json vols = json::object();
  std::vector<std::string> binds;
  for (const auto& v : o.volumes) {
    if (v.find(':') == std::string::npos) {
      vols[v] = json::object();
    } else {
      binds.push_back(v);
    }
  }
  c["Volumes"] = vols;
  c["WorkingDir"] = o.workdir;
  c["Entrypoint"] = o.entrypoint_set ? json::array({o.entrypoint}) : json(nullptr);
  c["OnBuild"] = nullptr;
  json labels = json::object();
  for (const auto& f : o.label_file) {
    auto lines = BERTH_TRY(read_env_file(f));
    for (const auto& l : lines) labels[l.substr(0, l.find('='))] = l.find('=') == std::string::npos ? "" : l.substr(l.find('=') + 1);
  }
  for (const auto& l : o.labels) labels[l.substr(0, l.find('='))] = l.find('=') == std::string::npos ? "" : l.substr(l.find('=') + 1);
  c["Labels"] = labels;
  if (!o.stop_signal.empty()) c["StopSignal"] = o.stop_signal;
  if (o.stop_timeout >= 0) c["StopTimeout"] = o.stop_timeout;
  if (!o.mac_address.empty()) c["MacAddress"] = o.mac_address;

  json h = json::object();
  h["Binds"] = binds.empty() ? json(nullptr) : json(binds);
  h["ContainerIDFile"] = o.cidfile;
  json log_cfg = json::object();
  for (const auto& l : o.log_opt) log_cfg[l.substr(0, l.find('='))] = l.find('=') == std::string::npos ? "" : l.substr(l.find('=') + 1);
  h["LogConfig"] = {{"Type", o.log_driver}, {"Config", log_cfg}};
  std::string net = o.network.empty() ? "default" : o.network;
  h["NetworkMode"] = net;
  h["PortBindings"] = bindings;
  json rp = {{"Name", "no"}, {"MaximumRetryCount", 0}};
  if (!o.restart.empty()) {
    auto colon = o.restart.find(':');
    std::string n = o.restart.substr(0, colon);
    if (n != "no" && n != "always" && n != "on-failure" && n != "unless-stopped")
      return fail(Errc::InvalidArgument, "invalid restart policy '{}'", o.restart);
    rp["Name"] = n;
    if (colon != std::string::npos) {
      if (n != "on-failure") return fail(Errc::InvalidArgument, "maximum retry count cannot be used with restart policy '{}'", n);
      rp["MaximumRetryCount"] = std::atoi(o.restart.c_str() + colon + 1);
    }
  }
  if (o.rm && rp["Name"] != "no") return fail(Errc::InvalidArgument, "conflicting options: cannot specify both --restart and --rm");
  h["RestartPolicy"] = rp;
  h["AutoRemove"] = o.rm;
  h["VolumeDriver"] = "";
  h["VolumesFrom"] = o.volumes_from.empty() ? json(nullptr) : json(o.volumes_from);
  int th = 0, tw = 0;
  if (o.tty && terminal_size(&th, &tw)) {
    h["ConsoleSize"] = {th, tw};
  } else {
    h["ConsoleSize"] = {0, 0};
  }
  h["CapAdd"] = o.cap_add.empty() ? json(nullptr) : json(o.cap_add);
  h["CapDrop"] = o.cap_drop.empty() ? json(nullptr) : json(o.cap_drop);
  h["CgroupnsMode"] = o.cgroupns;
  h["Dns"] = o.dns;
  h["DnsOptions"] = o.dns_option;
  h["DnsSearch"] = o.dns_search;
  h["ExtraHosts"] = o.add_host.empty() ? json(nullptr) : json(o.add_host);
  h["GroupAdd"] = o.group_add.empty() ? json(nullptr) : json(o.group_add);
  h["IpcMode"] = o.ipc;
  h["Cgroup"] = "";
  h["Links"] = o.link.empty() ? json(nullptr) : json(o.link);
  h["OomScoreAdj"] = o.oom_score_adj;
  h["PidMode"] = o.pid;
  h["Privileged"] = o.privileged;
  h["PublishAllPorts"] = o.publish_all;
  h["ReadonlyRootfs"] = o.read_only;
  h["SecurityOpt"] = o.security_opt.empty() ? json(nullptr) : json(o.security_opt);
  h["UTSMode"] = o.uts;
  h["UsernsMode"] = o.userns;
  h["ShmSize"] = o.shm_size.empty() ? int64_t{0} : BERTH_TRY(api::client::parse_bytes(o.shm_size));
  if (!o.runtime.empty()) h["Runtime"] = o.runtime;
  if (o.init) h["Init"] = true;
  h["CpuShares"] = o.cpu_shares;
  h["Memory"] = o.memory.empty() ? int64_t{0} : BERTH_TRY(api::client::parse_bytes(o.memory));
  h["NanoCpus"] = o.cpus.empty() ? int64_t{0} : BERTH_TRY(api::client::parse_nano_cpus(o.cpus));
  h["CgroupParent"] = o.cgroup_parent;
  h["CpuPeriod"] = o.cpu_period;
  h["CpuQuota"] = o.cpu_quota;
  h["CpusetCpus"] = o.cpuset_cpus;
  h["CpusetMems"] = o.cpuset_mems;
  json devices = json::array();
  for (const auto& d : o.device) {
    auto p = split(d, ':');
    std::string perms = "rwm", in_ctr = p[0];
    if (p.size() == 2) {
      if (p[1].find_first_not_of("rwm") == std::string::npos) perms = p[1];
      else in_ctr = p[1];
    } else if (p.size() >= 3) {
      in_ctr = p[1];
      perms = p[2];
    }
    devices.push_back({{"PathOnHost", p[0]}, {"PathInContainer", in_ctr}, {"CgroupPermissions", perms}});
  }
  h["Devices"] = devices;
  h["MemoryReservation"] = o.memory_reservation.empty() ? int64_t{0} : BERTH_TRY(api::client::parse_bytes(o.memory_reservation));
  int64_t swap = 0;
  if (o.memory_swap == "-1") swap = -1;
  else if (!o.memory_swap.empty()) swap = BERTH_TRY(api::client::parse_bytes(o.memory_swap));
  h["MemorySwap"] = swap;
  h["MemorySwappiness"] = -1;
  h["OomKillDisable"] = o.oom_kill_disable;
  h["PidsLimit"] = o.pids_limit;
  json ulimits = json::array();
  for (const auto& u : o.ulimit) {
    auto eq = u.find('=');
    if (eq == std::string::npos) return fail(Errc::InvalidArgument, "invalid ulimit argument: {}", u);
    std::string lim = u.substr(eq + 1);
    auto colon = lim.find(':');
    int64_t soft = std::strtoll(lim.c_str(), nullptr, 10);
    int64_t hard = colon == std::string::npos ? soft : std::strtoll(lim.c_str() + colon + 1, nullptr, 10);
    ulimits.push_back({{"Name", u.substr(0, eq)}, {"Soft", soft}, {"Hard", hard}});
  }
  h["Ulimits"] = ulimits;
  if (!o.tmpfs.empty()) {
    json t = json::object();
    for (const auto& x : o.tmpfs) {
      auto colon = x.find(':');
      t[x.substr(0, colon)] = colon == std::string::npos ? "" : x.substr(colon + 1);
    }
    h["Tmpfs"] = t;
  }
  if (!o.sysctl.empty()) {
    json s = json::object();
    for (const auto& x : o.sysctl) s[x.substr(0, x.find('='))] = x.find('=') == std::string::npos ? "" : x.substr(x.find('=') + 1);
    h["Sysctls"] = s;
  }
  if (!o.mounts.empty()) {
    json ms = json::array();
    for (const auto& m : o.mounts) ms.push_back(BERTH_TRY(parse_mount(m)));
    h["Mounts"] = ms;
  }
  c["HostConfig"] = h;
  json ep = json::object();
  if (net == "default") ep["default"] = json::object();
  if (!o.ip.empty() && net != "default") ep[net] = {{"IPAMConfig", {{"IPv4Address", o.ip}}}};
  c["NetworkingConfig"] = {{"EndpointsConfig", ep}};
  return c;
}

std::string image_with_tag(const std::string& image) {
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  if (image.find('@') != std::string::npos) return image;
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) return image;
  return image + ":latest";
}

// POST /containers/create, pulling the image on "No such image" (404) like docker.
Result<std::string> create_container(ApiClient& api, RunOptions& o, const std::string& image,
                                     const std::vector<std::string>& cmd) {
  json body = BERTH_TRY(build_create_body(o, image, cmd));
  if (o.pull == "always") BERTH_TRY(pull_image(api, image_with_tag(image), false, stderr));
  auto r = api::client::container_create(api, body, o.name, o.platform);
  if (!r && r.error().code() == Errc::NotFound && o.pull != "never" &&
      r.error().message().find("No such image") != std::string::npos) {
    std::fprintf(stderr, "Unable to find image '%s' locally\n", image_with_tag(image).c_str());
    BERTH_TRY(pull_image(api, image_with_tag(image), false, stderr));
    r = api::client::container_create(api, body, o.name, o.platform);
  }
  if (!r) return fail(r.error());
  for (const auto& w : r->warnings) std::fprintf(stderr, "WARNING: %s\n", w.c_str());
  std::string id = r->id;
  if (!o.cidfile.empty()) {
    FILE* f = std::fopen(o.cidfile.c_str(), "wx");
    if (!f) return fail_errno("write the container ID file {}", o.cidfile);
    std::fputs(id.c_str(), f);
    std::fclose(f);
  }
  return id;
}

int fatal(const char* cmd, const Error& e, int code) {
  std::fprintf(stderr, "berth %s: %s\n", cmd, e.message().c_str());
  return code;
}

using api::client::wait_exit_code;

}  // namespace

int run_main(int argc, char** argv) {
  Command cmd("berth run [OPTIONS] IMAGE [COMMAND] [ARG...]");
  RunOptions o;
  add_run_flags(cmd.flags, o);
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, false, 1)) return rc;
  o.entrypoint_set = cmd.flags.changed("entrypoint");
  ::signal(SIGPIPE, SIG_IGN);
  auto keys_r = api::client::parse_detach_keys(o.detach_keys.empty() ? "ctrl-p,ctrl-q" : o.detach_keys);
  if (!keys_r) return fatal("run", keys_r.error(), 125);
  const std::string keys = *keys_r;
  std::string image = cmd.args[0];
  std::vector<std::string> ctr_cmd(cmd.args.begin() + 1, cmd.args.end());
  auto api_r = cmd.api();
  if (!api_r) return fatal("run", api_r.error(), 125);
  ApiClient& api = **api_r;
  auto id_r = create_container(api, o, image, ctr_cmd);
  if (!id_r) return fatal("run", id_r.error(), 125);
  const std::string& id = *id_r;

  std::string condition = o.rm ? "removed" : "next-exit";
  if (o.detach) {
    // The ID goes out before the start, as docker prints it: a container whose start fails still exists
    // (Created, with the error in its state) and the user has its ID to inspect or remove it.
    std::printf("%s\n", id.c_str());
    std::fflush(stdout);
    auto w = api::client::container_wait_begin(api, id, condition);
    auto st = api::client::container_start(api, id);
    if (!st) {
      if (o.rm && w) (void)wait_exit_code(**w);  // the daemon removes it; docker waits for that
      return fatal("run", st.error(), start_error_exit_code(st.error().message()));
    }
    return 0;
  }

  bool in = o.interactive && (o.attach.empty() || std::find(o.attach.begin(), o.attach.end(), "stdin") != o.attach.end());
  api::client::AttachOptions ao;
  ao.stdin = in;
  auto hj = api::client::container_attach(api, id, ao);
  if (!hj) return fatal("run", hj.error(), 125);
  auto w = api::client::container_wait_begin(api, id, condition);
  if (!w) return fatal("run", w.error(), 125);

  SignalProxy::block_all();
  auto st = api::client::container_start(api, id);
  if (!st) {
    hj->fd.reset();
    hj->tls_conn.reset();
    if (o.rm) (void)wait_exit_code(**w);  // the daemon removes it; docker waits for that
    return fatal("run", st.error(), start_error_exit_code(st.error().message()));
  }
  SignalProxy proxy(cmd.host, id, "", o.tty, o.sig_proxy);
  auto pumped = pump_attached(proxy, *hj, o.tty, in, keys);
  if (!pumped) std::fprintf(stderr, "berth run: %s\n", pumped.error().message().c_str());
  exit_with(wait_exit_code(**w), "berth run: ");
}

int create_main(int argc, char** argv) {
  Command cmd("berth create [OPTIONS] IMAGE [COMMAND] [ARG...]");
  RunOptions o;
  add_run_flags(cmd.flags, o);
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, false, 1)) return rc;
  o.entrypoint_set = cmd.flags.changed("entrypoint");
  auto api_r = cmd.api();
  if (!api_r) return fatal("create", api_r.error(), 125);
  std::vector<std::string> ctr_cmd(cmd.args.begin() + 1, cmd.args.end());
  auto id = create_container(**api_r, o, cmd.args[0], ctr_cmd);
  if (!id) return fatal("create", id.error(), 125);
  std::printf("%s\n", id->c_str());
  return 0;
}

// Attaches to a created or running container (start -a, attach): returns the container's exit code.
static int attach_and_wait(Command& cmd, ApiClient& api, const std::string& name, bool want_stdin, bool do_start,
                           bool sig_proxy, const std::string& detach_keys) {
  auto keys = api::client::parse_detach_keys(detach_keys.empty() ? "ctrl-p,ctrl-q" : detach_keys);
  if (!keys) return report(keys.error());
  auto info = api::client::container_inspect(api, name);
  if (!info) return report(info.error());
  std::string id = info->value("Id", name);
  bool tty = (*info)["Config"].value("Tty", false);
  bool in = want_stdin && (*info)["Config"].value("OpenStdin", false);
  api::client::AttachOptions ao;
  ao.stdin = in;
  auto hj = api::client::container_attach(api, id, ao);
  if (!hj) return report(hj.error());
  auto w = api::client::container_wait_begin(api, id, "next-exit");
  if (!w) return report(w.error());
  SignalProxy::block_all();
  if (do_start) {
    auto st = api::client::container_start(api, id);
    if (!st) return report(st.error());
  }
  SignalProxy proxy(cmd.host, id, "", tty, sig_proxy);
  auto pumped = pump_attached(proxy, *hj, tty, in, *keys);
  if (!pumped) std::fprintf(stderr, "%s\n", pumped.error().message().c_str());
  exit_with(wait_exit_code(**w), "");
}

int start_main(int argc, char** argv) {
  Command cmd("berth start [OPTIONS] CONTAINER [CONTAINER...]");
  bool attach = false, interactive = false;
  std::string detach_keys;
  cmd.flags.add_bool("a,attach", &attach, "attach STDOUT/STDERR and forward signals");
  cmd.flags.add_bool("i,interactive", &interactive, "attach container's STDIN");
  cmd.flags.add_string("detach-keys", &detach_keys, "override the key sequence for detaching a container");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  ::signal(SIGPIPE, SIG_IGN);
  auto api = cmd.api();
  if (!api) return report(api.error());
  if (attach || interactive) {
    if (cmd.args.size() > 1) {
      std::fprintf(stderr, "berth start: you cannot start and attach multiple containers at once\n");
      return 1;
    }
    return attach_and_wait(cmd, **api, cmd.args[0], interactive, true, true, detach_keys);
  }
  int failed = 0;
  for (const auto& c : cmd.args) {
    auto st = api::client::container_start(**api, c);
    if (!st) {
      report(st.error());
      failed = 1;
      continue;
    }
    std::printf("%s\n", c.c_str());
  }
  if (failed) std::fprintf(stderr, "Error: failed to start containers: see above\n");
  return failed;
}

int attach_main(int argc, char** argv) {
  Command cmd("berth attach [OPTIONS] CONTAINER");
  bool no_stdin = false, sig_proxy = true;
  std::string detach_keys;
  cmd.flags.add_bool("no-stdin", &no_stdin, "do not attach STDIN");
  cmd.flags.add_bool("sig-proxy", &sig_proxy, "proxy all received signals to the process");
  cmd.flags.add_string("detach-keys", &detach_keys, "override the key sequence for detaching a container");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1, 1)) return rc;
  ::signal(SIGPIPE, SIG_IGN);
  auto api = cmd.api();
  if (!api) return report(api.error());
  return attach_and_wait(cmd, **api, cmd.args[0], !no_stdin, false, sig_proxy, detach_keys);
}

int exec_main(int argc, char** argv) {
  Command cmd("berth exec [OPTIONS] CONTAINER COMMAND [ARG...]");
  bool detach = false, interactive = false, tty = false, privileged = false;
  std::vector<std::string> env, env_file;
  std::string workdir, user, detach_keys;
  cmd.flags.add_bool("d,detach", &detach, "detached mode: run command in the background");
  cmd.flags.add_bool("i,interactive", &interactive, "keep STDIN open even if not attached");
  cmd.flags.add_bool("t,tty", &tty, "allocate a pseudo-TTY");
  cmd.flags.add_bool("privileged", &privileged, "give extended privileges to the command");
  cmd.flags.add_list("e,env", &env, "set environment variables");
  cmd.flags.add_list("env-file", &env_file, "read in a file of environment variables");
  cmd.flags.add_string("w,workdir", &workdir, "working directory inside the container");
  cmd.flags.add_string("u,user", &user, "username or UID (format: <name|uid>[:<group|gid>])");
  cmd.flags.add_string("detach-keys", &detach_keys, "override the key sequence for detaching a container");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, false, 2)) return rc;
  ::signal(SIGPIPE, SIG_IGN);
  auto keys = api::client::parse_detach_keys(detach_keys.empty() ? "ctrl-p,ctrl-q" : detach_keys);
  if (!keys) return report(keys.error());
  auto api_r = cmd.api();
  if (!api_r) return report(api_r.error());
  ApiClient& api = **api_r;
  const std::string& name = cmd.args[0];
  auto info = api::client::container_inspect(api, name);
  if (!info) return report(info.error());
  std::vector<std::string> all_env;
  for (const auto& f : env_file) {
    auto l = read_env_file(f);
    if (!l) return report(l.error());
    all_env.insert(all_env.end(), l->begin(), l->end());
  }
  all_env.insert(all_env.end(), env.begin(), env.end());
  api::client::ExecConfig ec;
  ec.user = user;
  ec.privileged = privileged;
  ec.tty = tty;
  ec.attach_stdin = interactive && !detach;
  ec.attach_stderr = ec.attach_stdout = !detach;
  ec.detach = detach;
  ec.env = all_env;
  ec.working_dir = workdir;
  ec.cmd.assign(cmd.args.begin() + 1, cmd.args.end());
  auto created = api::client::exec_create(api, name, ec);
  if (!created) return report(created.error());
  std::string eid = *created;
  if (detach) {
    auto st = api::client::exec_start_detached(api, eid, tty);
    if (!st) return report(st.error());
    return 0;
  }
  auto hj = api::client::exec_start(api, eid, tty);
  if (!hj) return report(hj.error());
  SignalProxy::block_all();
  SignalProxy proxy(cmd.host, info->value("Id", name), eid, tty, false);
  auto pumped = pump_attached(proxy, *hj, tty, interactive, *keys);
  if (!pumped) std::fprintf(stderr, "%s\n", pumped.error().message().c_str());
  auto ins = api::client::exec_inspect(api, eid);
  std::fflush(stdout);
  if (!ins) {
    report(ins.error());
    ::_exit(126);
  }
  ::_exit(ins->value("ExitCode", 0));
}

}  // namespace berth::cli
