#pragma once
// The per-container monitor itself: the body of the berth-shim binary (cmd/berth-shim parses the flags and
// calls run_shim). The daemon never calls this; it uses spawn_shim / ShimClient (shim_client.h), which
// also documents the files and the lifecycle. The protocol is in docs/design/monitor.md.
//
// Process model: single-threaded, one epoll loop. run_shim forks once (the parent returns at once so the
// spawner can reap it), the child calls setsid and becomes a child subreaper, so exec processes whose
// intermediate parent exits are reaped here. The container's init and exec processes are its children
// (created in-process by runtime::Runtime with their stdio set up as the shim's fds 0-2 at that moment).

#include <cstdint>
#include <string>

#include "engine/monitor/shim_client.h"

namespace berth::engine::monitor {

struct ShimConfig {
  std::string id;
  std::string bundle;
  std::string dir;  // shim dir: shim.sock, shim.log, exit.json
  std::string runtime_root;
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string log_path;
  uint64_t log_max_size = 10'000'000;
  int log_max_files = 3;
  bool tty = false;
  bool open_stdin = false;
  bool stdin_once = false;
  ConsoleSize console_size;
  int report_fd = -1;  // receives "ok <shim pid> <init pid>\n" or "error <Code> <message>\n", then closed
  bool detach = true;  // fork + setsid (false only for in-process debugging)
};

// Runs the shim to the end; the return value is the process exit status (0 once the container's exit was
// recorded; 1 when create failed, after reporting the error).
int run_shim(const ShimConfig& config);

}  // namespace berth::engine::monitor
