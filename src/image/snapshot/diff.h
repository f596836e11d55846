#pragma once
// Snapshot trees as tars.
//
// Commit of a read-write overlay snapshot into a new layer: walk the upper dir and write a tar in which
//   a 0/0 character device (overlay whiteout)      -> `<dir>/.wh.<name>` (empty regular entry)
//   a directory with trusted.overlay.opaque=y      -> the directory, then `<dir>/.wh..wh..opq`
//   anything else                                   -> itself (owner, mode, mtime, xattrs; hardlinks kept)
// overlay's own xattrs (trusted.overlay.*) never reach the tar. Entries are sorted by name, so the same upper
// dir always gives the same tar (and diff_id).

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "image/content/store.h"
#include "image/snapshot/snapshotter.h"
#include "oci/image_spec.h"

namespace berth::image::snapshot {

struct DiffOptions {
  bool gzip = true;
  int gzip_level = 6;
  std::string opaque_xattr = "trusted.overlay.opaque";
};

struct DiffResult {
  oci::Descriptor layer;  // media type OCI tar+gzip (or tar), digest and size of the blob
  oci::Digest diff_id;    // sha256 of the uncompressed tar
  uint64_t entries = 0;
};

// Writes the uncompressed tar of upper_dir's changes to sink.
Result<uint64_t> write_overlay_diff_tar(const std::string& upper_dir, const std::function<Status(std::string_view)>& sink,
                                        const DiffOptions& opts = {});
// Same, compressed per opts, committed into the content store.
Result<DiffResult> commit_overlay_diff(const std::string& upper_dir, content::Ingester& store,
                                       const DiffOptions& opts = {});

// Full trees (native snapshots): the changes that turn parent_dir ("" = empty) into dir, as a layer tar:
// new or changed objects (type, mode, owner, size, mtime, link target, device, xattrs; content when the mtime
// has no sub-second part), `.wh.<name>` for names gone, and every directory that changed or holds a change.
Result<uint64_t> write_tree_diff_tar(const std::string& dir, const std::string& parent_dir,
                                     const std::function<Status(std::string_view)>& sink, const DiffOptions& opts = {});

// A flattened root filesystem (docker export): layer dirs stacked top first as overlayfs shows them — the
// top-most entry of a name wins, whiteout devices hide lower entries, opaque directories hide lower content.
// No whiteouts reach the tar; hardlinks within a layer stay hardlinks.
Result<uint64_t> write_merged_tar(const std::vector<std::string>& layer_dirs,
                                  const std::function<Status(std::string_view)>& sink, const DiffOptions& opts = {});

// Commit of the Active snapshot `key` of any snapshotter into a layer blob: overlay -> its upper dir; native
// -> the tree diff against its parent's tree.
Result<DiffResult> commit_snapshot_diff(Snapshotter& s, const std::string& key, content::Ingester& store,
                                        const DiffOptions& opts = {});

}  // namespace berth::image::snapshot
