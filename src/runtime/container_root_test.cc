// Real containers from a busybox bundle, driven through the berth-runtime binary (the way containerd, docker
// and the tests engineer's tables use it) and through the library where that is the point.
// Container ids start with "core-"; every test has its own --root and cleans up its cgroups.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/file.h"
#include "base/testing/root.h"
#include "base/testing/temp_dir.h"
#include "base/unique_fd.h"
#include "runtime/container.h"
#include "runtime/testing/bundle.h"
#include "sys/fd_passing.h"

extern char** environ;

namespace berth::runtime {
namespace {

using nlohmann::json;

using testing::CmdResult;
using testing::run_cmd;
using testing::runtime_bin;

class ContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    if (::access(runtime_bin().c_str(), X_OK) != 0) GTEST_SKIP() << "berth-runtime not built: " << runtime_bin();
    root_ = tmp_ / "state";
    bundle_ = tmp_ / "bundle";
    auto made = b_.create(bundle_);
    ASSERT_TRUE(made) << made.error().message();
  }
  void TearDown() override {
    // Nothing may outlive a test: force-delete whatever is left.
    for (const auto& id : ids_) run_cmd({runtime_bin(), "--root", root_, "delete", "--force", id}, tmp_.path());
  }

  void set_args(const std::vector<std::string>& args) { ASSERT_TRUE(b_.set_args(args)); }
  std::string id(const std::string& name) {
    std::string i = "core-" + name + "-" + std::to_string(::getpid());
    ids_.push_back(i);
    return i;
  }
  CmdResult rt(std::vector<std::string> args) {
    args.insert(args.begin(), {runtime_bin(), "--root", root_});
    return run_cmd(args, tmp_.path());
  }
  std::string status(const std::string& cid) {
    auto r = rt({"state", cid});
    if (r.code != 0) return "error: " + r.err;
    return json::parse(r.out).value("status", "");
  }
  int pid_of(const std::string& cid) {
    auto r = rt({"state", cid});
    return r.code == 0 ? json::parse(r.out).value("pid", 0) : 0;
  }

  testing::TempDir tmp_;
  std::string root_, bundle_;
  testing::Bundle b_;
  json& config_ = b_.config();
  std::vector<std::string> ids_;
};

TEST_F(ContainerTest, RunPropagatesExitCodes) {
  set_args({"true"});
  EXPECT_EQ(rt({"run", "-b", bundle_, id("true")}).code, 0);
  set_args({"sh", "-c", "exit 3"});
  auto r = rt({"run", "--bundle", bundle_, id("three")});
  EXPECT_EQ(r.code, 3) << r.err;
  set_args({"sh", "-c", "echo out; echo err >&2"});
  r = rt({"run", "-bundle", bundle_, id("stdio")});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  // Nothing left in the state root after foreground runs.
  auto left = StateStore(root_).list();
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
}

TEST_F(ContainerTest, RunKilledBySignalExits128PlusSignal) {
  set_args({"sleep", "100"});
  std::string cid = id("killed");
  pid_t runner = ::fork();
  if (runner == 0) {
    int n = ::open("/dev/null", O_RDWR);
    ::dup2(n, 0);
    ::dup2(n, 1);
    ::dup2(n, 2);
    ::execl(runtime_bin().c_str(), runtime_bin().c_str(), "--root", root_.c_str(), "run", "-b", bundle_.c_str(),
            cid.c_str(), nullptr);
    _exit(126);
  }
  // Wait until it runs (no sleeps in assertions: poll the state, bounded).
  for (int i = 0; i < 2000 && status(cid) != "running"; ++i) ::usleep(5000);
  ASSERT_EQ(status(cid), "running");
  ASSERT_EQ(rt({"kill", cid, "KILL"}).code, 0);
  int st = 0;
  ASSERT_EQ(::waitpid(runner, &st, 0), runner);
  EXPECT_EQ(exit_code_from_status(st), 128 + SIGKILL);
}

