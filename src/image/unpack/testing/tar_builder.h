#pragma once
// Test helper: builds tar layers in memory with libarchive's writer (pax format), optionally gzip/zstd.
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace berth::image::unpack::testing {

struct TarEntry {
  enum Kind { File, Dir, Symlink, Hardlink, Char, Block, Fifo } kind = File;
  std::string path;
  std::string data;    // file content
  std::string target;  // symlink / hardlink target
  mode_t mode = 0644;
  int64_t uid = 0, gid = 0;
  int64_t mtime = 1700000000;
  unsigned rdev_major = 0, rdev_minor = 0;
  std::map<std::string, std::string> xattrs;
};

inline TarEntry file(std::string p, std::string data, mode_t mode = 0644) {
  TarEntry e;
  e.path = std::move(p);
  e.data = std::move(data);
  e.mode = mode;
  return e;
}
inline TarEntry dir(std::string p, mode_t mode = 0755) {
  TarEntry e;
  e.kind = TarEntry::Dir;
  e.path = std::move(p);
  e.mode = mode;
  return e;
}
inline TarEntry symlink(std::string p, std::string target) {
  TarEntry e;
  e.kind = TarEntry::Symlink;
  e.path = std::move(p);
  e.target = std::move(target);
  e.mode = 0777;
  return e;
}
inline TarEntry hardlink(std::string p, std::string target) {
  TarEntry e;
  e.kind = TarEntry::Hardlink;
  e.path = std::move(p);
  e.target = std::move(target);
  return e;
}

enum class Filter { None, Gzip, Zstd };

inline std::string build_tar(const std::vector<TarEntry>& entries, Filter f = Filter::None) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (f == Filter::Gzip) archive_write_add_filter_gzip(a);
  if (f == Filter::Zstd) archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  std::string out;
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* ud, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(ud)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (auto& t : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, t.mtime, 0);
    archive_entry_set_perm(e, t.mode);
    for (auto& [k, v] : t.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    switch (t.kind) {
      case TarEntry::File:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, static_cast<la_int64_t>(t.data.size()));
        break;
      case TarEntry::Dir: archive_entry_set_filetype(e, AE_IFDIR); break;
      case TarEntry::Symlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, t.target.c_str());
        break;
      case TarEntry::Hardlink:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, t.target.c_str());
        archive_entry_set_size(e, 0);
        break;
      case TarEntry::Char:
      case TarEntry::Block:
        archive_entry_set_filetype(e, t.kind == TarEntry::Char ? AE_IFCHR : AE_IFBLK);
        archive_entry_set_rdevmajor(e, t.rdev_major);
        archive_entry_set_rdevminor(e, t.rdev_minor);
        break;
      case TarEntry::Fifo: archive_entry_set_filetype(e, AE_IFIFO); break;
    }
    if (archive_write_header(a, e) != ARCHIVE_OK) throw std::runtime_error(archive_error_string(a));
    if (t.kind == TarEntry::File && !t.data.empty()) archive_write_data(a, t.data.data(), t.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

}  // namespace berth::image::unpack::testing
