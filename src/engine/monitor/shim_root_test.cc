// Real shims (the berth-shim binary, spawned through spawn_shim) running real containers from a busybox
// bundle. Container ids start with "monitor-"; every test has its own runtime root and shim dir, and
// TearDown kills whatever is left.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/testing/root.h"
#include "base/testing/temp_dir.h"
#include "engine/monitor/json_log.h"
#include "engine/monitor/protocol.h"
#include "engine/monitor/shim_client.h"
#include "engine/monitor/stdcopy.h"
#include "runtime/container.h"
#include "runtime/testing/bundle.h"

namespace berth::engine::monitor {
namespace {

using nlohmann::json;

using berth::testing::shim_bin;

// Everything the peer sends until it closes.
std::string read_all(int fd) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// Reads until `needle` has arrived (or EOF); returns all bytes read.
std::string read_until(int fd, const std::string& needle) {
  std::string out;
  char buf[4096];
  while (out.find(needle) == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

struct Demuxed {
  std::string out, err;
  bool ok = true;
};
Demuxed demux(const std::string& wire) {
  Demuxed d;
  StdcopyDecoder dec;
  dec.feed(wire);
  for (;;) {
    auto f = dec.next();
    if (!f) {
      d.ok = false;
      break;
    }
    if (!*f) break;
    ((*f)->stream == StdStream::Stderr ? d.err : d.out) += (*f)->payload;
  }
  if (dec.pending()) d.ok = false;
  return d;
}

class ShimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    ::signal(SIGPIPE, SIG_IGN);  // as in the daemon: a peer that closed is an error, not a death
    if (::access(shim_bin().c_str(), X_OK) != 0) GTEST_SKIP() << "berth-shim not built: " << shim_bin();
    bundle_ = tmp_ / "bundle";
    auto made = b_.create(bundle_);
    ASSERT_TRUE(made) << made.error().message();
  }
  void TearDown() override {
    for (pid_t p : shims_) ::kill(p, SIGKILL);
    runtime::Runtime rt(runtime::RuntimeOptions{tmp_ / "runtime", "/sys/fs/cgroup"});
    for (const auto& id : ids_) (void)rt.remove(id, true);
  }

  void set_process(const std::vector<std::string>& args, bool tty = false) {
    ASSERT_TRUE(b_.set_process(args, tty));
  }

  ShimSpawn spec(const std::string& name) {
    ShimSpawn s;
    s.shim_path = shim_bin();
    s.id = "monitor-" + name + "-" + std::to_string(::getpid());
    s.bundle = bundle_;
    s.shim_dir = tmp_ / ("shim-" + name);
    s.runtime_root = tmp_ / "runtime";
    s.log_path = tmp_ / (s.id + "-json.log");
    ids_.push_back(s.id);
    return s;
  }

  Result<ShimHandle> spawn(const ShimSpawn& s) {
    auto h = spawn_shim(s);
    if (h) shims_.push_back(h->shim_pid);
    return h;
  }

  // The bundle's process set to args, a shim spawned for `s` and the container started.
  Result<ShimHandle> spawn_started(const ShimSpawn& s, const std::vector<std::string>& args) {
    BERTH_TRY(b_.set_args(args));
    auto h = BERTH_TRY(spawn(s));
    BERTH_TRY(ShimClient(s.shim_dir).start());
    return h;
  }

  // exec_create + exec_start of args (cwd /) as exec `id`: its output stream.
  static Result<UniqueFd> exec(ShimClient& c, const std::string& id, std::vector<std::string> args) {
    ExecConfig e;
    e.exec_id = id;
    e.process.args = std::move(args);
    e.process.cwd.assign(1, '/');  // (a literal assignment here trips GCC 12's -Wrestrict)
    BERTH_TRY(c.exec_create(e));
    return c.exec_start(id);
  }

  // SIGKILL to the container and the 137 it exits with.
  static void kill_and_reap(ShimClient& c) {
    ASSERT_TRUE(c.kill(SIGKILL));
    auto w = c.wait();
    ASSERT_TRUE(w) << w.error().message();
    EXPECT_EQ(w->exit_code, 137);
  }

  std::vector<LogRecord> log_records(const std::string& path) {
    std::vector<LogRecord> out;
    auto text = read_file(path);
    if (!text) return out;
    size_t pos = 0;
    while (pos < text->size()) {
      size_t nl = text->find('\n', pos);
      if (nl == std::string::npos) break;
      auto r = parse_log_record(std::string_view(*text).substr(pos, nl - pos));
      EXPECT_TRUE(r) << text->substr(pos, nl - pos);
      if (r) out.push_back(*r);
      pos = nl + 1;
    }
    return out;
  }

  testing::TempDir tmp_;
  std::string bundle_;
  testing::Bundle b_;
  json& config_ = b_.config();
  std::vector<std::string> ids_;
  std::vector<pid_t> shims_;
};

TEST_F(ShimTest, AttachBeforeStartSeesAllOutputAndTheLogHasIt) {
  set_process({"sh", "-c", "echo out1; echo err1 >&2; echo out2; exit 3"});
  ShimSpawn s = spec("attach");
  auto h = spawn(s);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_GT(h->init_pid, 0);
  ShimClient c(s.shim_dir);
  auto st = c.state();
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->status, "created");
  EXPECT_EQ(st->pid, h->init_pid);

