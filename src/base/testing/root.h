#pragma once
// For *_root_test.cc: skip (not fail) when the test cannot use real kernel features.
#include <gtest/gtest.h>
#include <unistd.h>

#define BERTH_REQUIRE_ROOT()                                              \
  do {                                                                    \
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (real namespaces, mounts, cgroups)"; \
  } while (0)
