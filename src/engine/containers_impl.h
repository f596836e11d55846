#pragma once
// Internal to the container service (containers.cc, exec.cc, archive.cc, stats.cc, health.cc).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "engine/container.h"
#include "engine/container_store.h"
#include "engine/containers.h"
#include "engine/restart.h"
#include "engine/spec/container_config.h"

namespace berth::engine {

using njson = nlohmann::json;

// A network the container is attached to: its primary network (the network mode) and those added by
// `network connect`. The endpoint fields are set while it runs (persisted with the running state, so a
// restarted daemon registers the same endpoint and address again) and cleared at its exit.
struct AttachedNetwork {
  std::string network_id;  // known once the container has run on it (or was connected by ID)
  std::vector<std::string> aliases;
  std::string ipv4_requested;  // IPAMConfig.IPv4Address
  std::string endpoint_id, ipv4_address, gateway, mac_address;  // ipv4_address: "a.b.c.d/p"
};

// Persisted beside the configs (meta_json).
struct ContainerMeta {
  std::string path;
  std::vector<std::string> args;
  std::string snapshot_key;
  std::string log_type = "json-file";  // or "none"
  uint64_t log_max_size = 10'000'000;
  int log_max_files = 3;
  njson mounts = njson::array();           // inspect's Mounts
  std::vector<std::string> volumes;        // named volumes referenced
  std::vector<std::string> anonymous;      // of which anonymous
  std::vector<std::string> resolved_mounts_json;  // spec::ResolvedMount as JSON, for build_spec
  std::string network;                     // effective network name: bridge | none | host | <name>
  std::map<std::string, AttachedNetwork> networks;  // by network name (none for container:<id> mode)
  std::string hostname;
};

struct Exec {
  std::string id, container_id;
  std::vector<std::string> cmd;
  bool tty = false, attach_stdin = false, attach_stdout = false, attach_stderr = false;
  bool privileged = false;
  std::string user, working_dir, detach_keys;
  std::vector<std::string> env;
  bool started = false, running = false;
  std::optional<int> exit_code;
  int pid = 0;
  bool health_probe = false;
};

struct Container {
  std::mutex op_mu;  // serialises start / stop / kill / restart / remove / pause / update
  std::mutex mu;     // guards everything below
  std::condition_variable cv;

  std::string id, name, created, image, image_id;
  spec::Config config;
  spec::HostConfig host;
  spec::NetworkingConfig net;
  ContainerMeta meta;
  ContainerState state;
  int restart_count = 0;
  RestartManager restart;

  // runtime only
  bool shim_live = false;       // a shim serves this container (created or running)
  uint64_t exit_seq = 0;        // +1 at every exit
  uint64_t attach_epoch = 0;    // +1 when pending attaches must give up (start failed, exit)
  int pending_attach = 0;
  bool removing = false, removed = false;
  std::thread monitor;
  bool monitor_active = false;
  std::thread health;
  std::chrono::steady_clock::time_point started_mono{};
  std::vector<int> exit_fds;  // eventfds (logs --follow) signalled at exit
  std::set<std::string> exec_ids;
};

struct ContainerService::Impl {
  ContainerServiceOptions opt;
  ImageAccess* images = nullptr;
  ContainerHooks hooks;
  std::unique_ptr<ContainerStore> store;
  std::string shim_path, init_path;

  std::mutex mu;  // guards containers, execs
  std::map<std::string, std::shared_ptr<Container>> containers;
  std::map<std::string, std::shared_ptr<Exec>> execs;
  std::atomic<bool> shutting_down{false};
  UniqueFd shutdown_fd;  // eventfd, readable once shutting down
  bool warned_bridge = false;

  // paths
  std::string dir(const Container& c) const { return opt.data_root + "/containers/" + c.id; }
  std::string rootfs(const Container& c) const { return dir(c) + "/rootfs"; }
  std::string shim_dir(const Container& c) const { return opt.exec_root + "/shims/" + c.id; }
  std::string log_path(const Container& c) const { return dir(c) + "/" + c.id + "-json.log"; }
  std::string runtime_root() const { return opt.exec_root + "/runtime"; }

  // lookup
  Result<std::shared_ptr<Container>> find(const std::string& ref);
  Result<std::shared_ptr<Exec>> find_exec(const std::string& id);

  // persistence (c.mu held)
  ContainerRecord record_locked(const Container& c) const;
  void persist_locked(const Container& c);

  void publish(const Container& c, const std::string& action, std::map<std::string, std::string> extra = {});

  // lifecycle (op_mu held unless said otherwise)
  Status ensure_rootfs(Container& c);
  // hosts, hostname, resolv.conf (regenerated from the record, so not fsync'd); if_missing: only absent or empty ones
  Status write_etc_files(Container& c, bool if_missing);
  Status write_bundle(Container& c);
  Result<bool> start_op(const std::shared_ptr<Container>& c, bool from_api);
  Status stop_op(const std::shared_ptr<Container>& c, std::optional<int> timeout_s, const std::string& signal);
  // waits (c.mu) until exit_seq moves past seq or the deadline; true when it did
  bool wait_exit(Container& c, uint64_t seq, std::optional<std::chrono::milliseconds> timeout);
  Status remove_op(const std::shared_ptr<Container>& c, bool remove_volumes);
  void start_failed(const std::shared_ptr<Container>& c, const std::string& message);
  // Registers the endpoints of c's attached networks (reuse: the recorded endpoint IDs and addresses, for
  // live-restore) and records them in c->meta (not persisted here: the caller's commit does).
  void connect_networks(const std::shared_ptr<Container>& c, bool reuse);

  // monitor
  void ensure_monitor(const std::shared_ptr<Container>& c);
  void monitor_loop(std::shared_ptr<Container> c);
  // one run until its exit is handled (restarts included); false: stop monitoring (shutdown, removed)
  bool monitor_run(const std::shared_ptr<Container>& c);
  // records an exit; returns whether (and after how long) to restart. *auto_remove: an AutoRemove container
  // that does not restart is now marked removing (rm and start answer 409) and the caller must remove it.
  RestartManager::Decision on_exit(const std::shared_ptr<Container>& c, int exit_code, bool oom,
                                   const std::string& finished_at, const std::string& error, bool* auto_remove);

  // json
  njson inspect_json(Container& c, bool size);
  njson list_json(Container& c, bool size);

  // health.cc
  void start_health(const std::shared_ptr<Container>& c);
  void health_loop(std::shared_ptr<Container> c, uint64_t run_seq);
  // exec.cc: runs cmd in c (a health probe), output capped
  Result<std::pair<int, std::string>> run_probe(const std::shared_ptr<Container>& c, const std::vector<std::string>& cmd,
                                                std::chrono::milliseconds timeout);
  Result<std::string> exec_process_json(Container& c, const Exec& e);
};

std::string now_rfc3339_nano();
std::string shell_join(const std::string& path, const std::vector<std::string>& args);

}  // namespace berth::engine
