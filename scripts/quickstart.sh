#!/usr/bin/env bash
# README command 1: set up and run the main job on the embedded defaults. Installs every dependency and
# builds (scripts/setup.sh), starts `berth daemon` (data root /var/lib/berth, socket /run/berth/berth.sock)
# unless one already answers there, makes the busybox base image locally from Debian's busybox-static and
# loads it through the daemon's API, then runs containers through the daemon with the berth CLI (and with the
# docker CLI when one is installed). The daemon keeps running afterwards (stop it with
# `kill $(cat /run/berth/berth.pid)`); containers outlive it either way. Run as root on Debian 12.
#
#   BERTH_DATA_ROOT=/var/lib/berth BERTH_EXEC_ROOT=/run/berth BERTH_SKIP_SETUP=1 scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "quickstart: run as root (containers need namespaces, mounts and cgroups)" >&2
  exit 1
fi
[ "${BERTH_SKIP_SETUP:-0}" = 1 ] || scripts/setup.sh

BIN=${BERTH:-$(pwd)/build/cmd/berth/berth}
[ -x "$BIN" ] || { echo "quickstart: $BIN was not built" >&2; exit 1; }
DATA=${BERTH_DATA_ROOT:-/var/lib/berth}
EXEC=${BERTH_EXEC_ROOT:-/run/berth}
SOCK=$EXEC/berth.sock
export BERTH_HOST=unix://$SOCK
LOG=${BERTH_DAEMON_LOG:-/var/log/berth-daemon.log}

say() { echo "+ $*" >&2; }

if "$BIN" version >/dev/null 2>&1; then
  echo "quickstart: a berth daemon already answers on $SOCK; using it"
else
  mkdir -p "$EXEC" "$(dirname "$LOG")"
  say "$BIN daemon --data-root $DATA --exec-root $EXEC -H unix://$SOCK  (log: $LOG)"
  setsid "$BIN" daemon --data-root "$DATA" --exec-root "$EXEC" -H "unix://$SOCK" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$EXEC/berth.pid"
  for _ in $(seq 1 100); do
    "$BIN" version >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$BIN" version >/dev/null || { echo "quickstart: the daemon did not come up; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
fi

if ! "$BIN" inspect --type image busybox:latest >/dev/null 2>&1; then
  tmp=$(mktemp -d /tmp/berth-quickstart-XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  say "$BIN image --root $tmp/root bootstrap busybox   # a base image from Debian's busybox-static"
  "$BIN" image --root "$tmp/root" bootstrap busybox
  "$BIN" image --root "$tmp/root" save -o "$tmp/busybox.tar" busybox:latest
  say "$BIN load -i busybox.tar   # through the daemon's API"
  "$BIN" load -i "$tmp/busybox.tar"
fi

say "$BIN version"
"$BIN" version
say "$BIN run --rm --name berth-demo-$$ busybox sh -c 'echo hello from berth; uname -sr; id; hostname'"
"$BIN" run --rm --name "berth-demo-$$" busybox sh -c 'echo hello from berth; uname -sr; id; hostname'
say "$BIN run -d --name berth-demo-d-$$ busybox sh -c 'echo started; exec sleep 30'"
"$BIN" run -d --name "berth-demo-d-$$" busybox sh -c 'echo started; exec sleep 30' >/dev/null
"$BIN" ps --filter "name=berth-demo-d-$$"
say "$BIN exec berth-demo-d-$$ ps"
"$BIN" exec "berth-demo-d-$$" ps
say "$BIN logs berth-demo-d-$$"
"$BIN" logs "berth-demo-d-$$"
say "$BIN rm -f berth-demo-d-$$"
"$BIN" rm -f "berth-demo-d-$$" >/dev/null
if command -v docker >/dev/null 2>&1; then
  say "docker -H $BERTH_HOST run --rm busybox echo hello from the docker CLI"
  docker -H "$BERTH_HOST" run --rm busybox echo hello from the docker CLI
fi
echo "quickstart: done. The daemon keeps running on $SOCK (BERTH_HOST=$BERTH_HOST; stop: kill \$(cat $EXEC/berth.pid))."
