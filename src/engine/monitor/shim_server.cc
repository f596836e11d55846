#include "engine/monitor/shim_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <malloc.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "base/file.h"
#include "base/log.h"
#include "engine/monitor/json_log.h"
#include "engine/monitor/protocol.h"
#include "engine/monitor/stdcopy.h"
#include "runtime/container.h"
#include "runtime/state_store.h"

namespace berth::engine::monitor {

namespace {

using nlohmann::json;

constexpr size_t kReadChunk = 32 * 1024;
// Pending output for one client above which the container's output is no longer read (the container then
// blocks on its pipe, as it would writing to a slow terminal): attach loses nothing, memory stays bounded.
constexpr size_t kOutHighWater = 1 << 20;
// Pending stdin above which clients' stdin is no longer read.
constexpr size_t kInHighWater = 1 << 20;
// After a process exits, how long its output pipes may stay open (held by a leftover process that does
// not share the init's pid namespace) before the shim stops waiting for EOF.
constexpr int64_t kDrainMs = 2000;
// After the exit is recorded, how long idle connections may keep the shim alive.
constexpr int64_t kLingerMs = 10000;
// Finished execs kept for exec_state / exec_wait; older ones are forgotten (health checks run an exec every
// few seconds for the container's whole life). The daemon records exit codes itself.
constexpr size_t kMaxDoneExecs = 128;

int64_t mono_ms() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

enum class Tag : uint32_t { Listen = 1, Signal, Conn, CtrOut, CtrErr, CtrIn, ExecOut, ExecErr, ExecIn };

uint64_t token(Tag t, int fd) { return (static_cast<uint64_t>(t) << 32) | static_cast<uint32_t>(fd); }

enum class ConnKind { Request, Attach, ExecStream, Wait, ExecWait };

struct Conn {
  UniqueFd fd;
  ConnKind kind = ConnKind::Request;
  std::string in;
  std::string out;
  bool want_stdout = false, want_stderr = false, want_stdin = false;
  bool peer_eof = false;  // the client shut down its sending side
  bool closing = false;   // close once out is flushed
  std::string exec_id;
  uint32_t events = 0;
};

// The shim's end of one process's stdio: stdin (write), stdout and stderr (read); with a pty, out is the
// master and in a dup of it.
struct Stdio {
  UniqueFd in, out, err;
  std::string in_buf;
  bool in_close_pending = false;  // close `in` once in_buf is written
  bool tty = false;
  uint32_t in_events = 0, out_events = 0, err_events = 0;
};

struct Exec {
  ExecConfig cfg;
  bool started = false, exited = false, finalized = false;
  pid_t pid = 0;
  int exit_code = 0;
  Stdio io;
  int stream_fd = -1;  // the exec_start connection
  int64_t drain_deadline = 0;
  std::vector<int> waiters;
};

// Child ends of a process's stdio, installed as fds 0-2 while the runtime clones it.
struct ChildStdio {
  UniqueFd in, out, err;
};

Result<std::pair<UniqueFd, UniqueFd>> make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return fail_errno("pipe");
  return std::make_pair(UniqueFd(p[0]), UniqueFd(p[1]));
}

Status set_nonblock(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return fail_errno("fcntl");
  return ok();
}

// Receives one fd sent with SCM_RIGHTS (the runtime's console socket protocol).
Result<UniqueFd> recv_fd(int sock) {
  char data[256];
  struct iovec iov = {data, sizeof data};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail_errno("receive pty master");
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
    return fail(Errc::Internal, "console socket: no pty master received");
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return UniqueFd(fd);
}

// Drops the shim's resident pages of its own read-only program text and data: creating a container or an
// exec runs most of the runtime library once, and those pages would otherwise stay counted in the shim's RSS
// for the container's life. They are page cache shared by every shim; the loop faults back in the few it
// uses. Only mappings of our binary that are not writable and hold no private (anonymous) page are
// dropped: writable data would lose its contents, and the RELRO part (relocated at start-up, then made
// read-only) holds private copies whose file contents are stale.
void trim_resident_text() {
  static std::vector<std::pair<uintptr_t, size_t>> ranges = [] {
    std::vector<std::pair<uintptr_t, size_t>> out;
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return out;
    exe[n] = 0;
    FILE* f = std::fopen("/proc/self/smaps", "re");
    if (!f) return out;
    char line[4096 + 128];
    bool candidate = false;
    unsigned long lo = 0, hi = 0;
    while (std::fgets(line, sizeof line, f)) {
      unsigned long a, b;
      char perms[8];
      int path_at = 0;
      if (std::sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &a, &b, perms, &path_at) >= 3 && path_at > 0 &&
          std::strchr(line, ':') != nullptr && line[0] != ' ' && std::isxdigit(static_cast<unsigned char>(line[0]))) {
        std::string_view path(line + path_at);
        while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.remove_suffix(1);
        candidate = path == exe && perms[1] != 'w';
        lo = a;
        hi = b;
        continue;
      }
      unsigned long anon_kb = 0;
      if (candidate && std::sscanf(line, "Anonymous: %lu kB", &anon_kb) == 1) {
        if (anon_kb == 0) out.emplace_back(lo, hi - lo);
        candidate = false;
      }
    }
    std::fclose(f);
    return out;
  }();
  for (const auto& [lo, len] : ranges) ::madvise(reinterpret_cast<void*>(lo), len, MADV_DONTNEED);
  ::malloc_trim(0);
}

Result<bool> get_bool(const json& j, const char* key, bool def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_boolean()) return fail(Errc::InvalidArgument, "\"{}\" must be a boolean", key);
  return it->get<bool>();
}

Result<int64_t> get_int(const json& j, const char* key, int64_t def, int64_t lo, int64_t hi) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_number_integer()) return fail(Errc::InvalidArgument, "\"{}\" must be an integer", key);
  int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) return fail(Errc::InvalidArgument, "\"{}\" out of range [{}, {}]", key, lo, hi);
  return v;
}

