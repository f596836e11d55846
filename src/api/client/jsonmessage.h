#pragma once
// Renders the daemon's JSON-message streams (pull, push, load, build): one object per line with status, id,
// progress, progressDetail{current,total}, stream, aux, error, errorDetail{code,message}. On a terminal each
// layer id keeps its own line, redrawn in place with a progress bar (as docker does); otherwise one line per
// status change.

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::api::client {

class ProgressPrinter {
 public:
  ProgressPrinter(FILE* out, bool tty, int width = 80) : out_(out), tty_(tty), width_(width) {}
  // Feeds raw body bytes (messages may be split anywhere). A message with "error" fails with its text; its
  // errorDetail.code, if any, is in error_code().
  Status feed(std::string_view data);
  Status finish();
  int error_code() const { return error_code_; }
  // aux objects seen (push digests, build image IDs).
  const std::vector<nlohmann::json>& aux() const { return aux_; }

  // Docker's bar: "[=====>     ]  1.2MB/4.5MB".
  static std::string progress_bar(int64_t current, int64_t total, int width);

 private:
  Status message(const nlohmann::json& m);
  std::string line_for(const nlohmann::json& m) const;

  FILE* out_;
  bool tty_;
  int width_;
  std::string partial_;
  std::map<std::string, int> line_of_;  // id -> line index (tty)
  int lines_ = 0;
  int error_code_ = 0;
  std::vector<nlohmann::json> aux_;
};

// docker's HumanSizeWithPrecision: decimal units, `precision` significant digits ("1.982MB"; images use 3).
std::string human_size(double bytes, int precision = 4);

}  // namespace berth::api::client
