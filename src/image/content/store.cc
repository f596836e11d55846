#include "image/content/store.h"

#include "base/file.h"

namespace berth::image::content {

Result<std::string> read_blob(Provider& p, const Digest& d, size_t max_bytes) {
  auto r = BERTH_TRY(p.reader(d));
  if (r->size() < 0 || static_cast<uint64_t>(r->size()) > max_bytes)
    return fail(Errc::InvalidArgument, "blob {} is {} bytes, more than the {} allowed here", d, r->size(), max_bytes);
  std::string out(static_cast<size_t>(r->size()), '\0');
  size_t got = 0;
  while (got < out.size()) {
    size_t n = BERTH_TRY(r->read_at(out.data() + got, out.size() - got, static_cast<int64_t>(got)));
    if (n == 0) return fail(Errc::Internal, "blob {}: short read at {}", d, got);
    got += n;
  }
  oci::Hasher h(d.algorithm());
  h.update(out);
  if (h.digest() != d) return fail(Errc::Internal, "blob {} is corrupt: content hashes to {}", d, h.digest());
  return out;
}

Result<Digest> write_blob(Ingester& in, std::string_view data, const Digest& expected) {
  Digest want = expected ? expected : Digest::sha256_of(data);
  WriterOptions o;
  o.ref = "blob-" + want.str();
  o.expected = want;
  o.expected_size = static_cast<int64_t>(data.size());
  o.wait = true;
  auto w = in.writer(o);
  if (!w) {
    if (w.error().code() == Errc::AlreadyExists) return want;
    return fail(std::move(w).error());
  }
  BERTH_TRY((*w)->truncate());
  BERTH_TRY((*w)->write(data));
  auto c = (*w)->commit(static_cast<int64_t>(data.size()), want);
  if (!c && c.error().code() == Errc::AlreadyExists) return want;
  if (!c) {
    (void)(*w)->abort();
    return fail(std::move(c).error());
  }
  return *c;
}

Status copy_blob_to_fd(Provider& p, const Digest& d, int fd) {
  auto r = BERTH_TRY(p.reader(d));
  std::string buf(1 << 20, '\0');
  int64_t off = 0;
  while (off < r->size()) {
    size_t n = BERTH_TRY(r->read_at(buf.data(), buf.size(), off));
    if (n == 0) return fail(Errc::Internal, "blob {}: short read at {}", d, off);
    BERTH_TRY(write_all(fd, std::string_view(buf.data(), n)));
    off += static_cast<int64_t>(n);
  }
  return ok();
}

}  // namespace berth::image::content