Result<std::string> get_string(const json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return fail(Errc::InvalidArgument, "\"{}\" is required", key);
    return std::string();
  }
  if (!it->is_string()) return fail(Errc::InvalidArgument, "\"{}\" must be a string", key);
  return it->get<std::string>();
}

class Shim {
 public:
  explicit Shim(const ShimConfig& c) : cfg_(c), rt_(runtime::RuntimeOptions{c.runtime_root, c.cgroup_root}) {}

  // Socket, log and container; then reports. Returns the create error (already reported).
  Status setup();
  int serve();
  pid_t init_pid() const { return init_pid_; }
  // After a failed setup: removes the files this shim created (none if another shim owns the directory).
  void abandon() { remove_files(); }
  // Removes shim.sock, shim.pid (of an older version) and console.sock, once, and only if this shim created them.
  void remove_files() {
    if (!owns_files_) return;
    owns_files_ = false;
    ::unlink((cfg_.dir + "/shim.sock").c_str());
    ::unlink((cfg_.dir + "/shim.pid").c_str());
    ::unlink((cfg_.dir + "/console.sock").c_str());
  }

 private:
  // setup
  Status install_child_stdio(const ChildStdio& c);
  void restore_stdio();
  Result<std::string> console_socket();
  Result<UniqueFd> take_console();
  Status prepare_stdio(bool tty, bool want_stdin, Stdio& mine, ChildStdio& child);

  // loop
  void ep_add(Tag t, int fd, uint32_t events);
  void ep_mod(Tag t, int fd, uint32_t events, uint32_t& current);
  void ep_del(int fd);
  void on_accept();
  void on_signal();
  void on_conn(int fd, uint32_t events);
  void on_output(Tag t, int fd);
  void on_stdin_writable(Tag t, int fd);
  void close_conn(int fd);
  void send_to(Conn& c, std::string_view bytes);
  void flush_conn(Conn& c);
  void reply(Conn& c, const json& j, bool close_after);
  void reply_error(Conn& c, const Error& e);
  void handle_request(Conn& c, std::string_view line, std::string_view rest);
  Status do_request(Conn& c, const json& req, std::string_view rest, bool& replied);
  void feed_stdin(Conn& c, std::string_view data);
  void stdin_eof(Conn& c);
  Stdio* stdin_target(const Conn& c);
  void write_stdin(Stdio& io, Tag tag);
  void close_output(Stdio& io, UniqueFd& fd, uint32_t& events);
  void deliver_container(StdStream s, std::string_view data);
  void update_interest();
  void reap();
  void finalize_container();
  void finalize_exec(Exec& e);
  Exec* exec_by_fd(int fd);
  Exec* exec_by_pid(pid_t pid);
  json exit_json() const;
  std::string state_status();
  Status start_exec(Exec& e, Conn& c);
  Status inherit_from_container(oci::Process& p);

  ShimConfig cfg_;
  runtime::Runtime rt_;
  UniqueFd ep_, listen_, sigfd_, devnull_, console_listen_;
  std::optional<JsonLogWriter> log_;
  bool log_failed_ = false;
  Stdio ctr_;
  pid_t init_pid_ = 0;
  bool started_ = false, exited_ = false, finalized_ = false;
  // trim_resident_text() once the shim has been idle for a moment (mono ms; -1 = none pending): not between
  // the requests of a start (attach, start, wait), whose code would only fault back in.
  int64_t trim_at_ = -1;
  void trim_soon() { trim_at_ = mono_ms() + 200; }
  UnixNanos started_at_ = 0, finished_at_ = 0;
  int exit_code_ = 0;
  bool oom_killed_ = false;
  int64_t drain_deadline_ = 0, linger_deadline_ = 0;
  std::map<int, std::unique_ptr<Conn>> conns_;
  std::map<std::string, std::unique_ptr<Exec>> execs_;
  uint32_t listen_events_ = 0;
  bool owns_files_ = false;
  std::string oom_file_;
  std::deque<std::string> done_execs_;
  std::optional<oci::Process> ctr_process_;  // the container's process, for exec defaults (parsed once)
  int exec_seq_ = 0;
};

Status Shim::install_child_stdio(const ChildStdio& c) {
  int fds[3] = {c.in ? c.in.get() : devnull_.get(), c.out.get(), c.err.get()};
  for (int i = 0; i < 3; ++i) {
    if (fds[i] < 0) continue;
    if (::dup2(fds[i], i) < 0) return fail_errno("dup2 stdio");
  }
  return ok();
}

void Shim::restore_stdio() {
  for (int i = 0; i < 3; ++i) ::dup2(devnull_.get(), i);
}

Result<std::string> Shim::console_socket() {
  std::string path = cfg_.dir + "/console.sock";
  if (!console_listen_) console_listen_ = BERTH_TRY(listen_unix(path, 4));
  return path;
}