  auto a = c.attach(false, true, true);
  ASSERT_TRUE(a) << a.error().message();
  ::shutdown(a->get(), SHUT_WR);  // what the docker CLI does without -i: must not end the stream
  auto w = c.wait_begin();
  ASSERT_TRUE(w);
  ASSERT_TRUE(c.start());
  Demuxed d = demux(read_all(a->get()));
  EXPECT_TRUE(d.ok);
  EXPECT_EQ(d.out, "out1\nout2\n");
  EXPECT_EQ(d.err, "err1\n");
  auto ex = ShimClient::read_wait_reply(w->get());
  ASSERT_TRUE(ex) << ex.error().message();
  EXPECT_EQ(ex->exit_code, 3);
  EXPECT_FALSE(ex->oom_killed);
  EXPECT_FALSE(ex->started_at.empty());
  EXPECT_FALSE(ex->finished_at.empty());

  auto recs = log_records(s.log_path);
  ASSERT_EQ(recs.size(), 3u);
  std::string out, err;
  for (const auto& r : recs) (r.stream == StdStream::Stdout ? out : err) += r.log;
  EXPECT_EQ(out, "out1\nout2\n");
  EXPECT_EQ(err, "err1\n");
  auto file = read_exit_file(s.shim_dir);
  ASSERT_TRUE(file) << file.error().message();
  EXPECT_EQ(file->exit_code, 3);
  EXPECT_EQ(file->finished_at, ex->finished_at);
  // The runtime container is gone once the exit is known: the id can be reused.
  runtime::Runtime rt(runtime::RuntimeOptions{s.runtime_root, "/sys/fs/cgroup"});
  auto info = rt.info(s.id);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), Errc::NotFound);
}

TEST_F(ShimTest, WaitAfterExitAndAfterTheShimIsGone) {
  set_process({"sh", "-c", "exit 5"});
  ShimSpawn s = spec("waitafter");
  auto h = spawn(s);
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  auto w1 = c.wait_begin();
  ASSERT_TRUE(w1);
  ASSERT_TRUE(c.start());
  auto e1 = ShimClient::read_wait_reply(w1->get());
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->exit_code, 5);
  w1->reset();
  // Nobody is connected any more: the shim exits; wait() answers from the shim while it lingers, from
  // exit.json once it is gone. Either way the same record.
  auto e2 = c.wait();
  ASSERT_TRUE(e2) << e2.error().message();
  EXPECT_EQ(e2->exit_code, 5);
  EXPECT_EQ(e2->finished_at, e1->finished_at);
}

TEST_F(ShimTest, RestartInTheSameDirectoryRightAfterTheExit) {
  // What a restart policy does: as soon as wait answers, a new shim for the same id and directory.
  set_process({"sh", "-c", "echo run; exit 2"});
  ShimSpawn s = spec("restart");
  for (int round = 0; round < 3; ++round) {
    auto h = spawn(s);
    ASSERT_TRUE(h) << "round " << round << ": " << h.error().message();
    ShimClient c(s.shim_dir);
    auto w = c.wait_begin();
    ASSERT_TRUE(w);
    ASSERT_TRUE(c.start());
    auto ex = ShimClient::read_wait_reply(w->get());
    ASSERT_TRUE(ex) << ex.error().message();
    EXPECT_EQ(ex->exit_code, 2);
    auto st = c.state();
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(st->status, "stopped");
  }
  // Every run appended to the same log.
  int runs = 0;
  for (const auto& r : log_records(s.log_path)) runs += r.log == "run\n";
  EXPECT_EQ(runs, 3);
}

