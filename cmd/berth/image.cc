// berth image ...: image commands on a --root, without a daemon.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <time.h>

#include <unistd.h>

#include <cstdio>
#include <map>

#include "base/file.h"
#include "base/unique_fd.h"
#include "commands.h"
#include "image/image_store.h"
#include "image/unpack/unpack.h"

namespace berth::cli {

namespace {

double now_s() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

int unpack_layer(const std::string& layer, const std::string& dir, bool apply, bool sync, uint64_t max_bytes,
                 bool verbose) {
  UniqueFd in(::open(layer.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) {
    std::fprintf(stderr, "berth image unpack-layer: open %s: %m\n", layer.c_str());
    return 1;
  }
  if (auto st = mkdir_all(dir, 0755); !st) {
    std::fprintf(stderr, "berth image unpack-layer: %s\n", st.error().message().c_str());
    return 1;
  }
  UniqueFd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    std::fprintf(stderr, "berth image unpack-layer: open %s: %m\n", dir.c_str());
    return 1;
  }
  image::unpack::UnpackOptions o;
  o.whiteouts = apply ? image::unpack::WhiteoutMode::Apply : image::unpack::WhiteoutMode::Overlay;
  o.sync = sync;
  if (max_bytes) o.max_uncompressed_bytes = max_bytes;
  double t0 = now_s();
  auto r = image::unpack::apply_layer_fd(in.get(), root.get(), o);
  if (!r) {
    std::fprintf(stderr, "berth image unpack-layer: %s\n", r.error().message().c_str());
    return 1;
  }
  if (verbose)
    std::fprintf(stderr, "%llu entries, %llu bytes in %.3f s\n", static_cast<unsigned long long>(r->entries),
                 static_cast<unsigned long long>(r->uncompressed_bytes), now_s() - t0);
  std::printf("%s\n", r->diff_id.str().c_str());
  return 0;
}

// Draws pull/push progress like the docker CLI: on a terminal one line per layer, redrawn in place; otherwise
// one plain line per layer state change (byte counters omitted) and the image-level messages.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(FILE* out) : out_(out), tty_(::isatty(::fileno(out))) {}
  void operator()(const image::ProgressEvent& e) {
    if (!e.layer_line()) {
      rows_.clear();
      std::fprintf(out_, "%s%s%s\n", e.id.empty() ? "" : e.id.c_str(), e.id.empty() ? "" : ": ", e.status.c_str());
      std::fflush(out_);
      return;
    }
    std::string text = e.id + ": " + e.status;
    if (tty_) {
      if (e.has_progress) text += " " + image::progress_bar(e.current, e.total);
      auto it = rows_.find(e.id);
      if (it == rows_.end()) {
        rows_.emplace(e.id, rows_.size());
        std::fprintf(out_, "%s\n", text.c_str());
      } else {
        size_t up = rows_.size() - it->second;
        std::fprintf(out_, "\x1b[%zuA\x1b[2K\r%s\x1b[%zuB\r", up, text.c_str(), up);
      }
    } else {
      auto& last = plain_[e.id];
      if (last == e.status) return;
      last = e.status;
      std::fprintf(out_, "%s\n", text.c_str());
    }
    std::fflush(out_);
  }

 private:
  FILE* out_;
  bool tty_;
  std::map<std::string, size_t> rows_;
  std::map<std::string, std::string> plain_;
};

}  // namespace