Result<UniqueFd> Shim::take_console() {
  UniqueFd c(::accept4(console_listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!c) return fail_errno("accept on console socket");
  return recv_fd(c.get());
}

// Creates the pipes (or pty plumbing) for one process: `mine` gets the shim's ends (non-blocking), `child`
// the ends installed as the process's stdio. With a pty the child ends stay empty: the runtime opens the
// pty inside the container and hands the master over the console socket.
Status Shim::prepare_stdio(bool tty, bool want_stdin, Stdio& mine, ChildStdio& child) {
  mine.tty = tty;
  if (tty) {
    BERTH_TRY(console_socket());
    return ok();
  }
  if (want_stdin) {
    auto [r, w] = BERTH_TRY(make_pipe());
    child.in = std::move(r);
    mine.in = std::move(w);
    BERTH_TRY(set_nonblock(mine.in.get()));
  }
  auto [or_, ow] = BERTH_TRY(make_pipe());
  auto [er, ew] = BERTH_TRY(make_pipe());
  mine.out = std::move(or_);
  mine.err = std::move(er);
  child.out = std::move(ow);
  child.err = std::move(ew);
  BERTH_TRY(set_nonblock(mine.out.get()));
  BERTH_TRY(set_nonblock(mine.err.get()));
  return ok();
}

Status Shim::setup() {
  devnull_.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull_) return fail_errno("open /dev/null");
  BERTH_TRY(mkdir_all(cfg_.dir, 0711));
  // Never take over the socket (and exit record) of a shim that is still serving this directory.
  if (connect_unix(cfg_.dir + "/shim.sock"))
    return fail(Errc::AlreadyExists, "a shim is already running for `{}`", cfg_.dir);
  ::unlink((cfg_.dir + "/exit.json").c_str());

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  sigfd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd_) return fail_errno("signalfd");
  ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep_) return fail_errno("epoll");
  listen_ = BERTH_TRY(listen_unix(cfg_.dir + "/shim.sock"));
  owns_files_ = true;
  // No shim.pid: the spawner gets the pid in the report, and a live shim is one whose socket takes connections
  // (one inode less per container; on ext4 without a journal each new inode costs a scan).

  if (!cfg_.log_path.empty()) {
    log_ = BERTH_TRY(JsonLogWriter::open({cfg_.log_path, cfg_.log_max_size, cfg_.log_max_files}));
  }

  ChildStdio child;
  BERTH_TRY(prepare_stdio(cfg_.tty, cfg_.open_stdin, ctr_, child));
  runtime::CreateOptions co;
  co.id = cfg_.id;
  co.bundle = cfg_.bundle;
  if (cfg_.tty) co.console_socket = cfg_.dir + "/console.sock";
  BERTH_TRY(install_child_stdio(child));
  Status created = rt_.create(co);
  restore_stdio();
  child = ChildStdio{};
  if (!created) return created;
  auto info = rt_.info(cfg_.id);
  if (!info) return fail(std::move(info).error().wrap("created container"));
  init_pid_ = info->state.pid;
  // Where the kernel counts OOM kills: v1 memory.oom_control, v2 memory.events ("oom_kill N" in both).
  for (const auto& [controller, dir] : info->state.cgroup_paths) {
    if (controller == "memory") oom_file_ = dir + "/memory.oom_control";
    else if (controller.empty()) oom_file_ = dir + "/memory.events";
  }
  if (cfg_.tty) {
    UniqueFd master = BERTH_TRY(take_console());
    BERTH_TRY(set_nonblock(master.get()));
    if (cfg_.console_size.height || cfg_.console_size.width) {
      struct winsize ws {};
      ws.ws_row = cfg_.console_size.height;
      ws.ws_col = cfg_.console_size.width;
      ::ioctl(master.get(), TIOCSWINSZ, &ws);
    }
    if (cfg_.open_stdin) {
      ctr_.in.reset(::fcntl(master.get(), F_DUPFD_CLOEXEC, 3));
      if (!ctr_.in) return fail_errno("dup pty master");
    }
    ctr_.out = std::move(master);
  }
  return ok();
}

void Shim::ep_add(Tag t, int fd, uint32_t events) {
  struct epoll_event ev {};
  ev.events = events;
  ev.data.u64 = token(t, fd);
  ::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev);
}

void Shim::ep_mod(Tag t, int fd, uint32_t events, uint32_t& current) {
  if (events == current) return;
  struct epoll_event ev {};
  ev.events = events;
  ev.data.u64 = token(t, fd);
  ::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, fd, &ev);
  current = events;
}

void Shim::ep_del(int fd) { ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr); }

int Shim::serve() {
  ep_add(Tag::Listen, listen_.get(), EPOLLIN);
  listen_events_ = EPOLLIN;
  ep_add(Tag::Signal, sigfd_.get(), EPOLLIN);
  if (ctr_.out) ep_add(Tag::CtrOut, ctr_.out.get(), 0);
  if (ctr_.err) ep_add(Tag::CtrErr, ctr_.err.get(), 0);
  if (ctr_.in) ep_add(Tag::CtrIn, ctr_.in.get(), 0);
  update_interest();
  // A child may have exited before the signalfd was polled.
  reap();
  trim_soon();  // the create ran most of the runtime library

  struct epoll_event evs[32];
  for (;;) {
    int64_t now = mono_ms();
    if (exited_ && !finalized_ && ((!ctr_.out && !ctr_.err) || now >= drain_deadline_)) finalize_container();
    for (auto& [id, e] : execs_)
      if (e->exited && !e->finalized && ((!e->io.out && !e->io.err) || now >= e->drain_deadline)) finalize_exec(*e);
    update_interest();  // closes the streams that finalizing ended
    if (finalized_) {
      bool execs_done = true;
      for (auto& [id, e] : execs_)
        if (e->started && !e->finalized) execs_done = false;
      if ((conns_.empty() && execs_done) || now >= linger_deadline_) break;
    }
    int64_t deadline = -1;
    auto consider = [&](int64_t d) {
      if (deadline < 0 || d < deadline) deadline = d;
    };
    if (exited_ && !finalized_) consider(drain_deadline_);
    for (auto& [id, e] : execs_)
      if (e->exited && !e->finalized) consider(e->drain_deadline);
    if (finalized_) consider(linger_deadline_);
    if (trim_at_ >= 0) {
      if (now >= trim_at_) {
        trim_resident_text();
        trim_at_ = -1;
      } else {
        consider(trim_at_);
      }
    }
    int timeout = deadline < 0 ? -1 : static_cast<int>(std::max<int64_t>(0, deadline - now));
    int n = ::epoll_wait(ep_.get(), evs, 32, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error("epoll_wait: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      Tag t = static_cast<Tag>(evs[i].data.u64 >> 32);
      int fd = static_cast<int>(evs[i].data.u64 & 0xffffffff);
      switch (t) {
        case Tag::Listen: on_accept(); break;
        case Tag::Signal: on_signal(); break;
        case Tag::Conn: on_conn(fd, evs[i].events); break;
        case Tag::CtrOut:
        case Tag::CtrErr:
        case Tag::ExecOut:
        case Tag::ExecErr: on_output(t, fd); break;
        case Tag::CtrIn:
        case Tag::ExecIn: on_stdin_writable(t, fd); break;
      }
    }
    update_interest();
  }
  // Last call: those connections already queued (a wait that raced the exit) get their answer if their
  // request has arrived, rather than a reset.
  remove_files();
  on_accept();
  std::vector<int> fds;
  for (auto& [fd, c] : conns_)
    if (c->kind == ConnKind::Request) fds.push_back(fd);
  for (int fd : fds) on_conn(fd, EPOLLIN);
  return 0;
}

void Shim::on_accept() {
  for (;;) {
    int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno == EMFILE || errno == ENFILE) log::warn("accept: {}", std::strerror(errno));
      return;
    }
    auto c = std::make_unique<Conn>();
    c->fd.reset(fd);
    c->events = EPOLLIN;
    ep_add(Tag::Conn, fd, EPOLLIN);
    conns_[fd] = std::move(c);
  }
}

