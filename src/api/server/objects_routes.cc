// Volume, network, event, system-df, auth and image-transfer routes of the Engine API.
#include <fnmatch.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <mutex>

#include "api/server/api_server.h"
#include "api/server/common.h"
#include "base/base64.h"
#include "base/log.h"

namespace berth::api::detail {

namespace {

// ---- JSON shapes ----

json volume_json(const engine::Volume& v) {
  return json{{"CreatedAt", v.created_at.empty() ? kZeroTime : v.created_at},
              {"Driver", v.driver},
              {"Labels", labels_or_null(v.labels)},
              {"Mountpoint", v.mountpoint},
              {"Name", v.name},
              {"Options", labels_or_null(v.options)},
              {"Scope", "local"}};
}

json string_map(const std::map<std::string, std::string>& m) {
  json j = json::object();
  for (auto& [k, v] : m) j[k] = v;
  return j;
}

json network_json(const engine::Network& n, bool with_containers) {
  json cfg = json::array();
  for (auto& c : n.ipam_config) {
    json j = json::object();
    if (!c.subnet.empty()) j["Subnet"] = c.subnet;
    if (!c.ip_range.empty()) j["IPRange"] = c.ip_range;
    if (!c.gateway.empty()) j["Gateway"] = c.gateway;
    if (!c.aux_addresses.empty()) j["AuxiliaryAddresses"] = string_map(c.aux_addresses);
    cfg.push_back(j);
  }
  json containers = json::object();
  if (with_containers)
    for (auto& [id, e] : n.containers)
      containers[id] = {{"Name", e.name},
                        {"EndpointID", e.endpoint_id},
                        {"MacAddress", e.mac_address},
                        {"IPv4Address", e.ipv4_address},
                        {"IPv6Address", e.ipv6_address}};
  return json{{"Name", n.name},
              {"Id", n.id},
              {"Created", n.created.empty() ? kZeroTime : n.created},
              {"Scope", n.scope},
              {"Driver", n.driver},
              {"EnableIPv6", n.enable_ipv6},
              {"IPAM",
               {{"Driver", n.ipam_driver},
                {"Options", n.ipam_options_null && n.ipam_options.empty() ? json(nullptr) : string_map(n.ipam_options)},
                {"Config", cfg}}},
              {"Internal", n.internal},
              {"Attachable", n.attachable},
              {"Ingress", n.ingress},
              {"ConfigFrom", {{"Network", n.config_from}}},
              {"ConfigOnly", n.config_only},
              {"Containers", containers},
              {"Options", string_map(n.options)},
              {"Labels", string_map(n.labels)}};
}

json event_json(const engine::Event& e) {
  json j = json::object();
  if (e.type == "container" || e.type == "image") {
    j["status"] = e.action;
    j["id"] = e.actor_id;
    if (e.type == "container")
      if (auto it = e.attributes.find("image"); it != e.attributes.end()) j["from"] = it->second;
  }
  j["Type"] = e.type;
  j["Action"] = e.action;
  j["Actor"] = {{"ID", e.actor_id}, {"Attributes", string_map(e.attributes)}};
  j["scope"] = e.scope;
  j["time"] = e.time;
  j["timeNano"] = e.time_nano;
  return j;
}

json message_json(const engine::JsonMessage& m) {
  json j = json::object();
  if (!m.status.empty()) j["status"] = m.status;
  if (m.current >= 0) {
    json d = {{"current", m.current}};
    if (m.total > 0) d["total"] = m.total;
    j["progressDetail"] = d;
  } else if (m.empty_detail || !m.aux_json.empty()) {
    j["progressDetail"] = json::object();
  }
  if (!m.progress.empty()) j["progress"] = m.progress;
  if (!m.id.empty()) j["id"] = m.id;
  if (!m.stream.empty()) j["stream"] = m.stream;
  if (!m.aux_json.empty()) {
    auto aux = json::parse(m.aux_json, nullptr, false);
    if (!aux.is_discarded()) j["aux"] = aux;
  }
  if (!m.error.empty()) {
    j["errorDetail"] = {{"message", m.error}};
    j["error"] = m.error;
  }
  return j;
}

// Go's encoding/json name of a JSON value's type, as its errors print it.
std::string_view go_json_type(const json& j) {
  if (j.is_number()) return "number";
  if (j.is_boolean()) return "bool";
  if (j.is_array()) return "array";
  if (j.is_object()) return "object";
  return "string";
}

// A map[string]string field of a request body, decoded as dockerd decodes it: null is empty, a null value
// is "", anything else that is not a string is a 400 naming the Go field ("VolumeCreateBody.Labels").
Result<std::map<std::string, std::string>> json_string_map(const json& j, std::string_view go_field) {
  std::map<std::string, std::string> out;
  if (j.is_null()) return out;
  if (!j.is_object())
    return fail(Errc::InvalidArgument, "json: cannot unmarshal {} into Go struct field {} of type map[string]string",
                go_json_type(j), go_field);
  for (auto& [k, v] : j.items()) {
    if (v.is_null()) {
      out[k] = "";
      continue;
    }
    if (!v.is_string())
      return fail(Errc::InvalidArgument, "json: cannot unmarshal {} into Go struct field {} of type string",
                  go_json_type(v), go_field);
    out[k] = v.get<std::string>();
  }
  return out;
}

bool bool_filter(const std::vector<std::string>& v) {
  return !v.empty() && (v.front() == "true" || v.front() == "1");
}

// label / label! filters of prune: "k", "k=v", and "!k[=v]" for label!.
std::vector<std::string> label_filters(const std::map<std::string, std::vector<std::string>>& f) {
  std::vector<std::string> out;
  if (auto it = f.find("label"); it != f.end()) out = it->second;
  if (auto it = f.find("label!"); it != f.end())
    for (auto& l : it->second) out.push_back("!" + l);
  return out;
}

bool labels_match(const std::map<std::string, std::string>& labels, const std::vector<std::string>& filters) {
  for (auto& l : filters) {
    auto eq = l.find('=');
    auto it = labels.find(l.substr(0, eq));
    if (it == labels.end() || (eq != std::string::npos && it->second != l.substr(eq + 1))) return false;
  }
  return true;
}

// X-Registry-Auth: base64url (or standard) JSON {"username","password","serveraddress","identitytoken",...}.
engine::RegistryAuth parse_registry_auth(const std::optional<std::string>& header) {
  engine::RegistryAuth a;
  if (!header || header->empty()) return a;
  auto dec = base64_decode(*header);  // URL-safe or standard
  if (!dec) return a;
  auto j = json::parse(*dec, nullptr, false);
  if (!j.is_object()) return a;
  a.username = j.value("username", "");
  a.password = j.value("password", "");
  a.identity_token = j.value("identitytoken", "");
  a.registry_token = j.value("registrytoken", "");
  a.server_address = j.value("serveraddress", "");
  return a;
}

http::Headers json_stream_headers() {
  auto h = base_headers();
  h.add("Content-Type", "application/json");
  return h;
}

// prune's `until`: a timestamp (see parse_event_time) or a duration before now: "90s", "10m", "24h", "1h30m".
Result<int64_t> parse_until(const std::string& v) {
  if (auto t = engine::parse_event_time(v)) return *t;
  int64_t total = 0;
  size_t i = 0;
  while (i < v.size()) {
    size_t j = i;
    while (j < v.size() && (std::isdigit(static_cast<unsigned char>(v[j])) || v[j] == '.')) j++;
    if (j == i || j == v.size()) return fail(Errc::InvalidArgument, "invalid until filter `{}`", v);
    double n = std::atof(v.substr(i, j - i).c_str());
    int64_t unit = v[j] == 'h' ? 3600'000'000'000 : v[j] == 'm' ? 60'000'000'000 : v[j] == 's' ? 1'000'000'000 : 0;
    if (unit == 0) return fail(Errc::InvalidArgument, "invalid until filter `{}`", v);
    total += static_cast<int64_t>(n * static_cast<double>(unit));
    i = j + 1;
  }
  return engine::now_unix_nano() - total;
}

// ---- routes ----

class ObjectCall {
 public:
  explicit ObjectCall(Ctx& c) : c_(c), e_(c.e), r_(c.r) {}