TEST_F(ShimTest, StdinOnceClosesStdinAtClientEof) {
  set_process({"sh", "-c", "cat; echo done"});
  ShimSpawn s = spec("stdin");
  s.open_stdin = true;
  s.stdin_once = true;
  auto h = spawn(s);
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  auto a = c.attach(true, true, true);
  ASSERT_TRUE(a);
  ASSERT_TRUE(c.start());
  std::string input = "line one\nline two\n";
  ASSERT_TRUE(write_all(a->get(), input));
  ::shutdown(a->get(), SHUT_WR);
  Demuxed d = demux(read_all(a->get()));
  EXPECT_EQ(d.out, input + "done\n");
  auto ex = c.wait();
  ASSERT_TRUE(ex) << ex.error().message();
  EXPECT_EQ(ex->exit_code, 0);
}

TEST_F(ShimTest, StdinStaysOpenWithoutStdinOnce) {
  // Without StdinOnce one client's EOF does not close the container's stdin: a second client can go on.
  set_process({"sh", "-c", "read a; echo got:$a; read b; echo got:$b"});
  ShimSpawn s = spec("stdin2");
  s.open_stdin = true;
  auto h = spawn(s);
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  auto watcher = c.attach(false, true, false);
  ASSERT_TRUE(watcher);
  ASSERT_TRUE(c.start());
  {
    auto a = c.attach(true, false, false);
    ASSERT_TRUE(a);
    ASSERT_TRUE(write_all(a->get(), "first\n"));
    ::shutdown(a->get(), SHUT_WR);
  }
  std::string seen = read_until(watcher->get(), "got:first\n");
  auto b = c.attach(true, false, false);
  ASSERT_TRUE(b);
  ASSERT_TRUE(write_all(b->get(), "second\n"));
  seen += read_all(watcher->get());
  EXPECT_EQ(demux(seen).out, "got:first\ngot:second\n");
  auto ex = c.wait();
  ASSERT_TRUE(ex) << ex.error().message();
  EXPECT_EQ(ex->exit_code, 0);
}