void Shim::on_signal() {
  struct signalfd_siginfo si;
  while (::read(sigfd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
  }
  reap();
}

void Shim::reap() {
  for (;;) {
    int st = 0;
    pid_t p = ::waitpid(-1, &st, WNOHANG);
    if (p <= 0) return;
    if (p == init_pid_ && !exited_) {
      exited_ = true;
      exit_code_ = runtime::exit_code_from_status(st);
      finished_at_ = now_unix_nanos();
      drain_deadline_ = mono_ms() + kDrainMs;
      continue;
    }
    if (Exec* e = exec_by_pid(p); e && !e->exited) {
      e->exited = true;
      e->exit_code = runtime::exit_code_from_status(st);
      e->drain_deadline = mono_ms() + kDrainMs;
    }
    // Anything else is an orphan we reaped as subreaper.
  }
}

Exec* Shim::exec_by_pid(pid_t pid) {
  for (auto& [id, e] : execs_)
    if (e->started && e->pid == pid) return e.get();
  return nullptr;
}

Exec* Shim::exec_by_fd(int fd) {
  for (auto& [id, e] : execs_)
    if (e->io.in.get() == fd || e->io.out.get() == fd || e->io.err.get() == fd) return e.get();
  return nullptr;
}

void Shim::send_to(Conn& c, std::string_view bytes) {
  if (c.closing && c.kind == ConnKind::Request) return;
  c.out.append(bytes);
  flush_conn(c);
}

void Shim::flush_conn(Conn& c) {
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) {
      // The client is gone; its stream ends here, the container is not affected.
      c.out.clear();
      c.closing = true;
      return;
    }
    c.out.erase(0, static_cast<size_t>(n));
  }
}

void Shim::close_conn(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  ep_del(fd);
  if (c.kind == ConnKind::ExecStream) {
    if (auto e = execs_.find(c.exec_id); e != execs_.end() && e->second->stream_fd == fd) {
      e->second->stream_fd = -1;
      // The client left: its stdin is done.
      if (c.want_stdin && !c.peer_eof) stdin_eof(c);
    }
  }
  if (c.kind == ConnKind::ExecWait) {
    if (auto e = execs_.find(c.exec_id); e != execs_.end()) std::erase(e->second->waiters, fd);
  }
  if (c.kind == ConnKind::Attach && c.want_stdin && !c.peer_eof) stdin_eof(c);
  conns_.erase(it);
}

void Shim::reply(Conn& c, const json& j, bool close_after) {
  json r = j;
  r["ok"] = true;
  c.out.append(r.dump(-1, ' ', false, json::error_handler_t::replace));
  c.out.push_back('\n');
  if (close_after) c.closing = true;
  flush_conn(c);
}

void Shim::reply_error(Conn& c, const Error& e) {
  c.out.append(error_reply(e));
  c.out.push_back('\n');
  c.closing = true;
  flush_conn(c);
}

void Shim::on_conn(int fd, uint32_t events) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (events & EPOLLOUT) flush_conn(c);
  if (events & EPOLLIN) {
    char buf[kReadChunk];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) {
      c.peer_eof = true;
      if (c.kind == ConnKind::Request) {
        close_conn(fd);
        return;
      }
      if (c.want_stdin) stdin_eof(c);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      close_conn(fd);
      return;
    } else if (n > 0) {
      std::string_view data(buf, static_cast<size_t>(n));
      if (c.kind == ConnKind::Request) {
        auto nl = data.find('\n');
        if (nl == std::string_view::npos) {
          c.in.append(data);
          if (c.in.size() > kMaxRequestLine) {
            reply_error(c, Error(Errc::InvalidArgument, "request line too long"));
            c.peer_eof = true;
          }
        } else {
          c.in.append(data.substr(0, nl));
          std::string line = std::move(c.in);
          c.in.clear();
          handle_request(c, line, data.substr(nl + 1));
          if (conns_.find(fd) == conns_.end()) return;
        }
      } else if (c.want_stdin) {
        feed_stdin(c, data);
      }
      // Anything else a client sends on a stream without stdin, or after its request, is ignored.
    }
  }
  if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN)) {
    close_conn(fd);
    return;
  }
  if (events & (EPOLLHUP | EPOLLERR)) {
    // Peer fully closed: drop whatever is pending for it.
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (c.peer_eof || err) {
      close_conn(fd);
      return;
    }
  }
  if (c.closing && c.out.empty()) close_conn(fd);
}

json Shim::exit_json() const {
  return json{{"exit_code", exit_code_},
              {"oom_killed", oom_killed_},
              {"started_at", started_at_ ? format_rfc3339_nano(started_at_) : ""},
              {"finished_at", format_rfc3339_nano(finished_at_)},
              {"error", ""}};
}

