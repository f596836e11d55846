// libFuzzer target for layer application (image/unpack). Oracle: whatever the input, nothing outside the
// target directory changes — the sibling "outside" directory keeps exactly its sentinel file, and the
// scratch directory holds nothing but root/ and outside/. Errors are fine; escapes and crashes are not.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "base/file.h"
#include "base/unique_fd.h"
#include "image/unpack/unpack.h"

namespace {

using namespace berth;

class BufSource final : public image::unpack::Source {
 public:
  BufSource(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  Result<size_t> read(void* buf, size_t n) override {
    size_t k = std::min(n, n_ - pos_);
    std::memcpy(buf, d_ + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  const uint8_t* d_;
  size_t n_, pos_ = 0;
};

std::string& scratch() {
  static std::string s = [] {
    char tmpl[] = "/tmp/berth-fuzz-unpack-XXXXXX";
    if (!mkdtemp(tmpl)) abort();
    std::string d = tmpl;
    if (!mkdir_all(d + "/outside") || !write_file_atomic(d + "/outside/sentinel", "untouched", 0600)) abort();
    return d;
  }();
  return s;
}

int count_entries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) abort();
  int n = 0;
  while (auto* e = readdir(d)) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

void check_outside(const std::string& base) {
  auto s = read_file(base + "/outside/sentinel");
  struct stat st;
  if (!s || *s != "untouched" || stat((base + "/outside/sentinel").c_str(), &st) != 0 || (st.st_mode & 07777) != 0600 ||
      count_entries(base + "/outside") != 1 || count_entries(base) != 2) {
    fprintf(stderr, "fuzz_unpack: layer escaped the target directory\n");
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& base = scratch();
  const std::string root = base + "/root";
  (void)remove_all(root);
  if (!mkdir_all(root)) abort();
  UniqueFd fd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  for (auto mode : {image::unpack::WhiteoutMode::Overlay, image::unpack::WhiteoutMode::Apply}) {
    image::unpack::UnpackOptions o;
    o.whiteouts = mode;
    o.preserve_owner = false;
    o.skip_devices_when_unprivileged = true;
    o.max_uncompressed_bytes = 8 << 20;
    BufSource src(data, size);
    (void)image::unpack::apply_layer(src, fd.get(), o);
    check_outside(base);
  }
  return 0;
}