TEST_F(ShimTest, TtyIsRawAndResizeReachesTheProcess) {
  set_process({"sh", "-c", "stty size; read x; stty size; echo bye"}, true);
  ShimSpawn s = spec("tty");
  s.tty = true;
  s.open_stdin = true;
  s.console_size = {24, 80};
  auto h = spawn(s);
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  auto a = c.attach(true, true, true);
  ASSERT_TRUE(a);
  ASSERT_TRUE(c.start());
  std::string seen = read_until(a->get(), "24 80\r\n");
  ASSERT_NE(seen.find("24 80\r\n"), std::string::npos) << seen;
  ASSERT_TRUE(c.resize({30, 100}));
  ASSERT_TRUE(write_all(a->get(), "go\r"));
  seen += read_all(a->get());
  EXPECT_NE(seen.find("30 100\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("bye\r\n"), std::string::npos) << seen;
  auto ex = c.wait();
  ASSERT_TRUE(ex) << ex.error().message();
  EXPECT_EQ(ex->exit_code, 0);
  auto recs = log_records(s.log_path);
  ASSERT_FALSE(recs.empty());
  EXPECT_EQ(recs.front().log, "24 80\r\n");
}

TEST_F(ShimTest, TtyStdinSurvivesAClientLeaving) {
  // `docker run -it` then detach: the client goes away, the shell must keep its terminal.
  set_process({"sh", "-c", "read a; echo got:$a; read b; echo got:$b"}, true);
  ShimSpawn s = spec("ttydetach");
  s.tty = true;
  s.open_stdin = true;
  s.stdin_once = true;
  auto h = spawn(s);
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  {
    auto a = c.attach(true, true, true);
    ASSERT_TRUE(a);
    ASSERT_TRUE(c.start());
    ASSERT_TRUE(write_all(a->get(), "one\r"));
    std::string seen = read_until(a->get(), "got:one\r\n");
    ASSERT_NE(seen.find("got:one\r\n"), std::string::npos) << seen;
  }
  auto st = c.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, "running");
  auto b = c.attach(true, true, true);
  ASSERT_TRUE(b);
  ASSERT_TRUE(write_all(b->get(), "two\r"));
  std::string seen = read_all(b->get());
  EXPECT_NE(seen.find("got:two\r\n"), std::string::npos) << seen;
  EXPECT_EQ(c.wait()->exit_code, 0);
  // Resize without a tty is refused clearly.
  EXPECT_FALSE(ShimClient(s.shim_dir).resize({1, 1}));
}

// A shim dir (and runtime root) deeper than sun_path allows (108 bytes): shim.sock and console.sock are
// reached through a directory fd, so `run -it` and `exec -t` work under any exec root.
TEST_F(ShimTest, TtyAndExecTtyUnderAnExecRootLongerThanSunPath) {
  set_process({"sh", "-c", "stty size; read x; echo bye"}, true);
  std::string deep = tmp_ / (std::string(60, 'd') + "/" + std::string(60, 'e'));
  ASSERT_EQ(std::system(("mkdir -p " + deep).c_str()), 0);
  ShimSpawn s = spec("longroot");
  s.shim_dir = deep + "/shims/" + std::string(64, 'a');
  s.runtime_root = deep + "/runtime";
  ASSERT_GT((s.shim_dir + "/console.sock").size(), 108u);
  s.tty = true;
  s.open_stdin = true;
  s.console_size = {24, 80};
  struct Cleanup {
    std::string root, id;
    ~Cleanup() { (void)runtime::Runtime(runtime::RuntimeOptions{root, "/sys/fs/cgroup"}).remove(id, true); }
  } cleanup{s.runtime_root, s.id};
  auto h = spawn(s);
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  auto a = c.attach(true, true, true);
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_TRUE(c.start());
  std::string seen = read_until(a->get(), "24 80\r\n");
  ASSERT_NE(seen.find("24 80\r\n"), std::string::npos) << seen;

  ExecConfig e;
  e.exec_id = "t";
  e.process.args = {"sh", "-c", "stty size"};
  e.process.cwd = "/";
  e.process.console_size = oci::ConsoleSize{10, 40};
  e.tty = true;
  ASSERT_TRUE(c.exec_create(e));
  auto es = c.exec_start("t");
  ASSERT_TRUE(es) << es.error().message();
  EXPECT_NE(read_all(es->get()).find("10 40\r\n"), std::string::npos);
  EXPECT_EQ(*c.exec_wait("t"), 0);

  ASSERT_TRUE(write_all(a->get(), "go\r"));
  seen += read_all(a->get());
  EXPECT_NE(seen.find("bye\r\n"), std::string::npos) << seen;
  auto ex = c.wait();
  ASSERT_TRUE(ex) << ex.error().message();
  EXPECT_EQ(ex->exit_code, 0);
}

TEST_F(ShimTest, KillGivesSignalExitCode) {
  ShimSpawn s = spec("kill");
  auto h = spawn_started(s, {"sleep", "1000"});
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  auto st = c.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, "running");
  ASSERT_TRUE(c.kill(SIGKILL));
  auto ex = c.wait();
  ASSERT_TRUE(ex) << ex.error().message();
  EXPECT_EQ(ex->exit_code, 137);
  EXPECT_FALSE(ex->oom_killed);
}

TEST_F(ShimTest, MemoryLimitGivesOomKilled) {
  config_["linux"]["resources"]["memory"] = {{"limit", 16 << 20}, {"swap", 16 << 20}};
  set_process({"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"});
  ShimSpawn s = spec("oom");
  auto h = spawn(s);
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  auto w = c.wait_begin();
  ASSERT_TRUE(w);
  ASSERT_TRUE(c.start());
  auto ex = ShimClient::read_wait_reply(w->get());
  ASSERT_TRUE(ex) << ex.error().message();
  EXPECT_EQ(ex->exit_code, 137);
  EXPECT_TRUE(ex->oom_killed);
}

