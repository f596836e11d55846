#pragma once
// Test helpers for the root tests that run real containers (runtime, engine/spec, engine/monitor, engine):
// where the build and source trees are, busybox bundles and root filesystems from tests/helpers/mk*.sh, a
// bundle's config.json to edit, and running a binary with its output captured. Header-only.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/file.h"

namespace berth::testing {

inline std::string build_dir() {
  const char* b = std::getenv("BERTH_BUILD_DIR");
  return b ? b : "build";
}
inline std::string source_dir() {
  const char* s = std::getenv("BERTH_SOURCE_DIR");
  return s ? s : ".";
}
// A binary of the build tree: build_bin("cmd/berth-runtime/berth-runtime").
inline std::string build_bin(const std::string& rel) { return build_dir() + "/" + rel; }
inline std::string runtime_bin() { return build_bin("cmd/berth-runtime/berth-runtime"); }
inline std::string shim_bin() { return build_bin("cmd/berth-shim/berth-shim"); }
inline std::string probe_bin() { return build_bin("tests/helpers/probe/probe"); }
inline std::string init_bin() { return build_bin("cmd/berth-init/berth-init"); }

struct CmdResult {
  int code = -1;
  std::string out, err;
};

// Runs argv (argv[0] a path) with stdin from /dev/null and stdout/stderr captured in files under `tmp` (a
// container keeps inherited pipes open long after the runtime exits). code: the exit status, 128+N for signal
// N.
inline CmdResult run_cmd(const std::vector<std::string>& argv, const std::string& tmp) {
  std::string outp = tmp + "/.out", errp = tmp + "/.err";
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(outp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = ::open(errp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int n = ::open("/dev/null", O_RDONLY);
    ::dup2(n, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> av;
    for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
    av.push_back(nullptr);
    ::execv(av[0], av.data());
    _exit(126);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  CmdResult r;
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = read_file(outp).value_or("");
  r.err = read_file(errp).value_or("");
  return r;
}

// A busybox root filesystem at `dir` (tests/helpers/mkrootfs.sh); `probe`: the probe binary to put in it, or
// "none".
inline Status make_rootfs(const std::string& dir, const std::string& probe = "none") {
  std::string cmd =
      "PROBE=" + probe + " " + source_dir() + "/tests/helpers/mkrootfs.sh " + dir + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return fail(Errc::Internal, "{} failed", cmd);
  return ok();
}

// A busybox OCI bundle at `dir` (tests/helpers/mkbundle.sh) whose config.json the test edits and rewrites.
class Bundle {
 public:
  Status create(const std::string& dir, const std::string& probe = "none") {
    path_ = dir;
    std::string cmd =
        "PROBE=" + probe + " " + source_dir() + "/tests/helpers/mkbundle.sh " + dir + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return fail(Errc::Internal, "{} failed", cmd);
    auto text = BERTH_TRY(read_file(dir + "/config.json"));
    config_ = nlohmann::json::parse(text, nullptr, false);
    if (config_.is_discarded()) return fail(Errc::Internal, "{}/config.json is not JSON", dir);
    return ok();
  }
  const std::string& path() const { return path_; }
  nlohmann::json& config() { return config_; }
  Status save() const { return write_file_atomic(path_ + "/config.json", config_.dump()); }
  // process.args, saved.
  Status set_args(const std::vector<std::string>& args) {
    config_["process"]["args"] = args;
    return save();
  }
  // process.args and process.terminal, saved.
  Status set_process(const std::vector<std::string>& args, bool tty) {
    config_["process"]["terminal"] = tty;
    return set_args(args);
  }

 private:
  std::string path_;
  nlohmann::json config_;
};

}  // namespace berth::testing