  bool run() {
    const std::string& p = c_.path;
    const std::string& m = c_.method();
    // volumes
    if (p == "/volumes" && m == "GET") return volumes_list(), true;
    if (p == "/volumes/create" && m == "POST") return volume_create(), true;
    if (p == "/volumes/prune" && m == "POST") return volumes_prune(), true;
    if (p.starts_with("/volumes/") && p.size() > 9) {
      std::string name = p.substr(9);
      if (m == "GET") return volume_inspect(name), true;
      if (m == "DELETE") return volume_delete(name), true;
    }
    // networks
    if (p == "/networks" && m == "GET") return networks_list(), true;
    if (p == "/networks/create" && m == "POST") return network_create(), true;
    if (p == "/networks/prune" && m == "POST") return networks_prune(), true;
    if (p.starts_with("/networks/") && p.size() > 10) {
      std::string rest = p.substr(10);
      if (m == "POST" && rest.ends_with("/connect")) return network_connect(rest.substr(0, rest.size() - 8), true), true;
      if (m == "POST" && rest.ends_with("/disconnect"))
        return network_connect(rest.substr(0, rest.size() - 11), false), true;
      if (rest.find('/') == std::string::npos) {
        if (m == "GET") return network_inspect(rest), true;
        if (m == "DELETE") return network_delete(rest), true;
      }
    }
    // system
    if (p == "/events" && m == "GET") return events(), true;
    if (p == "/system/df" && m == "GET") return system_df(), true;
    if (p == "/auth" && m == "POST") return auth(), true;
    // image transfer
    if (p == "/images/create" && m == "POST") return images_create(), true;
    if (p == "/images/load" && m == "POST") return images_load(), true;
    if (p == "/images/get" && m == "GET") {
      std::vector<std::string> names;
      for (auto& [k, v] : c_.target.query)
        if (k == "names") names.push_back(v);
      return images_save(names), true;
    }
    if (p.starts_with("/images/") && p.size() > 8) {
      std::string rest = p.substr(8);
      if (m == "POST" && rest.size() > 5 && rest.ends_with("/push")) return image_push(rest.substr(0, rest.size() - 5)), true;
      if (m == "GET" && rest.size() > 4 && rest.ends_with("/get")) return images_save({rest.substr(0, rest.size() - 4)}), true;
    }
    return false;
  }

