#pragma once
// Per-test temporary directory, removed (recursively, not crossing mounts) on destruction.
#include <stdlib.h>

#include <string>

#include "base/file.h"

namespace berth::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/berth-test-XXXXXX";
    char* p = mkdtemp(tmpl.data());
    BERTH_CHECK(p != nullptr, "mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { (void)remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

}  // namespace berth::testing
