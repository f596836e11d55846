#include "engine/gc.h"

#include <sys/statvfs.h>

#include "base/log.h"
#include "engine/engine.h"

namespace berth::engine {

Result<FsUsage> statvfs_usage(const std::string& path) {
  struct statvfs s {};
  if (::statvfs(path.c_str(), &s) != 0) return fail_errno("statvfs `{}`", path);
  // As df(1) counts: used = blocks - free; capacity = used + available to unprivileged users (the reserved
  // blocks are neither), so the percentages match what the user sees in `df`.
  FsUsage u;
  uint64_t used = (static_cast<uint64_t>(s.f_blocks) - s.f_bfree) * s.f_frsize;
  u.avail = static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
  u.total = used + u.avail;
  return u;
}

Status GcPolicy::validate() const {
  if (high_watermark == 0) return ok();
  if (high_watermark < 0 || high_watermark > 100 || low_watermark < 0 || low_watermark >= high_watermark)
    return fail(Errc::InvalidArgument, "disk GC: need 0 <= low-watermark < high-watermark <= 100 (got {} and {})",
                low_watermark, high_watermark);
  return ok();
}

Result<GcReport> run_disk_gc(const GcPolicy& policy, const UsageProbe& probe, GcActions& actions, bool force) {
  GcReport rep;
  auto before = BERTH_TRY(probe());
  rep.used_percent_before = rep.used_percent_after = before.used_percent();
  bool above = policy.high_watermark > 0 && before.used_percent() > policy.high_watermark;
  if (!above && !force) return rep;
  rep.ran = true;
  auto low = static_cast<double>(policy.low_watermark);
  uint64_t content_freed = BERTH_TRY(actions.collect_unreferenced());
  auto now = BERTH_TRY(probe());
  if (now.used_percent() > low) {
    for (auto& id : BERTH_TRY(actions.dangling_images())) {
      BERTH_TRY(actions.remove_image(id));
      rep.images_removed.push_back(id);
      content_freed += BERTH_TRY(actions.collect_unreferenced());
      now = BERTH_TRY(probe());
      if (now.used_percent() <= low) break;
    }
  }
  rep.used_percent_after = now.used_percent();
  uint64_t measured = now.avail > before.avail ? now.avail - before.avail : 0;
  rep.bytes_freed = std::max(measured, content_freed);
  if (now.used_percent() > low)
    log::warn("disk gc: data root still {:.1f}% full after collecting {} bytes (low-water mark {}%): what is left is "
              "in use (tagged images, containers, volumes, logs)",
              now.used_percent(), rep.bytes_freed, policy.low_watermark);
  return rep;
}

DiskGcRunner::DiskGcRunner(std::chrono::seconds interval, std::function<void()> pass)
    : interval_(interval), pass_(std::move(pass)), thread_([this] { loop(); }) {}

DiskGcRunner::~DiskGcRunner() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DiskGcRunner::kick() {
  {
    std::lock_guard lk(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
}

uint64_t DiskGcRunner::passes() const {
  std::lock_guard lk(mu_);
  return passes_;
}

void DiskGcRunner::loop() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait_for(lk, interval_, [&] { return stop_ || kicked_; });
    if (stop_) return;
    kicked_ = false;
    lk.unlock();
    pass_();
    lk.lock();
    passes_++;
  }
}

}  // namespace berth::engine
