#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the benchmarks need, then builds Release into build/.
# Idempotent; run as root on Debian 12.   Usage: scripts/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev git ca-certificates
  # libraries
  libexpected-dev nlohmann-json3-dev libfmt-dev libspdlog-dev libcli11-dev libseccomp-dev libcap-dev
  libarchive-dev libsqlite3-dev libboost-dev libssl-dev libyaml-cpp-dev libzstd-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # test fixtures, peers and tools
  busybox-static runc crun docker.io skopeo umoci docker-registry
  hyperfine time python3 jq iproute2 procps util-linux kmod e2fsprogs curl tar gzip zstd
)

need=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages (${need[*]}); run as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # docker.io's maintainer scripts try to start the service; there is no init system on a minimal machine.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

[ "${1:-}" = "--no-build" ] && exit 0

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${BERTH_CMAKE_ARGS:-}
cmake --build build -j"$(nproc)"
