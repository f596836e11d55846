// The stats answer's memory limit: a container without a limit reports the host's memory, as dockerd does.
#include "engine/stats.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace berth::engine {
namespace {

// cgroup v1's memory.limit_in_bytes of an unlimited cgroup on 4 KiB pages (the page counter's maximum).
constexpr uint64_t kV1Unlimited = 9223372036854771712ull;

TEST(Stats, MemoryLimitOfAnUnlimitedCgroupIsTheHostMemory) {
  constexpr uint64_t host = 16ull << 30;
  EXPECT_EQ(reported_memory_limit(kV1Unlimited, host), host);
  EXPECT_EQ(reported_memory_limit(UINT64_MAX, host), host);  // v2's "max"
  EXPECT_EQ(reported_memory_limit(host + 1, host), host);
}

TEST(Stats, MemoryLimitAtOrBelowTheHostMemoryIsKept) {
  constexpr uint64_t host = 16ull << 30;
  EXPECT_EQ(reported_memory_limit(32ull << 20, host), 32ull << 20);
  EXPECT_EQ(reported_memory_limit(host, host), host);
  EXPECT_EQ(reported_memory_limit(0, host), 0u) << "a stopped container's empty sample stays zero";
  EXPECT_EQ(reported_memory_limit(kV1Unlimited, 0), kV1Unlimited) << "host memory unknown: the cgroup's value";
}

TEST(Stats, HostMemTotalIsMeminfosMemTotal) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  uint64_t kib = 0;
  while (std::getline(in, line))
    if (line.rfind("MemTotal:", 0) == 0) std::istringstream(line.substr(9)) >> kib;
  ASSERT_GT(kib, 0u);
  EXPECT_EQ(host_mem_total(), kib * 1024);
}

TEST(Stats, JsonCarriesTheReportedLimit) {
  runtime::cgroup::Stats s;
  s.memory_usage = 4096;
  s.memory_limit = kV1Unlimited;
  auto j = stats_json(s, 1, 8ull << 30, "/web", "abc");
  EXPECT_EQ(j["memory_stats"]["limit"], 8ull << 30);
  EXPECT_EQ(j["memory_stats"]["usage"], 4096u);
  EXPECT_EQ(j["name"], "/web");
  s.memory_limit = 64ull << 20;
  EXPECT_EQ(stats_json(s, 1, 8ull << 30, "/web", "abc")["memory_stats"]["limit"], 64ull << 20);
}

}  // namespace
}  // namespace berth::engine
