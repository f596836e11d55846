#pragma once
// BlobStore over image/content's Store, so pulls land in (and pushes read from) the shared content store, and
// `berth registry serve` keeps its blobs there. The adapter owns nothing but a reference: the Store must
// outlive it. Ingest refs, errors and concurrency are the Store's (see image/content/store.h).

#include <memory>

#include "image/content/store.h"
#include "image/registry/blob_store.h"

namespace berth::image::registry {

std::unique_ptr<BlobStore> adapt_content_store(content::Store& store);

// Opens image/content's LocalStore at root and returns it behind the BlobStore interface (owning it).
Result<std::unique_ptr<BlobStore>> open_local_content_store(const std::string& root);

}  // namespace berth::image::registry