TEST_F(ContainerTest, CreateStartStateKillDelete) {
  set_args({"sleep", "100"});
  std::string cid = id("life");
  auto r = rt({"create", "-b", bundle_, "--pid-file", tmp_ / "pid", cid});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(status(cid), "created");
  int pid = pid_of(cid);
  EXPECT_GT(pid, 0);
  EXPECT_EQ(read_file(tmp_ / "pid").value_or(""), std::to_string(pid));
  auto list = rt({"list", "--format", "json"});
  ASSERT_EQ(list.code, 0);
  auto arr = json::parse(list.out);
  ASSERT_EQ(arr.size(), 1u);
  EXPECT_EQ(arr[0]["id"], cid);
  EXPECT_EQ(arr[0]["status"], "created");

  ASSERT_EQ(rt({"start", cid}).code, 0);
  EXPECT_EQ(status(cid), "running");
  EXPECT_NE(rt({"start", cid}).code, 0);  // only once
  auto del = rt({"delete", cid});
  EXPECT_NE(del.code, 0);
  EXPECT_NE(del.err.find("not stopped"), std::string::npos) << del.err;

  ASSERT_EQ(rt({"kill", cid, "TERM"}).code, 0);  // sleep as pid 1 ignores TERM: still running
  ASSERT_EQ(rt({"kill", cid, "9"}).code, 0);
  for (int i = 0; i < 2000 && status(cid) != "stopped"; ++i) ::usleep(5000);
  EXPECT_EQ(status(cid), "stopped");
  EXPECT_NE(rt({"kill", cid, "KILL"}).code, 0);
  ASSERT_EQ(rt({"delete", cid}).code, 0);
  EXPECT_NE(rt({"state", cid}).code, 0);
  EXPECT_NE(::access((root_ + "/" + cid).c_str(), F_OK), 0);
  EXPECT_NE(::access(("/sys/fs/cgroup/memory/berth/" + cid).c_str(), F_OK), 0);
}

TEST_F(ContainerTest, DeleteCreatedContainerKillsInit) {
  set_args({"true"});
  std::string cid = id("created-del");
  ASSERT_EQ(rt({"create", "-b", bundle_, cid}).code, 0);
  int pid = pid_of(cid);
  ASSERT_GT(pid, 0);
  auto start = process_start_time(pid);
  ASSERT_TRUE(start);
  ASSERT_EQ(rt({"delete", cid}).code, 0);
  EXPECT_FALSE(process_matches(pid, *start));
}