 private:
  // ---- volumes ----
  void volumes_list() {
    auto f = parse_filters(c_.param("filters"));
    if (!f) return send_error(r_, f.error());
    for (auto& [k, v] : *f)
      if (k != "dangling" && k != "name" && k != "label" && k != "driver")
        return send_error(r_, 400, fmt::format("invalid filter '{}'", k));
    auto list = e_.volumes();
    if (!list) return send_error(r_, list.error());
    json vols = json::array();
    for (auto& v : *list) {
      if (f->count("dangling") && bool_filter(f->at("dangling")) != v.refs.empty()) continue;
      if (f->count("name")) {
        bool any = false;
        for (auto& n : f->at("name")) any |= v.name.find(n) != std::string::npos;
        if (!any) continue;
      }
      if (f->count("driver")) {
        bool any = false;
        for (auto& d : f->at("driver")) any |= d == v.driver;
        if (!any) continue;
      }
      if (f->count("label") && !labels_match(v.labels, f->at("label"))) continue;
      vols.push_back(volume_json(v));
    }
    send_json(r_, 200, json{{"Volumes", vols}, {"Warnings", nullptr}});
  }

  void volume_create() {
    auto body = read_json_body(c_.q);
    if (!body) return send_error(r_, body.error());
    if (!body->is_object()) return send_error(r_, 400, "invalid JSON body: not an object");
    engine::VolumeCreateRequest req;
    try {
      req.name = body->value("Name", "");
      req.driver = body->value("Driver", "");
      if (body->contains("Labels")) {
        auto m = json_string_map((*body)["Labels"], "VolumeCreateBody.Labels");
        if (!m) return send_error(r_, m.error());
        req.labels = std::move(*m);
      }
      if (body->contains("DriverOpts")) {
        auto m = json_string_map((*body)["DriverOpts"], "VolumeCreateBody.DriverOpts");
        if (!m) return send_error(r_, m.error());
        req.options = std::move(*m);
      }
    } catch (const json::exception& ex) {
      return send_error(r_, 400, fmt::format("invalid volume create request: {}", ex.what()));
    }
    auto v = e_.volume_create(req);
    if (!v) return send_error(r_, v.error());
    send_json(r_, 201, volume_json(*v));
  }

