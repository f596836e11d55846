// berth registry serve | gc
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <pthread.h>
#include <thread>

#include "base/log.h"
#include "commands.h"
#include "image/registry/client.h"
#include "image/content/local/local_store.h"
#include "image/registry/oci_layout.h"
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

struct CopyArgs {
  std::string src, dst, authfile;
  std::vector<std::string> insecure, mount_from;
  int64_t chunk_size = 0;
  bool progress = false;
};

// "oci:DIR[:REF]" -> (DIR, REF)
std::pair<std::string, std::string> split_oci(const std::string& s) {
  std::string rest = s.substr(4);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) return {rest, ""};
  return {rest.substr(0, colon), rest.substr(colon + 1)};
}

int copy(const CopyArgs& a) {
  namespace ir = image::registry;
  ir::ClientOptions co;
  co.insecure_registries = a.insecure;
  std::string authfile = a.authfile;
  if (authfile.empty()) {
    if (const char* dc = getenv("DOCKER_CONFIG"); dc && *dc) authfile = std::string(dc) + "/config.json";
    else if (const char* home = getenv("HOME"); home && *home) authfile = std::string(home) + "/.docker/config.json";
  }
  if (!authfile.empty()) {
    auto creds = ir::load_docker_config(authfile);
    if (!creds) {
      std::fprintf(stderr, "berth registry copy: %s\n", creds.error().message().c_str());
      return 1;
    }
    co.credentials = *creds;
  }
  ir::ProgressFn progress;
  if (a.progress)
    progress = [](const ir::ProgressEvent& e) {
      std::fprintf(stderr, "%s: %s %lld/%lld\n", e.id.c_str(), std::string(ir::progress_state_name(e.state)).c_str(),
                   static_cast<long long>(e.current), static_cast<long long>(e.total));
    };
  ir::RegistryClient client(co);
  auto die = [](const Error& e) {
    std::fprintf(stderr, "berth registry copy: %s\n", e.message().c_str());
    return 1;
  };
  if (a.src.rfind("oci:", 0) == 0 && a.dst.rfind("docker://", 0) == 0) {
    auto [dir, tag] = split_oci(a.src);
    auto ref = ir::parse_reference(a.dst.substr(9));
    if (!ref) return die(ref.error());
    auto store = image::content::LocalStore::open(dir);
    if (!store) return die(store.error());
    auto desc = ir::layout_find(dir, tag);
    if (!desc) return die(desc.error());
    ir::PushOptions po;
    po.chunk_size = a.chunk_size;
    po.mount_from = a.mount_from;
    po.progress = progress;
    auto r = client.push(*ref, **store, desc->digest, po);
    ::rmdir((dir + "/ingest").c_str());  // the content store's ingest dir, empty: not part of the layout
    if (!r) return die(r.error());
    std::printf("%s: pushed %s (%d uploaded, %d existing, %d mounted)\n", ref->str().c_str(), r->digest.str().c_str(),
                r->blobs_uploaded, r->blobs_existing, r->blobs_mounted);
    return 0;
  }
  if (a.src.rfind("docker://", 0) == 0 && a.dst.rfind("oci:", 0) == 0) {
    auto ref = ir::parse_reference(a.src.substr(9));
    if (!ref) return die(ref.error());
    auto [dir, tag] = split_oci(a.dst);
    if (tag.empty()) tag = ref->tag.empty() ? "latest" : ref->tag;
    auto store = image::content::LocalStore::open(dir);
    if (!store) return die(store.error());
    ir::PullOptions po;
    po.progress = progress;
    auto r = client.pull(*ref, **store, po);
    if (!r) return die(r.error());
    auto size = (*store)->info(r->manifest_digest);
    if (!size) return die(size.error());
    oci::Descriptor d{.media_type = r->manifest_media_type, .digest = r->manifest_digest, .size = size->size};
    if (auto st = ir::layout_tag(dir, tag, d); !st) return die(st.error());
    ::rmdir((dir + "/ingest").c_str());  // empty after a complete pull; not part of an OCI layout
    std::printf("%s: pulled %s (%d downloaded, %d present, %lld bytes)\n", ref->str().c_str(),
                r->manifest_digest.str().c_str(), r->blobs_downloaded, r->blobs_present,
                static_cast<long long>(r->bytes_downloaded));
    return 0;
  }
  std::fprintf(stderr, "berth registry copy: SRC/DST must be oci:DIR[:REF] and docker://REF (one of each)\n");
  return 2;
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
  CopyArgs ca;
  auto* copy_cmd = app.add_subcommand("copy", "copy an image between an OCI layout and a registry (oci:DIR[:REF], docker://REF)");
  copy_cmd->add_option("src", ca.src, "source")->required();
  copy_cmd->add_option("dst", ca.dst, "destination")->required();
  copy_cmd->add_option("--insecure", ca.insecure, "registry host[:port] allowed over plain HTTP / unverified TLS");
  copy_cmd->add_option("--authfile", ca.authfile, "docker config.json with auths (default $DOCKER_CONFIG, ~/.docker)");
  copy_cmd->add_option("--chunk-size", ca.chunk_size, "push in PATCH chunks of this many bytes (0: monolithic)");
  copy_cmd->add_option("--mount-from", ca.mount_from, "repository on the destination registry to mount blobs from");
  copy_cmd->add_flag("--progress", ca.progress, "print per-blob progress events to stderr");
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
  if (copy_cmd->parsed()) return copy(ca);
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
