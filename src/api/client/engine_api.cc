#include "api/client/engine_api.h"

namespace berth::api::client {

namespace {

Result<Query> with_filters(Query q, const std::vector<std::string>& filters) {
  auto f = BERTH_TRY(encode_filters(filters));
  if (!f.empty()) q.emplace_back("filters", f);
  return q;
}

Status done(Result<json> r) {
  if (!r) return fail(r.error());
  return ok();
}

std::string c(const std::string& id) { return "/containers/" + id; }

}  // namespace

Result<CreateResult> container_create(ApiClient& api, const json& body, const std::string& name,
                                      const std::string& platform) {
  Query q;
  if (!name.empty()) q.emplace_back("name", name);
  if (!platform.empty()) q.emplace_back("platform", platform);
  auto r = BERTH_TRY(api.post("/containers/create", q, Body::json(body)));
  CreateResult out;
  out.id = r.value("Id", std::string());
  if (out.id.empty()) return fail(Errc::Internal, "daemon sent no container Id");
  if (r.contains("Warnings") && r["Warnings"].is_array())
    for (const auto& w : r["Warnings"])
      if (w.is_string() && !w.get<std::string>().empty()) out.warnings.push_back(w.get<std::string>());
  return out;
}

Status container_start(ApiClient& api, const std::string& id) { return done(api.post(c(id) + "/start")); }

Status container_stop(ApiClient& api, const std::string& id, int timeout_s, const std::string& signal) {
  Query q;
  if (!signal.empty()) q.emplace_back("signal", signal);
  if (timeout_s >= 0) q.emplace_back("t", std::to_string(timeout_s));
  return done(api.post(c(id) + "/stop", q));
}

Status container_restart(ApiClient& api, const std::string& id, int timeout_s, const std::string& signal) {
  Query q;
  if (!signal.empty()) q.emplace_back("signal", signal);
  if (timeout_s >= 0) q.emplace_back("t", std::to_string(timeout_s));
  return done(api.post(c(id) + "/restart", q));
}

Status container_kill(ApiClient& api, const std::string& id, const std::string& signal) {
  Query q;
  if (!signal.empty()) q.emplace_back("signal", signal);
  return done(api.post(c(id) + "/kill", q));
}

Status container_remove(ApiClient& api, const std::string& id, bool force, bool volumes) {
  Query q;
  if (force) q.emplace_back("force", "1");
  if (volumes) q.emplace_back("v", "1");
  return done(api.call("DELETE", c(id), q));
}

Status container_pause(ApiClient& api, const std::string& id) { return done(api.post(c(id) + "/pause")); }
Status container_unpause(ApiClient& api, const std::string& id) { return done(api.post(c(id) + "/unpause")); }

Status container_rename(ApiClient& api, const std::string& id, const std::string& new_name) {
  return done(api.post(c(id) + "/rename", {{"name", new_name}}));
}

Status container_resize(ApiClient& api, const std::string& id, int height, int width) {
  return done(api.post(c(id) + "/resize", {{"h", std::to_string(height)}, {"w", std::to_string(width)}}));
}

Result<json> container_inspect(ApiClient& api, const std::string& id, bool size) {
  return api.get(c(id) + "/json", size ? Query{{"size", "1"}} : Query{});
}

Result<json> container_list(ApiClient& api, bool all, const std::vector<std::string>& filters, int limit, bool size) {
  Query q;
  if (all) q.emplace_back("all", "1");
  if (limit > 0) q.emplace_back("limit", std::to_string(limit));
  if (size) q.emplace_back("size", "1");
  return api.get("/containers/json", BERTH_TRY(with_filters(q, filters)));
}

Result<json> container_top(ApiClient& api, const std::string& id, const std::string& ps_args) {
  return api.get(c(id) + "/top", ps_args.empty() ? Query{} : Query{{"ps_args", ps_args}});
}

Result<json> container_stats_once(ApiClient& api, const std::string& id) {
  return api.get(c(id) + "/stats", {{"stream", "0"}});
}

Result<json> container_changes(ApiClient& api, const std::string& id) { return api.get(c(id) + "/changes"); }

Result<json> container_prune(ApiClient& api, const std::vector<std::string>& filters) {
  return api.post("/containers/prune", BERTH_TRY(with_filters({}, filters)));
}

Result<std::unique_ptr<Stream>> container_wait_begin(ApiClient& api, const std::string& id,
                                                     const std::string& condition) {
  return api.stream("POST", c(id) + "/wait", condition.empty() ? Query{} : Query{{"condition", condition}});
}

Result<int> wait_exit_code(Stream& s) {
  auto body = BERTH_TRY(s.rest());
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object()) return fail(Errc::Internal, "daemon sent a bad wait result: {}", body);
  if (j.contains("Error") && j["Error"].is_object()) {
    std::string m = j["Error"].value("Message", std::string());
    if (!m.empty()) return fail(Errc::Internal, "error waiting for container: {}", m);
  }
  return j.value("StatusCode", 0);
}

