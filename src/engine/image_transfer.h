#pragma once
// Helpers for the engine's image-transfer operations (pull, push, import, save, load): docker's JSON
// messages from the image service's progress events, registry credentials from the API's auth objects, and
// spooling a request body to a temp file under the data root (archives are never held in memory).

#include <string>
#include <vector>

#include "base/error.h"
#include "engine/engine.h"
#include "image/image_store.h"
#include "image/progress.h"

namespace berth::engine {

// One progress event as docker's message(s): a push result is a status line plus an aux line.
std::vector<JsonMessage> to_json_messages(const image::ProgressEvent& ev);

// fromImage + tag -> one reference: "127.0.0.1:5000/bb" + "v1" -> "127.0.0.1:5000/bb:v1"; a tag that is a
// digest ("sha256:...") is joined with '@'; fromImage that already has a tag or digest wins over tag "".
// InvalidArgument when both carry one that differ.
Result<std::string> pull_reference(const std::string& from_image, const std::string& tag);

// Registry access for an operation on `ref`: explicit credentials (X-Registry-Auth) for its registry first,
// then the daemon user's docker config; `insecure` registries may use plain http.
image::RegistryAccess registry_access(const RegistryAuth& auth, const std::string& ref,
                                      const std::vector<std::string>& insecure);

// Reads body into a new file in dir (created 0700) and returns its path; the caller unlinks it.
Result<std::string> spool_to_file(const BodyReader& body, const std::string& dir, const std::string& prefix);

}  // namespace berth::engine
