// berth registry serve | gc
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <thread>

#include "base/log.h"
#include "commands.h"
#include "registry/server.h"
#include "registry/storage.h"

namespace berth::cli {

namespace {

int serve(const registry::ServeOptions& base, bool access_log) {
  // SIGINT/SIGTERM end the server cleanly; block them everywhere and wait for them on one thread.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  registry::ServeOptions opts = base;
  if (access_log) {
    opts.observer = [](const std::string& m, const std::string& target, const net::http::Headers&, int status) {
      log::info("{} {} -> {}", m, target, status);
    };
  }
  auto srv = registry::RegistryServer::start(opts);
  if (!srv) {
    std::fprintf(stderr, "berth registry serve: %s\n", srv.error().message().c_str());
    return 1;
  }
  std::printf("listening on %s port %u, root %s%s\n", opts.addr.c_str(), (*srv)->port(), opts.root.c_str(),
              opts.tls_cert.empty() ? "" : " (TLS)");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  (*srv)->stop();
  return 0;
}

}  // namespace

int registry_main(int argc, char** argv) {
  CLI::App app{"OCI distribution registry", "berth registry"};
  app.require_subcommand(1);
  registry::ServeOptions so;
  bool access_log = false;
  auto* serve_cmd = app.add_subcommand("serve", "serve the distribution API over --root");
  serve_cmd->add_option("--addr", so.addr, "listen address host:port (port 0: ephemeral)")->capture_default_str();
  serve_cmd->add_option("--root", so.root, "storage directory")->required();
  serve_cmd->add_option("--tls-cert", so.tls_cert, "PEM certificate chain (enables TLS)");
  serve_cmd->add_option("--tls-key", so.tls_key, "PEM private key");
  serve_cmd->add_option("--htpasswd", so.htpasswd, "htpasswd file with bcrypt entries (enables Basic auth)");
  serve_cmd->add_flag("--access-log", access_log, "log every request to stderr");

  std::string gc_root;
  bool delete_untagged = false;
  auto* gc_cmd = app.add_subcommand("gc", "remove blobs no manifest references (run with the server stopped)");
  gc_cmd->add_option("--root", gc_root, "storage directory")->required();
  gc_cmd->add_flag("--delete-untagged", delete_untagged, "also remove manifests no tag reaches");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (serve_cmd->parsed()) {
    if (so.tls_cert.empty() != so.tls_key.empty()) {
      std::fprintf(stderr, "berth registry serve: --tls-cert and --tls-key go together\n");
      return 2;
    }
    return serve(so, access_log);
  }
  auto storage = registry::Storage::open(gc_root);
  if (!storage) {
    std::fprintf(stderr, "berth registry gc: %s\n", storage.error().message().c_str());
    return 1;
  }
  auto st = (*storage)->gc(delete_untagged);
  if (!st) {
    std::fprintf(stderr, "berth registry gc: %s\n", st.error().message().c_str());
    return 1;
  }
  std::printf("removed %d blobs (%lld bytes), %d manifests, %d upload sessions; kept %d blobs\n", st->blobs_removed,
              static_cast<long long>(st->bytes_removed), st->manifests_removed, st->uploads_removed, st->blobs_kept);
  return 0;
}

}  // namespace berth::cli