TEST_F(ShimTest, ExecWithExitCodeStdinAndTty) {
  ShimSpawn s = spec("exec");
  auto h = spawn_started(s, {"sleep", "1000"});
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);

  ExecConfig e1;
  e1.exec_id = "e1";
  e1.process.args = {"sh", "-c", "echo in-exec; echo exec-err >&2; exit 3"};
  e1.process.cwd = "/";
  e1.process.env = {"PATH=/bin:/usr/bin"};
  ASSERT_TRUE(c.exec_create(e1));
  auto dup = c.exec_create(e1);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), Errc::AlreadyExists);
  auto es = c.exec_state("e1");
  ASSERT_TRUE(es);
  EXPECT_FALSE(es->started);
  auto stream = c.exec_start("e1");
  ASSERT_TRUE(stream) << stream.error().message();
  ::shutdown(stream->get(), SHUT_WR);
  Demuxed d = demux(read_all(stream->get()));
  EXPECT_EQ(d.out, "in-exec\n");
  EXPECT_EQ(d.err, "exec-err\n");
  // Recorded before the stream closed.
  es = c.exec_state("e1");
  ASSERT_TRUE(es);
  EXPECT_FALSE(es->running);
  ASSERT_TRUE(es->exit_code);
  EXPECT_EQ(*es->exit_code, 3);
  auto code = c.exec_wait("e1");
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 3);

  ExecConfig e2;
  e2.exec_id = "e2";
  e2.process.args = {"cat"};
  e2.process.cwd = "/";
  e2.stdin = true;
  ASSERT_TRUE(c.exec_create(e2));
  auto s2 = c.exec_start("e2");
  ASSERT_TRUE(s2) << s2.error().message();
  ASSERT_TRUE(write_all(s2->get(), "piped\n"));
  ::shutdown(s2->get(), SHUT_WR);
  EXPECT_EQ(demux(read_all(s2->get())).out, "piped\n");
  EXPECT_EQ(*c.exec_wait("e2"), 0);

  ExecConfig e3;
  e3.exec_id = "e3";
  e3.process.args = {"sh", "-c", "stty size; read x; stty size"};
  e3.process.cwd = "/";
  e3.process.console_size = oci::ConsoleSize{10, 40};
  e3.tty = true;
  e3.stdin = true;
  ASSERT_TRUE(c.exec_create(e3));
  auto s3 = c.exec_start("e3");
  ASSERT_TRUE(s3) << s3.error().message();
  std::string seen = read_until(s3->get(), "10 40\r\n");
  ASSERT_NE(seen.find("10 40\r\n"), std::string::npos) << seen;
  ASSERT_TRUE(c.resize({12, 50}, "e3"));
  ASSERT_TRUE(write_all(s3->get(), "x\r"));
  seen += read_all(s3->get());
  EXPECT_NE(seen.find("12 50\r\n"), std::string::npos) << seen;
  EXPECT_EQ(*c.exec_wait("e3"), 0);

  // A missing binary is the runtime's error, and the shim keeps serving.
  auto sb = exec(c, "bad", {"/nonexistent"});
  ASSERT_FALSE(sb);
  EXPECT_NE(sb.error().message().find("nonexistent"), std::string::npos) << sb.error().message();
  EXPECT_EQ(c.exec_state("nope").error().code(), Errc::NotFound);

  // The exec output is not the container's log.
  EXPECT_TRUE(log_records(s.log_path).empty());
  kill_and_reap(c);
}

TEST_F(ShimTest, ExecInheritsTheContainersConfinement) {
  // The bundle (runc spec) grants AUDIT_WRITE, KILL, NET_BIND_SERVICE. An exec request that names no
  // capabilities gets exactly those, not the shim's full set.
  ShimSpawn s = spec("execcaps");
  auto h = spawn_started(s, {"sleep", "1000"});
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  std::string init_status = read_file("/proc/" + std::to_string(h->init_pid) + "/status").value_or("");
  auto cap_line = [](const std::string& status) {
    auto p = status.find("CapEff:");
    return p == std::string::npos ? std::string() : status.substr(p, status.find('\n', p) - p);
  };
  std::string want = cap_line(init_status);
  ASSERT_FALSE(want.empty());
  auto stream = exec(c, "caps", {"grep", "CapEff", "/proc/self/status"});
  ASSERT_TRUE(stream) << stream.error().message();
  std::string got = demux(read_all(stream->get())).out;
  EXPECT_EQ(got, want + "\n");
  EXPECT_NE(want, "CapEff:\t000001ffffffffff");
  kill_and_reap(c);
}