  void volume_inspect(const std::string& name) {
    auto v = e_.volume_inspect(name);
    if (!v) return send_error(r_, v.error());
    send_json(r_, 200, volume_json(*v));
  }

  void volume_delete(const std::string& name) {
    auto st = e_.volume_remove(name, truthy(c_.param("force")));
    if (!st) return send_error(r_, st.error());
    send_empty(r_, 204);
  }

  void volumes_prune() {
    auto f = parse_filters(c_.param("filters"));
    if (!f) return send_error(r_, f.error());
    for (auto& [k, v] : *f)
      if (k != "label" && k != "label!" && k != "all")
        return send_error(r_, 400, fmt::format("invalid filter '{}'", k));
    // API 1.42 made anonymous-only the default (named ones with all=true); a 1.41 client (the docker CLI
    // talking to this daemon) prunes every unused volume, which is what it tells its user.
    bool all = c_.version.empty() ? false : true;
    if (!c_.version.empty()) {
      auto dot = c_.version.find('.');
      int minor = dot == std::string::npos ? 0 : std::atoi(c_.version.c_str() + dot + 1);
      all = minor < 42;
    }
    if (f->count("all")) all = bool_filter(f->at("all"));
    auto rep = e_.volume_prune(all, label_filters(*f));
    if (!rep) return send_error(r_, rep.error());
    send_json(r_, 200, json{{"VolumesDeleted", str_list_or_null(rep->deleted)}, {"SpaceReclaimed", rep->space_reclaimed}});
  }

  // ---- networks ----
  void networks_list() {
    auto f = parse_filters(c_.param("filters"));
    if (!f) return send_error(r_, f.error());
    for (auto& [k, v] : *f)
      if (k != "driver" && k != "id" && k != "label" && k != "name" && k != "scope" && k != "type" && k != "dangling")
        return send_error(r_, 400, fmt::format("invalid filter '{}'", k));
    auto list = e_.networks();
    if (!list) return send_error(r_, list.error());
    json out = json::array();
    auto any = [&](const char* key, auto&& pred) {
      auto it = f->find(key);
      if (it == f->end() || it->second.empty()) return true;
      for (auto& v : it->second)
        if (pred(v)) return true;
      return false;
    };
    for (auto& n : *list) {
      if (!any("driver", [&](auto& v) { return v == n.driver; })) continue;
      if (!any("id", [&](auto& v) { return n.id.starts_with(v); })) continue;
      if (!any("name", [&](auto& v) { return n.name.find(v) != std::string::npos; })) continue;
      if (!any("scope", [&](auto& v) { return v == n.scope; })) continue;
      if (!any("type", [&](auto& v) { return (v == "builtin") == n.predefined(); })) continue;
      if (!any("dangling", [&](auto& v) { return (v == "true" || v == "1") == (n.containers.empty() && !n.predefined()); }))
        continue;
      if (f->count("label") && !labels_match(n.labels, f->at("label"))) continue;
      out.push_back(network_json(n, false));
    }
    send_json(r_, 200, out);
  }

