// berth-shim: the per-container monitor (src/engine/monitor/shim_server.h). Started by the daemon through
// engine::monitor::spawn_shim, never by hand:
//   berth-shim --id ID --bundle DIR --dir SHIMDIR --runtime-root DIR [--cgroup-root DIR]
//              [--log PATH --log-max-size BYTES --log-max-files N] [--tty] [--stdin] [--stdin-once]
//              [--height H --width W] [--report-fd FD] [--foreground]

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/monitor/shim_server.h"

namespace {

bool parse_u64(const char* s, uint64_t& out) {
  if (!s || !*s) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno || *end) return false;
  out = v;
  return true;
}

int usage(const char* msg) {
  std::fprintf(stderr, "berth-shim: %s\n", msg);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  berth::engine::monitor::ShimConfig c;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    uint64_t n = 0;
    if (a == "--id") {
      const char* v = value();
      if (!v) return usage("--id needs a value");
      c.id = v;
    } else if (a == "--bundle" || a == "--dir" || a == "--runtime-root" || a == "--cgroup-root" || a == "--log") {
      const char* v = value();
      if (!v) return usage("flag needs a value");
      (a == "--bundle" ? c.bundle : a == "--dir" ? c.dir : a == "--runtime-root" ? c.runtime_root
                                     : a == "--cgroup-root" ? c.cgroup_root : c.log_path) = v;
    } else if (a == "--log-max-size") {
      if (!parse_u64(value(), n)) return usage("--log-max-size: expected bytes");
      c.log_max_size = n;
    } else if (a == "--log-max-files") {
      if (!parse_u64(value(), n) || n < 1 || n > 1000) return usage("--log-max-files: expected 1..1000");
      c.log_max_files = static_cast<int>(n);
    } else if (a == "--height" || a == "--width") {
      if (!parse_u64(value(), n) || n > 65535) return usage("--height/--width: expected 0..65535");
      (a == "--height" ? c.console_size.height : c.console_size.width) = static_cast<uint16_t>(n);
    } else if (a == "--report-fd") {
      if (!parse_u64(value(), n) || n > 1 << 20) return usage("--report-fd: expected an fd");
      c.report_fd = static_cast<int>(n);
    } else if (a == "--tty") {
      c.tty = true;
    } else if (a == "--stdin") {
      c.open_stdin = true;
    } else if (a == "--stdin-once") {
      c.stdin_once = true;
    } else if (a == "--foreground") {
      c.detach = false;
    } else {
      return usage(("unknown flag " + std::string(a)).c_str());
    }
  }
  if (c.id.empty() || c.bundle.empty() || c.dir.empty() || c.runtime_root.empty())
    return usage("--id, --bundle, --dir and --runtime-root are required");
  return berth::engine::monitor::run_shim(c);
}