TEST_F(ShimTest, ExecStillRunningWhenTheContainerDies) {
  ShimSpawn s = spec("execdies");
  auto h = spawn_started(s, {"sleep", "1000"});
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  auto stream = exec(c, "long", {"sh", "-c", "echo up; sleep 1000"});
  ASSERT_TRUE(stream) << stream.error().message();
  EXPECT_EQ(demux(read_until(stream->get(), "up\n")).out, "up\n");
  auto st = c.exec_state("long");
  ASSERT_TRUE(st);
  EXPECT_TRUE(st->running);
  EXPECT_GT(st->pid, 0);
  auto w = c.wait_begin();
  ASSERT_TRUE(w);
  ASSERT_TRUE(c.kill(SIGKILL));
  // The exec dies with the container's pid namespace; the shim (its subreaper) reaps it and ends its stream.
  read_all(stream->get());
  auto ex = ShimClient::read_wait_reply(w->get());
  ASSERT_TRUE(ex) << ex.error().message();
  EXPECT_EQ(ex->exit_code, 137);
  EXPECT_NE(::access(("/sys/fs/cgroup/memory/berth/" + s.id).c_str(), F_OK), 0);
  EXPECT_NE(::access(("/sys/fs/cgroup/freezer/berth/" + s.id).c_str(), F_OK), 0);
}

TEST_F(ShimTest, ManyExecsAreServedAndOldOnesForgotten) {
  ShimSpawn s = spec("manyexec");
  auto h = spawn_started(s, {"sleep", "1000"});
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  ExecConfig base;
  base.process.cwd = "/";
  for (int i = 0; i < 140; ++i) {
    ExecConfig e = base;
    e.exec_id = fmt::format("e{}", i);
    e.process.args = {"sh", "-c", fmt::format("exit {}", i % 7)};
    ASSERT_TRUE(c.exec_create(e));
    auto stream = c.exec_start(e.exec_id);
    ASSERT_TRUE(stream) << stream.error().message();
    read_all(stream->get());
    auto code = c.exec_wait(e.exec_id);
    ASSERT_TRUE(code) << code.error().message();
    EXPECT_EQ(*code, i % 7);
  }
  EXPECT_EQ(c.exec_state("e0").error().code(), Errc::NotFound);
  EXPECT_EQ(*c.exec_state("e139")->exit_code, 139 % 7);
  kill_and_reap(c);
}

TEST_F(ShimTest, LogsFollowUntilTheContainerExits) {
  // The daemon's `logs -f`: the reader follows the file the shim writes and stops, after draining, when the
  // exit is recorded (stop_fd = a pending wait). Driven through stdin, so no timing is involved.
  set_process({"sh", "-c", "echo first; read x; echo second; echo third >&2"});
  ShimSpawn s = spec("follow");
  s.open_stdin = true;
  auto h = spawn(s);
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  auto in = c.attach(true, false, false);
  ASSERT_TRUE(in);
  ASSERT_TRUE(c.start());
  auto w = c.wait_begin();
  ASSERT_TRUE(w);
  LogReadOptions o;
  o.follow = true;
  o.stop_fd = w->get();
  std::string wire;
  bool poked = false;
  auto st = read_json_log(s.log_path, s.log_max_files, o, [&](std::string_view b) {
    wire.append(b);
    if (!poked && demux(wire).out == "first\n") {
      poked = true;
      EXPECT_TRUE(write_all(in->get(), "go\n"));
    }
    return true;
  });
  ASSERT_TRUE(st) << st.error().message();
  Demuxed d = demux(wire);
  EXPECT_EQ(d.out, "first\nsecond\n");
  EXPECT_EQ(d.err, "third\n");
  auto ex = ShimClient::read_wait_reply(w->get());
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->exit_code, 0);
}

