#pragma once
// Fixture for layer tests: a target directory and an "outside" directory with a sentinel file that hostile
// layers try to reach.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "base/unique_fd.h"
#include "image/unpack/testing/tar_builder.h"
#include "image/unpack/unpack.h"

namespace berth::image::unpack::testing {

class StringSource final : public Source {
 public:
  explicit StringSource(std::string s) : s_(std::move(s)) {}
  Result<size_t> read(void* buf, size_t n) override {
    size_t k = std::min(n, s_.size() - pos_);
    std::memcpy(buf, s_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string s_;
  size_t pos_ = 0;
};

class LayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mkdir_all(root()));
    ASSERT_TRUE(mkdir_all(outside()));
    ASSERT_TRUE(write_file_atomic(outside() + "/sentinel", "untouched", 0600));
    root_fd_ = UniqueFd(::open(root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
  }
  std::string root() const { return dir_.path() + "/root"; }
  std::string outside() const { return dir_.path() + "/outside"; }

  Result<UnpackResult> apply(const std::string& tar, UnpackOptions o = {}) {
    if (!o.preserve_owner) o.preserve_owner = false;
    StringSource s(tar);
    return apply_layer(s, root_fd_.get(), o);
  }
  Result<UnpackResult> apply(const std::vector<TarEntry>& es, UnpackOptions o = {}) { return apply(build_tar(es), o); }

  // The outside directory still holds exactly the untouched sentinel, with its mode.
  void expect_outside_untouched() {
    auto s = read_file(outside() + "/sentinel");
    ASSERT_TRUE(s);
    EXPECT_EQ(*s, "untouched");
    struct stat st;
    ASSERT_EQ(::stat((outside() + "/sentinel").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(::stat(outside().c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 2u) << "a directory appeared outside";
    int n = 0;
    DIR* d = ::opendir(outside().c_str());
    while (auto* de = ::readdir(d)) n += de->d_name[0] != '.';
    ::closedir(d);
    EXPECT_EQ(n, 1) << "a file appeared outside";
    // Nothing beside root/ and outside/ in the test dir.
    n = 0;
    d = ::opendir(dir_.path().c_str());
    while (auto* de = ::readdir(d)) n += de->d_name[0] != '.';
    ::closedir(d);
    EXPECT_EQ(n, 2);
  }

  static void expect_fails(const Result<UnpackResult>& r, std::string_view what) {
    ASSERT_FALSE(r) << "layer was accepted; expected failure mentioning: " << what;
    EXPECT_NE(r.error().message().find(what), std::string::npos) << "got: " << r.error().message();
  }

  berth::testing::TempDir dir_;
  UniqueFd root_fd_;
};

}  // namespace berth::image::unpack::testing
