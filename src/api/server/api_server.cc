#include "api/server/api_server.h"

#include <fnmatch.h>

#include <charconv>
#include <cstring>
#include <optional>
#include <nlohmann/json.hpp>

#include "api/server/common.h"
#include "base/log.h"

namespace berth::api {

using json = nlohmann::ordered_json;
namespace http = net::http;

namespace {

// "1.41" -> {1, 41}; nullopt when not N.N.
std::optional<std::pair<int, int>> parse_version(std::string_view v) {
  auto dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size()) return std::nullopt;
  int a = 0, b = 0;
  auto r1 = std::from_chars(v.data(), v.data() + dot, a);
  auto r2 = std::from_chars(v.data() + dot + 1, v.data() + v.size(), b);
  if (r1.ec != std::errc() || r1.ptr != v.data() + dot || r2.ec != std::errc() || r2.ptr != v.data() + v.size())
    return std::nullopt;
  return std::pair{a, b};
}

}  // namespace

Result<ApiPath> split_version(std::string_view path) {
  ApiPath out;
  if (path.size() > 2 && path[0] == '/' && path[1] == 'v') {
    auto slash = path.find('/', 1);
    std::string_view ver = path.substr(2, slash == std::string_view::npos ? std::string_view::npos : slash - 2);
    if (auto v = parse_version(ver)) {
      auto max = *parse_version(engine::kApiVersion);
      auto min = *parse_version(engine::kMinApiVersion);
      if (*v > max)
        return fail(Errc::InvalidArgument, "client version {} is too new. Maximum supported API version is {}", ver,
                    engine::kApiVersion);
      if (*v < min)
        return fail(Errc::InvalidArgument,
                    "client version {} is too old. Minimum supported API version is {}, please upgrade your client "
                    "to a newer version",
                    ver, engine::kMinApiVersion);
      out.version = std::string(ver);
      out.path = slash == std::string_view::npos ? "/" : std::string(path.substr(slash));
      return out;
    }
  }
  out.path = std::string(path);
  return out;
}

int http_status(Errc c) {
  switch (c) {
    case Errc::NotFound: return 404;
    case Errc::AlreadyExists: return 409;
    case Errc::Conflict: return 409;
    case Errc::FailedPrecondition: return 409;
    case Errc::InvalidArgument: return 400;
    case Errc::PermissionDenied: return 403;
    case Errc::Unimplemented: return 501;
    case Errc::Unavailable:
    case Errc::Canceled:
    case Errc::Internal: return 500;
  }
  return 500;
}

