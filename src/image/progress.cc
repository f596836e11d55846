#include "image/progress.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace berth::image {

std::string_view progress_status(ProgressState s) {
  switch (s) {
    case ProgressState::Message: return "";
    case ProgressState::PullingFsLayer: return "Pulling fs layer";
    case ProgressState::Waiting: return "Waiting";
    case ProgressState::Downloading: return "Downloading";
    case ProgressState::Verifying: return "Verifying Checksum";
    case ProgressState::DownloadComplete: return "Download complete";
    case ProgressState::Extracting: return "Extracting";
    case ProgressState::PullComplete: return "Pull complete";
    case ProgressState::AlreadyExists: return "Already exists";
    case ProgressState::Preparing: return "Preparing";
    case ProgressState::Pushing: return "Pushing";
    case ProgressState::Pushed: return "Pushed";
    case ProgressState::LayerAlreadyExists: return "Layer already exists";
    case ProgressState::MountedFrom: return "Mounted from";
    case ProgressState::PushResult: return "";
  }
  return "";
}

std::string human_size_docker(int64_t bytes) {
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double v = static_cast<double>(bytes);
  size_t i = 0;
  while (v >= 1000 && i + 1 < std::size(kUnits)) {
    v /= 1000;
    ++i;
  }
  return fmt::format("{:.4g}{}", v, kUnits[i]);
}

std::string progress_bar(int64_t current, int64_t total) {
  if (current <= 0 && total <= 0) return "";
  if (total <= 0) return fmt::format("{:>8}", human_size_docker(current));
  int64_t filled = std::min<int64_t>(50, static_cast<int64_t>(static_cast<double>(current) / static_cast<double>(total) * 100) / 2);
  if (filled < 0) filled = 0;
  std::string eq(static_cast<size_t>(filled), '='), sp(static_cast<size_t>(50 - filled), ' ');
  if (current > total) return fmt::format("[{}>{}] {:>8}", eq, sp, human_size_docker(current));
  return fmt::format("[{}>{}] {:>8}/{}", eq, sp, human_size_docker(current), human_size_docker(total));
}

std::string progress_json(const ProgressEvent& ev) {
  nlohmann::ordered_json j;
  j["status"] = ev.status;
  if (ev.layer_line()) {
    j["progressDetail"] = nlohmann::json::object();
    if (ev.has_progress) {
      j["progressDetail"]["current"] = ev.current;
      j["progressDetail"]["total"] = ev.total;
      j["progress"] = progress_bar(ev.current, ev.total);
    }
  }
  if (!ev.id.empty()) j["id"] = ev.id;
  std::string out = j.dump() + "\n";
  if (ev.aux) {
    nlohmann::ordered_json a;
    a["progressDetail"] = nlohmann::json::object();
    a["aux"] = {{"Tag", ev.aux->tag}, {"Digest", ev.aux->digest}, {"Size", ev.aux->size}};
    out += a.dump() + "\n";
  }
  return out;
}

}  // namespace berth::image
