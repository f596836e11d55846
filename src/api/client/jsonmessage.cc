#include "api/client/jsonmessage.h"

namespace berth::api::client {

std::string human_size(double b, int precision) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (b >= 1000 && u < 5) {
    b /= 1000;
    u++;
  }
  return fmt::format("{:.{}g}{}", b, precision, units[u]);
}

std::string ProgressPrinter::progress_bar(int64_t current, int64_t total, int width) {
  std::string numbers;
  if (total > 0) {
    numbers = fmt::format("{}/{}", human_size(static_cast<double>(current)), human_size(static_cast<double>(total)));
  } else {
    numbers = human_size(static_cast<double>(current));
  }
  if (total <= 0 || current > total) return numbers;
  int bar = 50;
  if (width > 0 && width < 110) bar = std::max(10, width - 60);
  int filled = static_cast<int>(static_cast<double>(current) * bar / static_cast<double>(total));
  std::string s = "[";
  for (int i = 0; i < bar; ++i) s += i < filled ? '=' : i == filled ? '>' : ' ';
  return s + "]  " + numbers;
}

std::string ProgressPrinter::line_for(const nlohmann::json& m) const {
  std::string s;
  if (m.contains("id") && m["id"].is_string()) s += m["id"].get<std::string>() + ": ";
  s += m.value("status", std::string());
  std::string progress;
  if (m.contains("progressDetail") && m["progressDetail"].is_object() && m["progressDetail"].contains("current")) {
    auto& d = m["progressDetail"];
    progress = progress_bar(d.value("current", int64_t{0}), d.value("total", int64_t{0}), width_);
  } else if (m.contains("progress") && m["progress"].is_string()) {
    progress = m["progress"].get<std::string>();
  }
  if (!progress.empty() && tty_) s += " " + progress;
  return s;
}

Status ProgressPrinter::message(const nlohmann::json& m) {
  if (!m.is_object()) return ok();
  if (m.contains("errorDetail") && m["errorDetail"].is_object()) error_code_ = m["errorDetail"].value("code", 0);
  if (m.contains("error")) {
    std::string e = m["error"].is_string() ? m["error"].get<std::string>() : m["error"].dump();
    return fail(Errc::Internal, "{}", e);
  }
  if (m.contains("aux")) aux_.push_back(m["aux"]);
  if (!out_) return ok();
  if (m.contains("stream") && m["stream"].is_string()) {
    std::fputs(m["stream"].get<std::string>().c_str(), out_);
    std::fflush(out_);
    return ok();
  }
  if (!m.contains("status")) return ok();
  bool has_id = m.contains("id") && m["id"].is_string();
  bool has_progress = m.contains("progressDetail") && m["progressDetail"].is_object() && m["progressDetail"].contains("current");
  if (!tty_) {
    if (has_progress) return ok();  // docker prints only the status changes when not on a terminal
    std::fprintf(out_, "%s\n", line_for(m).c_str());
    std::fflush(out_);
    return ok();
  }
  std::string line = line_for(m);
  if (!has_id) {
    std::fprintf(out_, "%s\n", line.c_str());
    lines_++;
    line_of_.clear();  // ids after a plain line start a new block
    lines_ = 0;
    std::fflush(out_);
    return ok();
  }
  std::string id = m["id"].get<std::string>();
  auto it = line_of_.find(id);
  if (it == line_of_.end()) {
    line_of_[id] = lines_++;
    std::fprintf(out_, "%s\x1b[K\n", line.c_str());
  } else {
    int up = lines_ - it->second;
    std::fprintf(out_, "\x1b[%dA\r%s\x1b[K\x1b[%dB\r", up, line.c_str(), up);
  }
  std::fflush(out_);
  return ok();
}

Status ProgressPrinter::feed(std::string_view data) {
  partial_.append(data);
  size_t start = 0;
  for (;;) {
    auto nl = partial_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(partial_.data() + start, nl - start);
    start = nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) return fail(Errc::Internal, "daemon sent a progress line that is not JSON: {}", line);
    auto st = message(j);
    if (!st) {
      partial_.erase(0, start);
      return st;
    }
  }
  partial_.erase(0, start);
  return ok();
}

Status ProgressPrinter::finish() {
  std::string rest;
  rest.swap(partial_);
  if (rest.find_first_not_of(" \r\n\t") == std::string::npos) return ok();
  return feed(rest + "\n");
}

}  // namespace berth::api::client