namespace {

using namespace detail;

json version_json(const engine::VersionInfo& v) {
  json details = {{"ApiVersion", v.api_version}, {"Arch", v.arch},           {"BuildTime", v.build_time},
                  {"Experimental", "false"},     {"GitCommit", v.git_commit}, {"GoVersion", ""},
                  {"KernelVersion", v.kernel_version}, {"MinAPIVersion", v.min_api_version}, {"Os", v.os}};
  return json{{"Platform", {{"Name", "Berth"}}},
              {"Components", json::array({{{"Name", "Engine"}, {"Version", v.version}, {"Details", details}}})},
              {"Version", v.version},
              {"ApiVersion", v.api_version},
              {"MinAPIVersion", v.min_api_version},
              {"GitCommit", v.git_commit},
              {"GoVersion", ""},
              {"Os", v.os},
              {"Arch", v.arch},
              {"KernelVersion", v.kernel_version},
              {"BuildTime", v.build_time}};
}

json info_json(const engine::SystemInfo& s) {
  json ds = json::array();
  for (auto& [k, v] : s.driver_status) ds.push_back({k, v});
  json runtimes = json::object();
  for (auto& [k, v] : s.runtimes) runtimes[k] = {{"path", v}};
  return json{{"ID", s.id},
              {"Containers", s.containers},
              {"ContainersRunning", s.containers_running},
              {"ContainersPaused", s.containers_paused},
              {"ContainersStopped", s.containers_stopped},
              {"Images", s.images},
              {"Driver", s.driver},
              {"DriverStatus", ds},
              {"Plugins", {{"Volume", json::array({"local"})},
                           {"Network", json::array({"bridge", "host", "null"})},
                           {"Authorization", nullptr},
                           {"Log", json::array({"json-file"})}}},
              {"MemoryLimit", true},
              {"SwapLimit", true},
              {"CpuCfsPeriod", true},
              {"CpuCfsQuota", true},
              {"CPUShares", true},
              {"CPUSet", true},
              {"PidsLimit", true},
              {"OomKillDisable", s.cgroup_version == "1"},
              {"IPv4Forwarding", true},
              {"Debug", false},
              {"SystemTime", s.system_time},
              {"LoggingDriver", s.logging_driver},
              {"CgroupDriver", s.cgroup_driver},
              {"CgroupVersion", s.cgroup_version},
              {"KernelVersion", s.kernel_version},
              {"OperatingSystem", s.operating_system},
              {"OSVersion", s.os_version},
              {"OSType", "linux"},
              {"Architecture", s.architecture},
              {"IndexServerAddress", "https://index.docker.io/v1/"},
              {"NCPU", s.ncpu},
              {"MemTotal", s.mem_total},
              {"DockerRootDir", s.data_root},
              {"Name", s.name},
              {"Labels", json::array()},
              {"ExperimentalBuild", false},
              {"ServerVersion", s.server_version},
              {"Runtimes", runtimes},
              {"DefaultRuntime", s.default_runtime},
              {"Swarm", {{"NodeID", ""}, {"NodeAddr", ""}, {"LocalNodeState", "inactive"}, {"ControlAvailable", false},
                         {"Error", ""}, {"RemoteManagers", nullptr}}},
              {"LiveRestoreEnabled", s.live_restore},
              {"Isolation", ""},
              {"SecurityOptions", s.security_options},
              {"Warnings", nullptr}};
}

json summary_json(const engine::ImageSummary& s) {
  return json{{"Containers", -1},
              {"Created", s.created},
              {"Id", s.id},
              {"Labels", labels_or_null(s.labels)},
              {"ParentId", ""},
              {"RepoDigests", str_list_or_null(s.repo_digests)},
              {"RepoTags", str_list_or_null(s.repo_tags)},
              {"SharedSize", -1},
              {"Size", s.size},
              {"VirtualSize", s.size}};
}

// Docker's container-config shape, filled from the OCI image config's `config` object (same key names).
json docker_config(const json& oci_cfg) {
  json c = {{"Hostname", ""},   {"Domainname", ""}, {"User", ""},       {"AttachStdin", false},
            {"AttachStdout", false}, {"AttachStderr", false}, {"Tty", false}, {"OpenStdin", false},
            {"StdinOnce", false}, {"Env", nullptr}, {"Cmd", nullptr}, {"Image", ""},
            {"Volumes", nullptr}, {"WorkingDir", ""}, {"Entrypoint", nullptr}, {"OnBuild", nullptr},
            {"Labels", nullptr}};
  if (oci_cfg.is_object())
    for (auto& [k, v] : oci_cfg.items()) c[k] = v;
  return c;
}

Result<json> inspect_json(const engine::ImageDetail& d, const std::string& driver) {
  json cfg;
  try {
    cfg = json::parse(d.config_json);
  } catch (const std::exception& e) {
    return fail(Errc::Internal, "image config of {}: {}", d.summary.id, e.what());
  }
  std::string comment;
  if (cfg.contains("history") && cfg["history"].is_array() && !cfg["history"].empty())
    comment = cfg["history"].back().value("comment", "");
  return json{{"Id", d.summary.id},
              {"RepoTags", d.summary.repo_tags},
              {"RepoDigests", d.summary.repo_digests},
              {"Parent", ""},
              {"Comment", comment},
              {"Created", d.created_text.empty() ? kZeroTime : d.created_text},
              {"Container", ""},
              {"ContainerConfig", docker_config(nullptr)},
              {"DockerVersion", ""},
              {"Author", cfg.value("author", "")},
              {"Config", docker_config(cfg.contains("config") ? cfg["config"] : json(nullptr))},
              {"Architecture", cfg.value("architecture", "")},
              {"Os", cfg.value("os", "")},
              {"Size", d.summary.size},
              {"VirtualSize", d.summary.size},
              {"GraphDriver", {{"Data", nullptr}, {"Name", driver}}},
              {"RootFS", {{"Type", "layers"}, {"Layers", d.diff_ids}}},
              {"Metadata", {{"LastTagTime", kZeroTime}}}};
}

class Call {
 public:
  explicit Call(Ctx& c) : c_(c), e_(c.e), q_(c.q), r_(c.r), target_(c.target) {}