Result<int> container_wait(ApiClient& api, const std::string& id, const std::string& condition) {
  auto s = BERTH_TRY(container_wait_begin(api, id, condition));
  return wait_exit_code(*s);
}

Result<Hijacked> container_attach(ApiClient& api, const std::string& id, const AttachOptions& o) {
  Query q;
  if (!o.detach_keys.empty()) q.emplace_back("detachKeys", o.detach_keys);
  if (o.logs) q.emplace_back("logs", "1");
  if (o.stderr) q.emplace_back("stderr", "1");
  if (o.stdin) q.emplace_back("stdin", "1");
  if (o.stdout) q.emplace_back("stdout", "1");
  if (o.stream) q.emplace_back("stream", "1");
  return api.hijack(c(id) + "/attach", q);
}

Result<std::unique_ptr<Stream>> container_logs(ApiClient& api, const std::string& id, const LogsOptions& o) {
  Query q;
  if (o.details) q.emplace_back("details", "1");
  if (o.follow) q.emplace_back("follow", "1");
  if (!o.since.empty()) q.emplace_back("since", o.since);
  if (o.stderr) q.emplace_back("stderr", "1");
  if (o.stdout) q.emplace_back("stdout", "1");
  q.emplace_back("tail", o.tail.empty() ? "all" : o.tail);
  if (o.timestamps) q.emplace_back("timestamps", "1");
  if (!o.until.empty()) q.emplace_back("until", o.until);
  return api.stream("GET", c(id) + "/logs", q);
}

Result<std::string> exec_create(ApiClient& api, const std::string& container, const ExecConfig& e) {
  json body = {{"User", e.user},
               {"Privileged", e.privileged},
               {"Tty", e.tty},
               {"AttachStdin", e.attach_stdin},
               {"AttachStderr", e.attach_stderr},
               {"AttachStdout", e.attach_stdout},
               {"Detach", e.detach},
               {"DetachKeys", ""},
               {"Env", e.env.empty() ? json(nullptr) : json(e.env)},
               {"WorkingDir", e.working_dir},
               {"Cmd", e.cmd}};
  auto r = BERTH_TRY(api.post(c(container) + "/exec", {}, Body::json(body)));
  std::string id = r.value("Id", std::string());
  if (id.empty()) return fail(Errc::Internal, "daemon sent no exec Id");
  return id;
}

Status exec_start_detached(ApiClient& api, const std::string& exec_id, bool tty) {
  return done(api.post("/exec/" + exec_id + "/start", {}, Body::json({{"Detach", true}, {"Tty", tty}})));
}

Result<Hijacked> exec_start(ApiClient& api, const std::string& exec_id, bool tty) {
  return api.hijack("/exec/" + exec_id + "/start", {}, Body::json({{"Detach", false}, {"Tty", tty}}));
}

Status exec_resize(ApiClient& api, const std::string& exec_id, int height, int width) {
  return done(api.post("/exec/" + exec_id + "/resize", {{"h", std::to_string(height)}, {"w", std::to_string(width)}}));
}

Result<json> exec_inspect(ApiClient& api, const std::string& exec_id) { return api.get("/exec/" + exec_id + "/json"); }

Result<json> image_list(ApiClient& api, bool all, const std::vector<std::string>& filters) {
  return api.get("/images/json", BERTH_TRY(with_filters(all ? Query{{"all", "1"}} : Query{}, filters)));
}

