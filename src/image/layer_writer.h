#pragma once
// Writes a new layer blob (tar, optionally gzip) into the content store while computing its diff_id.
//   LayerWriter w(store, true);  w.add_dir("bin", 0755); w.add_file("bin/x", data, 0755); auto r = w.finish();

#include <archive.h>

#include <memory>
#include <string>
#include <vector>

#include "image/content/store.h"
#include "oci/image_spec.h"

namespace berth::image {

struct LayerBlob {
  oci::Descriptor desc;  // OCI layer media type, compressed digest and size
  oci::Digest diff_id;
};

class LayerWriter {
 public:
  static Result<std::unique_ptr<LayerWriter>> create(content::Ingester& store, bool gzip, int64_t mtime);
  ~LayerWriter();

  Status add_dir(const std::string& path, mode_t mode);
  Status add_file(const std::string& path, std::string_view data, mode_t mode);
  Status add_file_from_fd(const std::string& path, int fd, int64_t size, mode_t mode);
  Status add_symlink(const std::string& path, const std::string& target);
  Result<LayerBlob> finish();

 private:
  LayerWriter() = default;
  Status sink(std::string_view data);
  Status deflate_out(int flush);
  static la_ssize_t write_cb(struct archive*, void* ud, const void* buf, size_t n);
  Status header(struct archive_entry* e);

  std::unique_ptr<content::Writer> w_;
  struct archive* a_ = nullptr;
  bool gzip_ = true;
  int64_t mtime_ = 0;
  oci::Hasher diff_;
  struct Z;
  std::unique_ptr<Z> z_;
  std::vector<char> out_;
  Error err_;
  bool failed_ = false;
};

}  // namespace berth::image