TEST_F(ShimTest, CreateErrorIsReportedAndNothingIsLeft) {
  set_process({"/no/such/binary"});
  ShimSpawn s = spec("badcreate");
  auto h = spawn(s);
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message().find("/no/such/binary"), std::string::npos) << h.error().message();
  EXPECT_NE(h.error().message().find("No such file or directory"), std::string::npos) << h.error().message();
  EXPECT_EQ(h.error().code(), Errc::NotFound);
  EXPECT_NE(::access((s.shim_dir + "/shim.sock").c_str(), F_OK), 0);
  runtime::Runtime rt(runtime::RuntimeOptions{s.runtime_root, "/sys/fs/cgroup"});
  EXPECT_FALSE(rt.info(s.id));
  // The CLI's exit code 127 comes from this text.
  set_process({"nosuchcommand"});
  ShimSpawn s2 = spec("badcreate2");
  auto h2 = spawn(s2);
  ASSERT_FALSE(h2);
  EXPECT_NE(h2.error().message().find("executable file not found"), std::string::npos) << h2.error().message();
  // A second shim for a directory whose shim is alive is refused, and the first keeps its socket.
  set_process({"sleep", "1000"});
  ShimSpawn live = spec("live");
  auto first = spawn(live);
  ASSERT_TRUE(first) << first.error().message();
  ShimSpawn again = live;
  again.id = live.id + "-2";
  ids_.push_back(again.id);
  auto second = spawn(again);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::AlreadyExists);
  ShimClient lc(live.shim_dir);
  auto lst = lc.state();
  ASSERT_TRUE(lst) << lst.error().message();
  EXPECT_EQ(lst->status, "created");
  ASSERT_TRUE(lc.kill(SIGKILL));
  EXPECT_EQ(lc.wait()->exit_code, 137);
  // A missing shim binary is a clear error too.
  ShimSpawn missing = spec("nobin");
  missing.shim_path = tmp_ / "no-such-shim";
  auto m = spawn_shim(missing);
  ASSERT_FALSE(m);
}

TEST_F(ShimTest, SurvivesTheDeathOfItsSpawner) {
  set_process({"sh", "-c", "echo started; sleep 1000"});
  ShimSpawn s = spec("survive");
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t spawner = ::fork();
  ASSERT_GE(spawner, 0);
  if (spawner == 0) {
    rd.reset();
    auto h = spawn_shim(s);
    std::string msg = h ? fmt::format("{} {}\n", h->shim_pid, h->init_pid) : "error " + h.error().message() + "\n";
    (void)write_all(wr.get(), msg);
    wr.reset();
    for (;;) ::pause();
  }
  wr.reset();
  std::string msg = read_until(rd.get(), "\n");
  ASSERT_FALSE(msg.starts_with("error")) << msg;
  pid_t shim_pid = std::atoi(msg.c_str());
  shims_.push_back(shim_pid);
  ::kill(spawner, SIGKILL);
  ::waitpid(spawner, nullptr, 0);

  ShimClient c(s.shim_dir);
  auto a = c.attach(false, true, true);
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_TRUE(c.start());
  EXPECT_EQ(demux(read_until(a->get(), "started\n")).out, "started\n");
  auto st = c.state();
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->status, "running");
  // The shim is nobody's child here: it was reparented when its spawner died.
  EXPECT_NE(::waitpid(shim_pid, nullptr, WNOHANG), shim_pid);
  ASSERT_TRUE(c.kill(SIGKILL));
  read_all(a->get());  // closed once the container has exited
  auto ex = c.wait();
  ASSERT_TRUE(ex) << ex.error().message();
  EXPECT_EQ(ex->exit_code, 137);
  auto file = read_exit_file(s.shim_dir);
  ASSERT_TRUE(file) << file.error().message();
  EXPECT_EQ(file->exit_code, 137);
}