std::string Shim::state_status() {
  if (exited_) return "stopped";
  if (!started_) return "created";
  auto info = rt_.info(cfg_.id);
  if (info && info->status == runtime::ContainerStatus::Paused) return "paused";
  return "running";
}

void Shim::handle_request(Conn& c, std::string_view line, std::string_view rest) {
  auto req = parse_request(line);
  if (!req) {
    reply_error(c, req.error());
    return;
  }
  bool replied = false;
  Status st = do_request(c, *req, rest, replied);
  if (!st && !replied) reply_error(c, st.error());
  // Requests are rare and most run parts of the runtime library: give those pages back (see above) once idle.
  trim_soon();
}

Stdio* Shim::stdin_target(const Conn& c) {
  if (c.kind == ConnKind::Attach) return ctr_.in ? &ctr_ : nullptr;
  if (c.kind == ConnKind::ExecStream) {
    auto it = execs_.find(c.exec_id);
    if (it != execs_.end() && it->second->io.in) return &it->second->io;
  }
  return nullptr;
}

void Shim::feed_stdin(Conn& c, std::string_view data) {
  Stdio* io = stdin_target(c);
  if (!io || io->in_close_pending) return;
  io->in_buf.append(data);
  write_stdin(*io, c.kind == ConnKind::Attach ? Tag::CtrIn : Tag::ExecIn);
}

void Shim::write_stdin(Stdio& io, Tag tag) {
  (void)tag;
  while (io.in && !io.in_buf.empty()) {
    ssize_t n = ::write(io.in.get(), io.in_buf.data(), io.in_buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) {
      // The process closed its stdin (or exited): what it did not read is dropped.
      io.in_buf.clear();
      ep_del(io.in.get());
      io.in.reset();
      io.in_events = 0;
      return;
    }
    io.in_buf.erase(0, static_cast<size_t>(n));
  }
  if (io.in && io.in_buf.empty() && io.in_close_pending) {
    ep_del(io.in.get());
    io.in.reset();
    io.in_events = 0;
  }
}

void Shim::stdin_eof(Conn& c) {
  Stdio* io = stdin_target(c);
  if (!io) return;
  // docker: the container's stdin closes with its first attached client's EOF only with StdinOnce; an
  // exec's stdin closes with its (only) client's EOF. Never with a tty (a pty cannot be half-closed; dockerd
  // leaves it open too, so detaching from `run -it` does not end the shell).
  if (io->tty) return;
  if (c.kind == ConnKind::Attach && !cfg_.stdin_once) return;
  io->in_close_pending = true;
  write_stdin(*io, c.kind == ConnKind::Attach ? Tag::CtrIn : Tag::ExecIn);
}

void Shim::on_stdin_writable(Tag t, int fd) {
  if (t == Tag::CtrIn) {
    write_stdin(ctr_, t);
  } else if (Exec* e = exec_by_fd(fd)) {
    write_stdin(e->io, t);
  }
}

void Shim::close_output(Stdio& io, UniqueFd& fd, uint32_t& events) {
  (void)io;
  ep_del(fd.get());
  fd.reset();
  events = 0;
}

void Shim::deliver_container(StdStream s, std::string_view data) {
  if (log_ && !log_failed_) {
    if (auto st = log_->write(s, data, now_unix_nanos()); !st) {
      log::error("container log: {} (further output is not logged)", st.error().message());
      log_failed_ = true;
    }
  }
  std::string framed;
  for (auto& [fd, c] : conns_) {
    if (c->kind != ConnKind::Attach || c->closing) continue;
    bool want = s == StdStream::Stdout ? c->want_stdout : c->want_stderr;
    if (ctr_.tty) want = c->want_stdout || c->want_stderr;
    if (!want) continue;
    if (ctr_.tty) {
      send_to(*c, data);
    } else {
      if (framed.empty()) stdcopy_append(framed, s, data);
      send_to(*c, framed);
    }
  }
}

void Shim::on_output(Tag t, int fd) {
  // The event may be stale (the fd closed earlier in this batch, its number possibly reused): only read
  // an fd that is still the one registered under this tag.
  Exec* e = nullptr;
  if (t == Tag::CtrOut || t == Tag::CtrErr) {
    if (fd != (t == Tag::CtrOut ? ctr_.out.get() : ctr_.err.get())) return;
  } else {
    e = exec_by_fd(fd);
    if (!e || fd != (t == Tag::ExecOut ? e->io.out.get() : e->io.err.get())) return;
  }
  char buf[kReadChunk];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return;
  bool eof = n <= 0;  // EIO from a pty master: the last slave closed
  std::string_view data(buf, n > 0 ? static_cast<size_t>(n) : 0);
  if (t == Tag::CtrOut || t == Tag::CtrErr) {
    StdStream s = t == Tag::CtrOut ? StdStream::Stdout : StdStream::Stderr;
    if (!eof) {
      deliver_container(s, data);
    } else if (t == Tag::CtrOut) {
      close_output(ctr_, ctr_.out, ctr_.out_events);
    } else {
      close_output(ctr_, ctr_.err, ctr_.err_events);
    }
    return;
  }
  if (eof) {
    if (t == Tag::ExecOut) close_output(e->io, e->io.out, e->io.out_events);
    else close_output(e->io, e->io.err, e->io.err_events);
    return;
  }
  auto it = conns_.find(e->stream_fd);
  if (it == conns_.end()) return;  // detached exec: output is dropped, as docker does
  StdStream s = t == Tag::ExecOut ? StdStream::Stdout : StdStream::Stderr;
  if (e->io.tty) {
    send_to(*it->second, data);
  } else {
    std::string framed;
    stdcopy_append(framed, s, data);
    send_to(*it->second, framed);
  }
}

