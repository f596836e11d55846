#!/usr/bin/env bash
# bench/runtime.sh: `run` of the busybox bundle running /bin/true under berth-runtime, runc and crun, in the
# same hyperfine invocation, then the create / start / delete phases separately, then peak RSS. Prints
# markdown (the tables that go into docs/BENCHMARKS.md); raw hyperfine JSON goes to $OUT_DIR.
#
#   bench/runtime.sh                      # berth-runtime from build/, 200 runs, 20 warm-ups
#   RUNS=300 BERTH_RUNTIME=/path bench/runtime.sh
#
# Two groups, as in shared/reference/perf-anchors.md:
#   host ns   berth-runtime and runc in the host mount namespace
#   private   inside `unshare -m --propagation private` with /sys/fs/cgroup/unified unmounted (crun refuses
#             this host's hybrid cgroup layout otherwise): crun, runc and berth-runtime side by side
# Needs root, hyperfine, runc, crun, /usr/bin/time, python3.
set -euo pipefail
export PATH=/usr/sbin:/sbin:$PATH
cd "$(dirname "$0")/.."
SRC=$(pwd)
RUNS=${RUNS:-200}
WARMUP=${WARMUP:-20}
PHASE_RUNS=${PHASE_RUNS:-100}
RSS_RUNS=${RSS_RUNS:-20}
BERTH=${BERTH_RUNTIME:-$SRC/build/cmd/berth-runtime/berth-runtime}
OUT_DIR=${OUT_DIR:-$SRC/build/bench/runtime-$(date -u +%Y%m%dT%H%M%SZ)}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

