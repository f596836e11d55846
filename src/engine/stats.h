#pragma once
// Pieces of the stats route's answer that do not need a container (stats.cc); unit-tested.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/cgroup/manager.h"

namespace berth::engine {

// memory_stats.limit as dockerd reports it: the cgroup's limit, or the host's memory when the cgroup allows
// more than the host has (no limit: cgroup v1's 8 EiB page-counter maximum, v2's "max"). 0 (unknown) from
// either side leaves the cgroup's value.
uint64_t reported_memory_limit(uint64_t cgroup_limit, uint64_t host_mem_total);

// The host's memory in bytes (MemTotal, as `info` reports it).
uint64_t host_mem_total();

// One sample in docker's stats JSON (precpu empty; the caller pairs samples).
nlohmann::json stats_json(const runtime::cgroup::Stats& s, uint64_t sys_ns, uint64_t host_mem, const std::string& name,
                          const std::string& id);

}  // namespace berth::engine
