// berth-init as a real process: it runs this test binary again as its child (selected by an environment
// variable), so the child's behaviour is exact and synchronised through pipes, without sleeps.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kReadyFd = 3;  // child -> test: "ready" line / grandchild pid
constexpr int kHoldFd = 4;   // test -> grandchild: EOF releases it

// Child modes, run when the test binary is started by berth-init with BERTH_INIT_TEST_CHILD set.
[[noreturn]] void run_child(const std::string& mode) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, nullptr);
  if (mode == "exit") _exit(std::atoi(getenv("BERTH_INIT_TEST_CODE")));
  if (mode == "kill-self") {
    signal(SIGUSR1, SIG_DFL);
    sigset_t u;
    sigemptyset(&u);
    sigaddset(&u, SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &u, nullptr);
    raise(SIGUSR1);
    _exit(99);
  }
  if (mode == "orphan") {
    // An intermediate process forks the grandchild and exits at once: the grandchild is orphaned and
    // re-parented to berth-init (PID 1 or subreaper), which must reap it when it exits.
    // The intermediate exits only after the grandchild has written its pid, so the pid line always comes
    // before the "ready" line the child writes once the intermediate is gone.
    pid_t mid = fork();
    if (mid == 0) {
      int written[2];
      if (pipe(written) != 0) _exit(2);
      pid_t g = fork();
      if (g == 0) {
        close(written[0]);
        std::string line = std::to_string(getpid()) + "\n";
        (void)!write(kReadyFd, line.data(), line.size());
        close(kReadyFd);
        close(written[1]);
        char c;
        while (read(kHoldFd, &c, 1) > 0) {
        }
        _exit(0);
      }
      close(written[1]);
      char c;
      while (read(written[0], &c, 1) < 0 && errno == EINTR) {
      }
      _exit(g > 0 ? 0 : 2);
    }
    close(kHoldFd);
    int st;
    waitpid(mid, &st, 0);
  }
  if (mode == "term" || mode == "orphan") {
    const char ready[] = "ready\n";
    (void)!write(kReadyFd, ready, sizeof ready - 1);
    close(kReadyFd);
    int sig = 0;
    sigwait(&term, &sig);
    _exit(sig == SIGTERM ? 42 : 1);
  }
  _exit(3);
}

struct ChildMode {
  ChildMode() {
    if (const char* m = getenv("BERTH_INIT_TEST_CHILD")) run_child(m);
  }
} child_mode;

struct Spawned {
  pid_t pid = -1;
  int ready = -1;  // read end of kReadyFd
  int hold = -1;   // write end of kHoldFd
};

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

Spawned spawn_init(const std::vector<std::string>& extra_env, std::vector<std::string> args = {}) {
  if (args.empty()) args = {BERTH_INIT_PATH, "--", self_exe()};
  int rp[2], hp[2];
  EXPECT_EQ(pipe(rp), 0);
  EXPECT_EQ(pipe(hp), 0);
  Spawned s;
  s.pid = fork();
  if (s.pid == 0) {
    setpgid(0, 0);  // berth-init and everything under it can be killed as one group
    dup2(rp[1], kReadyFd);
    dup2(hp[0], kHoldFd);
    for (int fd : {rp[0], rp[1], hp[0], hp[1]})
      if (fd != kReadyFd && fd != kHoldFd) close(fd);
    for (const auto& e : extra_env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(120);
  }
  close(rp[1]);
  close(hp[0]);
  s.ready = rp[0];
  s.hold = hp[1];
  return s;
}

std::string read_line(int fd) {
  std::string s;
  char c;
  for (;;) {
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 1 || c == '\n') break;
    s += c;
  }
  return s;
}

int wait_exit(pid_t pid) {
  int st = 0;
  EXPECT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFEXITED(st));
  return WEXITSTATUS(st);
}

// "Z", "S", ... or "" when the process is gone.
std::string proc_state(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all;
  if (!std::getline(f, all)) return "";
  auto rp = all.rfind(')');
  if (rp == std::string::npos || rp + 2 >= all.size()) return "";
  return all.substr(rp + 2, 1);
}

pid_t proc_ppid(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("PPid:", 0) == 0) return std::atoi(line.c_str() + 5);
  return -1;
}

TEST(BerthInit, ExitsWithTheChildsCode) {
  for (int code : {0, 1, 7, 255}) {
    std::string c = "BERTH_INIT_TEST_CODE=" + std::to_string(code);
    auto s = spawn_init({"BERTH_INIT_TEST_CHILD=exit", c});
    close(s.ready);
    close(s.hold);
    EXPECT_EQ(wait_exit(s.pid), code);
  }
}

TEST(BerthInit, ChildKilledBySignalGives128PlusSignal) {
  auto s = spawn_init({"BERTH_INIT_TEST_CHILD=kill-self"});
  close(s.ready);
  close(s.hold);
  EXPECT_EQ(wait_exit(s.pid), 128 + SIGUSR1);
}

TEST(BerthInit, ForwardsSigtermToTheChild) {
  auto s = spawn_init({"BERTH_INIT_TEST_CHILD=term"});
  ASSERT_EQ(read_line(s.ready), "ready");
  ASSERT_EQ(kill(s.pid, SIGTERM), 0);
  // The child exits 42 only when it received SIGTERM.
  EXPECT_EQ(wait_exit(s.pid), 42);
  close(s.ready);
  close(s.hold);
}

// Kills a spawned berth-init's whole process group unless the test disarmed it: a failed assertion never
// leaves berth-init or its children behind holding the pipes ctest waits on.
struct GroupKiller {
  pid_t pgid;
  bool armed = true;
  ~GroupKiller() {
    if (!armed) return;
    kill(-pgid, SIGKILL);
    waitpid(pgid, nullptr, 0);
  }
};

TEST(BerthInit, ReapsAnAdoptedZombie) {
  auto s = spawn_init({"BERTH_INIT_TEST_CHILD=orphan"});
  GroupKiller killer{s.pid};
  pid_t grandchild = std::atoi(read_line(s.ready).c_str());
  ASSERT_GT(grandchild, 0) << "no grandchild pid from the orphan helper";
  ASSERT_EQ(read_line(s.ready), "ready");  // the intermediate has exited and been waited for
  // Orphaned: its parent is now berth-init.
  EXPECT_EQ(proc_ppid(grandchild), s.pid);
  close(s.hold);  // the grandchild exits
  // berth-init must reap it: the pid disappears (a zombie would stay in state Z while berth-init runs).
  std::string state = proc_state(grandchild);
  for (int i = 0; i < 10000 && !state.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    state = proc_state(grandchild);
  }
  EXPECT_EQ(state, "") << "grandchild " << grandchild << " not reaped";
  ASSERT_EQ(kill(s.pid, SIGTERM), 0);
  EXPECT_EQ(wait_exit(s.pid), 42);
  killer.armed = false;
  close(s.ready);
}

TEST(BerthInit, MissingCommandIs127) {
  auto s = spawn_init({}, {BERTH_INIT_PATH, "--", "/nonexistent/berth-init-test"});
  close(s.ready);
  close(s.hold);
  EXPECT_EQ(wait_exit(s.pid), 127);
}

TEST(BerthInit, NoCommandIsAUsageError) {
  auto s = spawn_init({}, {BERTH_INIT_PATH, "--"});
  close(s.ready);
  close(s.hold);
  EXPECT_EQ(wait_exit(s.pid), 1);
}

}  // namespace