// Recomputes every epoll interest: output is read only while no reader of it is backed up; stdin is read
// only while its target buffer has room.
void Shim::update_interest() {
  // Connections first (some may close).
  std::vector<int> to_close;
  bool ctr_blocked = false;
  for (auto& [fd, c] : conns_) {
    if (c->closing && c->out.empty()) {
      to_close.push_back(fd);
      continue;
    }
    if (c->kind == ConnKind::Attach && c->out.size() > kOutHighWater) ctr_blocked = true;
  }
  for (int fd : to_close) close_conn(fd);
  for (auto& [fd, c] : conns_) {
    uint32_t ev = 0;
    bool read = !c->peer_eof && !c->closing;
    if (read && c->want_stdin) {
      Stdio* io = stdin_target(*c);
      if (io && io->in_buf.size() > kInHighWater) read = false;
    }
    if (read) ev |= EPOLLIN;
    if (!c->out.empty()) ev |= EPOLLOUT;
    ep_mod(Tag::Conn, fd, ev, c->events);
  }
  uint32_t out_ev = ctr_blocked ? 0u : uint32_t{EPOLLIN};
  if (ctr_.out) ep_mod(Tag::CtrOut, ctr_.out.get(), out_ev, ctr_.out_events);
  if (ctr_.err) ep_mod(Tag::CtrErr, ctr_.err.get(), out_ev, ctr_.err_events);
  if (ctr_.in) ep_mod(Tag::CtrIn, ctr_.in.get(), ctr_.in_buf.empty() ? 0u : uint32_t{EPOLLOUT}, ctr_.in_events);
  for (auto& [id, e] : execs_) {
    if (!e->started) continue;
    bool blocked = false;
    if (auto it = conns_.find(e->stream_fd); it != conns_.end() && it->second->out.size() > kOutHighWater)
      blocked = true;
    uint32_t ev = blocked ? 0u : uint32_t{EPOLLIN};
    if (e->io.out) ep_mod(Tag::ExecOut, e->io.out.get(), ev, e->io.out_events);
    if (e->io.err) ep_mod(Tag::ExecErr, e->io.err.get(), ev, e->io.err_events);
    if (e->io.in) ep_mod(Tag::ExecIn, e->io.in.get(), e->io.in_buf.empty() ? 0u : uint32_t{EPOLLOUT}, e->io.in_events);
  }
}

void Shim::finalize_container() {
  finalized_ = true;
  if (log_ && !log_failed_) (void)log_->flush(now_unix_nanos());
  // OOM: the memory cgroup's oom_kill counter (v1 memory.oom_control, v2 memory.events) before the cgroup
  // goes away with the container.
  if (!oom_file_.empty()) {
    if (auto text = read_file(oom_file_, 64 * 1024)) {
      for (size_t p = text->find("oom_kill "); p != std::string::npos; p = text->find("oom_kill ", p + 1)) {
        if (p == 0 || (*text)[p - 1] == '\n') {
          oom_killed_ = std::strtoull(text->c_str() + p + 9, nullptr, 10) > 0;
          break;
        }
      }
    }
  }
  if (ctr_.out) close_output(ctr_, ctr_.out, ctr_.out_events);
  if (ctr_.err) close_output(ctr_, ctr_.err, ctr_.err_events);
  if (ctr_.in) {
    ep_del(ctr_.in.get());
    ctr_.in.reset();
  }
  // Delete the runtime container before anyone hears of the exit: the daemon may create a new container
  // with the same id (restart) as soon as it does.
  if (auto st = rt_.remove(cfg_.id, true); !st) log::error("delete container: {}", st.error().message());
  json ex = exit_json();
  // No fsync (docs/design/monitor.md, "exit.json"): the daemon makes the exit durable in its DB once it learns it.
  if (auto st = write_file_replace(cfg_.dir + "/exit.json", ex.dump()); !st)
    log::error("record exit: {}", st.error().message());
  // From now on the directory belongs to whoever comes next (a restart spawns a new shim here as soon as
  // it hears of the exit): no new connections; clients read exit.json. Connections already made are served.
  remove_files();
  for (auto& [fd, c] : conns_) {
    if (c->kind == ConnKind::Wait) reply(*c, ex, true);
    if (c->kind == ConnKind::Attach) c->closing = true;
  }
  linger_deadline_ = mono_ms() + kLingerMs;
}

void Shim::finalize_exec(Exec& e) {
  e.finalized = true;
  if (e.io.out) close_output(e.io, e.io.out, e.io.out_events);
  if (e.io.err) close_output(e.io, e.io.err, e.io.err_events);
  if (e.io.in) {
    ep_del(e.io.in.get());
    e.io.in.reset();
  }
  for (int fd : e.waiters) {
    auto it = conns_.find(fd);
    if (it != conns_.end()) reply(*it->second, json{{"exit_code", e.exit_code}}, true);
  }
  e.waiters.clear();
  // The exit code is recorded (exec_state answers it) before the stream closes.
  if (auto it = conns_.find(e.stream_fd); it != conns_.end()) it->second->closing = true;
  done_execs_.push_back(e.cfg.exec_id);
  if (done_execs_.size() > kMaxDoneExecs) {
    execs_.erase(done_execs_.front());  // e is never the oldest here: it was just appended
    done_execs_.pop_front();
  }
}