  void network_inspect(const std::string& ref) {
    auto n = e_.network_inspect(ref);
    if (!n) return send_error(r_, n.error());
    send_json(r_, 200, network_json(*n, true));
  }

  void network_create() {
    auto body = read_json_body(c_.q);
    if (!body) return send_error(r_, body.error());
    if (!body->is_object()) return send_error(r_, 400, "invalid JSON body: not an object");
    engine::NetworkCreateRequest req;
    try {
      auto& b = *body;
      req.name = b.value("Name", "");
      req.driver = b.value("Driver", "");
      req.check_duplicate = b.value("CheckDuplicate", true);
      req.internal = b.value("Internal", false);
      req.attachable = b.value("Attachable", false);
      req.ingress = b.value("Ingress", false);
      req.enable_ipv6 = b.value("EnableIPv6", false);
      req.config_only = b.value("ConfigOnly", false);
      if (b.contains("ConfigFrom") && b["ConfigFrom"].is_object()) req.config_from = b["ConfigFrom"].value("Network", "");
      if (b.contains("Options")) {
        auto m = json_string_map(b["Options"], "NetworkCreateRequest.Options");
        if (!m) return send_error(r_, m.error());
        req.options = std::move(*m);
      }
      if (b.contains("Labels")) {
        auto m = json_string_map(b["Labels"], "NetworkCreateRequest.Labels");
        if (!m) return send_error(r_, m.error());
        req.labels = std::move(*m);
      }
      if (b.contains("IPAM") && b["IPAM"].is_object()) {
        auto& ipam = b["IPAM"];
        req.ipam_driver = ipam.value("Driver", "");
        if (ipam.contains("Options")) {
          auto m = json_string_map(ipam["Options"], "IPAM.IPAM.Options");
          if (!m) return send_error(r_, m.error());
          req.ipam_options = std::move(*m);
        }
        if (ipam.contains("Config") && ipam["Config"].is_array())
          for (auto& c : ipam["Config"]) {
            engine::IpamConfig ic;
            ic.subnet = c.value("Subnet", "");
            ic.ip_range = c.value("IPRange", "");
            ic.gateway = c.value("Gateway", "");
            if (c.contains("AuxiliaryAddresses")) {
              auto m = json_string_map(c["AuxiliaryAddresses"], "IPAMConfig.IPAM.Config.AuxiliaryAddresses");
              if (!m) return send_error(r_, m.error());
              ic.aux_addresses = std::move(*m);
            }
            req.ipam_config.push_back(ic);
          }
      }
    } catch (const json::exception& ex) {
      return send_error(r_, 400, fmt::format("invalid network create request: {}", ex.what()));
    }
    auto res = e_.network_create(req);
    if (!res) return send_error(r_, res.error());
    send_json(r_, 201, json{{"Id", res->id}, {"Warning", res->warning}});
  }

  void network_delete(const std::string& ref) {
    auto st = e_.network_remove(ref);
    if (!st) return send_error(r_, st.error());
    send_empty(r_, 204);
  }

