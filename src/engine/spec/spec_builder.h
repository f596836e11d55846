#pragma once
// Container config (Docker API) + image config -> OCI runtime spec (the bundle's config.json).
//
//   oci::Spec spec = BERTH_TRY(build_spec(input));
//   write_file_atomic(bundle + "/config.json", oci::to_json(spec));
//
// What build_spec does (details and the full field table in docs/design/engine-spec.md):
//  - merges the image config into the request (merge_image_config) and derives process args (Entrypoint +
//    Cmd, or ["/sbin/docker-init", "--", args...] with Init), Env (PATH and HOSTNAME added as docker does,
//    TERM=xterm with Tty), cwd (WorkingDir, default "/"), user: "name", "uid", "name:group", "uid:gid"
//    resolved in the rootfs's /etc/passwd and /etc/group (read relative to a rootfs dir fd; symlinks
//    never leave the rootfs), additional gids from the passwd groups and HostConfig.GroupAdd;
//  - Docker's default security: its 14 capabilities (+CapAdd -CapDrop, "ALL"), its default seccomp profile
//    (seccomp_profile.h) filtered by the final capabilities and the architecture, its masked and read-only
//    paths; Privileged = all capabilities, no seccomp, no masked/read-only paths, all host devices, rw sysfs;
//  - mounts: proc, /dev tmpfs, devpts, /dev/shm (ShmSize, default 64 MiB), mqueue, sysfs (ro), cgroup (ro),
//    the resolved volume/bind/tmpfs mounts, and the generated /etc/hosts, /etc/hostname, /etc/resolv.conf;
//  - namespaces: pid, ipc, uts, mount, cgroup always new (PidMode/IpcMode/UTSMode "host" leave one out);
//    network per SpecInput::network;
//  - resources: Memory, MemoryReservation, MemorySwap, OomKillDisable, NanoCpus (-> quota/period),
//    CpuShares, CpuQuota, CpuPeriod, CpusetCpus, CpusetMems, PidsLimit, BlkioWeight; devices (default set +
//    Devices + DeviceCgroupRules) with a deny-all device rule first;
//  - rlimits from Ulimits (RLIMIT_NOFILE defaults to 1048576, capped at this process's hard limit);
//    a hard limit above this process's one is refused unless it holds CAP_SYS_RESOURCE;
//  - sysctls (only namespaced ones: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.* without host
//    networking; others InvalidArgument), SecurityOpt, ReadonlyRootfs, OomScoreAdj, hostname/domainname.
// Errors are InvalidArgument naming the field (`HostConfig.CapAdd: unknown capability: "CAP_FOO"`), or
// NotFound for a user/group missing from the image (`unable to find user app: no matching entries in passwd
// file`).

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/spec/container_config.h"
#include "oci/image_spec.h"
#include "oci/runtime_spec.h"

namespace berth::engine::spec {

// A mount after the engine resolved it: volumes became binds of <data-root>/volumes/<name>/_data.
struct ResolvedMount {
  std::string type;  // "bind" or "tmpfs"
  std::string source;
  std::string destination;
  std::vector<std::string> options;  // OCI mount options ("rbind", "rprivate", "ro", "nosuid", "size=..")
};

// The ResolvedMount for a MountRequest once the engine knows the host path (Bind: the request's source or
// a created dir; Volume: the volume's mountpoint; Tmpfs: ignored).
ResolvedMount resolve_mount(const MountRequest& request, const std::string& host_path);

enum class NetworkMode {
  Private,  // a new network namespace (none / bridge / user networks for now: loopback only)
  Host,     // the host's network namespace
  Join,     // join the namespace at SpecInput::netns_path (NetworkMode "container:<id>")
};

struct SpecInput {
  std::string id;  // container id (64 hex); default hostname is its first 12 characters
  CreateRequest request;
  oci::ImageConfig image;  // the image's config (merged into request.config; an already merged config is fine)
  std::string rootfs;      // absolute path of the container's root filesystem (the mounted snapshot)
  std::vector<ResolvedMount> mounts;
  // Generated files on the host, bind-mounted at /etc/hosts, /etc/hostname, /etc/resolv.conf ("" = skip).
  std::string hosts_path, hostname_path, resolv_conf_path;
  NetworkMode network = NetworkMode::Private;
  std::string netns_path;    // for NetworkMode::Join: /proc/<pid>/ns/net of the other container
  std::string cgroups_path;  // "/berth/<id>"
  std::string init_path;     // host path of berth-init, bind-mounted ro at /sbin/docker-init with Init
  bool default_init = false; // the daemon's --init default (HostConfig.Init unset)
};

Result<oci::Spec> build_spec(const SpecInput& input);

// Where the daemon finds berth-init for SpecInput::init_path: <dir of /proc/self/exe>/berth-init (installed
// layout), else <dir>/../berth-init/berth-init (the build tree: build/cmd/berth/berth,
// build/cmd/berth-init/berth-init). NotFound naming both places when neither is an executable file.
Result<std::string> find_init_binary();

// Every capability this build and the running kernel both know and the daemon's bounding set holds ("CAP_"
// spelling, by number): what `--privileged` grants, to containers and to `exec --privileged` alike.
std::vector<std::string> all_capabilities();
// Docker's default capabilities, "CAP_" spelling, in docker's order.
const std::vector<std::string>& default_capabilities();
// The capability set for CapAdd/CapDrop over the defaults (or every capability when privileged):
// names case-insensitive with or without "CAP_", "ALL" in either list. Unknown names: InvalidArgument.
Result<std::vector<std::string>> effective_capabilities(const HostConfig& host);

// Docker's masked and read-only paths (inspect prints them in HostConfig.MaskedPaths / ReadonlyPaths).
const std::vector<std::string>& default_masked_paths();
const std::vector<std::string>& default_readonly_paths();

inline constexpr int64_t kDefaultShmSize = 64 << 20;
inline constexpr uint64_t kDefaultNofile = 1048576;
inline constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
inline constexpr const char* kInitPathInContainer = "/sbin/docker-init";

}  // namespace berth::engine::spec