  void run() {
    const std::string& p = c_.path;
    const std::string& m = q_.method();
    if (p == "/_ping" && (m == "GET" || m == "HEAD")) return ping();
    if (p == "/version" && m == "GET") return send_json(r_, 200, version_json(e_.version()));
    if (p == "/info" && m == "GET") return reply(e_.info(), info_json);
    if (route_containers(c_)) return;
    if (route_objects(c_)) return;
    if (p == "/images/json" && m == "GET") return images_list();
    if (p == "/images/prune" && m == "POST") return images_prune();
    if (p.starts_with("/images/")) {
      std::string rest = p.substr(8);
      auto suffix = [&](std::string_view s) -> std::optional<std::string> {
        if (rest.size() > s.size() && rest.ends_with(s)) return rest.substr(0, rest.size() - s.size());
        return std::nullopt;
      };
      if (m == "GET")
        if (auto n = suffix("/json")) return image_inspect(*n);
      if (m == "GET")
        if (auto n = suffix("/history")) return image_history(*n);
      if (m == "POST")
        if (auto n = suffix("/tag")) return image_tag(*n);
      if (m == "DELETE" && !rest.empty()) return image_delete(rest);
    }
    send_error(r_, 404, "page not found");
  }

 private:
  template <class T, class F>
  void reply(Result<T> r, F&& to_json) {
    if (!r) return send_error(r_, r.error());
    send_json(r_, 200, to_json(*r));
  }

  void ping() {
    auto h = base_headers();
    h.add("Cache-Control", "no-cache, no-store, must-revalidate");
    h.add("Pragma", "no-cache");
    h.add("Content-Type", "text/plain; charset=utf-8");
    (void)r_.send(200, h, q_.method() == "HEAD" ? "" : "OK");
  }

  void images_list() {
    auto f = parse_filters(target_.param("filters"));
    if (!f) return send_error(r_, f.error());
    for (auto& [k, v] : *f)
      if (k != "dangling" && k != "reference" && k != "label")
        return send_error(r_, 400, fmt::format("invalid filter '{}'", k));
    auto list = e_.images();
    if (!list) return send_error(r_, list.error());
    json out = json::array();
    for (auto& s : *list) {
      if (f->count("dangling")) {
        bool want = f->at("dangling").front() == "true" || f->at("dangling").front() == "1";
        if (want != s.repo_tags.empty()) continue;
      }
      if (f->count("reference")) {
        bool any = false;
        for (auto& pat : f->at("reference"))
          for (auto& tag : s.repo_tags) {
            std::string repo = tag.substr(0, tag.rfind(':'));
            if (fnmatch(pat.c_str(), tag.c_str(), 0) == 0 || fnmatch(pat.c_str(), repo.c_str(), 0) == 0) any = true;
          }
        if (!any) continue;
      }
      if (f->count("label")) {
        bool all = true;
        for (auto& l : f->at("label")) {
          auto eq = l.find('=');
          auto k = l.substr(0, eq);
          auto it = s.labels.find(k);
          if (it == s.labels.end() || (eq != std::string::npos && it->second != l.substr(eq + 1))) all = false;
        }
        if (!all) continue;
      }
      out.push_back(summary_json(s));
    }
    send_json(r_, 200, out);
  }

  void image_inspect(const std::string& name) {
    auto d = e_.image_inspect(name);
    if (!d) return send_error(r_, d.error());
    auto info = e_.info();
    auto j = inspect_json(*d, info ? info->driver : "");
    if (!j) return send_error(r_, j.error());
    send_json(r_, 200, *j);
  }

  void image_history(const std::string& name) {
    auto h = e_.image_history(name);
    if (!h) return send_error(r_, h.error());
    json out = json::array();
    for (auto& e : *h)
      out.push_back({{"Comment", e.comment},
                     {"Created", e.created},
                     {"CreatedBy", e.created_by},
                     {"Id", e.id},
                     {"Size", e.size},
                     {"Tags", str_list_or_null(e.tags)}});
    send_json(r_, 200, out);
  }

  void image_tag(const std::string& name) {
    auto repo = target_.param("repo").value_or("");
    auto tag = target_.param("tag").value_or("");
    auto st = e_.image_tag(name, repo, tag);
    if (!st) return send_error(r_, st.error());
    send_empty(r_, 201);
  }

  void image_delete(const std::string& name) {
    auto items = e_.image_remove(name, truthy(target_.param("force")));
    if (!items) return send_error(r_, items.error());
    send_json(r_, 200, delete_items(*items));
  }