  void network_connect(const std::string& ref, bool connect) {
    auto body = read_json_body(c_.q);
    if (!body) return send_error(r_, body.error());
    if (!body->is_object()) return send_error(r_, 400, "invalid JSON body: not an object");
    std::string container;
    try {
      container = body->value("Container", "");
    } catch (const json::exception& ex) {
      return send_error(r_, 400, fmt::format("invalid request: {}", ex.what()));
    }
    if (container.empty()) return send_error(r_, 400, "container is required");
    if (body->contains("Force") && !(*body)["Force"].is_boolean()) return send_error(r_, 400, "invalid request: Force must be a boolean");
    Status st;
    if (connect) {
      engine::EndpointRequest req;
      if (body->contains("EndpointConfig") && (*body)["EndpointConfig"].is_object()) {
        auto& ec = (*body)["EndpointConfig"];
        if (ec.contains("Aliases") && ec["Aliases"].is_array())
          for (auto& a : ec["Aliases"])
            if (a.is_string()) req.aliases.push_back(a.get<std::string>());
        if (ec.contains("IPAMConfig") && ec["IPAMConfig"].is_object())
          req.ipv4_address = ec["IPAMConfig"].value("IPv4Address", "");
      }
      st = e_.network_connect(ref, container, req);
    } else {
      st = e_.network_disconnect(ref, container, body->value("Force", false));
    }
    if (!st) return send_error(r_, st.error());
    send_empty(r_, 200);
  }

  void networks_prune() {
    auto f = parse_filters(c_.param("filters"));
    if (!f) return send_error(r_, f.error());
    for (auto& [k, v] : *f)
      if (k != "label" && k != "label!" && k != "until") return send_error(r_, 400, fmt::format("invalid filter '{}'", k));
    int64_t until = 0;
    if (f->count("until") && !f->at("until").empty()) {
      // docker: a timestamp or a Go duration relative to now ("24h", "10m")
      auto t = parse_until(f->at("until").front());
      if (!t) return send_error(r_, t.error());
      until = *t;
    }
    auto rep = e_.network_prune(label_filters(*f), until);
    if (!rep) return send_error(r_, rep.error());
    send_json(r_, 200, json{{"NetworksDeleted", str_list_or_null(*rep)}});
  }

  // ---- events ----
  void events() {
    auto f = parse_filters(c_.param("filters"));
    if (!f) return send_error(r_, f.error());
    int64_t since = 0, until = 0;
    if (auto s = c_.param("since"); s && !s->empty()) {
      auto t = engine::parse_event_time(*s);
      if (!t) return send_error(r_, t.error());
      since = *t;
    }
    if (auto u = c_.param("until"); u && !u->empty()) {
      auto t = engine::parse_event_time(*u);
      if (!t) return send_error(r_, t.error());
      until = *t;
    }
    if (since && until && since > until) return send_error(r_, 400, "`since` time is after `until` time");
    engine::EventFilter filter{*f};
    auto sub = e_.events_subscribe(filter, since, until);
    if (!sub) return send_error(r_, sub.error());
    if (!r_.begin_stream(200, json_stream_headers())) return;
    // The stream ends when `until` passes, the daemon stops (the bus closes) or the client goes away (the
    // watch cancels the subscription, which wakes next()): no polling interval.
    engine::EventSubscription& s = **sub;
    PeerWatch watch(r_.peer_fd(), [&s] { s.cancel(); });
    for (;;) {
      auto ev = s.next(std::chrono::hours(1));
      if (ev) {
        if (!r_.write(dump_json(event_json(*ev)) + "\n")) return;
        continue;
      }
      if (s.done() || r_.peer_gone()) break;
    }
    (void)r_.end_stream();
  }

