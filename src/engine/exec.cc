// exec: create / start / inspect / resize through the container's shim, and health-probe runs.
#include <poll.h>
#include <unistd.h>

#include <chrono>

#include "base/file.h"
#include "base/log.h"
#include "engine/containers_impl.h"
#include "engine/monitor/shim_client.h"
#include "engine/monitor/stdcopy.h"
#include "engine/spec/spec_builder.h"
#include "oci/runtime_spec.h"
#include "sys/passwd.h"
#include "sys/path.h"

namespace berth::engine {

namespace mon = monitor;

Result<std::shared_ptr<Exec>> ContainerService::Impl::find_exec(const std::string& id) {
  std::lock_guard lk(mu);
  auto it = execs.find(id);
  if (it == execs.end()) return fail(Errc::NotFound, "No such exec instance: {}", id);
  return it->second;
}

namespace {

Result<oci::Process> exec_process(const std::string& bundle_config, const std::string& rootfs, const Exec& e) {
  auto text = BERTH_TRY(read_file(bundle_config));
  auto s = BERTH_TRY(oci::parse_runtime_spec(text));
  oci::Process p = s.process ? *s.process : oci::Process{};
  p.args = e.cmd;
  p.terminal = e.tty;
  p.console_size.reset();
  for (auto& kv : e.env) {
    auto eq = kv.find('=');
    std::string key = kv.substr(0, eq);
    std::erase_if(p.env, [&](const std::string& x) { return x.substr(0, x.find('=')) == key; });
    p.env.push_back(kv);
  }
  if (e.tty && std::none_of(p.env.begin(), p.env.end(), [](auto& x) { return x.starts_with("TERM="); }))
    p.env.push_back("TERM=xterm");
  if (!e.working_dir.empty()) p.cwd = e.working_dir;
  if (!e.user.empty()) {
    auto root = BERTH_TRY(sys::open_root(rootfs));
    auto u = BERTH_TRY(sys::resolve_user_in_root(root.get(), e.user));
    p.user.uid = u.uid;
    p.user.gid = u.gid;
    p.user.additional_gids = u.additional_gids;
  }
  if (e.privileged && p.capabilities) {
    // the same full set a --privileged container gets
    auto& caps = *p.capabilities;
    auto all = spec::all_capabilities();
    caps.bounding = caps.effective = caps.permitted = all;
  }
  return p;
}

njson exec_json(const Exec& e) {
  std::string entry = e.cmd.empty() ? "" : e.cmd.front();
  std::vector<std::string> args;
  if (e.cmd.size() > 1) args.assign(e.cmd.begin() + 1, e.cmd.end());
  njson pc = {{"tty", e.tty}, {"entrypoint", entry}, {"arguments", args}, {"privileged", e.privileged}};
  if (!e.user.empty()) pc["user"] = e.user;
  return njson{{"ID", e.id},
               {"Running", e.running},
               {"ExitCode", e.exit_code ? njson(*e.exit_code) : njson(nullptr)},
               {"ProcessConfig", pc},
               {"OpenStdin", e.attach_stdin},
               {"OpenStderr", e.attach_stderr},
               {"OpenStdout", e.attach_stdout},
               {"CanRemove", false},
               {"ContainerID", e.container_id},
               {"DetachKeys", e.detach_keys},
               {"Pid", e.pid}};
}

std::vector<std::string> str_vec(const njson& j, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key) || j[key].is_null()) return out;
  if (j[key].is_string()) return {j[key].get<std::string>()};
  if (!j[key].is_array()) return out;
  for (auto& v : j[key])
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string join_cmd(const std::vector<std::string>& v) {
  std::string s;
  for (auto& a : v) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

Result<std::string> ContainerService::Impl::exec_process_json(Container& c, const Exec& e) {
  auto p = BERTH_TRY(exec_process(dir(c) + "/config.json", rootfs(c), e));
  return oci::to_json(p, -1);
}

Result<std::string> ContainerService::exec_create(const std::string& ref, const std::string& body) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  njson j = njson::parse(body, nullptr, false);
  if (!j.is_object()) return fail(Errc::InvalidArgument, "invalid JSON body");
  auto e = std::make_shared<Exec>();
  try {
    e->cmd = str_vec(j, "Cmd");
    e->tty = j.value("Tty", false);
    e->attach_stdin = j.value("AttachStdin", false);
    e->attach_stdout = j.value("AttachStdout", false);
    e->attach_stderr = j.value("AttachStderr", false);
    e->privileged = j.value("Privileged", false);
    e->user = j.contains("User") && j["User"].is_string() ? j["User"].get<std::string>() : "";
    e->working_dir = j.contains("WorkingDir") && j["WorkingDir"].is_string() ? j["WorkingDir"].get<std::string>() : "";
    e->detach_keys = j.contains("DetachKeys") && j["DetachKeys"].is_string() ? j["DetachKeys"].get<std::string>() : "";
    e->env = str_vec(j, "Env");
  } catch (const std::exception& ex) {
    return fail(Errc::InvalidArgument, "exec config: {}", ex.what());
  }
  if (e->cmd.empty()) return fail(Errc::InvalidArgument, "No exec command specified");
  if (!e->working_dir.empty() && e->working_dir.front() != '/')
    return fail(Errc::InvalidArgument, "the working directory '{}' is invalid, it needs to be an absolute path",
                e->working_dir);
  {
    std::lock_guard lk(c->mu);
    if (c->state.status == RunState::Paused)
      return fail(Errc::Conflict, "Container {} is paused, unpause the container before exec", c->id);
    if (c->state.status != RunState::Running) return fail(Errc::Conflict, "Container {} is not running", c->id);
    e->container_id = c->id;
    e->id = new_container_id();
    c->exec_ids.insert(e->id);
  }
  {
    std::lock_guard lk(m.mu);
    m.execs[e->id] = e;
  }
  m.publish(*c, "exec_create: " + join_cmd(e->cmd), {{"execID", e->id}});
  return e->id;
}

Result<ExecStream> ContainerService::exec_start(const std::string& exec_id, bool detach) {
  auto& m = *impl_;
  auto e = BERTH_TRY(m.find_exec(exec_id));
  auto c = BERTH_TRY(m.find(e->container_id));
  {
    std::lock_guard lk(c->mu);
    if (e->started) return fail(Errc::Conflict, "Error: Exec command {} is already running", e->id);
    if (c->state.status != RunState::Running) return fail(Errc::Conflict, "Container {} is not running", c->id);
    e->started = true;
  }
  auto process = m.exec_process_json(*c, *e);
  if (!process) {
    std::lock_guard lk(c->mu);
    e->exit_code = 126;
    return tl::unexpected(process.error());
  }
  mon::ExecConfig cfg;
  cfg.exec_id = e->id;
  cfg.process = BERTH_TRY(oci::parse_process(*process));
  cfg.tty = e->tty;
  cfg.stdin = e->attach_stdin;
  mon::ShimClient sc(m.shim_dir(*c));
  BERTH_TRY(sc.exec_create(cfg));
  auto fd = sc.exec_start(e->id);
  if (!fd) {
    std::lock_guard lk(c->mu);
    e->exit_code = start_error_exit_code(fd.error().message());
    return fail(fd.error().code() == Errc::FailedPrecondition ? Errc::Conflict : Errc::InvalidArgument, "{}",
                fd.error().message());
  }
  {
    std::lock_guard lk(c->mu);
    e->running = true;
  }
  if (auto st = sc.exec_state(e->id)) {
    std::lock_guard lk(c->mu);
    e->pid = st->pid;
  }
  m.publish(*c, "exec_start: " + join_cmd(e->cmd), {{"execID", e->id}});
  ExecStream out;
  out.tty = e->tty;
  if (!detach) out.fd = std::move(*fd);
  return out;
}

Result<std::string> ContainerService::exec_inspect(const std::string& exec_id) {
  auto& m = *impl_;
  auto e = BERTH_TRY(m.find_exec(exec_id));
  auto c = m.find(e->container_id);
  bool query;
  {
    std::lock_guard lk(c ? (*c)->mu : m.mu);
    query = e->started && !e->exit_code;
  }
  if (query && c) {
    auto st = mon::ShimClient(m.shim_dir(**c)).exec_state(e->id);
    bool died = false;
    {
      std::lock_guard lk((*c)->mu);
      if (st) {
        e->running = st->running;
        if (st->pid) e->pid = st->pid;
        if (st->exit_code && !e->exit_code) {
          e->exit_code = *st->exit_code;
          died = true;
        }
      } else if (!(*c)->shim_live) {
        e->running = false;  // the container (and its shim) are gone: the exec died with it
      }
    }
    if (died) m.publish(**c, "exec_die", {{"execID", e->id}, {"exitCode", std::to_string(*e->exit_code)}});
  }
  std::lock_guard lk(c ? (*c)->mu : m.mu);
  return exec_json(*e).dump();
}

Status ContainerService::exec_resize(const std::string& exec_id, int height, int width) {
  auto& m = *impl_;
  auto e = BERTH_TRY(m.find_exec(exec_id));
  auto c = BERTH_TRY(m.find(e->container_id));
  auto st = mon::ShimClient(m.shim_dir(*c)).resize({static_cast<uint16_t>(height), static_cast<uint16_t>(width)}, e->id);
  if (!st && st.error().code() == Errc::FailedPrecondition) return ok();
  return st;
}

Result<std::pair<int, std::string>> ContainerService::Impl::run_probe(const std::shared_ptr<Container>& c,
                                                                      const std::vector<std::string>& cmd,
                                                                      std::chrono::milliseconds timeout) {
  Exec e;
  e.id = new_container_id();
  e.cmd = cmd;
  e.health_probe = true;
  auto text = BERTH_TRY(exec_process_json(*c, e));
  mon::ExecConfig cfg;
  cfg.exec_id = e.id;
  cfg.process = BERTH_TRY(oci::parse_process(text));
  mon::ShimClient sc(shim_dir(*c));
  BERTH_TRY(sc.exec_create(cfg));
  auto fd = BERTH_TRY(sc.exec_start(e.id));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  mon::StdcopyDecoder dec;
  std::string out;
  char buf[8192];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return std::pair<int, std::string>{-1, fmt::format("Health check exceeded timeout ({}s)", timeout.count() / 1000)};
    pollfd p{fd.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    ssize_t r = ::read(fd.get(), buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    dec.feed(std::string_view(buf, static_cast<size_t>(r)));
    for (;;) {
      auto f = dec.next();
      if (!f || !*f) break;
      if (out.size() < 4096) out += (*f)->payload.substr(0, 4096 - out.size());
    }
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  auto code = sc.exec_wait(e.id, static_cast<int>(std::max<int64_t>(left.count(), 1)));
  if (!code) return std::pair<int, std::string>{-1, code.error().message()};
  return std::pair<int, std::string>{*code, out};
}

}  // namespace berth::engine