Status Shim::start_exec(Exec& e, Conn& c) {
  if (exited_) return fail(Errc::FailedPrecondition, "container is not running");
  ChildStdio child;
  BERTH_TRY(prepare_stdio(e.cfg.tty, e.cfg.stdin, e.io, child));
  std::string pid_file = cfg_.dir + "/exec-" + std::to_string(++exec_seq_) + ".pid";
  runtime::ExecOptions eo;
  eo.id = cfg_.id;
  eo.process = e.cfg.process;
  eo.process->terminal = e.cfg.tty;
  eo.tty = e.cfg.tty;
  eo.detach = true;
  eo.pid_file = pid_file;
  if (e.cfg.tty) eo.console_socket = cfg_.dir + "/console.sock";
  BERTH_TRY(install_child_stdio(child));
  auto r = rt_.exec(eo);
  restore_stdio();
  child = ChildStdio{};
  if (!r) {
    e.io = Stdio{};
    ::unlink(pid_file.c_str());
    return fail(std::move(r).error());
  }
  auto pid_text = read_file(pid_file, 64);
  ::unlink(pid_file.c_str());
  if (!pid_text) return fail(std::move(pid_text).error().wrap("exec pid"));
  e.pid = std::atoi(pid_text->c_str());
  e.started = true;
  e.cfg.process = oci::Process{};  // not needed any more; may be large (env)
  if (e.cfg.tty) {
    auto master = take_console();
    if (!master) {
      ::kill(e.pid, SIGKILL);
      return fail(std::move(master).error());
    }
    BERTH_TRY(set_nonblock(master->get()));
    if (e.cfg.stdin) e.io.in.reset(::fcntl(master->get(), F_DUPFD_CLOEXEC, 3));
    e.io.out = std::move(*master);
  }
  if (e.io.out) ep_add(Tag::ExecOut, e.io.out.get(), 0);
  if (e.io.err) ep_add(Tag::ExecErr, e.io.err.get(), 0);
  if (e.io.in) ep_add(Tag::ExecIn, e.io.in.get(), 0);
  e.stream_fd = c.fd.get();
  return ok();
}

// An exec runs with the container's confinement unless the request says otherwise: what the request leaves
// out (capabilities, rlimits, LSM labels, oom_score_adj, env) comes from the container's process, and
// no_new_privileges is never weaker. A client that omits capabilities must not get the shim's (all of them).
Status Shim::inherit_from_container(oci::Process& p) {
  if (!ctr_process_) {
    auto info = BERTH_TRY_CTX(rt_.info(cfg_.id), "container");
    oci::Spec spec = BERTH_TRY_CTX(oci::parse_runtime_spec(info.state.config_json), "container config");
    if (!spec.process) return fail(Errc::Internal, "container config has no process");
    ctr_process_ = std::move(*spec.process);
    ctr_process_->args.clear();
  }
  const oci::Process& c = *ctr_process_;
  if (!p.capabilities) p.capabilities = c.capabilities;
  if (p.rlimits.empty()) p.rlimits = c.rlimits;
  if (p.apparmor_profile.empty()) p.apparmor_profile = c.apparmor_profile;
  if (p.selinux_label.empty()) p.selinux_label = c.selinux_label;
  if (!p.oom_score_adj) p.oom_score_adj = c.oom_score_adj;
  if (p.env.empty()) p.env = c.env;
  p.no_new_privileges = p.no_new_privileges || c.no_new_privileges;
  return ok();
}

