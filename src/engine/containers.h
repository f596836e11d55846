#pragma once
// ContainerService: the container half of engine::Engine (RealEngine forwards to it). It joins the image
// store (a snapshot per container over the image's unpacked layers), engine/spec (create request -> OCI
// bundle), engine/monitor (one berth-shim per running container) and the SQLite container table.
//
// Disk layout:
//   <data-root>/engine.db                     container table (container_store.h)
//   <data-root>/containers/<id>/config.json   OCI bundle config, rewritten at every start
//   <data-root>/containers/<id>/rootfs/       the container's snapshot mounted (overlay) while it exists
//   <data-root>/containers/<id>/{hostname,hosts,resolv.conf}   generated, bind-mounted
//   <data-root>/containers/<id>/<id>-json.log[.N]              json-file log (written by the shim)
//   <exec-root>/shims/<id>/                   the shim's socket, pid and exit.json (monitor/shim_client.h)
//   <exec-root>/runtime/                      the runtime state root the shims use
// Snapshot key of a container: "container-<id>" (parent: the image's top chain ID).
//
// Threads: API calls run on connection threads. Each container that runs has one monitor thread that waits
// for its exit (through the shim), applies the restart policy (sleeping the back-off, then starting it
// again) and AutoRemove. A container with a health check has one probe thread while it runs. Lifecycle
// operations on one container are serialised (op mutex); state reads never wait for them.
//
// Live-restore: the constructor-time restore() reconnects every container the DB says is running to its
// shim; a shim that is gone yields exit.json's exit code (or 255 "shim gone"), then the restart policy
// runs; containers with restart policy always / unless-stopped (not stopped by hand) are started.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/engine.h"
#include "oci/image_spec.h"

namespace berth::image::snapshot {
class Snapshotter;
}

namespace berth::engine {

// What the container service needs from the image side (RealEngine implements it over ImageStore).
struct ImageForContainer {
  std::string id;         // sha256:<hex>
  oci::ImageConfig config;
  std::string top_chain;  // snapshot parent ("" for an image without layers)
};

class ImageAccess {
 public:
  virtual ~ImageAccess() = default;
  // Resolves ref docker-style and unpacks its layers. NotFound "No such image: <ref>".
  virtual Result<ImageForContainer> image_for_container(const std::string& ref) = 0;
  // Familiar names of an image ID (for the ancestor filter and ps's Image column fallback).
  virtual std::vector<std::string> image_names(const std::string& image_id) = 0;
  virtual image::snapshot::Snapshotter& snapshotter() = 0;
  // Bytes of the image's layers (0 when unknown): SizeRootFs = SizeRw + this.
  virtual int64_t image_size(const std::string& image_id) = 0;
};

// Hooks into the object services (volumes, events); each may be empty.
struct ContainerHooks {
  // (type, action, actor id, attributes): "container" "create" id {name, image}.
  std::function<void(const std::string&, const std::string&, const std::string&,
                     const std::map<std::string, std::string>&)>
      publish;
  // A named (or, with name "", anonymous: a new name is chosen) volume for container_id: created when
  // missing, referenced by the container; returns {name, mountpoint}.
  std::function<Result<std::pair<std::string, std::string>>(const std::string& name, const std::string& container_id)>
      acquire_volume;
  // Drops the container's references; with remove_anonymous its anonymous volumes (names given) go too.
  std::function<void(const std::string& container_id, const std::vector<std::string>& anonymous, bool remove_anonymous)>
      release_volumes;
  // A running container's endpoint on a network (by name or ID): registered at start (and again after a
  // daemon restart, with the recorded endpoint ID and address), dropped at exit. Endpoints are runtime state
  // of the network service; which networks a container is attached to is recorded here (engine.db).
  std::function<Result<NetworkEndpoint>(const std::string& network, const EndpointRequest& req)> network_connect;
  // Drops the container's endpoint on network ("" = on every network).
  std::function<void(const std::string& container_id, const std::string& network)> network_disconnect;
};

struct ContainerServiceOptions {
  std::string data_root;
  std::string exec_root;
  std::string shim_path;  // berth-shim; "" = next to /proc/self/exe, or ../berth-shim/berth-shim
  std::string init_path;  // berth-init for --init; "" = same search
  std::string cgroup_root = "/sys/fs/cgroup";
};

class ContainerService {
 public:
  static Result<std::unique_ptr<ContainerService>> open(const ContainerServiceOptions& o, ImageAccess& images,
                                                         ContainerHooks hooks);
  ~ContainerService();
  // Live-restore (see the header comment). Called once after open().
  void restore();
  // Wakes every waiter and stream and stops the monitor threads' waiting (containers keep running).
  void shutdown();
  // Counts for `info`.
  struct Counts {
    int64_t total = 0, running = 0, paused = 0, stopped = 0;
  };
  Counts counts();
  // IDs of the containers created from image_id (rmi / image prune keep such images).
  std::vector<std::string> containers_using_image(const std::string& image_id);