  // ---- system df ----
  void system_df() {
    auto df = e_.system_df();
    if (!df) return send_error(r_, df.error());
    json images = json::array();
    for (auto& i : df->images) {
      auto& s = i.summary;
      images.push_back({{"Containers", i.containers},
                        {"Created", s.created},
                        {"Id", s.id},
                        {"Labels", labels_or_null(s.labels)},
                        {"ParentId", ""},
                        {"RepoDigests", str_list_or_null(s.repo_digests)},
                        {"RepoTags", str_list_or_null(s.repo_tags)},
                        {"SharedSize", i.shared_size},
                        {"Size", s.size},
                        {"VirtualSize", s.size}});
    }
    json containers = json::array();
    for (auto& c : df->containers)
      containers.push_back({{"Id", c.id},
                            {"Names", c.names},
                            {"Image", c.image},
                            {"ImageID", c.image_id},
                            {"Command", c.command},
                            {"Created", c.created},
                            {"Ports", json::array()},
                            {"SizeRw", c.size_rw},
                            {"SizeRootFs", c.size_root_fs},
                            {"Labels", string_map(c.labels)},
                            {"State", c.state},
                            {"Status", c.status},
                            {"HostConfig", {{"NetworkMode", "default"}}},
                            {"NetworkSettings", {{"Networks", json::object()}}},
                            {"Mounts", json::array()}});
    json volumes = json::array();
    for (auto& v : df->volumes) {
      json j = volume_json(v.volume);
      j["UsageData"] = {{"RefCount", v.ref_count}, {"Size", v.size}};
      volumes.push_back(j);
    }
    send_json(r_, 200, json{{"LayersSize", df->layers_size},
                            {"Images", images},
                            {"Containers", containers},
                            {"Volumes", volumes},
                            {"BuildCache", json::array()}});
  }

  // ---- auth ----
  void auth() {
    auto body = read_json_body(c_.q);
    if (!body) return send_error(r_, body.error());
    if (!body->is_object()) return send_error(r_, 400, "invalid JSON body: not an object");
    engine::RegistryAuth a;
    try {
      a.username = body->value("username", "");
      a.password = body->value("password", "");
      a.identity_token = body->value("identitytoken", "");
      a.server_address = body->value("serveraddress", "");
    } catch (const json::exception& ex) {
      return send_error(r_, 400, fmt::format("invalid auth request: {}", ex.what()));
    }
    auto st = e_.registry_login(a);
    if (!st) {
      if (st.error().code() == Errc::PermissionDenied) return send_error(r_, 401, st.error().message());
      return send_error(r_, st.error());
    }
    send_json(r_, 200, json{{"IdentityToken", ""}, {"Status", "Login Succeeded"}});
  }

  // ---- image transfer ----

  // A JSON-message stream whose headers go out with the first message that matters: until then an error is
  // still a plain HTTP error (docker: a missing manifest is a 404, an unreachable registry a 500).
  class LazyStream {
   public:
    explicit LazyStream(http::ServerResponse& r) : r_(r) {}
    Status send(const engine::JsonMessage& m, bool hold) {
      std::lock_guard lk(mu_);
      std::string line = dump_json(message_json(m)) + "\r\n";
      if (!started_ && hold) {
        held_.push_back(std::move(line));
        return ok();
      }
      BERTH_TRY(start_locked());
      if (!r_.write(line)) return fail(Errc::Canceled, "client went away");
      return ok();
    }
    bool started() {
      std::lock_guard lk(mu_);
      return started_;
    }
    Status start() {
      std::lock_guard lk(mu_);
      return start_locked();
    }
    void finish() {
      std::lock_guard lk(mu_);
      if (started_) (void)r_.end_stream();
    }

   private:
    Status start_locked() {
      if (started_) return ok();
      started_ = true;
      if (!r_.begin_stream(200, json_stream_headers())) return fail(Errc::Canceled, "client went away");
      for (auto& l : held_)
        if (!r_.write(l)) return fail(Errc::Canceled, "client went away");
      held_.clear();
      return ok();
    }
    http::ServerResponse& r_;
    std::mutex mu_;
    bool started_ = false;
    std::vector<std::string> held_;
  };

  static int pull_error_status(const Error& e) {
    switch (e.code()) {
      case Errc::NotFound: return 404;
      case Errc::InvalidArgument: return 400;
      case Errc::PermissionDenied: return 401;
      default: return 500;
    }
  }