Result<json> image_inspect(ApiClient& api, const std::string& name) { return api.get("/images/" + name + "/json"); }
Result<json> image_history(ApiClient& api, const std::string& name) { return api.get("/images/" + name + "/history"); }

Status image_tag(ApiClient& api, const std::string& source, const std::string& repo, const std::string& tag) {
  return done(api.post("/images/" + source + "/tag", {{"repo", repo}, {"tag", tag}}));
}

Result<json> image_remove(ApiClient& api, const std::string& name, bool force, bool no_prune) {
  Query q;
  if (force) q.emplace_back("force", "1");
  if (no_prune) q.emplace_back("noprune", "1");
  return api.call("DELETE", "/images/" + name, q);
}

Result<json> image_prune(ApiClient& api, const std::vector<std::string>& filters) {
  return api.post("/images/prune", BERTH_TRY(with_filters({}, filters)));
}

Result<std::unique_ptr<Stream>> image_pull(ApiClient& api, const std::string& name, const std::string& tag,
                                           const std::string& auth, const std::string& platform) {
  net::http::Headers h;
  h.add("X-Registry-Auth", auth);
  Query q{{"fromImage", name}};
  if (!tag.empty()) q.emplace_back("tag", tag);
  if (!platform.empty()) q.emplace_back("platform", platform);
  return api.stream("POST", "/images/create", q, std::nullopt, h);
}

Result<std::unique_ptr<Stream>> image_push(ApiClient& api, const std::string& name, const std::string& tag,
                                           const std::string& auth) {
  net::http::Headers h;
  h.add("X-Registry-Auth", auth);
  return api.stream("POST", "/images/" + name + "/push", tag.empty() ? Query{} : Query{{"tag", tag}}, std::nullopt, h);
}

Result<json> volume_create(ApiClient& api, const json& body) { return api.post("/volumes/create", {}, Body::json(body)); }
Result<json> volume_list(ApiClient& api, const std::vector<std::string>& filters) {
  return api.get("/volumes", BERTH_TRY(with_filters({}, filters)));
}
Result<json> volume_inspect(ApiClient& api, const std::string& name) { return api.get("/volumes/" + name); }
Status volume_remove(ApiClient& api, const std::string& name, bool force) {
  return done(api.call("DELETE", "/volumes/" + name, force ? Query{{"force", "1"}} : Query{}));
}
Result<json> volume_prune(ApiClient& api, const std::vector<std::string>& filters) {
  return api.post("/volumes/prune", BERTH_TRY(with_filters({}, filters)));
}

Result<json> network_create(ApiClient& api, const json& body) {
  return api.post("/networks/create", {}, Body::json(body));
}
Result<json> network_list(ApiClient& api, const std::vector<std::string>& filters) {
  return api.get("/networks", BERTH_TRY(with_filters({}, filters)));
}
Result<json> network_inspect(ApiClient& api, const std::string& name) { return api.get("/networks/" + name); }
Status network_remove(ApiClient& api, const std::string& name) { return done(api.call("DELETE", "/networks/" + name)); }
Status network_connect(ApiClient& api, const std::string& network, const std::string& container, const json& endpoint) {
  return done(api.post("/networks/" + network + "/connect", {},
                       Body::json({{"Container", container}, {"EndpointConfig", endpoint}})));
}
Status network_disconnect(ApiClient& api, const std::string& network, const std::string& container, bool force) {
  return done(api.post("/networks/" + network + "/disconnect", {}, Body::json({{"Container", container}, {"Force", force}})));
}
Result<json> network_prune(ApiClient& api, const std::vector<std::string>& filters) {
  return api.post("/networks/prune", BERTH_TRY(with_filters({}, filters)));
}

Result<json> system_version(ApiClient& api) { return api.get("/version"); }
Result<json> system_info(ApiClient& api) { return api.get("/info"); }
Result<json> system_df(ApiClient& api) { return api.get("/system/df"); }

Result<std::unique_ptr<Stream>> system_events(ApiClient& api, const std::string& since, const std::string& until,
                                              const std::vector<std::string>& filters) {
  Query q;
  if (!since.empty()) q.emplace_back("since", since);
  if (!until.empty()) q.emplace_back("until", until);
  return api.stream("GET", "/events", BERTH_TRY(with_filters(q, filters)));
}

}  // namespace berth::api::client
