#pragma once
// Test helper: the entry names of a tar (plain or gzip) held in memory.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

namespace berth::image::snapshot::testing {

inline std::set<std::string> tar_entries(const std::string& blob) {
  std::set<std::string> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_support_filter_gzip(a);
  EXPECT_EQ(archive_read_open_memory(a, blob.data(), blob.size()), ARCHIVE_OK);
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) out.insert(archive_entry_pathname(e));
  archive_read_free(a);
  return out;
}

}  // namespace berth::image::snapshot::testing
