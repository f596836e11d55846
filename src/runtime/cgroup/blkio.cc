// blkio (v1) and io (v2). v1: blkio.weight (or blkio.bfq.weight when only BFQ is there), *_weight_device,
// blkio.throttle.*_device "maj:min value". v2: io.bfq.weight or io.weight (converted from the v1 range),
// io.max "maj:min rbps=N wbps=N riops=N wiops=N".
#include <fmt/format.h>

#include "runtime/cgroup/cgroup_fs.h"
#include "runtime/cgroup/controllers.h"

namespace berth::runtime::cgroup::detail {

bool blkio_needed(const oci::BlockIoResources& b) {
  return (b.weight && *b.weight) || (b.leaf_weight && *b.leaf_weight) || !b.weight_device.empty() ||
         !b.throttle_read_bps_device.empty() || !b.throttle_write_bps_device.empty() ||
         !b.throttle_read_iops_device.empty() || !b.throttle_write_iops_device.empty();
}

namespace {

Status write_weight_v1(const std::string& dir, std::string_view cfq, std::string_view bfq, std::string_view value) {
  if (fs::exists(dir, cfq)) return fs::write(dir, cfq, value);
  if (fs::exists(dir, bfq)) return fs::write(dir, bfq, value);
  return fail(Errc::InvalidArgument, "linux.resources.blockIO: weights need an I/O scheduler with weights ({} / {} missing in {})",
              cfq, bfq, dir);
}

Status write_throttles_v1(const std::string& dir, std::string_view file, const std::vector<oci::ThrottleDevice>& devs) {
  for (const auto& d : devs) BERTH_TRY(fs::write(dir, file, fmt::format("{}:{} {}", d.major, d.minor, d.rate)));
  return ok();
}

// v1 weight [10, 1000] -> v2 io.weight [1, 10000].
uint64_t blkio_weight_to_io(uint64_t w) {
  if (w == 0) return 0;
  if (w < 10) w = 10;
  if (w > 1000) w = 1000;
  return 1 + (w - 10) * 9999 / 990;
}

}  // namespace

Status apply_blkio_v1(const std::string& dir, const oci::BlockIoResources& b) {
  if (b.weight && *b.weight) BERTH_TRY(write_weight_v1(dir, "blkio.weight", "blkio.bfq.weight", fmt::format("{}", *b.weight)));
  if (b.leaf_weight && *b.leaf_weight) BERTH_TRY(fs::write(dir, "blkio.leaf_weight", fmt::format("{}", *b.leaf_weight)));
  for (const auto& d : b.weight_device) {
    if (d.weight)
      BERTH_TRY(write_weight_v1(dir, "blkio.weight_device", "blkio.bfq.weight_device",
                                fmt::format("{}:{} {}", d.major, d.minor, *d.weight)));
    if (d.leaf_weight)
      BERTH_TRY(fs::write(dir, "blkio.leaf_weight_device", fmt::format("{}:{} {}", d.major, d.minor, *d.leaf_weight)));
  }
  BERTH_TRY(write_throttles_v1(dir, "blkio.throttle.read_bps_device", b.throttle_read_bps_device));
  BERTH_TRY(write_throttles_v1(dir, "blkio.throttle.write_bps_device", b.throttle_write_bps_device));
  BERTH_TRY(write_throttles_v1(dir, "blkio.throttle.read_iops_device", b.throttle_read_iops_device));
  BERTH_TRY(write_throttles_v1(dir, "blkio.throttle.write_iops_device", b.throttle_write_iops_device));
  return ok();
}

Status apply_io_v2(const std::string& dir, const oci::BlockIoResources& b) {
  bool bfq = fs::exists(dir, "io.bfq.weight");
  if (b.weight && *b.weight) {
    if (bfq) {
      BERTH_TRY(fs::write(dir, "io.bfq.weight", fmt::format("{}", *b.weight)));
    } else {
      BERTH_TRY(fs::write(dir, "io.weight", fmt::format("default {}", blkio_weight_to_io(*b.weight))));
    }
  }
  for (const auto& d : b.weight_device) {
    if (!d.weight) continue;
    if (bfq) {
      BERTH_TRY(fs::write(dir, "io.bfq.weight", fmt::format("{}:{} {}", d.major, d.minor, *d.weight)));
    } else {
      BERTH_TRY(fs::write(dir, "io.weight", fmt::format("{}:{} {}", d.major, d.minor, blkio_weight_to_io(*d.weight))));
    }
  }
  auto throttle = [&](const std::vector<oci::ThrottleDevice>& devs, std::string_view key) -> Status {
    for (const auto& d : devs) {
      std::string v = d.rate ? fmt::format("{}", d.rate) : std::string("max");
      BERTH_TRY(fs::write(dir, "io.max", fmt::format("{}:{} {}={}", d.major, d.minor, key, v)));
    }
    return ok();
  };
  BERTH_TRY(throttle(b.throttle_read_bps_device, "rbps"));
  BERTH_TRY(throttle(b.throttle_write_bps_device, "wbps"));
  BERTH_TRY(throttle(b.throttle_read_iops_device, "riops"));
  BERTH_TRY(throttle(b.throttle_write_iops_device, "wiops"));
  return ok();
}

namespace {

// "8:0 Read 4096" lines; the trailing "Total N" line has no device and is skipped.
std::vector<Stats::BlkioEntry> parse_blkio_v1(std::string_view text) {
  std::vector<Stats::BlkioEntry> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = fs::trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t s1 = line.find(' ');
    if (s1 == std::string_view::npos) continue;
    size_t s2 = line.find(' ', s1 + 1);
    if (s2 == std::string_view::npos) continue;
    std::string_view dev = line.substr(0, s1);
    size_t colon = dev.find(':');
    if (colon == std::string_view::npos) continue;
    auto maj = fs::parse_numbers(dev.substr(0, colon));
    auto min = fs::parse_numbers(dev.substr(colon + 1));
    auto val = fs::parse_numbers(line.substr(s2 + 1));
    if (maj.size() != 1 || min.size() != 1 || val.size() != 1) continue;
    out.push_back({maj[0], min[0], std::string(line.substr(s1 + 1, s2 - s1 - 1)), val[0]});
  }
  return out;
}

std::vector<Stats::BlkioEntry> read_blkio_v1(const std::string& dir, std::string_view cfq, std::string_view throttle) {
  // The CFQ/BFQ-level file is empty without those schedulers; the throttle layer always counts.
  if (auto t = fs::read(dir, cfq)) {
    auto v = parse_blkio_v1(*t);
    if (!v.empty()) return v;
  }
  if (auto t = fs::read(dir, throttle)) return parse_blkio_v1(*t);
  return {};
}

}  // namespace

