#include "engine/networks.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/log.h"
#include "base/unique_fd.h"
#include "engine/events.h"

namespace berth::engine {

using json = nlohmann::json;

bool valid_network_name(std::string_view n) {
  if (n.empty() || n.size() > 255) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(n[0])) return false;
  return std::all_of(n.begin() + 1, n.end(), [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

namespace {

std::string now_rfc3339_nano() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs).count();
  std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, ns);
}

Result<std::string> random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  UniqueFd fd(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open /dev/urandom");
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::read(fd.get(), raw.data() + got, bytes - got);
    if (n <= 0) return fail_errno("read /dev/urandom");
    got += static_cast<size_t>(n);
  }
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : raw) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

// "172.18.0.0/16" -> {network address (host order), prefix}.
std::optional<std::pair<uint32_t, int>> parse_cidr(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return std::nullopt;
  in_addr a{};
  if (::inet_pton(AF_INET, s.substr(0, slash).c_str(), &a) != 1) return std::nullopt;
  int p = 0;
  try {
    size_t used = 0;
    p = std::stoi(s.substr(slash + 1), &used);
    if (used != s.size() - slash - 1) return std::nullopt;
  } catch (...) {
    return std::nullopt;
  }
  if (p < 0 || p > 32) return std::nullopt;
  uint32_t ip = ntohl(a.s_addr);
  uint32_t mask = p == 0 ? 0 : ~uint32_t(0) << (32 - p);
  return std::pair{ip & mask, p};
}