Status Shim::do_request(Conn& c, const json& req, std::string_view rest, bool& replied) {
  const std::string op = req["op"].get<std::string>();
  if (op == "state") {
    json j = {{"status", state_status()}, {"pid", exited_ ? 0 : init_pid_}, {"tty", cfg_.tty},
              {"started_at", started_at_ ? format_rfc3339_nano(started_at_) : ""}};
    if (exited_) j["exit"] = exit_json();
    replied = true;
    reply(c, j, true);
    return ok();
  }
  if (op == "start") {
    if (started_) return fail(Errc::FailedPrecondition, "container already started");
    if (exited_) return fail(Errc::FailedPrecondition, "container has exited");
    BERTH_TRY(rt_.start(cfg_.id));
    started_ = true;
    started_at_ = now_unix_nanos();
    replied = true;
    reply(c, json::object(), true);
    return ok();
  }
  if (op == "attach") {
    bool in = BERTH_TRY(get_bool(req, "stdin", false));
    bool out = BERTH_TRY(get_bool(req, "stdout", true));
    bool err = BERTH_TRY(get_bool(req, "stderr", true));
    if (finalized_) return fail(Errc::FailedPrecondition, "container has exited");
    c.kind = ConnKind::Attach;
    c.want_stdin = in && ctr_.in;
    c.want_stdout = out;
    c.want_stderr = err;
    replied = true;
    reply(c, json::object(), false);
    if (c.want_stdin && !rest.empty()) feed_stdin(c, rest);
    if (exited_ && !ctr_.out && !ctr_.err) c.closing = true;
    return ok();
  }
  if (op == "wait") {
    replied = true;
    if (finalized_) {
      reply(c, exit_json(), true);
    } else {
      c.kind = ConnKind::Wait;
    }
    return ok();
  }
  if (op == "kill") {
    int64_t sig = BERTH_TRY(get_int(req, "signal", SIGKILL, 1, 64));
    bool all = BERTH_TRY(get_bool(req, "all", false));
    if (exited_) return fail(Errc::FailedPrecondition, "container is not running");
    BERTH_TRY(rt_.kill(cfg_.id, static_cast<int>(sig), all));
    replied = true;
    reply(c, json::object(), true);
    return ok();
  }
  if (op == "resize") {
    int64_t h = BERTH_TRY(get_int(req, "height", 0, 0, 65535));
    int64_t w = BERTH_TRY(get_int(req, "width", 0, 0, 65535));
    std::string exec_id = BERTH_TRY(get_string(req, "exec_id", false));
    int fd = -1;
    if (exec_id.empty()) {
      if (!cfg_.tty) return fail(Errc::FailedPrecondition, "container has no tty");
      fd = ctr_.out.get();
    } else {
      auto it = execs_.find(exec_id);
      if (it == execs_.end()) return fail(Errc::NotFound, "no such exec: {}", exec_id);
      if (!it->second->cfg.tty) return fail(Errc::FailedPrecondition, "exec {} has no tty", exec_id);
      fd = it->second->io.out.get();
    }
    if (fd < 0) return fail(Errc::FailedPrecondition, "process is not running");
    struct winsize ws {};
    ws.ws_row = static_cast<unsigned short>(h);
    ws.ws_col = static_cast<unsigned short>(w);
    if (::ioctl(fd, TIOCSWINSZ, &ws) < 0) return fail_errno("resize");
    replied = true;
    reply(c, json::object(), true);
    return ok();
  }
  if (op == "pause" || op == "resume") {
    if (exited_) return fail(Errc::FailedPrecondition, "container is not running");
    if (op == "pause") BERTH_TRY(rt_.pause(cfg_.id));
    else BERTH_TRY(rt_.resume(cfg_.id));
    replied = true;
    reply(c, json::object(), true);
    return ok();
  }
  if (op == "exec_create") {
    std::string id = BERTH_TRY(get_string(req, "exec_id", true));
    if (id.empty() || id.size() > 128) return fail(Errc::InvalidArgument, "\"exec_id\" must be 1-128 characters");
    if (execs_.count(id)) return fail(Errc::AlreadyExists, "exec {} already exists", id);
    auto p = req.find("process");
    if (p == req.end() || !p->is_object()) return fail(Errc::InvalidArgument, "\"process\" (object) is required");
    auto e = std::make_unique<Exec>();
    e->cfg.exec_id = id;
    e->cfg.process = BERTH_TRY_CTX(oci::parse_process(p->dump()), "process");
    BERTH_TRY(inherit_from_container(e->cfg.process));
    e->cfg.tty = BERTH_TRY(get_bool(req, "tty", false));
    e->cfg.stdin = BERTH_TRY(get_bool(req, "stdin", false));
    if (e->cfg.process.args.empty()) return fail(Errc::InvalidArgument, "process.args must not be empty");
    if (exited_) return fail(Errc::FailedPrecondition, "container is not running");
    execs_[id] = std::move(e);
    replied = true;
    reply(c, json::object(), true);
    return ok();
  }
  if (op == "exec_start") {
    std::string id = BERTH_TRY(get_string(req, "exec_id", true));
    auto it = execs_.find(id);
    if (it == execs_.end()) return fail(Errc::NotFound, "no such exec: {}", id);
    Exec& e = *it->second;
    if (e.started) return fail(Errc::FailedPrecondition, "exec {} already started", id);
    BERTH_TRY(start_exec(e, c));
    c.kind = ConnKind::ExecStream;
    c.exec_id = id;
    c.want_stdin = e.cfg.stdin && e.io.in;
    c.want_stdout = c.want_stderr = true;
    replied = true;
    reply(c, json{{"pid", e.pid}}, false);
    if (c.want_stdin && !rest.empty()) feed_stdin(c, rest);
    return ok();
  }
  if (op == "exec_wait") {
    std::string id = BERTH_TRY(get_string(req, "exec_id", true));
    auto it = execs_.find(id);
    if (it == execs_.end()) return fail(Errc::NotFound, "no such exec: {}", id);
    Exec& e = *it->second;
    if (!e.started) return fail(Errc::FailedPrecondition, "exec {} has not been started", id);
    replied = true;
    if (e.finalized) {
      reply(c, json{{"exit_code", e.exit_code}}, true);
    } else {
      c.kind = ConnKind::ExecWait;
      c.exec_id = id;
      e.waiters.push_back(c.fd.get());
    }
    return ok();
  }
  if (op == "exec_state") {
    std::string id = BERTH_TRY(get_string(req, "exec_id", true));
    auto it = execs_.find(id);
    if (it == execs_.end()) return fail(Errc::NotFound, "no such exec: {}", id);
    Exec& e = *it->second;
    json j = {{"started", e.started}, {"running", e.started && !e.exited}, {"pid", e.pid}};
    if (e.exited) j["exit_code"] = e.exit_code;
    else j["exit_code"] = nullptr;
    replied = true;
    reply(c, j, true);
    return ok();
  }
  return fail(Errc::InvalidArgument, "unknown op `{}`", op.substr(0, 64));
}

}  // namespace

int run_shim(const ShimConfig& config) {
  ::signal(SIGPIPE, SIG_IGN);
  if (config.detach) {
    pid_t p = ::fork();
    if (p < 0) {
      if (config.report_fd >= 0)
        (void)write_all(config.report_fd, fmt::format("error Internal fork shim: {}\n", std::strerror(errno)));
      return 1;
    }
    if (p > 0) _exit(0);  // the spawner reaps this one; the shim is reparented away from the daemon
    ::setsid();
  }
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  // Nothing the spawner leaked may live as long as the container (or reach it): close every fd but stdio
  // and the report pipe.
  if (config.report_fd > 3) ::syscall(SYS_close_range, 3u, static_cast<unsigned>(config.report_fd) - 1, 0u);
  ::syscall(SYS_close_range, static_cast<unsigned>(std::max(config.report_fd, 2)) + 1, ~0u, 0u);
  // The report pipe must reach no hook or container process: spawn_shim reads it to EOF.
  if (config.report_fd >= 0) ::fcntl(config.report_fd, F_SETFD, FD_CLOEXEC);
  ::umask(022);
  if (::chdir("/") < 0) {
  }
  (void)mkdir_all(config.dir, 0711);
  // Created with the first line (usually never: one inode less per container). Above the stdio range: fds 0-2
  // are the container's while the runtime clones it.
  log::set_file_lazy(config.dir + "/shim.log", 0600, 10);
  Shim shim(config);
  Status st = shim.setup();
  if (!st) {
    const Error& e = st.error();
    std::string msg = e.message();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    log::error("create {}: {}", config.id, msg);
    shim.abandon();
    if (config.report_fd >= 0) {
      (void)write_all(config.report_fd, fmt::format("error {} {}\n", errc_wire_name(e.code()), msg));
      ::close(config.report_fd);
    }
    return 1;
  }
  if (config.report_fd >= 0) {
    (void)write_all(config.report_fd, fmt::format("ok {} {}\n", ::getpid(), shim.init_pid()));
    ::close(config.report_fd);
  }
  return shim.serve();
}

}  // namespace berth::engine::monitor