TEST_F(ContainerTest, ExecJoinsTheContainer) {
  set_args({"sleep", "100"});
  config_["hostname"] = "core-host";
  std::string cid = id("exec");
  set_args({"sleep", "100"});
  ASSERT_EQ(rt({"run", "-d", "-b", bundle_, cid}).code, 0);
  auto r = rt({"exec", cid, "sh", "-c", "echo $(hostname) $X $(pwd); exit 7"});
  EXPECT_EQ(r.code, 7) << r.err;
  r = rt({"exec", "-e", "X=1", "--cwd", "/tmp", cid, "sh", "-c", "echo $(hostname) $X $(pwd) $(id -u)"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "core-host 1 /tmp 0\n");
  r = rt({"exec", "--user", "1000:1000", cid, "id", "-u"});
  EXPECT_EQ(r.out, "1000\n") << r.err;
  // The exec'd process lives in the container's pid namespace and cgroup.
  r = rt({"exec", cid, "sh", "-c", "echo $$"});
  EXPECT_NE(r.out, "1\n");
  auto ps = rt({"ps", "--format", "json", cid});
  ASSERT_EQ(ps.code, 0);
  EXPECT_EQ(json::parse(ps.out).size(), 1u);  // only init is left
  r = rt({"exec", cid, "no-such-binary"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("executable file not found"), std::string::npos) << r.err;
}

// A seccomp agent (the other end of linux.seccomp.listenerPath): accepts connections, takes the listener fd
// and the container process state from each, and answers every notification with -error_ (or success).
class SeccompAgent {
 public:
  SeccompAgent(const std::string& path, int error) : error_(error) {
    srv_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    ok_ = srv_ && ::bind(srv_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(srv_.get(), 8) == 0;
    int p[2];
    ok_ = ok_ && ::pipe2(p, O_CLOEXEC) == 0;
    if (!ok_) return;
    stop_r_.reset(p[0]);
    stop_w_.reset(p[1]);
    thread_ = std::thread([this] { loop(); });
  }
  ~SeccompAgent() {
    if (thread_.joinable()) {
      (void)::write(stop_w_.get(), "x", 1);
      thread_.join();
    }
  }
  bool ok() const { return ok_; }
  std::vector<json> states() {
    std::lock_guard l(mu_);
    return states_;
  }
  int answered() const { return answered_; }

 private:
  void take(int conn) {
    char buf[65536];
    auto r = sys::recv_with_fd(conn, buf, sizeof buf);
    if (!r || r->bytes == 0 || !r->fd) return;  // a runtime that gave up before sending
    std::string text(buf, r->bytes);
    ssize_t n;
    while ((n = ::read(conn, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    listeners_.push_back(std::move(r->fd));
    std::lock_guard l(mu_);
    states_.push_back(json::parse(text, nullptr, false));
  }
  void answer(int listener) {
    seccomp_notif req{};
    if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) return;
    seccomp_notif_resp resp{};
    resp.id = req.id;
    resp.error = -error_;
    resp.val = 0;
    if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0) ++answered_;
  }
  void loop() {
    for (;;) {
      std::vector<pollfd> p = {{stop_r_.get(), POLLIN, 0}, {srv_.get(), POLLIN, 0}};
      for (const auto& l : listeners_) p.push_back({l.get(), POLLIN, 0});
      if (::poll(p.data(), p.size(), -1) < 0) continue;
      if (p[0].revents) return;
      if (p[1].revents & POLLIN) {
        UniqueFd conn(::accept4(srv_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (conn) take(conn.get());
      }
      for (size_t i = 2; i < p.size(); ++i) {
        if (p[i].revents & POLLIN) answer(p[i].fd);
        else if (p[i].revents & (POLLHUP | POLLERR)) listeners_[i - 2].reset();  // its processes are gone
      }
      std::erase_if(listeners_, [](const UniqueFd& f) { return !f; });
    }
  }

  int error_;
  bool ok_ = false;
  UniqueFd srv_, stop_r_, stop_w_;
  std::vector<UniqueFd> listeners_;  // agent thread only
  std::mutex mu_;
  std::vector<json> states_;
  std::atomic<int> answered_{0};
  std::thread thread_;
};

// SCMP_ACT_NOTIFY: the agent at listenerPath gets the listener fd with the container process state and its
// answer becomes the syscall's result, for the init (with and without noNewPrivileges) and for exec.
TEST_F(ContainerTest, SeccompNotifyAgentAnswersTheSyscall) {
  std::string sock = tmp_ / "agent.sock";
  SeccompAgent agent(sock, EXDEV);
  ASSERT_TRUE(agent.ok());
  config_["linux"]["seccomp"] = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"listenerPath", sock},
      {"listenerMetadata", "core-meta"},
      {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
  const std::string script = "mkdir /made 2>&1; test -d /made && echo exists || echo absent";
  for (bool nnp : {true, false}) {
    config_["process"]["noNewPrivileges"] = nnp;
    set_args({"sh", "-c", script});
    std::string cid = id(nnp ? "notify-nnp" : "notify");
    size_t before = agent.states().size();
    auto r = rt({"run", "-b", bundle_, cid});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "mkdir: can't create directory '/made': Invalid cross-device link\nabsent\n") << nnp;
    auto states = agent.states();
    ASSERT_EQ(states.size(), before + 1) << nnp;
    const json& st = states.back();
    EXPECT_EQ(st.value("ociVersion", ""), "1.1.0");
    EXPECT_EQ(st.value("fds", json::array()), json::array({"seccompFd"}));
    EXPECT_EQ(st.value("metadata", ""), "core-meta");
    ASSERT_TRUE(st.contains("state") && st["state"].is_object()) << st.dump();
    EXPECT_EQ(st["state"].value("id", ""), cid);
    EXPECT_GT(st.value("pid", 0), 1);
    EXPECT_EQ(st.value("pid", 0), st["state"].value("pid", -1));  // the init
  }
  EXPECT_GE(agent.answered(), 2);

  // exec: its own filter, its own listener, its own process state (the exec'd pid, the container's state).
  config_["process"]["noNewPrivileges"] = true;
  set_args({"sleep", "100"});
  std::string cid = id("notify-exec");
  ASSERT_EQ(rt({"run", "-d", "-b", bundle_, cid}).code, 0);
  auto r = rt({"exec", cid, "sh", "-c", script});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "mkdir: can't create directory '/made': Invalid cross-device link\nabsent\n");
  auto states = agent.states();
  ASSERT_GE(states.size(), 4u);
  const json& ex = states.back();
  EXPECT_EQ(ex["state"].value("id", ""), cid);
  EXPECT_EQ(ex["state"].value("status", ""), "running");
  EXPECT_NE(ex.value("pid", 0), ex["state"].value("pid", 0));  // the exec'd process, not the init
  EXPECT_EQ(rt({"delete", "--force", cid}).code, 0);
}

// No agent listening at listenerPath: the create fails with one line naming the field, nothing is left.
TEST_F(ContainerTest, SeccompNotifyWithoutAgentFailsCleanly) {
  config_["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                                 {"listenerPath", tmp_ / "nobody.sock"},
                                 {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_NOTIFY"}}}}};
  set_args({"true"});
  std::string cid = id("notify-none");
  for (const char* cmd : {"run", "create"}) {
    auto r = rt({cmd, "-b", bundle_, cid});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("linux.seccomp.listenerPath"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(::access((root_ + "/" + cid).c_str(), F_OK), 0);
    EXPECT_NE(::access(fmt::format("/sys/fs/cgroup/pids/berth/{}", cid).c_str(), F_OK), 0);
  }
}

TEST_F(ContainerTest, PauseResume) {
  set_args({"sleep", "100"});
  std::string cid = id("pause");
  ASSERT_EQ(rt({"run", "--detach", "-b", bundle_, cid}).code, 0);
  ASSERT_EQ(rt({"pause", cid}).code, 0);
  EXPECT_EQ(status(cid), "paused");
  EXPECT_NE(rt({"pause", cid}).code, 0);
  ASSERT_EQ(rt({"resume", cid}).code, 0);
  EXPECT_EQ(status(cid), "running");
  EXPECT_NE(rt({"resume", cid}).code, 0);
  ASSERT_EQ(rt({"delete", "--force", cid}).code, 0);
}

TEST_F(ContainerTest, ReusedPidIsNeverSignalled) {
  set_args({"sleep", "100"});
  std::string cid = id("reuse");
  ASSERT_EQ(rt({"run", "-d", "-b", bundle_, cid}).code, 0);
  int pid = pid_of(cid);
  // Make the record describe a different process with the same pid (what a recycled pid looks like).
  StateStore store(root_);
  auto s = store.load(cid);
  ASSERT_TRUE(s);
  uint64_t real = s->start_time;
  s->start_time = real + 12345;
  ASSERT_TRUE(store.save(*s));
  EXPECT_EQ(status(cid), "stopped");
  EXPECT_NE(rt({"kill", cid, "KILL"}).code, 0);
  EXPECT_TRUE(process_matches(pid, real));  // untouched
  s->start_time = real;
  ASSERT_TRUE(store.save(*s));
  EXPECT_EQ(status(cid), "running");
  ASSERT_EQ(rt({"delete", "-f", cid}).code, 0);
  EXPECT_FALSE(process_matches(pid, real));
}

TEST_F(ContainerTest, FailedCreateLeavesNothingBehind) {
  set_args({"true"});
  config_["mounts"].push_back({{"destination", "/mnt/x"}, {"type", "bogusfs"}, {"source", "none"}});
  ASSERT_TRUE(write_file_atomic(bundle_ + "/config.json", config_.dump()));
  std::string cid = id("fail");
  auto r = rt({"create", "-b", bundle_, cid});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bogusfs"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(::access((root_ + "/" + cid).c_str(), F_OK), 0);
  for (const char* c : {"memory", "pids", "freezer", "devices", "cpuacct"})
    EXPECT_NE(::access(fmt::format("/sys/fs/cgroup/{}/berth/{}", c, cid).c_str(), F_OK), 0) << c;
  // A missing executable fails at create (resolved inside the rootfs before the init waits).
  set_args({"/no/such/file"});
  config_["mounts"].erase(config_["mounts"].size() - 1);
  set_args({"/no/such/file"});
  r = rt({"create", "-b", bundle_, cid});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(::access((root_ + "/" + cid).c_str(), F_OK), 0);
}

TEST_F(ContainerTest, NoHostFdLeaksAndPreserveFds) {
  set_args({"ls", "/proc/self/fd"});
  int leak = ::open("/", O_RDONLY);  // not O_CLOEXEC: would be inherited by a careless runtime
  ASSERT_GE(leak, 0);
  auto r = rt({"run", "-b", bundle_, id("fds")});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "0\n1\n2\n3\n");  // 3 is ls's own directory fd
  ::close(leak);
}

TEST_F(ContainerTest, CwdOutsideTheRootIsRefused) {
  // CVE-2024-21626: a cwd reached through an inherited host directory fd must not be accepted.
  set_args({"pwd"});
  config_["process"]["cwd"] = "/proc/self/fd/3";
  ASSERT_TRUE(write_file_atomic(bundle_ + "/config.json", config_.dump()));
  pid_t pid = ::fork();
  if (pid == 0) {
    int d = ::open("/tmp", O_RDONLY | O_DIRECTORY);
    ::dup2(d, 3);
    int n = ::open("/dev/null", O_RDWR);
    ::dup2(n, 0);
    ::dup2(n, 1);
    int e = ::open((tmp_ / "cwd.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(e, 2);
    ::execl(runtime_bin().c_str(), runtime_bin().c_str(), "--root", root_.c_str(), "run", "--preserve-fds", "1",
            "-b", bundle_.c_str(), "core-cwd-escape", nullptr);
    _exit(126);
  }
  ids_.push_back("core-cwd-escape");
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_EQ(exit_code_from_status(st), 1);
  EXPECT_NE(read_file(tmp_ / "cwd.err").value_or("").find("outside the container root"), std::string::npos)
      << read_file(tmp_ / "cwd.err").value_or("");
}

TEST_F(ContainerTest, RuntimeBinaryIsNotWritableFromTheContainer) {
  // CVE-2019-5736. While the init waits for `start` it is a clone of the runtime: its exe link is the
  // runtime binary. The handle behind it must be on a read-only mount (EROFS even for host root, who may
  // open the link), and container processes must not even reach it (non-dumpable).
  set_args({"true"});
  std::string cid = id("exe");
  ASSERT_EQ(rt({"create", "-b", bundle_, cid}).code, 0);
  int pid = pid_of(cid);
  ASSERT_GT(pid, 0);
  // The attack keeps a path handle and reopens it for writing once no runtime process executes the file
  // (until then the kernel says ETXTBSY).
  UniqueFd handle(::open(fmt::format("/proc/{}/exe", pid).c_str(), O_PATH | O_CLOEXEC));
  ASSERT_TRUE(handle);
  auto r = rt({"exec", cid, "readlink", "/proc/1/exe"});
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "");
  ASSERT_EQ(rt({"delete", cid}).code, 0);
  int err = 0;
  for (int i = 0; i < 400; ++i) {
    int fd = ::open(fmt::format("/proc/self/fd/{}", handle.get()).c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::close(fd);
      err = 0;
      break;
    }
    err = errno;
    if (err != ETXTBSY) break;
    ::usleep(5000);
  }
  EXPECT_EQ(err, EROFS) << (err ? strerror(err) : "the runtime binary was writable");
}

TEST_F(ContainerTest, HooksRunInOrderWithState) {
  // Host-side hooks append to a host file; in-container hooks (createContainer runs before pivot_root in
  // the container's mount namespace, startContainer after it) append through paths they can see.
  std::string log = tmp_ / "hooks.log";
  auto hook = [&](const std::string& name) {
    return json{{"path", "/bin/sh"}, {"args", {"sh", "-c", "read s; echo " + name + " ${s%%,*} >> " + log}}};
  };
  config_["hooks"] = {{"prestart", {hook("prestart")}},
                      {"createRuntime", {hook("createRuntime")}},
                      {"createContainer", {hook("createContainer")}},
                      {"poststart", {hook("poststart")}},
                      {"poststop", {hook("poststop")}}};
  config_["hooks"]["startContainer"] = {
      {{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo startContainer >> /dev/shm/start.log"}}}};
  set_args({"cat", "/dev/shm/start.log"});
  auto r = rt({"run", "-b", bundle_, id("hooks")});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "startContainer\n");
  std::string got = read_file(log).value_or("");
  EXPECT_EQ(got,
            "prestart {\"ociVersion\":\"1.1.0\"\ncreateRuntime {\"ociVersion\":\"1.1.0\"\n"
            "createContainer {\"ociVersion\":\"1.1.0\"\npoststart {\"ociVersion\":\"1.1.0\"\n"
            "poststop {\"ociVersion\":\"1.1.0\"\n")
      << got;
}

TEST_F(ContainerTest, HookTimeoutFailsCreateAndCleansUp) {
  config_["hooks"] = {{"prestart", {{{"path", "/bin/sleep"}, {"args", {"sleep", "30"}}, {"timeout", 1}}}}};
  set_args({"true"});
  std::string cid = id("hook-timeout");
  auto r = rt({"create", "-b", bundle_, cid});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("timed out after 1s"), std::string::npos) << r.err;
  EXPECT_NE(::access((root_ + "/" + cid).c_str(), F_OK), 0);
}

TEST_F(ContainerTest, LibraryRunInProcess) {
  // The engine's monitor uses the library directly: run a container without the CLI.
  set_args({"sh", "-c", "exit 5"});
  RuntimeOptions o;
  o.root = root_;
  Runtime rt_lib(o);
  CreateOptions c;
  c.id = id("lib");
  c.bundle = bundle_;
  auto code = rt_lib.run(c, false);
  ASSERT_TRUE(code) << code.error().message();
  EXPECT_EQ(*code, 5);
  auto again = rt_lib.info(c.id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::NotFound);
}

}  // namespace
}  // namespace berth::runtime
