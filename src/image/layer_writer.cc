#include "image/layer_writer.h"

#include <archive_entry.h>
#include <unistd.h>
#include <zlib.h>

#include <random>

namespace berth::image {

struct LayerWriter::Z {
  z_stream s{};
};

Result<std::unique_ptr<LayerWriter>> LayerWriter::create(content::Ingester& store, bool gzip, int64_t mtime) {
  std::unique_ptr<LayerWriter> lw(new LayerWriter());
  content::WriterOptions o;
  o.ref = fmt::format("layer-writer-{}-{}", ::getpid(), std::random_device{}());
  lw->w_ = BERTH_TRY(store.writer(o));
  lw->gzip_ = gzip;
  lw->mtime_ = mtime;
  lw->out_.resize(1 << 20);
  lw->z_ = std::make_unique<Z>();
  if (gzip && deflateInit2(&lw->z_->s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return fail(Errc::Internal, "deflateInit2 failed");
  lw->a_ = archive_write_new();
  archive_write_set_format_pax_restricted(lw->a_);
  archive_write_set_bytes_in_last_block(lw->a_, 1);
  if (archive_write_open(lw->a_, lw.get(), nullptr, write_cb, nullptr) != ARCHIVE_OK)
    return fail(Errc::Internal, "layer writer: {}", archive_error_string(lw->a_));
  return lw;
}

LayerWriter::~LayerWriter() {
  if (a_) archive_write_free(a_);
  if (gzip_ && z_) deflateEnd(&z_->s);
}

Status LayerWriter::deflate_out(int flush) {
  do {
    z_->s.next_out = reinterpret_cast<Bytef*>(out_.data());
    z_->s.avail_out = static_cast<uInt>(out_.size());
    if (deflate(&z_->s, flush) == Z_STREAM_ERROR) return fail(Errc::Internal, "deflate failed");
    size_t have = out_.size() - z_->s.avail_out;
    if (have) BERTH_TRY(w_->write(std::string_view(out_.data(), have)));
  } while (z_->s.avail_out == 0);
  return ok();
}

Status LayerWriter::sink(std::string_view data) {
  diff_.update(data);
  if (!gzip_) return w_->write(data);
  z_->s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z_->s.avail_in = static_cast<uInt>(data.size());
  return deflate_out(Z_NO_FLUSH);
}

la_ssize_t LayerWriter::write_cb(struct archive*, void* ud, const void* buf, size_t n) {
  auto* lw = static_cast<LayerWriter*>(ud);
  auto st = lw->sink(std::string_view(static_cast<const char*>(buf), n));
  if (!st) {
    lw->err_ = std::move(st).error();
    lw->failed_ = true;
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

Status LayerWriter::header(struct archive_entry* e) {
  archive_entry_set_mtime(e, mtime_, 0);
  int r = archive_write_header(a_, e);
  archive_entry_free(e);
  if (r < ARCHIVE_WARN) {
    if (failed_) return fail(err_);
    return fail(Errc::Internal, "layer writer: {}", archive_error_string(a_));
  }
  return ok();
}

Status LayerWriter::add_dir(const std::string& path, mode_t mode) {
  auto* e = archive_entry_new();
  archive_entry_set_pathname(e, path.c_str());
  archive_entry_set_filetype(e, AE_IFDIR);
  archive_entry_set_perm(e, mode);
  return header(e);
}

Status LayerWriter::add_file(const std::string& path, std::string_view data, mode_t mode) {
  auto* e = archive_entry_new();
  archive_entry_set_pathname(e, path.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, mode);
  archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
  BERTH_TRY(header(e));
  if (!data.empty() && archive_write_data(a_, data.data(), data.size()) < 0) {
    if (failed_) return fail(err_);
    return fail(Errc::Internal, "layer writer: {}", archive_error_string(a_));
  }
  return ok();
}

Status LayerWriter::add_file_from_fd(const std::string& path, int fd, int64_t size, mode_t mode) {
  auto* e = archive_entry_new();
  archive_entry_set_pathname(e, path.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, mode);
  archive_entry_set_size(e, size);
  BERTH_TRY(header(e));
  std::vector<char> buf(1 << 20);
  int64_t left = size;
  while (left > 0) {
    ssize_t n = ::read(fd, buf.data(), std::min<size_t>(buf.size(), static_cast<size_t>(left)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail_errno("layer writer: read `{}`", path);
    if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) < 0) {
      if (failed_) return fail(err_);
      return fail(Errc::Internal, "layer writer: {}", archive_error_string(a_));
    }
    left -= n;
  }
  return ok();
}

Status LayerWriter::add_symlink(const std::string& path, const std::string& target) {
  auto* e = archive_entry_new();
  archive_entry_set_pathname(e, path.c_str());
  archive_entry_set_filetype(e, AE_IFLNK);
  archive_entry_set_perm(e, 0777);
  archive_entry_set_symlink(e, target.c_str());
  return header(e);
}

Result<LayerBlob> LayerWriter::finish() {
  if (archive_write_close(a_) != ARCHIVE_OK) {
    if (failed_) return fail(err_);
    return fail(Errc::Internal, "layer writer: {}", archive_error_string(a_));
  }
  if (gzip_) {
    z_->s.next_in = nullptr;
    z_->s.avail_in = 0;
    BERTH_TRY(deflate_out(Z_FINISH));
  }
  LayerBlob b;
  b.diff_id = diff_.digest();
  b.desc.media_type = std::string(gzip_ ? oci::media::kOciLayerGzip : oci::media::kOciLayer);
  b.desc.size = w_->offset();
  b.desc.digest = w_->digest();
  auto c = w_->commit(b.desc.size, b.desc.digest);
  if (!c && c.error().code() != Errc::AlreadyExists) return fail(std::move(c).error());
  return b;
}

}  // namespace berth::image
