// berth image ...: image commands on a --root, without a daemon.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <time.h>

#include <cstdio>

#include "base/file.h"
#include "base/unique_fd.h"
#include "commands.h"
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

}  // namespace

int image_main(int argc, char** argv) {
  CLI::App app{"image commands (no daemon needed)", "berth image"};
  app.require_subcommand(1);

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (ul->parsed()) return unpack_layer(layer, dir, apply, sync, max_bytes, verbose);
  return 2;
}

}  // namespace berth::cli
