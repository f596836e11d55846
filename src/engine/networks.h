#pragma once
// NetworkStore: docker's network objects. `bridge` (the default), `host` and `none` are predefined; users add
// bridge networks of their own. This module keeps the objects (IPAM, options, labels, endpoints); the data
// path (a Linux bridge, veths, NAT, published ports) is a later issue: a container on a bridge network gets a
// private network namespace with loopback only, and the daemon says so once in its log.
//
// Layout under <data-root>/networks (owned here):
//   networks/
//     <id>.json      one network's definition (docker's inspect fields, no endpoints), write_file_atomic_at
//
// One file per network rather than rows in the engine's SQLite: each change touches exactly one network and
// replaces it whole, so tmp -> fsync -> rename gives a durable, crash-atomic update without sharing a schema
// (and its migrations) with the container state store. The predefined networks are files too (created on
// first open), so their IDs are stable across restarts.
//
// Endpoints (the running containers of a network) are runtime state kept in memory only: connect and
// disconnect touch no file (they happen at every container start and exit). The container service owns which
// networks a container is attached to (and the addresses it had, in engine.db) and registers the endpoints of
// its running containers again after a daemon restart (connect with the recorded endpoint ID and address).
// A network file of an older version that still lists endpoints is read without them.
//
// Resolution (docker's order): full ID, then exact name, then unique ID prefix. NotFound:
// "network <ref> not found".
//
// IPAM: a bridge network without IPAM config gets the first free 172.18..31.0.0/16, then 192.168.N.0/20
// (N = 0, 16, ... 240), with gateway .1; endpoints get the next free host address. The default bridge shows
// 172.17.0.0/16 (gateway 172.17.0.1).
//
// Thread-safety: all methods may be called concurrently (one mutex).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::engine {

class EventBus;

struct IpamConfig {
  std::string subnet, ip_range, gateway;
  std::map<std::string, std::string> aux_addresses;
};

struct NetworkEndpoint {
  std::string network_id, network_name, gateway;  // of the network (filled by connect, for the container side)
  std::string container_id;
  std::string name;  // container name without '/'
  std::string endpoint_id;
  std::string mac_address;
  std::string ipv4_address;  // "172.18.0.2/16"
  std::string ipv6_address;
  std::vector<std::string> aliases;
};

struct Network {
  std::string name, id, created;  // created: RFC 3339 with nanoseconds
  std::string scope = "local";
  std::string driver = "bridge";
  bool enable_ipv6 = false;
  std::string ipam_driver = "default";
  std::map<std::string, std::string> ipam_options;
  bool ipam_options_null = false;  // predefined networks show "Options": null
  std::vector<IpamConfig> ipam_config;
  bool internal = false, attachable = false, ingress = false, config_only = false;
  std::string config_from;
  std::map<std::string, std::string> options, labels;
  std::map<std::string, NetworkEndpoint> containers;  // endpoints by container ID (runtime state, not in the file)
  bool predefined() const { return name == "bridge" || name == "host" || name == "none"; }
};

struct NetworkCreateRequest {
  std::string name;
  std::string driver;  // "" = bridge
  bool check_duplicate = true;
  bool internal = false, attachable = false, ingress = false, enable_ipv6 = false, config_only = false;
  std::string ipam_driver;
  std::vector<IpamConfig> ipam_config;
  std::map<std::string, std::string> ipam_options, options, labels;
  std::string config_from;
};

struct NetworkCreateResult {
  std::string id;
  std::string warning;
};

struct EndpointRequest {
  std::string container_id;
  std::string container_name;
  std::vector<std::string> aliases;
  std::string ipv4_address;  // requested (IPAMConfig.IPv4Address); "" = allocate
  std::string endpoint_id;   // "" = a new one; set when an endpoint is registered again (live-restore)
};

class NetworkStore {
 public:
  // root: <data-root>/networks (created, predefined networks written on first open). events may be null.
  static Result<std::unique_ptr<NetworkStore>> open(const std::string& root, EventBus* events);

  // InvalidArgument: bad name, driver other than bridge, bad subnet; Conflict: "network with name <n> already
  // exists"; PermissionDenied for the predefined names ("<n> is a pre-defined network and cannot be created").
  Result<NetworkCreateResult> create(const NetworkCreateRequest& req);
  Result<Network> get(const std::string& ref);
  Result<std::vector<Network>> list();
  // PermissionDenied for predefined networks and for networks with endpoints (docker's 403s).
  Status remove(const std::string& ref);
  // Records an endpoint in memory (idempotent for the same container). Forbidden on `none`/`host` together
  // with other networks is the containers engine's concern; here: NotFound for the network, Conflict when a
  // requested address is taken.
  Result<NetworkEndpoint> connect(const std::string& ref, const EndpointRequest& req);
  // NotFound when the container is not connected (unless force).
  Status disconnect(const std::string& ref, const std::string& container_id, bool force);
  // Drops container_id from every network (container removal).
  Status disconnect_all(const std::string& container_id);
  // User-defined networks without endpoints whose labels match (same syntax as VolumeStore::prune).
  // until_ns: only networks created before it (unix ns; 0 = any age).
  Result<std::vector<std::string>> prune(const std::vector<std::string>& label_filters = {}, int64_t until_ns = 0);

 private:
  NetworkStore() = default;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]*
bool valid_network_name(std::string_view name);

}  // namespace berth::engine
