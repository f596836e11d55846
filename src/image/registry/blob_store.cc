#include "image/registry/blob_store.h"


namespace berth::image::registry {

Result<std::string> read_blob(BlobStore& s, const Digest& d, size_t max_bytes) {
  auto r = BERTH_TRY(s.reader(d));
  if (r->size() < 0 || static_cast<size_t>(r->size()) > max_bytes)
    return fail(Errc::InvalidArgument, "blob {} of {} bytes exceeds {}", d, r->size(), max_bytes);
  std::string out(static_cast<size_t>(r->size()), '\0');
  size_t off = 0;
  while (off < out.size()) {
    size_t n = BERTH_TRY(r->read_at(out.data() + off, out.size() - off, static_cast<int64_t>(off)));
    if (n == 0) return fail(Errc::Internal, "blob {}: short read", d);
    off += n;
  }
  if (Digest::sha256_of(out) != d && d.algorithm() == oci::DigestAlgorithm::Sha256)
    return fail(Errc::FailedPrecondition, "blob {}: content does not match its digest", d);
  return out;
}

Result<Digest> write_blob(BlobStore& s, std::string_view data) {
  Digest d = Digest::sha256_of(data);
  if (s.info(d)) return d;
  auto w = BERTH_TRY(s.writer("write-" + d.str()));
  BERTH_TRY(w->truncate());
  BERTH_TRY(w->write(data));
  auto c = w->commit(static_cast<int64_t>(data.size()), d);
  if (!c && c.error().code() != Errc::AlreadyExists) return fail(std::move(c).error());
  return d;
}

}  // namespace berth::image::registry