std::optional<uint32_t> parse_ip(const std::string& s) {
  in_addr a{};
  if (::inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string ip_str(uint32_t ip) {
  in_addr a{};
  a.s_addr = htonl(ip);
  char buf[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

bool overlaps(std::pair<uint32_t, int> a, std::pair<uint32_t, int> b) {
  int p = std::min(a.second, b.second);
  uint32_t mask = p == 0 ? 0 : ~uint32_t(0) << (32 - p);
  return (a.first & mask) == (b.first & mask);
}

json to_json(const Network& n) {
  json ipam_cfg = json::array();
  for (auto& c : n.ipam_config) {
    json j = json::object();
    if (!c.subnet.empty()) j["Subnet"] = c.subnet;
    if (!c.ip_range.empty()) j["IPRange"] = c.ip_range;
    if (!c.gateway.empty()) j["Gateway"] = c.gateway;
    if (!c.aux_addresses.empty()) j["AuxiliaryAddresses"] = c.aux_addresses;
    ipam_cfg.push_back(j);
  }
  return json{{"Name", n.name},
              {"Id", n.id},
              {"Created", n.created},
              {"Scope", n.scope},
              {"Driver", n.driver},
              {"EnableIPv6", n.enable_ipv6},
              {"IPAMDriver", n.ipam_driver},
              {"IPAMOptions", n.ipam_options},
              {"IPAMOptionsNull", n.ipam_options_null},
              {"IPAMConfig", ipam_cfg},
              {"Internal", n.internal},
              {"Attachable", n.attachable},
              {"Ingress", n.ingress},
              {"ConfigFrom", n.config_from},
              {"ConfigOnly", n.config_only},
              {"Options", n.options},
              {"Labels", n.labels}};
}

Result<Network> from_json(const std::string& text) {
  try {
    auto j = json::parse(text);
    Network n;
    n.name = j.at("Name").get<std::string>();
    n.id = j.at("Id").get<std::string>();
    n.created = j.value("Created", "");
    n.scope = j.value("Scope", "local");
    n.driver = j.value("Driver", "bridge");
    n.enable_ipv6 = j.value("EnableIPv6", false);
    n.ipam_driver = j.value("IPAMDriver", "default");
    if (j.contains("IPAMOptions")) n.ipam_options = j["IPAMOptions"].get<std::map<std::string, std::string>>();
    n.ipam_options_null = j.value("IPAMOptionsNull", false);
    if (j.contains("IPAMConfig"))
      for (auto& c : j["IPAMConfig"]) {
        IpamConfig ic;
        ic.subnet = c.value("Subnet", "");
        ic.ip_range = c.value("IPRange", "");
        ic.gateway = c.value("Gateway", "");
        if (c.contains("AuxiliaryAddresses"))
          ic.aux_addresses = c["AuxiliaryAddresses"].get<std::map<std::string, std::string>>();
        n.ipam_config.push_back(ic);
      }
    n.internal = j.value("Internal", false);
    n.attachable = j.value("Attachable", false);
    n.ingress = j.value("Ingress", false);
    n.config_from = j.value("ConfigFrom", "");
    n.config_only = j.value("ConfigOnly", false);
    // "Containers" (endpoints) of an older file: runtime state now, rebuilt by the container service
    if (j.contains("Options")) n.options = j["Options"].get<std::map<std::string, std::string>>();
    if (j.contains("Labels")) n.labels = j["Labels"].get<std::map<std::string, std::string>>();
    return n;
  } catch (const std::exception& e) {
    return fail(Errc::Internal, "corrupt network metadata: {}", e.what());
  }
}

bool labels_match(const std::map<std::string, std::string>& labels, const std::vector<std::string>& filters) {
  for (auto f : filters) {
    bool neg = !f.empty() && f[0] == '!';
    if (neg) f = f.substr(1);
    auto eq = f.find('=');
    auto it = labels.find(f.substr(0, eq));
    bool m = it != labels.end() && (eq == std::string::npos || it->second == f.substr(eq + 1));
    if (m == neg) return false;
  }
  return true;
}

bool is_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

struct NetworkStore::Impl {
  std::string root;
  UniqueFd dirfd;
  EventBus* events = nullptr;
  std::mutex mu;
  std::vector<Network> nets;  // in memory: the files' definitions + the endpoints

  void publish(const std::string& action, const Network& n, std::map<std::string, std::string> extra = {}) {
    if (!events) return;
    extra["name"] = n.name;
    extra["type"] = n.driver;
    events->publish("network", action, n.id, std::move(extra));
  }

  Status store_locked(const Network& n) {
    return write_file_atomic_at(dirfd.get(), n.id + ".json", to_json(n).dump() + "\n", 0600);
  }

  Status load_all() {
    int fd = ::dup(dirfd.get());
    if (fd < 0) return fail_errno("dup");
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return fail_errno("opendir `{}`", root);
    }
    while (auto* ent = ::readdir(d)) {
      std::string n = ent->d_name;
      if (n.size() != 64 + 5 || !n.ends_with(".json") || !is_hex(n.substr(0, 64))) continue;
      UniqueFd f(::openat(dirfd.get(), n.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!f) continue;
      auto text = read_fd(f.get(), 4 << 20);
      if (!text) continue;
      auto net = from_json(*text);
      if (!net) {
        log::warn("networks: skipping {}: {}", n, net.error().message());
        continue;
      }
      nets.push_back(std::move(*net));
    }
    ::closedir(d);
    std::sort(nets.begin(), nets.end(), [](auto& a, auto& b) { return a.created < b.created; });
    return ok();
  }

  Network* find_locked(const std::string& ref) {
    for (auto& n : nets)
      if (n.id == ref) return &n;
    for (auto& n : nets)
      if (n.name == ref) return &n;
    Network* hit = nullptr;
    if (!ref.empty() && is_hex(ref))
      for (auto& n : nets)
        if (n.id.starts_with(ref)) {
          if (hit) return nullptr;  // ambiguous
          hit = &n;
        }
    return hit;
  }

  Result<Network*> must_find(const std::string& ref) {
    auto* n = find_locked(ref);
    if (!n) return fail(Errc::NotFound, "network {} not found", ref);
    return n;
  }

  Status ensure_predefined() {
    struct Pre {
      const char* name;
      const char* driver;
    };
    for (Pre p : {Pre{"none", "null"}, Pre{"host", "host"}, Pre{"bridge", "bridge"}}) {
      if (std::any_of(nets.begin(), nets.end(), [&](auto& n) { return n.name == p.name; })) continue;
      Network n;
      n.name = p.name;
      n.driver = p.driver;
      n.id = BERTH_TRY(random_hex(32));
      n.created = now_rfc3339_nano();
      n.ipam_options_null = true;
      if (n.name == "bridge") {
        n.ipam_config.push_back({"172.17.0.0/16", "", "172.17.0.1", {}});
        n.options = {{"com.docker.network.bridge.default_bridge", "true"},
                     {"com.docker.network.bridge.enable_icc", "true"},
                     {"com.docker.network.bridge.enable_ip_masquerade", "true"},
                     {"com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"},
                     {"com.docker.network.bridge.name", "berth0"},
                     {"com.docker.network.driver.mtu", "1500"}};
      }
      BERTH_TRY(store_locked(n));
      nets.push_back(std::move(n));
    }
    return ok();
  }

  // First free private /16 (172.18..31) then /20 in 192.168/16.
  Result<IpamConfig> allocate_subnet_locked() {
    std::vector<std::pair<uint32_t, int>> used;
    for (auto& n : nets)
      for (auto& c : n.ipam_config)
        if (auto p = parse_cidr(c.subnet)) used.push_back(*p);
    auto free = [&](std::pair<uint32_t, int> c) {
      return std::none_of(used.begin(), used.end(), [&](auto& u) { return overlaps(u, c); });
    };
    for (uint32_t b = 18; b <= 31; b++) {
      std::pair<uint32_t, int> c{(172u << 24) | (b << 16), 16};
      if (free(c)) return IpamConfig{ip_str(c.first) + "/16", "", ip_str(c.first + 1), {}};
    }
    for (uint32_t b = 0; b < 256; b += 16) {
      std::pair<uint32_t, int> c{(192u << 24) | (168u << 16) | (b << 8), 20};
      if (free(c)) return IpamConfig{ip_str(c.first) + "/20", "", ip_str(c.first + 1), {}};
    }
    return fail(Errc::Unavailable, "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network");
  }

  // Next free host address in the network's first IPv4 subnet ("a.b.c.d/p"), or "" when it has none.
  Result<std::string> allocate_ip_locked(const Network& n, const std::string& requested) {
    if (n.ipam_config.empty()) return std::string();
    auto sub = parse_cidr(n.ipam_config.front().subnet);
    if (!sub) return std::string();
    std::vector<uint32_t> taken;
    if (auto gw = parse_ip(n.ipam_config.front().gateway)) taken.push_back(*gw);
    for (auto& [id, e] : n.containers)
      if (auto ip = parse_ip(e.ipv4_address.substr(0, e.ipv4_address.find('/')))) taken.push_back(*ip);
    uint32_t size = sub->second >= 31 ? 0 : (uint32_t(1) << (32 - sub->second));
    if (!requested.empty()) {
      auto ip = parse_ip(requested);
      if (!ip || !overlaps({*ip, 32}, *sub)) return fail(Errc::InvalidArgument, "invalid address {}: it does not belong to any of this network's subnets", requested);
      if (std::find(taken.begin(), taken.end(), *ip) != taken.end())
        return fail(Errc::Conflict, "Address already in use");
      return fmt::format("{}/{}", requested, sub->second);
    }
    for (uint32_t off = 2; off + 1 < size; off++) {
      uint32_t ip = sub->first + off;
      if (std::find(taken.begin(), taken.end(), ip) == taken.end()) return fmt::format("{}/{}", ip_str(ip), sub->second);
    }
    return fail(Errc::Unavailable, "no available IPv4 addresses on network {}", n.name);
  }
};

Result<std::unique_ptr<NetworkStore>> NetworkStore::open(const std::string& root, EventBus* events) {
  BERTH_TRY(mkdir_all(root, 0700));
  std::unique_ptr<NetworkStore> s(new NetworkStore());
  s->impl_ = std::make_shared<Impl>();
  auto& im = *s->impl_;
  im.root = root;
  im.events = events;
  im.dirfd.reset(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!im.dirfd) return fail_errno("open `{}`", root);
  BERTH_TRY(im.load_all());
  BERTH_TRY(im.ensure_predefined());
  return s;
}

Result<NetworkCreateResult> NetworkStore::create(const NetworkCreateRequest& req) {
  if (req.name.empty()) return fail(Errc::InvalidArgument, "network name is required");
  if (req.name == "bridge" || req.name == "host" || req.name == "none")
    return fail(Errc::PermissionDenied, "{} is a pre-defined network and cannot be created", req.name);
  if (!valid_network_name(req.name))
    return fail(Errc::InvalidArgument, "invalid network name \"{}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", req.name);
  std::string driver = req.driver.empty() ? "bridge" : req.driver;
  if (driver != "bridge")
    return fail(Errc::NotFound, "plugin \"{}\" not found (this daemon has the bridge driver only)", driver);
  if (!req.ipam_driver.empty() && req.ipam_driver != "default")
    return fail(Errc::NotFound, "IPAM driver \"{}\" not found", req.ipam_driver);
  auto& im = *impl_;
  std::lock_guard lk(im.mu);
  if (std::any_of(im.nets.begin(), im.nets.end(), [&](auto& n) { return n.name == req.name; }))
    return fail(Errc::Conflict, "network with name {} already exists", req.name);
  Network n;
  n.name = req.name;
  n.driver = driver;
  n.id = BERTH_TRY(random_hex(32));
  n.created = now_rfc3339_nano();
  n.enable_ipv6 = req.enable_ipv6;
  n.internal = req.internal;
  n.attachable = req.attachable;
  n.ingress = req.ingress;
  n.config_only = req.config_only;
  n.config_from = req.config_from;
  n.ipam_options = req.ipam_options;
  n.options = req.options;
  n.labels = req.labels;
  for (auto c : req.ipam_config) {
    if (c.subnet.empty()) return fail(Errc::InvalidArgument, "invalid IPAM config: a subnet is required");
    auto sub = parse_cidr(c.subnet);
    if (!sub) {
      if (c.subnet.find(':') != std::string::npos) {  // IPv6: kept as given
        n.ipam_config.push_back(c);
        continue;
      }
      return fail(Errc::InvalidArgument, "invalid subnet {}: invalid CIDR address", c.subnet);
    }
    for (auto& other : im.nets)
      for (auto& oc : other.ipam_config)
        if (auto op = parse_cidr(oc.subnet); op && overlaps(*op, *sub))
          return fail(Errc::Conflict, "Pool overlaps with other one on this address space");
    if (!c.gateway.empty()) {
      auto gw = parse_ip(c.gateway);
      if (!gw || !overlaps({*gw, 32}, *sub))
        return fail(Errc::InvalidArgument, "invalid gateway {}: not in subnet {}", c.gateway, c.subnet);
    } else if (sub->second < 31) {
      c.gateway = ip_str(sub->first + 1);
    }
    n.ipam_config.push_back(c);
  }
  if (n.ipam_config.empty()) n.ipam_config.push_back(BERTH_TRY(im.allocate_subnet_locked()));
  BERTH_TRY(im.store_locked(n));
  im.nets.push_back(n);
  im.publish("create", n);
  return NetworkCreateResult{n.id, ""};
}

Result<Network> NetworkStore::get(const std::string& ref) {
  std::lock_guard lk(impl_->mu);
  return *BERTH_TRY(impl_->must_find(ref));
}

Result<std::vector<Network>> NetworkStore::list() {
  std::lock_guard lk(impl_->mu);
  return impl_->nets;
}

Status NetworkStore::remove(const std::string& ref) {
  auto& im = *impl_;
  std::lock_guard lk(im.mu);
  auto* n = BERTH_TRY(im.must_find(ref));
  if (n->predefined())
    return fail(Errc::PermissionDenied, "{} is a pre-defined network and cannot be removed", n->name);
  if (!n->containers.empty())
    return fail(Errc::PermissionDenied, "error while removing network: network {} id {} has active endpoints", n->name,
                n->id);
  if (::unlinkat(im.dirfd.get(), (n->id + ".json").c_str(), 0) != 0 && errno != ENOENT)
    return fail_errno("remove network `{}`", n->name);
  BERTH_TRY(fsync_dir(im.root));
  Network gone = *n;
  im.nets.erase(im.nets.begin() + (n - im.nets.data()));
  im.publish("destroy", gone);
  return ok();
}

Result<NetworkEndpoint> NetworkStore::connect(const std::string& ref, const EndpointRequest& req) {
  auto& im = *impl_;
  std::lock_guard lk(im.mu);
  auto* n = BERTH_TRY(im.must_find(ref));
  if (req.container_id.empty()) return fail(Errc::InvalidArgument, "container ID is required");
  if (auto it = n->containers.find(req.container_id); it != n->containers.end()) return it->second;
  if (n->driver == "bridge") {
    // The data path of bridge networks is a later issue: say so once, the first time a container joins one.
    static std::once_flag once;
    std::call_once(once, [] {
      log::warn("networks: bridge networking is not implemented yet: containers on bridge networks get a private "
                "network namespace with loopback only (no bridge device, no NAT, no published ports)");
    });
  }
  NetworkEndpoint ep;
  ep.network_id = n->id;
  ep.network_name = n->name;
  if (!n->ipam_config.empty()) ep.gateway = n->ipam_config.front().gateway;
  ep.container_id = req.container_id;
  ep.name = req.container_name;
  ep.aliases = req.aliases;
  ep.endpoint_id = req.endpoint_id.empty() ? BERTH_TRY(random_hex(32)) : req.endpoint_id;
  if (n->driver == "bridge") {
    ep.ipv4_address = BERTH_TRY(im.allocate_ip_locked(*n, req.ipv4_address));
    if (!ep.ipv4_address.empty()) {
      // docker's MAC: 02:42 + the four IPv4 bytes
      auto ip = parse_ip(ep.ipv4_address.substr(0, ep.ipv4_address.find('/')));
      if (ip) ep.mac_address = fmt::format("02:42:{:02x}:{:02x}:{:02x}:{:02x}", (*ip >> 24) & 255, (*ip >> 16) & 255, (*ip >> 8) & 255, *ip & 255);
    }
  }
  n->containers[req.container_id] = ep;
  im.publish("connect", *n, {{"container", req.container_id}});
  return ep;
}

Status NetworkStore::disconnect(const std::string& ref, const std::string& container_id, bool force) {
  auto& im = *impl_;
  std::lock_guard lk(im.mu);
  auto* n = BERTH_TRY(im.must_find(ref));
  auto it = n->containers.find(container_id);
  if (it == n->containers.end()) {
    if (force) return ok();
    return fail(Errc::FailedPrecondition, "container {} is not connected to network {}", container_id, n->name);
  }
  n->containers.erase(it);
  im.publish("disconnect", *n, {{"container", container_id}});
  return ok();
}

Status NetworkStore::disconnect_all(const std::string& container_id) {
  auto& im = *impl_;
  std::lock_guard lk(im.mu);
  for (auto& n : im.nets) {
    if (!n.containers.erase(container_id)) continue;
    im.publish("disconnect", n, {{"container", container_id}});
  }
  return ok();
}

Result<std::vector<std::string>> NetworkStore::prune(const std::vector<std::string>& label_filters, int64_t until_ns) {
  auto& im = *impl_;
  std::lock_guard lk(im.mu);
  std::vector<std::string> out;
  for (size_t i = 0; i < im.nets.size();) {
    auto& n = im.nets[i];
    bool too_new = until_ns > 0 && parse_event_time(n.created).value_or(0) >= until_ns;
    if (n.predefined() || !n.containers.empty() || !labels_match(n.labels, label_filters) || too_new) {
      i++;
      continue;
    }
    if (::unlinkat(im.dirfd.get(), (n.id + ".json").c_str(), 0) != 0 && errno != ENOENT)
      return fail_errno("remove network `{}`", n.name);
    Network gone = n;
    im.nets.erase(im.nets.begin() + static_cast<long>(i));
    im.publish("destroy", gone);
    out.push_back(gone.name);
  }
  BERTH_TRY(fsync_dir(im.root));
  return out;
}

}  // namespace berth::engine
