// `berth daemon`: the Engine API server (api/server) in front of the engine core (engine/).
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "api/server/api_server.h"
#include "base/file.h"
#include "base/log.h"
#include "commands.h"
#include "engine/engine.h"
#include "net/http/server.h"

namespace berth::cli {
namespace {

struct DaemonFlags {
  engine::DaemonConfig cfg;
  std::vector<std::string> hosts;
  bool tlsverify = false;
  std::string tlscacert, tlscert, tlskey;
  std::string log_level = "info";
  std::string log_format = "json";
};

// Turns one -H value into server options; refuses TCP without mutual TLS.
Result<net::http::ServerOptions> listen_options(const std::string& host, const DaemonFlags& f) {
  net::http::ServerOptions o;
  if (host.starts_with("unix://")) {
    std::string path = host.substr(7);
    if (path.empty() || path.front() != '/') return fail(Errc::InvalidArgument, "-H {}: unix socket path must be absolute", host);
    auto slash = path.rfind('/');
    if (slash > 0) BERTH_TRY(mkdir_all(path.substr(0, slash), 0755));
    o.addr = host;
    o.unix_mode = 0660;
    return o;
  }
  if (host.starts_with("tcp://")) {
    if (!f.tlsverify || f.tlscacert.empty() || f.tlscert.empty() || f.tlskey.empty())
      return fail(Errc::InvalidArgument,
                  "refusing to listen on {} without mutual TLS: give --tlsverify --tlscacert --tlscert --tlskey", host);
    o.addr = host.substr(6);
    if (auto s = o.addr.find('/'); s != std::string::npos) o.addr.resize(s);
    o.tls_cert = f.tlscert;
    o.tls_key = f.tlskey;
    o.tls_client_ca = f.tlscacert;
    return o;
  }
  return fail(Errc::InvalidArgument, "-H {}: unsupported address (unix:///path or tcp://host:port)", host);
}

}  // namespace

int daemon_main(int argc, char** argv) {
  // One thread per connection: without a cap glibc gives busy threads their own malloc arenas (up to 8 per core),
  // each keeping freed memory, which is idle RSS after a burst of requests.
  ::mallopt(M_ARENA_MAX, 2);
  DaemonFlags f;
  CLI::App app{"berth daemon: serve the Docker Engine API (1.41)", "berth daemon"};
  app.add_option("--data-root", f.cfg.data_root, "persistent state (images, containers)")->capture_default_str();
  app.add_option("--exec-root", f.cfg.exec_root, "runtime state (sockets, pids)")->capture_default_str();
  app.add_option("-H,--host", f.hosts, "listen address: unix:///path (default unix:///run/berth/berth.sock) or "
                                       "tcp://host:port (needs --tlsverify)");
  app.add_flag("--tlsverify", f.tlsverify, "require and verify client certificates");
  app.add_option("--tlscacert", f.tlscacert, "CA bundle that signs client certificates");
  app.add_option("--tlscert", f.tlscert, "server certificate");
  app.add_option("--tlskey", f.tlskey, "server key");
  app.add_option("--shim", f.cfg.shim_path, "berth-shim binary (default: next to berth)");
  app.add_option("--init-path", f.cfg.init_path, "berth-init binary for --init (default: next to berth)");
  app.add_option("--live-restore", f.cfg.live_restore, "reconnect to running containers at start (true|false)")
      ->capture_default_str();
  app.add_option("--snapshotter", f.cfg.snapshotter, "overlay or native (default: overlay when available)");
  // objects: automatic disk GC and registries
  app.add_option("--gc-high-watermark", f.cfg.gc_high_watermark,
                 "collect unreferenced layers, snapshots and blobs when the data root's filesystem is fuller than "
                 "this (percent; 0 = off)")->capture_default_str();
  app.add_option("--gc-low-watermark", f.cfg.gc_low_watermark, "collect down to this usage (percent)")
      ->capture_default_str();
  app.add_option("--gc-interval", f.cfg.gc_interval_seconds, "seconds between disk usage checks (0: only after pulls, loads and imports)")->capture_default_str();
  app.add_option("--insecure-registry", f.cfg.insecure_registries, "registry host[:port] allowed over plain HTTP");
  app.add_option("--log-level", f.log_level, "debug, info, warn, error")->capture_default_str();
  app.add_option("--log-format", f.log_format, "json or text")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  log::set_format(f.log_format == "text" ? log::Format::Text : log::Format::Json);
  log::set_level(f.log_level == "debug" ? log::Level::Debug
                 : f.log_level == "warn" ? log::Level::Warn
                 : f.log_level == "error" ? log::Level::Error
                                          : log::Level::Info);
  if (f.hosts.empty()) f.hosts.push_back("unix:///run/berth/berth.sock");

  std::vector<net::http::ServerOptions> listens;
  for (auto& h : f.hosts) {
    auto o = listen_options(h, f);
    if (!o) {
      log::error("daemon: {}", o.error().message());
      return 1;
    }
    // A second without requests: hand the memory a burst freed back to the kernel. glibc only returns the top
    // of each arena by itself; after 100 concurrent `run -d` + `rm -f` ~4 MB of free chunks stay resident.
    o->on_quiet = [] { ::malloc_trim(0); };
    listens.push_back(std::move(*o));
  }
  if (auto st = mkdir_all(f.cfg.exec_root, 0700); !st) {
    log::error("daemon: exec root: {}", st.error().message());
    return 1;
  }

  // Signals are taken synchronously by this thread; every server thread inherits the blocked mask.
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto eng = engine::open_engine(f.cfg);
  if (!eng) {
    log::error("daemon: {}", eng.error().message());
    return 1;
  }
  api::ApiHandler handler(**eng);
  std::vector<std::unique_ptr<net::http::Server>> servers;
  for (size_t i = 0; i < listens.size(); i++) {
    auto s = net::http::Server::start(listens[i], [&handler](net::http::ServerRequest& q, net::http::ServerResponse& r) {
      handler(q, r);
    });
    if (!s) {
      log::error("daemon: listen on {}: {}", f.hosts[i], s.error().message());
      for (auto& srv : servers) srv->stop();
      return 1;
    }
    servers.push_back(std::move(*s));
    log::info("daemon: API listening on {}", f.hosts[i]);
  }
  log::info("daemon: ready (api {}, data root {}, exec root {}, pid {})", engine::kApiVersion, f.cfg.data_root,
            f.cfg.exec_root, ::getpid());

  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  log::info("daemon: received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*eng)->shutdown();  // blocked waits and log/stat streams end; containers keep running
  for (auto& s : servers) s->stop();
  log::info("daemon: stopped");
  return 0;
}

}  // namespace berth::cli
