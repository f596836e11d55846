#pragma once
// Layer application: one (compressed) tar layer -> a directory, resolved entirely relative to that
// directory's fd, never as a string path. https://github.com/opencontainers/image-spec/blob/v1.1.0/layer.md
//
// Modes:
//   WhiteoutMode::Overlay  each layer goes into its own empty directory (overlay snapshotter). `.wh.<name>`
//                          becomes a 0/0 character device, `.wh..wh..opq` sets the opaque xattr on its dir.
//   WhiteoutMode::Apply    the layer is applied on top of its parent's content (native snapshotter, export
//                          flattening). `.wh.<name>` removes <name>; `.wh..wh..opq` removes everything in
//                          its dir that this layer did not create.
//
// One pass does everything: decompression (zlib / zstd in-process; gzip auto-detected by magic bytes when
// the compression is not given), SHA-256 of the uncompressed stream (the diff_id, verified against
// expected_diff_id if set), tar parsing (libarchive, format only: no external filters) and file creation.
//
// Security policy (every class fails with Errc::PermissionDenied or InvalidArgument, message naming the
// entry, and leaves everything outside the target directory untouched):
//   - absolute paths and `..` components in entry names or hardlink targets are refused;
//   - paths longer than max_path_bytes, or with a component over 255 bytes, are refused;
//   - every parent directory must be a real directory inside the target: a symlink anywhere in the parent
//     chain (made earlier in this layer or, in Apply mode, by a lower layer) is refused, so nothing is
//     written, chmod'ed or chown'ed through a symlink, however the links chain;
//   - the final component is never followed: a later entry of the same name replaces the earlier one
//     (tar's rule: unlink, then create — directories merge), so a planted symlink is replaced, not written
//     through; metadata is applied to the fd of the object just created;
//   - hardlink targets resolve by the same rules and must be existing non-directories inside the target;
//   - whiteouts naming `.`, `..`, or an empty name are refused;
//   - xattrs in the overlay namespaces (trusted.overlay.*, user.overlay.*) are refused: they would steer
//     overlayfs (redirect, metacopy) outside this layer;
//   - the uncompressed stream is capped at max_uncompressed_bytes (decompression bombs).
//
// Thread-safety: apply_layer is reentrant; concurrent applies into the same directory are not supported.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "oci/digest.h"
#include "oci/image_spec.h"

namespace berth::image::unpack {

enum class WhiteoutMode { Overlay, Apply };

struct UnpackOptions {
  WhiteoutMode whiteouts = WhiteoutMode::Overlay;
  std::optional<oci::Compression> compression;  // nullopt: detect gzip/zstd/plain from the first bytes
  uint64_t max_uncompressed_bytes = uint64_t{64} << 30;
  size_t max_path_bytes = 4096;
  oci::Digest expected_diff_id;  // empty: not checked
  // Ownership from the tar headers; default: only when running as root (otherwise files keep our uid).
  std::optional<bool> preserve_owner;
  // Device nodes when not root: fail (default) or skip them with a warning.
  bool skip_devices_when_unprivileged = false;
  std::string opaque_xattr = "trusted.overlay.opaque";
  // syncfs() the target's filesystem before returning, making the layer durable.
  bool sync = false;
  // Also hash the compressed input (for streaming pulls that verify the blob digest on the way).
  bool hash_compressed = false;
  // docker's noOverwriteDirNonDir: an entry that would replace an existing directory with a non-directory, or
  // a non-directory with a directory, fails (InvalidArgument) instead of replacing it. The message names paths
  // as display_root + "/" + entry ("cannot overwrite directory \"/tmp/d\" with non-directory \"/tmp\"").
  bool no_overwrite_dir_non_dir = false;
  std::string display_root = "/";
  // Paths (relative to the target, no leading '/') where another directory stands in the view the caller
  // extracts for (a container's volumes and bind mounts), with an fd of that directory: entries below such a
  // path are written there (resolved beneath that fd with the same rules), never into the directory
  // underneath. fd -1 (a file mount), a non-directory entry at the path itself, or a whiteout of it are refused
  // (PermissionDenied); a directory entry at the path itself is skipped (the mount's root stays as it is).
  struct Redirect {
    std::string path;
    int fd = -1;
  };
  std::vector<Redirect> redirects;
};

struct UnpackResult {
  oci::Digest diff_id;
  oci::Digest compressed_digest;  // only with hash_compressed
  uint64_t uncompressed_bytes = 0;
  uint64_t compressed_bytes = 0;
  uint64_t entries = 0;
};

// Byte stream of the (possibly compressed) layer.
class Source {
 public:
  virtual ~Source() = default;
  // Up to n bytes; 0 at end.
  virtual Result<size_t> read(void* buf, size_t n) = 0;
};

// Reads from a file descriptor (not owned) from its current offset.
class FdSource final : public Source {
 public:
  explicit FdSource(int fd) : fd_(fd) {}
  Result<size_t> read(void* buf, size_t n) override;

 private:
  int fd_;
};

// Applies the layer into the directory `dirfd` (an O_RDONLY or O_PATH directory fd).
Result<UnpackResult> apply_layer(Source& in, int dirfd, const UnpackOptions& opts = {});
Result<UnpackResult> apply_layer_fd(int layer_fd, int dirfd, const UnpackOptions& opts = {});

}  // namespace berth::image::unpack
