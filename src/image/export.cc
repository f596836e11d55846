// ImageStore::export_rootfs: the image's merged tree as one tar.
#include <fcntl.h>
#include <unistd.h>

#include <random>

#include "base/unique_fd.h"
#include "image/image_store.h"
#include "image/snapshot/diff.h"

namespace berth::image {

namespace {

Status write_all(int fd, std::string_view d) {
  while (!d.empty()) {
    ssize_t n = ::write(fd, d.data(), d.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("write");
    d.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

}  // namespace

Status ImageStore::export_rootfs(const std::string& name, const std::string& out, const oci::Platform& platform) {
  auto top = BERTH_TRY(unpack(name, platform));
  std::vector<std::string> dirs;
  if (!top.empty()) dirs = BERTH_TRY(snaps_->layer_dirs(top));
  auto produce = [&](int fd) -> Status {
    auto sink = [fd](std::string_view d) { return write_all(fd, d); };
    BERTH_TRY_CTX(snapshot::write_merged_tar(dirs, sink), "export `{}`", name);
    return ok();
  };
  if (out == "-") return produce(STDOUT_FILENO);
  std::string tmp = fmt::format("{}.tmp-{:x}", out, std::random_device{}());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return fail_errno("create `{}`", tmp);
  auto st = produce(fd.get());
  if (st && ::fsync(fd.get()) < 0) st = fail_errno("fsync `{}`", tmp);
  if (st && ::rename(tmp.c_str(), out.c_str()) < 0) st = fail_errno("rename to `{}`", out);
  if (!st) ::unlink(tmp.c_str());
  return st;
}

}  // namespace berth::image
