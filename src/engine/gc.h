#pragma once
// Automatic disk GC: docker's most common complaint is a disk that fills up silently. When the filesystem
// holding the data root is fuller than the high-water mark, collect what nothing references, cheapest first,
// until usage is at or below the low-water mark (or nothing is left to collect):
//   1. content blobs no image or lease references, and committed snapshots no image needs (ImageStore::prune);
//   2. dangling images (no tag, only digest names), oldest first, each followed by step 1.
// Tagged images and anything a container uses are never collected automatically.
//
// The policy is separate from the stores (GcActions) and from the filesystem (UsageProbe), so it is tested
// with fakes; the real engine wires it to ImageStore and statvfs(2), runs it on a timer (DiskGcRunner) and
// kicks it after pulls and loads.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"

namespace berth::engine {

struct GcReport;

struct FsUsage {
  uint64_t total = 0;  // bytes: used + avail (df's capacity: root-reserved blocks excluded)
  uint64_t avail = 0;  // bytes available to unprivileged users
  double used_percent() const { return total == 0 ? 0 : 100.0 * static_cast<double>(total - avail) / static_cast<double>(total); }
};
using UsageProbe = std::function<Result<FsUsage>()>;
// statvfs(2) of path.
Result<FsUsage> statvfs_usage(const std::string& path);

struct GcPolicy {
  int high_watermark = 90;  // percent; 0 = never collect automatically
  int low_watermark = 80;   // percent
  // InvalidArgument unless 0 <= low < high <= 100 (or high == 0).
  Status validate() const;
};

class GcActions {
 public:
  virtual ~GcActions() = default;
  // Step 1; returns the bytes of content it removed (snapshots are measured by the probe).
  virtual Result<uint64_t> collect_unreferenced() = 0;
  // Dangling images, oldest first (IDs).
  virtual Result<std::vector<std::string>> dangling_images() = 0;
  // Removes one dangling image's names (its content goes with the next collect_unreferenced).
  virtual Status remove_image(const std::string& id) = 0;
};

// One pass. force = collect even below the high-water mark (still stops at the low one).
Result<GcReport> run_disk_gc(const GcPolicy& policy, const UsageProbe& probe, GcActions& actions, bool force);

// A background thread calling `pass` every interval and whenever kick() is called; stopped by the destructor.
class DiskGcRunner {
 public:
  DiskGcRunner(std::chrono::seconds interval, std::function<void()> pass);
  ~DiskGcRunner();
  DiskGcRunner(const DiskGcRunner&) = delete;
  DiskGcRunner& operator=(const DiskGcRunner&) = delete;
  void kick();
  uint64_t passes() const;

 private:
  void loop();
  std::chrono::seconds interval_;
  std::function<void()> pass_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, kicked_ = false;
  uint64_t passes_ = 0;
  std::thread thread_;
};

}  // namespace berth::engine