void blkio_stats_v1(const std::string& dir, Stats& s) {
  s.blkio_bytes = read_blkio_v1(dir, "blkio.io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive");
  s.blkio_ios = read_blkio_v1(dir, "blkio.io_serviced_recursive", "blkio.throttle.io_serviced_recursive");
}

void io_stats_v2(const std::string& dir, Stats& s) {
  auto text = fs::read(dir, "io.stat");
  if (!text) return;
  std::string_view t = *text;
  while (!t.empty()) {
    size_t nl = t.find('\n');
    std::string_view line = fs::trim(t.substr(0, nl));
    t = nl == std::string_view::npos ? std::string_view() : t.substr(nl + 1);
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    std::string_view dev = line.substr(0, sp);
    size_t colon = dev.find(':');
    if (colon == std::string_view::npos) continue;
    auto maj = fs::parse_numbers(dev.substr(0, colon));
    auto min = fs::parse_numbers(dev.substr(colon + 1));
    if (maj.size() != 1 || min.size() != 1) continue;
    std::string_view rest = line.substr(sp + 1);
    while (!rest.empty()) {
      size_t e = rest.find(' ');
      std::string_view kv = rest.substr(0, e);
      rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 1);
      size_t eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      auto v = fs::parse_numbers(kv.substr(eq + 1));
      if (v.size() != 1) continue;
      std::string_view k = kv.substr(0, eq);
      if (k == "rbytes") s.blkio_bytes.push_back({maj[0], min[0], "Read", v[0]});
      else if (k == "wbytes") s.blkio_bytes.push_back({maj[0], min[0], "Write", v[0]});
      else if (k == "dbytes") s.blkio_bytes.push_back({maj[0], min[0], "Discard", v[0]});
      else if (k == "rios") s.blkio_ios.push_back({maj[0], min[0], "Read", v[0]});
      else if (k == "wios") s.blkio_ios.push_back({maj[0], min[0], "Write", v[0]});
      else if (k == "dios") s.blkio_ios.push_back({maj[0], min[0], "Discard", v[0]});
    }
  }
}

}  // namespace berth::runtime::cgroup::detail
