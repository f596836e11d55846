#!/usr/bin/env bash
# README command 1: set up and run the main job. Installs every dependency and builds (scripts/setup.sh), makes
# a busybox OCI bundle from Debian's busybox-static in a temp dir, runs a container in it with berth-runtime,
# and cleans up. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "quickstart: run as root (containers need namespaces, mounts and cgroups)" >&2
  exit 1
fi
scripts/setup.sh

BIN=${BERTH_RUNTIME:-build/cmd/berth-runtime/berth-runtime}
if [ ! -x "$BIN" ]; then
  echo "quickstart: $BIN was not built" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/berth-demo-XXXXXX)
id=berth-demo-$$
cleanup() {
  "$BIN" --root "$dir/state" delete --force "$id" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

PROBE=none tests/helpers/mkbundle.sh "$dir/bundle" \
  '.process.args=["/bin/sh","-c","echo hello from berth; uname -a; id; echo hostname: $(hostname); echo pid: $$"]' \
  '.hostname="berth-demo"'
echo "+ $BIN --root $dir/state run --bundle $dir/bundle $id"
"$BIN" --root "$dir/state" run --bundle "$dir/bundle" "$id"
