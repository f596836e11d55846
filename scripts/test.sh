#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds (warnings as errors), runs every ctest label
# (unit always; root and integration when running as root), then a short fuzz run of each fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/check-layering.sh
BERTH_CMAKE_ARGS="-DBERTH_WERROR=ON ${BERTH_CMAKE_ARGS:-}" scripts/setup.sh
# Short fuzz runs first, so the ctest summary closes the output.
if [ -x scripts/fuzz.sh ]; then
  scripts/fuzz.sh "${BERTH_FUZZ_SECONDS:-20}"
fi
if [ "$(id -u)" = 0 ]; then
  ctest --test-dir build --output-on-failure --timeout 900 -j1
else
  echo "test: not root; running only the unit label (root and integration tests need root)"
  ctest --test-dir build --output-on-failure -L unit
fi