TEST_F(ShimTest, BadRequestsGetClearErrorsAndTheShimKeepsServing) {
  set_process({"sleep", "1000"});
  ShimSpawn s = spec("bad");
  auto h = spawn(s);
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  auto raw = [&](const std::string& bytes) -> Result<nlohmann::json> {
    UniqueFd fd = BERTH_TRY(connect_unix(c.socket_path()));
    (void)write_all(fd.get(), bytes);  // the shim may close before reading it all; its reply is still there
    std::string line = BERTH_TRY(read_line(fd.get(), 1 << 20));
    return parse_reply(line);
  };
  struct Case {
    std::string req;
    Errc code;
    std::string text;
  };
  std::vector<Case> cases = {
      {"not json\n", Errc::InvalidArgument, "not valid JSON"},
      {"[1,2]\n", Errc::InvalidArgument, "object"},
      {"{}\n", Errc::InvalidArgument, "\"op\""},
      {R"({"op":"fly"})" "\n", Errc::InvalidArgument, "unknown op"},
      {R"({"op":"kill","signal":"KILL"})" "\n", Errc::InvalidArgument, "\"signal\""},
      {R"({"op":"kill","signal":999})" "\n", Errc::InvalidArgument, "out of range"},
      {R"({"op":"attach","stdin":"yes"})" "\n", Errc::InvalidArgument, "\"stdin\""},
      {R"({"op":"exec_create","exec_id":"x"})" "\n", Errc::InvalidArgument, "\"process\""},
      {R"({"op":"exec_create","exec_id":"x","process":{"args":[],"cwd":"/"}})" "\n", Errc::InvalidArgument, "args"},
      {R"({"op":"exec_start","exec_id":"nope"})" "\n", Errc::NotFound, "no such exec"},
      {R"({"op":"exec_wait"})" "\n", Errc::InvalidArgument, "\"exec_id\""},
      {R"({"op":"resize","height":10,"width":10})" "\n", Errc::FailedPrecondition, "no tty"},
      {std::string(2 << 20, 'x'), Errc::InvalidArgument, "too long"},
  };
  for (const auto& k : cases) {
    auto r = raw(k.req);
    ASSERT_FALSE(r) << k.req.substr(0, 80);
    EXPECT_EQ(r.error().code(), k.code) << k.req.substr(0, 80) << ": " << r.error().message();
    EXPECT_NE(r.error().message().find(k.text), std::string::npos) << r.error().message();
  }
  // A client that connects and leaves without a word, or mid-request.
  { auto fd = connect_unix(c.socket_path()); }
  {
    auto fd = connect_unix(c.socket_path());
    ASSERT_TRUE(fd);
    ASSERT_TRUE(write_all(fd->get(), "{\"op\":\"sta"));
  }
  ASSERT_TRUE(c.start());
  auto again = c.start();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::FailedPrecondition);
  auto st = c.state();
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->status, "running");
  kill_and_reap(c);
}

TEST_F(ShimTest, ClientLeavingMidStreamDoesNotHurtTheContainer) {
  // Endless output; max-size keeps the log small.
  set_process({"sh", "-c", "yes output-line"});
  ShimSpawn s = spec("midstream");
  s.log_max_size = 256 * 1024;
  s.log_max_files = 2;
  auto h = spawn(s);
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  {
    auto a = c.attach(false, true, true);
    ASSERT_TRUE(a);
    ASSERT_TRUE(c.start());
    std::string got = read_until(a->get(), "output-line\noutput-line\n");
    EXPECT_NE(got.find("output-line"), std::string::npos);
  }  // the client closes without reading the rest
  {
    // A slow client that never reads: the shim must still serve others.
    auto slow = c.attach(false, true, true);
    ASSERT_TRUE(slow);
    auto st = c.state();
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_EQ(st->status, "running");
  }
  // After both left, the output keeps flowing into the log (it rotates).
  auto a2 = c.attach(false, true, false);
  ASSERT_TRUE(a2);
  std::string more = read_until(a2->get(), "output-line\n");
  EXPECT_NE(more.find("output-line"), std::string::npos);
  auto st = c.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, "running");
  ASSERT_TRUE(c.kill(SIGKILL));
  auto ex = c.wait();
  ASSERT_TRUE(ex) << ex.error().message();
  EXPECT_EQ(ex->exit_code, 137);
  EXPECT_EQ(log_files(s.log_path, 2).size(), 2u);
  auto recs = log_records(s.log_path);
  ASSERT_FALSE(recs.empty());
  EXPECT_EQ(recs.front().log, "output-line\n");
}

TEST_F(ShimTest, PauseAndResume) {
  ShimSpawn s = spec("pause");
  auto h = spawn_started(s, {"sleep", "1000"});
  ASSERT_TRUE(h) << h.error().message();
  ShimClient c(s.shim_dir);
  ASSERT_TRUE(c.pause());
  EXPECT_EQ(c.state()->status, "paused");
  ASSERT_TRUE(c.resume());
  EXPECT_EQ(c.state()->status, "running");
  kill_and_reap(c);
}

}  // namespace
}  // namespace berth::engine::monitor