  void images_create() {
    auto from_image = c_.param("fromImage").value_or("");
    auto from_src = c_.param("fromSrc").value_or("");
    if (from_image.empty() && from_src.empty()) return send_error(r_, 400, "fromImage or fromSrc is required");
    if (!from_src.empty()) return image_import(from_src);
    engine::PullRequest req;
    req.from_image = from_image;
    req.tag = c_.param("tag").value_or("");
    req.platform = c_.param("platform").value_or("");
    req.auth = parse_registry_auth(c_.q.headers().get("X-Registry-Auth"));
    LazyStream out(r_);
    auto st = e_.image_pull(req, [&](const engine::JsonMessage& m) {
      bool hold = m.id.empty() ? false : m.status.starts_with("Pulling from");
      return out.send(m, hold);
    });
    if (!st) {
      if (!out.started()) return send_error(r_, pull_error_status(st.error()), st.error().message());
      engine::JsonMessage em;
      em.error = st.error().message();
      (void)out.send(em, false);
    }
    if (!out.started()) (void)out.start();
    out.finish();
  }

  void image_import(const std::string& src) {
    if (src != "-") return send_error(r_, 400, "importing from a URL is not supported: use fromSrc=- with the tarball as the body");
    std::string repo = c_.param("repo").value_or("");
    std::string tag = c_.param("tag").value_or("");
    auto id = e_.image_import([&](char* b, size_t n) { return c_.q.read_body(b, n); }, repo, tag);
    if (!id) return send_error(r_, id.error());
    if (!r_.begin_stream(200, json_stream_headers())) return;
    engine::JsonMessage m;
    m.status = *id;
    (void)r_.write(dump_json(message_json(m)) + "\r\n");
    (void)r_.end_stream();
  }

  void image_push(const std::string& name) {
    auto tag = c_.param("tag").value_or("");
    auto auth = parse_registry_auth(c_.q.headers().get("X-Registry-Auth"));
    LazyStream out(r_);
    auto st = e_.image_push(name, tag, auth, [&](const engine::JsonMessage& m) { return out.send(m, false); });
    if (!st) {
      if (!out.started()) return send_error(r_, st.error().code() == Errc::NotFound ? 404 : pull_error_status(st.error()),
                                            st.error().message());
      engine::JsonMessage em;
      em.error = st.error().message();
      (void)out.send(em, false);
    }
    if (!out.started()) (void)out.start();
    out.finish();
  }

  void images_save(const std::vector<std::string>& names) {
    if (names.empty()) return send_error(r_, 400, "no images given (names=)");
    auto fd = e_.image_save(names);
    if (!fd) return send_error(r_, fd.error());
    auto h = base_headers();
    h.add("Content-Type", "application/x-tar");
    if (!r_.begin_stream(200, h)) return;
    std::string buf(256 << 10, '\0');
    for (;;) {
      ssize_t n = ::read(fd->get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n < 0) log::warn("api: image save: read: {}", strerror(errno));
        break;
      }
      if (!r_.write(std::string_view(buf.data(), static_cast<size_t>(n)))) return;
    }
    (void)r_.end_stream();
  }

  void images_load() {
    bool quiet = truthy(c_.param("quiet"));
    (void)quiet;  // there are no per-layer progress bars to leave out: the result lines are all we send
    auto names = e_.image_load([&](char* b, size_t n) { return c_.q.read_body(b, n); });
    if (!names) return send_error(r_, names.error());
    if (!r_.begin_stream(200, json_stream_headers())) return;
    for (auto& n : *names) {
      engine::JsonMessage m;
      m.stream = n.starts_with("sha256:") ? fmt::format("Loaded image ID: {}\n", n) : fmt::format("Loaded image: {}\n", n);
      if (!r_.write(dump_json(message_json(m)) + "\r\n")) return;
    }
    (void)r_.end_stream();
  }

  Ctx& c_;
  engine::Engine& e_;
  http::ServerResponse& r_;
};

}  // namespace

bool route_objects(Ctx& c) { return ObjectCall(c).run(); }

}  // namespace berth::api::detail
