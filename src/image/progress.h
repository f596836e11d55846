#pragma once
// Pull and push progress as events, shaped like docker's JSON progress stream so the engine relays them as
// they are and the CLI draws them.
//
// One event = one docker JSON message:
//   per-layer line   {"status":"Downloading","progressDetail":{"current":N,"total":M},"progress":"[==>  ] ..","id":"0123456789ab"}
//                    {"status":"Pull complete","progressDetail":{},"id":"0123456789ab"}
//   image line       {"status":"Pulling from library/busybox","id":"latest"}
//                    {"status":"Digest: sha256:..."}   {"status":"Status: Downloaded newer image for busybox:latest"}
//   push result      {"status":"latest: digest: sha256:... size: 527"} then
//                    {"progressDetail":{},"aux":{"Tag":"latest","Digest":"sha256:...","Size":527}}
// Layer ids are the first 12 hex digits of the layer's blob digest (pull) or of its diff_id (push), as docker
// prints them. The order per layer on pull is
//   Pulling fs layer -> Waiting -> Downloading* -> Verifying Checksum -> Download complete -> Extracting* ->
//   Pull complete                 (or "Already exists" alone when the layer is present)
// and on push
//   Preparing -> Waiting -> Pushing* -> Pushed   (or "Layer already exists", or "Mounted from <repository>")

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace berth::image {

enum class ProgressState {
  Message,           // image-level line: status text only (id may name the tag)
  PullingFsLayer,
  Waiting,
  Downloading,       // current/total: compressed bytes received
  Verifying,
  DownloadComplete,
  Extracting,        // current/total: compressed bytes applied
  PullComplete,
  AlreadyExists,
  Preparing,
  Pushing,           // current/total: bytes sent
  Pushed,
  LayerAlreadyExists,
  MountedFrom,
  PushResult,        // the manifest is in: status "<tag>: digest: <d> size: <n>" plus aux
};

struct PushAux {
  std::string tag;
  std::string digest;
  int64_t size = 0;
};

struct ProgressEvent {
  ProgressState state = ProgressState::Message;
  std::string id;      // layer id (12 hex digits), or the tag on "Pulling from", or empty
  std::string status;  // docker's exact status text ("Downloading", "Mounted from team/app", "Digest: sha256:...")
  bool has_progress = false;  // progressDetail carries current/total (and a progress bar)
  int64_t current = 0;
  int64_t total = 0;
  std::optional<PushAux> aux;  // PushResult only
  bool layer_line() const { return !id.empty() && state != ProgressState::Message; }
};

using ProgressSink = std::function<void(const ProgressEvent&)>;

// docker's status text for a per-layer state ("Verifying Checksum", "Layer already exists", ...).
std::string_view progress_status(ProgressState s);
// docker's size text: 4 significant digits, decimal units ("512B", "1.234MB").
std::string human_size_docker(int64_t bytes);
// docker's bar: "[=====>        ]  1.234MB/5.678MB" (50 columns); "" without progress.
std::string progress_bar(int64_t current, int64_t total);
// The docker JSON message(s) for one event, newline-terminated (PushResult gives two lines).
std::string progress_json(const ProgressEvent& ev);

}  // namespace berth::image
