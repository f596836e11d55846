#!/usr/bin/env bash
# Builds every libFuzzer target under tests/fuzz (preset `fuzz`: clang, -fsanitize=fuzzer,address,undefined,
# into build-fuzz/) and runs each for SECONDS (default 60). Fails if any target crashes, leaks, times out or
# trips a sanitizer; the reproducer is left in build-fuzz/artifacts/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# New inputs the fuzzer finds go to build-fuzz/corpus/<target>/ (kept between runs); the checked-in seeds
# in tests/fuzz/corpus/ are only read.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
only=("$@")

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not installed (scripts/setup.sh installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi

build=build-fuzz
# BERTH_TESTS stays ON at configure time because some CMakeLists add properties to test targets
# unconditionally; only the fuzz targets are built.
cmake --preset fuzz -DBERTH_WERROR=ON -DBERTH_TESTS=ON >/dev/null
cmake --build "$build" -j2 --target fuzz-all

mkdir -p "$build/artifacts"
failed=()
while IFS=$'\t' read -r name bin seeds dict; do
  [ -z "$name" ] && continue
  if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $name "* ]]; then continue; fi
  corpus="$build/corpus/$name"
  mkdir -p "$corpus"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
        -artifact_prefix="$build/artifacts/$name-")
  [ -n "$dict" ] && args+=(-dict="$dict")
  echo "fuzz: $name for ${seconds}s"
  if ! "$bin" "${args[@]}" "$corpus" ${seeds:+"$seeds"} >"$build/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; last lines of $build/$name.log:" >&2
    tail -n 40 "$build/$name.log" >&2
    failed+=("$name")
  else
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+.*DONE)' "$build/$name.log" | tr '\n' ' ' || true
    echo
  fi
done <"$build/fuzz-targets.txt"

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a crash"
