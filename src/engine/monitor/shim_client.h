#pragma once
// The daemon's side of the per-container monitor (berth-shim): spawning it and talking to it.
//
// Files of one shim (<exec-root>/shims/<id>/, tmpfs; the shim creates the directory if needed):
//   shim.sock     the protocol socket (removed by the shim once the exit is recorded: from then on clients
//                 read exit.json, and a new shim may be spawned in the same directory, e.g. for a restart)
//   shim.log      the shim's own diagnostics (appended; created with the first line)
//   exit.json     {"exit_code":N,"oom_killed":b,"started_at":"RFC3339Nano","finished_at":"...","error":""}
//                 written atomically + fsync once the container's init has been reaped; stays after the
//                 shim exits (the daemon removes the directory when it deletes the container)
// The json-file log lives wherever ShimSpawn::log_path says (<data-root>/containers/<id>/<id>-json.log).
//
// Lifecycle: spawn_shim -> (created) -> start -> (running) -> the init exits -> the shim drains output,
// deletes the runtime container, writes exit.json, answers waiters, closes streams and exits. The shim is
// not the daemon's child (setsid + double fork): it survives the daemon; reconnect with ShimClient(dir).
// A shim that is gone without exit.json (host reboot, SIGKILL) means: the container exited with code 255,
// error "shim gone".
//
// Protocol (one request per connection; docs/design/monitor.md): the client sends one JSON line, the shim
// answers one JSON line, {"ok":true,...} or {"ok":false,"error":"...","code":"NotFound|InvalidArgument|..."};
// for attach and exec_start the connection then carries the raw stream.
//
// Thread-safety: ShimClient holds only paths; every call opens its own connection, so one ShimClient may be
// used from several threads at once (a blocking wait() alongside start(), as `docker run` needs).

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/unique_fd.h"
#include "oci/runtime_spec.h"

namespace berth::engine::monitor {

struct ConsoleSize {
  uint16_t height = 0;
  uint16_t width = 0;
};

struct ShimSpawn {
  std::string shim_path;     // the berth-shim binary
  std::string id;            // container id (the runtime container gets the same id)
  std::string bundle;        // OCI bundle dir (config.json; process.terminal must equal tty)
  std::string shim_dir;      // <exec-root>/shims/<id>
  std::string runtime_root;  // runtime::RuntimeOptions::root, e.g. <exec-root>/runtime
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string log_path;      // json-file log; "" = no log (output only reaches attached clients)
  uint64_t log_max_size = 10'000'000;  // 0 = unlimited
  int log_max_files = 3;
  bool tty = false;          // the init gets a pty (the shim holds the master)
  bool open_stdin = false;   // the init's stdin is a pipe/pty fed by attach clients; else /dev/null
  bool stdin_once = false;   // the first attach client's stdin EOF closes the container's stdin
  ConsoleSize console_size;  // initial pty size (0 = leave the spec's)
};

struct ShimHandle {
  pid_t shim_pid = 0;
  pid_t init_pid = 0;  // the container's init (host pid namespace)
  std::string socket_path;
};

// Where the daemon finds berth-shim: <dir of /proc/self/exe>/berth-shim (installed layout), else
// <dir>/../berth-shim/berth-shim (the build tree: build/cmd/berth/berth, build/cmd/berth-shim/berth-shim).
// NotFound naming the first path when neither is executable.
Result<std::string> default_shim_path();

// Starts berth-shim for spec.id and returns once the runtime has *created* the container (its process
// waits for start) — or fails with the runtime's one-line error ("... executable file not found ...") and
// its Errc (InvalidArgument, NotFound, ...); then nothing is left running and shim_dir holds no socket.
// Safe to call from any thread of the daemon (posix_spawn; waits only for its own intermediate child).
Result<ShimHandle> spawn_shim(const ShimSpawn& spec);

struct ExitInfo {
  int exit_code = 0;  // 128+N when killed by signal N
  bool oom_killed = false;
  std::string started_at;   // RFC3339Nano, "" if never started
  std::string finished_at;  // RFC3339Nano
  std::string error;        // "" normally; "shim gone" is the daemon's, never the shim's
};

// <shim_dir>/exit.json. NotFound when the container has not exited (or its shim died without writing it).
Result<ExitInfo> read_exit_file(const std::string& shim_dir);
std::string exit_info_json(const ExitInfo& e);

struct ShimState {
  std::string status;  // created | running | paused | stopped
  pid_t pid = 0;       // the init's pid (0 once stopped)
  bool tty = false;
  std::string started_at;
  std::optional<ExitInfo> exit;  // when stopped
};

struct ExecConfig {
  std::string exec_id;
  // args, cwd, user, env...; terminal is set from tty. Fields left empty (capabilities, rlimits, LSM labels,
  // oom_score_adj, env) are the container's; noNewPrivileges is OR'ed with the container's.
  oci::Process process;
  bool tty = false;
  bool stdin = false;  // the exec's stdin is fed by the exec_start stream (EOF closes it); else /dev/null
};

struct ExecState {
  bool running = false;
  pid_t pid = 0;
  std::optional<int> exit_code;  // set once it has exited
  bool started = false;
};

// Errors of every call: Unavailable when the shim is gone (cannot connect) or the connection breaks; the
// Errc the shim reports otherwise (NotFound: unknown exec id; FailedPrecondition: container not running,
// already started...; InvalidArgument: bad request).
class ShimClient {
 public:
  // shim_dir holds shim.sock and exit.json.
  explicit ShimClient(std::string shim_dir);