  void images_prune() {
    auto f = parse_filters(target_.param("filters"));
    if (!f) return send_error(r_, f.error());
    bool dangling_only = true;
    for (auto& [k, v] : *f) {
      if (k != "dangling") return send_error(r_, 400, fmt::format("invalid filter '{}'", k));
      if (!v.empty() && (v.front() == "false" || v.front() == "0")) dangling_only = false;
    }
    auto rep = e_.image_prune(dangling_only);
    if (!rep) return send_error(r_, rep.error());
    json del = rep->images_deleted.empty() ? json(nullptr) : delete_items(rep->images_deleted);
    send_json(r_, 200, json{{"ImagesDeleted", del}, {"SpaceReclaimed", rep->space_reclaimed}});
  }

  static json delete_items(const std::vector<engine::DeleteItem>& items) {
    json out = json::array();
    for (auto& i : items) {
      if (!i.untagged.empty()) out.push_back({{"Untagged", i.untagged}});
      if (!i.deleted.empty()) out.push_back({{"Deleted", i.deleted}});
    }
    return out;
  }

  Ctx& c_;
  engine::Engine& e_;
  http::ServerRequest& q_;
  http::ServerResponse& r_;
  const http::Target& target_;
};

}  // namespace

namespace {

// The body of a request that is not an archive route, read ahead (at most kMaxBody bytes) by the handler.
class BufferedRequest final : public http::ServerRequest {
 public:
  BufferedRequest(const http::ServerRequest& q, std::string body) : body_(std::move(body)) {
    method_ = q.method();
    target_ = q.target();
    remote_ = q.remote();
    headers_ = q.headers();
    content_length_ = body_.size();
  }
  Result<size_t> read_body(char* buf, size_t n) override {
    size_t k = std::min(n, body_.size() - pos_);
    std::memcpy(buf, body_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string body_;
  size_t pos_ = 0;
};

// 413 without reading the rest of the body, so the connection cannot be reused: the server closes it
// instead of draining an endless body.
void send_too_large(http::ServerResponse& r) {
  auto h = base_headers();
  h.add("Content-Type", "application/json");
  h.add("Connection", "close");
  (void)r.send(413, h, json{{"message", fmt::format("request body exceeds {} bytes", kMaxBody)}}.dump() + "\n");
}

// A body that could not be read (bad chunk framing, a connection cut short): 400, and the connection is done.
void send_bad_body(http::ServerResponse& r, const Error& e) {
  auto h = base_headers();
  h.add("Content-Type", "application/json");
  h.add("Connection", "close");
  (void)r.send(400, h, json{{"message", fmt::format("reading the request body: {}", e.message())}}.dump() + "\n");
}

}  // namespace

void ApiHandler::operator()(http::ServerRequest& wire_req, http::ServerResponse& resp) {
  // Bodies this API version reads are small JSON; refuse anything huge before routing (by Content-Length, or
  // after kMaxBody bytes of a chunked body), and read the rest ahead so routes never see a body over the limit.
  auto target = http::parse_target(wire_req.target());
  auto ap = split_version(target.path);
  if (!ap) return send_error(resp, ap.error());
  std::optional<BufferedRequest> buffered;
  if (!large_body_route(wire_req.method(), ap->path)) {
    if (wire_req.content_length() && *wire_req.content_length() > kMaxBody) return send_too_large(resp);
    if (!wire_req.content_length() || *wire_req.content_length() > 0) {
      std::string body;
      char buf[16384];
      for (;;) {
        auto n = wire_req.read_body(buf, sizeof buf);
        if (!n) return send_bad_body(resp, n.error());  // malformed chunking, or the client went away
        if (*n == 0) break;
        if (body.size() + *n > kMaxBody) return send_too_large(resp);
        body.append(buf, *n);
      }
      buffered.emplace(wire_req, std::move(body));
    }
  }
  http::ServerRequest& req = buffered ? static_cast<http::ServerRequest&>(*buffered) : wire_req;
  try {
    Ctx ctx{engine_, req, resp, std::move(target), std::move(ap->version), std::move(ap->path)};
    Call(ctx).run();
  } catch (const std::exception& e) {
    log::error("api: {} {}: {}", req.method(), req.target(), e.what());
    if (!resp.sent()) send_error(resp, 500, e.what());
  }
  log::debug("api: {} {}", req.method(), req.target());
}

}  // namespace berth::api
