#include "image/registry/oci_layout.h"

#include <sys/stat.h>

#include "base/file.h"

namespace berth::image::registry {

namespace {
constexpr std::string_view kRefName = "org.opencontainers.image.ref.name";
}

Result<oci::Descriptor> layout_find(const std::string& dir, const std::string& ref) {
  auto text = BERTH_TRY(read_file(dir + "/index.json", 16 << 20));
  auto idx = BERTH_TRY_CTX(oci::parse_index(text), "{}/index.json", dir);
  if (ref.empty() && idx.manifests.size() == 1) return idx.manifests[0];
  for (const auto& m : idx.manifests) {
    auto it = m.annotations.find(std::string(kRefName));
    if (it != m.annotations.end() && it->second == ref) return m;
  }
  return fail(Errc::NotFound, "OCI layout {}: no manifest named `{}`", dir, ref);
}

Status layout_tag(const std::string& dir, const std::string& ref, const oci::Descriptor& desc) {
  oci::Index idx;
  idx.media_type = std::string(oci::media::kOciIndex);
  struct stat st;
  if (::stat((dir + "/index.json").c_str(), &st) == 0) {
    auto text = BERTH_TRY(read_file(dir + "/index.json", 16 << 20));
    idx = BERTH_TRY_CTX(oci::parse_index(text), "{}/index.json", dir);
  }
  std::erase_if(idx.manifests, [&](const oci::Descriptor& m) {
    auto it = m.annotations.find(std::string(kRefName));
    return it != m.annotations.end() && it->second == ref;
  });
  oci::Descriptor d = desc;
  d.annotations[std::string(kRefName)] = ref;
  idx.manifests.push_back(d);
  BERTH_TRY(write_file_atomic(dir + "/oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"));
  return write_file_atomic(dir + "/index.json", oci::to_json(idx));
}

}  // namespace berth::image::registry
