#include "engine/monitor/shim_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/file.h"
#include "engine/monitor/protocol.h"

extern char** environ;

namespace berth::engine::monitor {

namespace {

using nlohmann::json;

std::string absolute(const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  char buf[PATH_MAX];
  if (!::getcwd(buf, sizeof buf)) return p;
  return std::string(buf) + "/" + p;
}

Result<ExitInfo> exit_info_from(const json& j) {
  ExitInfo e;
  try {
    e.exit_code = j.at("exit_code").get<int>();
    e.oom_killed = j.value("oom_killed", false);
    e.started_at = j.value("started_at", "");
    e.finished_at = j.value("finished_at", "");
    e.error = j.value("error", "");
  } catch (const json::exception& ex) {
    return fail(Errc::Internal, "exit status: {}", ex.what());
  }
  return e;
}

// One request -> its ok reply (and the connection, for streams).
Result<std::pair<json, UniqueFd>> call(const std::string& sock, const json& req, int timeout_ms = 30000) {
  UniqueFd fd = BERTH_TRY(connect_unix(sock));
  BERTH_TRY(send_line(fd.get(), req.dump()));
  std::string line = BERTH_TRY(read_line(fd.get(), kMaxRequestLine, timeout_ms));
  json reply = BERTH_TRY(parse_reply(line));
  return std::make_pair(std::move(reply), std::move(fd));
}

}  // namespace

std::string exit_info_json(const ExitInfo& e) {
  json j = {{"exit_code", e.exit_code}, {"oom_killed", e.oom_killed}, {"started_at", e.started_at},
            {"finished_at", e.finished_at}, {"error", e.error}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<ExitInfo> read_exit_file(const std::string& shim_dir) {
  auto text = read_file(shim_dir + "/exit.json", 1 << 20);
  if (!text) return fail(std::move(text).error());
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(Errc::Internal, "`{}/exit.json`: not a JSON object", shim_dir);
  return exit_info_from(j);
}

Result<std::string> default_shim_path() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return fail_errno("readlink /proc/self/exe");
  std::string exe(buf, static_cast<size_t>(n));
  std::string dir = exe.substr(0, exe.rfind('/'));
  std::string installed = dir + "/berth-shim";
  if (::access(installed.c_str(), X_OK) == 0) return installed;
  std::string build_tree = dir + "/../berth-shim/berth-shim";
  if (::access(build_tree.c_str(), X_OK) == 0) {
    if (char* real = ::realpath(build_tree.c_str(), nullptr)) {
      std::string r = real;
      ::free(real);
      return r;
    }
  }
  return fail(Errc::NotFound, "berth-shim not found next to `{}` (expected `{}`)", exe, installed);
}

Result<ShimHandle> spawn_shim(const ShimSpawn& s) {
  if (s.id.empty() || s.shim_dir.empty() || s.runtime_root.empty())
    return fail(Errc::InvalidArgument, "spawn shim: id, shim_dir and runtime_root are required");
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return fail_errno("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  // fd 3 in the shim; keep our copy away from 0..3 so the dup2 really clears O_CLOEXEC.
  if (wr.get() <= 3) {
    int n = ::fcntl(wr.get(), F_DUPFD_CLOEXEC, 10);
    if (n < 0) return fail_errno("dup");
    wr.reset(n);
  }
  std::vector<std::string> args = {s.shim_path,
                                   "--id", s.id,
                                   "--bundle", absolute(s.bundle.empty() ? "." : s.bundle),
                                   "--dir", absolute(s.shim_dir),
                                   "--runtime-root", absolute(s.runtime_root),
                                   "--cgroup-root", s.cgroup_root,
                                   "--report-fd", "3"};
  if (!s.log_path.empty()) {
    args.insert(args.end(), {"--log", absolute(s.log_path), "--log-max-size", std::to_string(s.log_max_size),
                             "--log-max-files", std::to_string(s.log_max_files)});
  }
  if (s.tty) args.push_back("--tty");
  if (s.open_stdin) args.push_back("--stdin");
  if (s.stdin_once) args.push_back("--stdin-once");
  if (s.console_size.height || s.console_size.width) {
    args.insert(args.end(), {"--height", std::to_string(s.console_size.height), "--width",
                             std::to_string(s.console_size.width)});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = 0;
  int err = ::posix_spawn(&pid, s.shim_path.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return fail_errno_n(err, "start shim `{}`", s.shim_path);
  wr.reset();

  std::string report;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(buf, static_cast<size_t>(n));
    if (report.size() > 64 * 1024) break;
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!report.empty() && report.back() == '\n') report.pop_back();
  if (report.starts_with("ok ")) {
    ShimHandle h;
    if (std::sscanf(report.c_str(), "ok %d %d", &h.shim_pid, &h.init_pid) != 2)
      return fail(Errc::Internal, "shim: malformed report `{}`", report);
    h.socket_path = absolute(s.shim_dir) + "/shim.sock";
    return h;
  }
  if (report.starts_with("error ")) {
    std::string rest = report.substr(6);
    auto sp = rest.find(' ');
    Errc code = errc_from_name(rest.substr(0, sp));
    return fail(Error(code, sp == std::string::npos ? "shim failed" : rest.substr(sp + 1)));
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) return fail(Errc::NotFound, "shim `{}` could not be executed", s.shim_path);
  return fail(Errc::Internal, "shim exited without reporting (status {:#x})", st);
}

ShimClient::ShimClient(std::string shim_dir) : dir_(std::move(shim_dir)) {}

Status ShimClient::start() {
  BERTH_TRY(call(socket_path(), {{"op", "start"}}));
  return ok();
}

Result<UniqueFd> ShimClient::attach(bool in, bool out, bool err) {
  auto r = BERTH_TRY(call(socket_path(), {{"op", "attach"}, {"stdin", in}, {"stdout", out}, {"stderr", err}}));
  return std::move(r.second);
}

Result<UniqueFd> ShimClient::wait_begin() {
  UniqueFd fd = BERTH_TRY(connect_unix(socket_path()));
  BERTH_TRY(send_line(fd.get(), json{{"op", "wait"}}.dump()));
  return fd;
}

Result<ExitInfo> ShimClient::read_wait_reply(int fd, int timeout_ms) {
  std::string line = BERTH_TRY(read_line(fd, kMaxRequestLine, timeout_ms));
  json reply = BERTH_TRY(parse_reply(line));
  return exit_info_from(reply);
}

Result<ExitInfo> ShimClient::wait(int timeout_ms) {
  auto fd = wait_begin();
  if (!fd) {
    if (fd.error().code() == Errc::Unavailable) return read_exit_file(dir_);
    return fail(std::move(fd).error());
  }
  auto r = read_wait_reply(fd->get(), timeout_ms);
  if (!r && r.error().code() == Errc::Unavailable && r.error().message() != "timed out") {
    // The shim went away mid-wait: what it recorded is all there is.
    return read_exit_file(dir_);
  }
  return r;
}

Status ShimClient::kill(int sig, bool all) {
  BERTH_TRY(call(socket_path(), {{"op", "kill"}, {"signal", sig}, {"all", all}}));
  return ok();
}

Status ShimClient::resize(ConsoleSize size, const std::string& exec_id) {
  BERTH_TRY(call(socket_path(), {{"op", "resize"}, {"height", size.height}, {"width", size.width}, {"exec_id", exec_id}}));
  return ok();
}

Result<ShimState> ShimClient::state() {
  auto called = call(socket_path(), {{"op", "state"}});
  if (!called && called.error().code() == Errc::Unavailable) {
    // The shim removes its socket once the exit is recorded: then exit.json is the state.
    auto ex = read_exit_file(dir_);
    if (!ex) return fail(std::move(called).error());
    ShimState s;
    s.status = "stopped";
    s.started_at = ex->started_at;
    s.exit = std::move(*ex);
    return s;
  }
  auto r = BERTH_TRY(std::move(called));
  const json& j = r.first;
  ShimState s;
  try {
    s.status = j.at("status").get<std::string>();
    s.pid = j.value("pid", 0);
    s.tty = j.value("tty", false);
    s.started_at = j.value("started_at", "");
    if (j.contains("exit") && j["exit"].is_object()) s.exit = BERTH_TRY(exit_info_from(j["exit"]));
  } catch (const json::exception& e) {
    return fail(Errc::Internal, "shim state: {}", e.what());
  }
  return s;
}

Status ShimClient::pause() {
  BERTH_TRY(call(socket_path(), {{"op", "pause"}}));
  return ok();
}

Status ShimClient::resume() {
  BERTH_TRY(call(socket_path(), {{"op", "resume"}}));
  return ok();
}

Status ShimClient::exec_create(const ExecConfig& c) {
  json proc = json::parse(oci::to_json(c.process, -1), nullptr, false);
  if (proc.is_discarded()) return fail(Errc::Internal, "exec process: cannot serialise");
  BERTH_TRY(call(socket_path(), {{"op", "exec_create"}, {"exec_id", c.exec_id}, {"process", proc}, {"tty", c.tty},
                                 {"stdin", c.stdin}}));
  return ok();
}

Result<UniqueFd> ShimClient::exec_start(const std::string& exec_id) {
  auto r = BERTH_TRY(call(socket_path(), {{"op", "exec_start"}, {"exec_id", exec_id}}));
  return std::move(r.second);
}

Result<int> ShimClient::exec_wait(const std::string& exec_id, int timeout_ms) {
  auto r = BERTH_TRY(call(socket_path(), {{"op", "exec_wait"}, {"exec_id", exec_id}}, timeout_ms));
  if (!r.first.contains("exit_code") || !r.first["exit_code"].is_number_integer())
    return fail(Errc::Internal, "exec_wait: malformed reply");
  return r.first["exit_code"].get<int>();
}

Result<ExecState> ShimClient::exec_state(const std::string& exec_id) {
  auto r = BERTH_TRY(call(socket_path(), {{"op", "exec_state"}, {"exec_id", exec_id}}));
  const json& j = r.first;
  ExecState s;
  s.running = j.value("running", false);
  s.started = j.value("started", false);
  s.pid = j.value("pid", 0);
  if (j.contains("exit_code") && j["exit_code"].is_number_integer()) s.exit_code = j["exit_code"].get<int>();
  return s;
}

}  // namespace berth::engine::monitor
