#pragma once
// Minimal OCI image layout access for the registry tools (`berth registry copy`): an OCI layout directory's
// blobs/sha256/<hex> tree is exactly image/content LocalStore's, so a layout opens as a content store
// (image::content::LocalStore::open); index.json maps
// "org.opencontainers.image.ref.name" annotations to manifest descriptors.
//   https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md

#include <string>

#include "base/error.h"
#include "oci/image_spec.h"

namespace berth::image::registry {

// The descriptor tagged `ref` in <dir>/index.json (the only manifest when ref is empty and there is one).
Result<oci::Descriptor> layout_find(const std::string& dir, const std::string& ref);
// Adds or replaces the entry tagged `ref` in <dir>/index.json and writes <dir>/oci-layout; durable.
Status layout_tag(const std::string& dir, const std::string& ref, const oci::Descriptor& desc);

}  // namespace berth::image::registry