[ "$(id -u)" = 0 ] || { echo "bench/runtime.sh: needs root" >&2; exit 1; }
for b in hyperfine runc crun /usr/bin/time; do
  command -v "$b" >/dev/null || { echo "bench/runtime.sh: $b missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
have_berth=0
[ -x "$BERTH" ] && have_berth=1

mkdir -p "$OUT_DIR"
table() {  # table JSON...: median and spread per command from hyperfine's JSON export
  $PY - "$@" <<'PYEOF'
import json, statistics, sys
# CPU time (user+sys of the runtime and the children it waits for, mean) barely depends on the machine's
# load, unlike wall time; it is the fairer comparison on a busy machine.
print("| command | median ms | p10–p90 ms | mean ± sd ms | CPU user+sys ms | runs |")
print("|---|---|---|---|---|---|")
for f in sys.argv[1:]:
    for r in json.load(open(f))["results"]:
        t = sorted(x * 1000 for x in r["times"])
        q = lambda p: t[min(len(t) - 1, int(p * len(t)))]
        name = r["command"]
        cpu = (r.get("user", 0) + r.get("system", 0)) * 1000
        print(f"| {name} | {statistics.median(t):.2f} | {q(0.1):.2f}–{q(0.9):.2f} | "
              f"{statistics.mean(t):.2f} ± {statistics.pstdev(t):.2f} | {cpu:.2f} | {len(t)} |")
PYEOF
}
WORK=$(mktemp -d /tmp/berthbench-XXXXXX)
cleanup() {
  for rt in runc crun "$BERTH"; do
    [ -x "$(command -v "$rt" 2>/dev/null || echo "$rt")" ] || continue
    for st in "$WORK"/state-*; do
      [ -d "$st" ] || continue
      for id in $(ls "$st" 2>/dev/null); do "$rt" --root "$st" delete -f "$id" >/dev/null 2>&1 || true; done
    done
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

BUNDLE=$WORK/bundle
PROBE=none tests/helpers/mkbundle.sh "$BUNDLE" '.process.args=["/bin/true"]' >/dev/null
# Each runtime gets its own state root; every `run` reuses one id (run deletes the container on exit).
RUNC="runc --root $WORK/state-runc"
CRUN="crun --root $WORK/state-crun"
NEW="$BERTH --root $WORK/state-berth"

host_cmds=(-n "berth-runtime run" "$NEW run -b $BUNDLE bench-berth" -n "runc run" "$RUNC run -b $BUNDLE bench-runc")
[ $have_berth = 1 ] || host_cmds=(-n "runc run" "$RUNC run -b $BUNDLE bench-runc")

echo "## OCI runtime \`run\` of /bin/true ($(date -u +%Y-%m-%d), $(nproc) vCPU, kernel $(uname -r))"
echo
echo "runc: $(runc --version | head -1); crun: $(crun --version | head -1); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
[ $have_berth = 1 ] && echo "berth-runtime: $BERTH ($($BERTH --version 2>/dev/null | head -1))"
[ $have_berth = 1 ] || echo "berth-runtime: not built ($BERTH); reference runtimes only"
echo
echo "### host mount namespace"
echo
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$OUT_DIR/run-host.json" \
  --export-markdown "$OUT_DIR/run-host.md" "${host_cmds[@]}" >"$OUT_DIR/run-host.log" 2>&1
table "$OUT_DIR/run-host.json"
echo

# On a loaded machine wall time is mostly waiting for a CPU. Under SCHED_FIFO each run gets a CPU at once,
# which approximates an idle machine. A fresh v1 cpu cgroup has no real-time budget (runc and crun move the
# container's process into one and fail with EINVAL), so this group uses a fixed cgroupsPath whose cpu
# cgroup gets cpu.rt_runtime_us before every run (--prepare; runtimes remove it on delete).
if [ "${BENCH_FIFO:-1}" = 1 ] && [ -e /sys/fs/cgroup/cpu/cpu.rt_runtime_us ]; then
  FIFO_CG=berthbench-fifo-$$
  FIFO_BUNDLE=$WORK/bundle-fifo
  mkdir -p "$FIFO_BUNDLE"
  cp -a "$BUNDLE/rootfs" "$FIFO_BUNDLE/rootfs"  # runc refuses a symlinked rootfs
  jq --arg cg "/$FIFO_CG" '.linux.cgroupsPath=$cg' "$BUNDLE/config.json" >"$FIFO_BUNDLE/config.json"
  # A removed cgroup keeps its real-time budget until the kernel frees it, so the write is retried.
  cat >"$WORK/fifo-prep.sh" <<PREP
d=/sys/fs/cgroup/cpu/$FIFO_CG
i=0
until mkdir -p \$d 2>/dev/null && echo ${FIFO_RT_US:-900000} 2>/dev/null >\$d/cpu.rt_runtime_us; do
  i=\$((i + 1)); [ \$i -lt 1000 ] || exit 1; sleep 0.005
done
PREP
  prep="sh $WORK/fifo-prep.sh"
  fifo_cmds="-n 'crun run' '$CRUN run -b $FIFO_BUNDLE bench-crun' -n 'runc run' '$RUNC run -b $FIFO_BUNDLE bench-runc'"
  [ $have_berth = 1 ] && fifo_cmds="-n 'berth-runtime run' '$NEW run -b $FIFO_BUNDLE bench-berth' $fifo_cmds"
  echo "### SCHED_FIFO (chrt -f 10), private mount namespace: approximates an idle machine"
  echo
  if unshare -m --propagation private sh -c "umount /sys/fs/cgroup/unified 2>/dev/null || true
      exec chrt -f 10 hyperfine -N --warmup $WARMUP --runs $RUNS --prepare \"$prep\" \
        --export-json $OUT_DIR/run-fifo.json $fifo_cmds" >"$OUT_DIR/run-fifo.log" 2>&1; then
    table "$OUT_DIR/run-fifo.json"
  else
    echo "(failed: see $OUT_DIR/run-fifo.log)"
  fi
  for c in /sys/fs/cgroup/*/"$FIFO_CG"; do rmdir "$c" 2>/dev/null || true; done
  echo
fi

echo "### private mount namespace, /sys/fs/cgroup/unified unmounted (crun can run)"
echo
priv_cmds="-n 'crun run' '$CRUN run -b $BUNDLE bench-crun' -n 'runc run' '$RUNC run -b $BUNDLE bench-runc'"
[ $have_berth = 1 ] && priv_cmds="-n 'berth-runtime run' '$NEW run -b $BUNDLE bench-berth' $priv_cmds"
unshare -m --propagation private sh -c "umount /sys/fs/cgroup/unified 2>/dev/null || true
  exec hyperfine -N --warmup $WARMUP --runs $RUNS --export-json $OUT_DIR/run-private.json \
    --export-markdown $OUT_DIR/run-private.md $priv_cmds" >"$OUT_DIR/run-private.log" 2>&1
table "$OUT_DIR/run-private.json"
echo

# Phases: create (the container then waits in `created`), start (until the runtime returns), delete (of a
# stopped container). --prepare puts the container in the right state before every timed run.
phase() {  # phase NAME RUNTIME-CMD ID
  local name=$1 rt=$2 id=$3
  local wait_stopped="i=0; while [ \$i -lt 500 ] && ! $rt state $id 2>/dev/null | grep -q stopped; do i=\$((i+1)); sleep 0.002; done"
  hyperfine -N --warmup 5 --runs "$PHASE_RUNS" --export-json "$OUT_DIR/phase-$name.json" \
    -n "$name create" --prepare "sh -c '$rt delete -f $id >/dev/null 2>&1; true'" "$rt create -b $BUNDLE $id" \
    -n "$name start" --prepare "sh -c '$rt delete -f $id >/dev/null 2>&1; $rt create -b $BUNDLE $id'" "$rt start $id" \
    -n "$name delete" --prepare "sh -c '$rt delete -f $id >/dev/null 2>&1; $rt create -b $BUNDLE $id && $rt start $id && $wait_stopped'" "$rt delete $id" \
    >"$OUT_DIR/phase-$name.log" 2>&1
  $rt delete -f "$id" >/dev/null 2>&1 || true
}
echo "### phases (host mount namespace; each phase timed alone, the others done in --prepare)"
echo
[ $have_berth = 1 ] && phase berth "$NEW" bench-berth-ph
phase runc "$RUNC" bench-runc-ph
table "$OUT_DIR"/phase-*.json
echo

echo "### peak RSS of one \`run\` (/usr/bin/time -v, max over $RSS_RUNS runs, KiB)"
echo
rss() {  # rss LABEL CMD...
  local label=$1
  shift
  local max=0 v
  for _ in $(seq "$RSS_RUNS"); do
    v=$(/usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}')
    [ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
  done
  echo "| $label | $max |"
}
echo "| runtime | max RSS KiB |"
echo "|---|---|"
[ $have_berth = 1 ] && rss "berth-runtime run" $NEW run -b "$BUNDLE" bench-berth-rss
rss "runc run" $RUNC run -b "$BUNDLE" bench-runc-rss
unshare -m --propagation private sh -c "umount /sys/fs/cgroup/unified 2>/dev/null || true
  max=0; for i in \$(seq $RSS_RUNS); do v=\$(/usr/bin/time -v $CRUN run -b $BUNDLE bench-crun-rss 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {gsub(/ /,\"\",\$2); print \$2}'); [ \"\$v\" -gt \"\$max\" ] && max=\$v; done; echo \"| crun run (private ns) | \$max |\""
echo

echo "### ratios (median)"
echo
$PY - "$OUT_DIR" <<'EOF'
import json, os, statistics, sys
d = sys.argv[1]
for f, title in (("run-host.json", "host ns"), ("run-private.json", "private ns"),
                 ("run-fifo.json", "SCHED_FIFO, private ns")):
    p = os.path.join(d, f)
    if not os.path.exists(p):
        continue
    res = json.load(open(p))["results"]
    med = {r["command"]: statistics.median(r["times"]) * 1000 for r in res}
    cpu = {r["command"]: (r.get("user", 0) + r.get("system", 0)) * 1000 for r in res}
    parts = [f"{k} {v:.2f} ms" for k, v in med.items()]
    line = f"- {title}: " + ", ".join(parts)
    for other in ("runc run", "crun run"):
        if "berth-runtime run" in med and other in med:
            o = other.split()[0]
            line += (f"; berth/{o} wall {med['berth-runtime run'] / med[other]:.3f}, "
                     f"CPU {cpu['berth-runtime run'] / cpu[other]:.3f}")
    print(line)
EOF
echo
echo "Raw data: $OUT_DIR"