  const std::string& dir() const { return dir_; }
  std::string socket_path() const { return dir_ + "/shim.sock"; }

  // Starts the created container's process. Attach streams opened before miss nothing.
  Status start();
  // Returns the connected stream: reads give output (stdcopy frames unless tty, raw with tty), writes go to
  // the container's stdin (when stdin and the container has OpenStdin); shutdown(SHUT_WR) is stdin EOF
  // (closes the container's stdin only with StdinOnce). The shim closes it once the container has exited
  // and its output is drained.
  Result<UniqueFd> attach(bool stdin, bool stdout, bool stderr);
  // Blocks until the container has exited (returns at once if it has). timeout_ms -1 = forever; on timeout
  // Errc::Unavailable "timed out". If the shim is gone, falls back to exit.json (NotFound when absent).
  Result<ExitInfo> wait(int timeout_ms = -1);
  // Sends the wait request and returns the connection at once (for a poll loop / to flush HTTP headers
  // before start); finish with read_wait_reply(fd).
  Result<UniqueFd> wait_begin();
  static Result<ExitInfo> read_wait_reply(int fd, int timeout_ms = -1);
  // sig to the init, or with all to every process of the container. FailedPrecondition when not running.
  Status kill(int sig, bool all = false);
  // TIOCSWINSZ on the container's pty (exec_id "") or an exec's. FailedPrecondition without a tty.
  Status resize(ConsoleSize size, const std::string& exec_id = "");
  // Once the shim is gone but exit.json exists: status "stopped" with exit set (Unavailable without it).
  Result<ShimState> state();
  Status pause();
  Status resume();

  // Registers an exec (not started). AlreadyExists for a reused exec_id.
  Status exec_create(const ExecConfig& config);
  // Starts it and returns its stream (as attach: framed unless tty; stdin if the exec has stdin). The exit
  // code is recorded before the stream is closed. Closing the fd at once = detached exec.
  Result<UniqueFd> exec_start(const std::string& exec_id);
  // Blocks until the exec has exited; its exit code. FailedPrecondition if it was never started.
  Result<int> exec_wait(const std::string& exec_id, int timeout_ms = -1);
  Result<ExecState> exec_state(const std::string& exec_id);

 private:
  std::string dir_;
};

}  // namespace berth::engine::monitor
