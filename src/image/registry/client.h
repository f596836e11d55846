#pragma once
// Distribution-spec 1.1 client: pull and push images between a registry and a local content store.
//
// Transport: https with certificate verification, except for loopback registries (localhost, 127/8, ::1) and
// registries listed in ClientOptions::insecure_registries, which try https first (without verification for
// insecure ones) and fall back to plain http. Docker Hub is not reachable from here: references that resolve
// to docker.io fail with FailedPrecondition saying so.
//
// Auth: the /v2/ ping's WWW-Authenticate decides. Bearer -> GET <realm>?service=&scope=repository:<name>:<actions>
// (with Basic credentials from ClientOptions::credentials when present), token cached per scope and refreshed
// on a 401; Basic -> credentials sent directly. No credentials and a 401 -> PermissionDenied.
//
// Pull: manifest by tag or digest (Accept: OCI index/manifest, Docker list/manifest v2; schema 1 refused with
// Unimplemented); an index picks PullOptions::platform; manifests are digest-checked; config and layers already
// in the store are skipped; the rest download in parallel (ClientOptions::max_concurrent_downloads), each
// streamed into a store ingest ref "pull-<digest>" (hashing as it goes) and committed with size+digest checks.
// An interrupted download resumes from the ingest's offset with a Range request (retried up to 3 times).
//
// Push: every blob is HEADed first; missing ones are cross-repository mounted when PushOptions::mount_from
// names a source repository holding them, otherwise uploaded (POST then PUT ?digest=, or POST + PATCH chunks of
// PushOptions::chunk_size + PUT). Manifests go last (children of an index before the index).
//
// Progress: ProgressFn receives per-blob events (id = first 12 hex digits of the digest); calls are serialised
// (never concurrent) but may come from worker threads.
// Thread-safety: a RegistryClient may be shared; pulls and pushes may run concurrently.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "image/registry/auth.h"
#include "image/content/store.h"
#include "image/registry/reference.h"
#include "oci/image_spec.h"

namespace berth::image::registry {

using oci::Digest;

enum class ProgressState { Waiting, Downloading, Verifying, DownloadComplete, AlreadyExists, Pushing, Pushed, Mounted };
// Docker's wording: "Waiting", "Downloading", "Verifying Checksum", "Download complete", "Already exists",
// "Pushing", "Pushed", "Mounted".
std::string_view progress_state_name(ProgressState s);

struct ProgressEvent {
  std::string id;  // first 12 hex digits of digest
  ProgressState state = ProgressState::Waiting;
  int64_t current = 0;
  int64_t total = 0;
  Digest digest;       // the blob (a layer or the config)
  std::string detail;  // Mounted: the repository the blob was mounted from
  bool config = false;  // the blob is the image's config (not a layer)
};
using ProgressFn = std::function<void(const ProgressEvent&)>;
// A layer's bytes as they arrive, before they are verified: (blob, offset in the blob, bytes). A download that
// restarts or resumes shows as an offset other than the one expected next.
using DataFn = std::function<void(const Digest&, int64_t, std::string_view)>;

struct ClientOptions {
  std::map<std::string, Credentials> credentials;  // keyed by normalize_registry_key()
  std::vector<std::string> insecure_registries;    // host[:port]
  int max_concurrent_downloads = 3;
  int max_concurrent_uploads = 3;
  std::string ca_file;
  // Connect (TCP + TLS handshake) and I/O stall timeouts, milliseconds (0 = none). A stalled blob transfer
  // fails Unavailable and is resumed like a dropped connection.
  int connect_timeout_ms = 30000;
  int io_timeout_ms = 60000;
  int upload_attempts = 3;  // chunked uploads resume from the registry's offset after a failed PATCH
};

struct PullOptions {
  oci::Platform platform{.architecture = "amd64", .os = "linux"};
  ProgressFn progress;
  // When set, the config blob is fetched (or found) before any layer, then on_config(manifest) runs; an error
  // aborts the pull. Layer events that follow (DownloadComplete / AlreadyExists) may start work per layer.
  std::function<Status(const oci::Manifest&)> on_config;
  DataFn on_data;  // layers only; called from the download threads
};

struct PullResult {
  Digest resolved_digest;           // what the tag named (an index or a manifest)
  std::string resolved_media_type;
  Digest manifest_digest;           // the image manifest (== resolved_digest unless an index)
  std::string manifest_media_type;
  oci::Manifest manifest;
  int blobs_downloaded = 0;
  int blobs_present = 0;
  int64_t bytes_downloaded = 0;
};

struct PushOptions {
  int64_t chunk_size = 0;               // 0: monolithic PUT
  std::vector<std::string> mount_from;  // repositories on the same registry to mount blobs from
  ProgressFn progress;
};

struct PushResult {
  Digest digest;
  int blobs_uploaded = 0;
  int blobs_existing = 0;
  int blobs_mounted = 0;
};

class RegistryClient {
 public:
  explicit RegistryClient(ClientOptions opts);
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  // GET /v2/ (establishes scheme and auth method).
  Status ping(const std::string& registry);
  // Checks ClientOptions::credentials for registry the way `docker login` does: GET /v2/ with Basic
  // credentials, or a scope-less token request for Bearer. PermissionDenied when they are refused.
  Status login(const std::string& registry);
  Result<PullResult> pull(const Reference& ref, content::Store& store, const PullOptions& opts = {});
  // Pushes the manifest (or index) `manifest` from the store to ref (tag or, if ref has none, by digest).
  Result<PushResult> push(const Reference& ref, content::Store& store, const Digest& manifest,
                          const PushOptions& opts = {});

  struct FetchedManifest {
    std::string body;
    std::string media_type;
    Digest digest;
  };
  // GET a manifest by ref.reference(); verifies the digest; refuses schema 1.
  Result<FetchedManifest> get_manifest(const Reference& ref);
  Result<std::vector<std::string>> list_tags(const Reference& ref);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::image::registry