  Result<ContainerCreateResult> create(const std::string& name, const std::string& body);
  Result<ContainerRef> resolve(const std::string& ref);
  Result<bool> start(const std::string& ref);
  Result<bool> stop(const std::string& ref, std::optional<int> timeout_s, const std::string& signal);
  Status restart(const std::string& ref, std::optional<int> timeout_s, const std::string& signal);
  Status kill(const std::string& ref, const std::string& signal);
  Status pause(const std::string& ref);
  Status unpause(const std::string& ref);
  Result<std::unique_ptr<ContainerWaiter>> wait(const std::string& ref, WaitCondition c);
  Result<std::unique_ptr<AttachSession>> attach(const std::string& ref, const AttachOptions& o);
  Status resize(const std::string& ref, int height, int width);
  Status logs(const std::string& ref, const LogsOptions& o, int cancel_fd, const ByteSink& sink);
  Result<std::string> inspect(const std::string& ref, bool size);
  Result<std::string> list(const ListOptions& o);
  Result<std::string> top(const std::string& ref, const std::string& ps_args);
  Status stats(const std::string& ref, bool stream, const ByteSink& sink);
  Status rename(const std::string& ref, const std::string& new_name);
  Result<std::vector<std::string>> update(const std::string& ref, const std::string& body);
  Result<ContainerPruneReport> prune(const std::map<std::string, std::vector<std::string>>& filters);
  Status remove(const std::string& ref, bool force, bool remove_volumes);
  Result<std::string> changes(const std::string& ref);
  Status export_rootfs(const std::string& ref, const ByteSink& sink);
  Result<PathStat> archive_stat(const std::string& ref, const std::string& path);
  Status archive_get(const std::string& ref, const std::string& path, const ByteSink& sink);
  Status archive_put(const std::string& ref, const std::string& path, bool no_overwrite_dir_non_dir,
                     const ByteSource& tar);

  // `network connect` / `network disconnect`: the container's attachment to net (recorded in engine.db, shown
  // by inspect); a running container's endpoint is registered / dropped at once, others' at their next start.
  // PermissionDenied for host / none / container: modes and for a second connect (docker's 403 texts);
  // disconnect: FailedPrecondition when not attached (unless force).
  Status network_connect(const std::string& ref, const Network& net, const EndpointRequest& req);
  Status network_disconnect(const std::string& ref, const Network& net, bool force);

  Result<std::string> exec_create(const std::string& ref, const std::string& body);
  Result<ExecStream> exec_start(const std::string& exec_id, bool detach);
  Result<std::string> exec_inspect(const std::string& exec_id);
  Status exec_resize(const std::string& exec_id, int height, int width);

  struct Impl;

 private:
  explicit ContainerService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The exit code docker gives a container whose process could not be started, from the runtime's error
// text: 127 (not found), 126 (permission denied / is a directory), else 128.
int start_error_exit_code(std::string_view message);
// The runtime's error text with strerror spellings turned into Go's ("permission denied"), as docker's.
std::string docker_error_text(std::string message);

// docker cp's mode bits (Go os.FileMode) for a stat mode.
uint32_t go_file_mode(uint32_t st_mode);

}  // namespace berth::engine