std::string human_size(int64_t b) {
  const char* u[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(b);
  int i = 0;
  while (v >= 1000 && i < 4) {
    v /= 1000;
    i++;
  }
  return i == 0 ? fmt::format("{}B", b) : fmt::format("{:.3g}{}", v, u[i]);
}

int report(const char* what, const Error& e) {
  std::fprintf(stderr, "berth image %s: %s\n", what, e.message().c_str());
  return 1;
}

int image_main(int argc, char** argv) {
  CLI::App app{"image commands on a local --root (no daemon needed)", "berth image"};
  app.require_subcommand(1);
  image::ImageStoreOptions so;
  app.add_option("--root", so.root, "state directory")->capture_default_str();
  app.add_option("--snapshotter", so.snapshotter, "overlay or native (default: overlay when available)");

  std::string layer, dir;
  bool apply = false, sync = false, verbose = false;
  uint64_t max_bytes = 0;
  auto* ul = app.add_subcommand("unpack-layer", "apply one layer tarball (plain, gzip or zstd) into DIR; prints its diff_id");
  ul->add_option("layer", layer, "layer file")->required();
  ul->add_option("dir", dir, "target directory (created if missing)")->required();
  ul->add_flag("--apply", apply, "apply on top of DIR's content (whiteouts delete) instead of overlay whiteouts");
  ul->add_flag("--sync", sync, "syncfs before returning");
  ul->add_option("--max-bytes", max_bytes, "limit on the uncompressed size");
  ul->add_flag("-v,--verbose", verbose, "print entry count and time to stderr");

  bool quiet = false;
  auto* ls = app.add_subcommand("ls", "list images");
  ls->add_flag("-q,--quiet", quiet, "names only");
  std::vector<std::string> names;
  auto* rm = app.add_subcommand("rm", "remove image names (content goes with prune)");
  rm->add_option("names", names, "images")->required();
  std::string name, name2, out, in, platform;
  auto* inspect = app.add_subcommand("inspect", "print an image's record, manifest, config and layers as JSON");
  inspect->add_option("name", name, "image")->required();
  auto* tag = app.add_subcommand("tag", "add a name for an image");
  tag->add_option("source", name, "existing image")->required();
  tag->add_option("target", name2, "new name")->required();
  bool as_dir = false;
  auto* save = app.add_subcommand("save", "write images as a docker-save archive that is also an OCI layout");
  save->add_option("names", names, "images")->required();
  save->add_option("-o,--output", out, "output tar file (- for stdout), or directory with --dir")->required();
  save->add_flag("--dir", as_dir, "write a directory instead of a tar");
  auto* exp = app.add_subcommand("export", "write an image's flattened root filesystem as a tar (like docker export)");
  exp->add_option("name", name, "image")->required();
  exp->add_option("-o,--output", out, "output tar file (- for stdout)")->required();
  exp->add_option("--platform", platform, "os/arch[/variant] (default linux/amd64)");
  auto* load = app.add_subcommand("load", "load a docker-save archive or an OCI layout (tar, tar.gz or directory)");
  load->add_option("-i,--input", in, "archive or directory (- for stdin)")->required();
  load->add_option("--name", name, "name for images the archive does not name");
  auto* imp = app.add_subcommand("import", "make a one-layer image from a root filesystem tarball");
  imp->add_option("tarball", in, "tar, tar.gz or tar.zst")->required();
  imp->add_option("name", name, "image name")->required();
  image::RegistryAccess access;
  std::string authfile;
  bool pull_quiet = false;
  auto* pull = app.add_subcommand("pull", "pull an image from a registry (host[:port]/repository[:tag|@digest])");
  pull->add_option("name", name, "image reference")->required();
  pull->add_option("--platform", platform, "os/arch[/variant] to pick from an index (default linux/amd64)");
  auto* push = app.add_subcommand("push", "push a local image to the registry its name says");
  push->add_option("name", name, "image reference")->required();
  int64_t chunk_size = 0;
  push->add_option("--chunk-size", chunk_size, "upload in PATCH chunks of this many bytes (0: one request)");
  for (auto* c : {pull, push}) {
    c->add_option("--insecure-registry", access.insecure_registries,
                  "registry host[:port] allowed over plain HTTP or unverified TLS (repeatable)");
    c->add_option("--authfile", authfile, "docker config.json with auths (default $DOCKER_CONFIG, ~/.docker)");
    c->add_option("--max-concurrent", access.max_concurrent, "parallel blob transfers")->capture_default_str();
    c->add_flag("-q,--quiet", pull_quiet, "print only the image name (pull) or digest (push)");
  }
  auto* prune = app.add_subcommand("prune", "remove content and layers no image references");
  auto* unpack_cmd = app.add_subcommand("unpack", "extract an image's layers into the snapshotter; prints the top chain ID");
  unpack_cmd->add_option("name", name, "image")->required();
  unpack_cmd->add_option("--platform", platform, "os/arch[/variant] (default linux/amd64)");
  std::string busybox = "/bin/busybox";
  auto* boot = app.add_subcommand("bootstrap", "build a base image locally");
  auto* boot_bb = boot->add_subcommand("busybox", "from the host's static busybox (Debian busybox-static), all applets");
  boot->require_subcommand(1);
  boot_bb->add_option("--name", name, "image name (default busybox:latest)");
  boot_bb->add_option("--busybox", busybox, "busybox binary")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (ul->parsed()) return unpack_layer(layer, dir, apply, sync, max_bytes, verbose);

  auto store_r = image::ImageStore::open(so);
  if (!store_r) return report("open", store_r.error());
  auto& store = **store_r;

  if (ls->parsed()) {
    auto list = store.list();
    if (!list) return report("ls", list.error());
    if (!quiet) std::printf("%-50s %-20s %-10s\n", "NAME", "DIGEST", "SIZE");
    for (auto& r : *list) {
      if (quiet) {
        std::printf("%s\n", r.name.c_str());
        continue;
      }
      int64_t size = r.target.size;
      if (auto res = store.resolve(r.name)) {
        size = res->manifest.config.size;
        for (auto& l : res->manifest.layers) size += l.size;
      }
      std::printf("%-50s %-20s %-10s\n", r.name.c_str(), std::string(r.target.digest.hex().substr(0, 12)).c_str(),
                  human_size(size).c_str());
    }
    return 0;
  }
  if (rm->parsed()) {
    int rc = 0;
    for (auto& n : names) {
      auto st = store.remove(n);
      if (!st) rc = report("rm", st.error());
      else std::printf("Untagged: %s\n", n.c_str());
    }
    return rc;
  }
  if (inspect->parsed()) {
    auto j = store.inspect_json(name);
    if (!j) return report("inspect", j.error());
    std::printf("%s\n", j->c_str());
    return 0;
  }
  if (tag->parsed()) {
    auto st = store.tag(name, name2);
    return st ? 0 : report("tag", st.error());
  }
  if (save->parsed()) {
    auto st = store.save(names, out, as_dir);
    return st ? 0 : report("save", st.error());
  }
  if (exp->parsed()) {
    auto p = oci::Platform::host();
    if (!platform.empty()) {
      auto pp = oci::Platform::parse(platform);
      if (!pp) return report("export", pp.error());
      p = *pp;
    }
    auto st = store.export_rootfs(name, out, p);
    return st ? 0 : report("export", st.error());
  }
  if (load->parsed()) {
    auto r = store.load(in, name);
    if (!r) return report("load", r.error());
    for (auto& n : *r) std::printf("Loaded image: %s\n", n.c_str());
    return 0;
  }
  if (imp->parsed()) {
    auto r = store.import_rootfs(in, name);
    if (!r) return report("import", r.error());
    std::printf("%s\n", r->digest.str().c_str());
    return 0;
  }
  if (prune->parsed()) {
    auto r = store.prune();
    if (!r) return report("prune", r.error());
    for (auto& d : r->content.removed) std::printf("deleted: %s\n", d.str().c_str());
    for (auto& s : r->snapshots_removed) std::printf("deleted layer: %s\n", s.c_str());
    std::printf("Total reclaimed space: %s\n", human_size(r->content.bytes_freed).c_str());
    return 0;
  }
  if (pull->parsed() || push->parsed()) {
    access.docker_config = authfile.empty() ? image::default_docker_config() : authfile;
    ProgressPrinter printer(stdout);
    image::ProgressSink sink;
    if (!pull_quiet) sink = [&](const image::ProgressEvent& e) { printer(e); };
    if (pull->parsed()) {
      image::PullOptions po;
      po.access = access;
      po.progress = sink;
      if (!platform.empty()) {
        auto pp = oci::Platform::parse(platform);
        if (!pp) return report("pull", pp.error());
        po.platform = *pp;
      }
      auto r = store.pull(name, po);
      if (!r) return report("pull", r.error());
      std::printf("%s\n", r->name.c_str());
      return 0;
    }
    image::PushOptions po;
    po.access = access;
    po.progress = sink;
    po.chunk_size = chunk_size;
    auto r = store.push(name, po);
    if (!r) return report("push", r.error());
    if (pull_quiet) std::printf("%s\n", r->target.digest.str().c_str());
    return 0;
  }
  if (unpack_cmd->parsed()) {
    auto p = oci::Platform::host();
    if (!platform.empty()) {
      auto pp = oci::Platform::parse(platform);
      if (!pp) return report("unpack", pp.error());
      p = *pp;
    }
    auto r = store.unpack(name, p);
    if (!r) return report("unpack", r.error());
    std::printf("%s\n", r->c_str());
    return 0;
  }
  if (boot_bb->parsed()) {
    auto r = store.bootstrap_busybox(name, busybox);
    if (!r) return report("bootstrap busybox", r.error());
    std::printf("%s %s\n", image::normalize_name(name.empty() ? "busybox" : name).value_or(name).c_str(),
                r->digest.str().c_str());
    return 0;
  }
  return 2;
}

}  // namespace berth::cli
