#!/usr/bin/env bash
# bench/unpack.sh: unpack of an ~80 MB gzip layer (100 MB of tar, 2999 entries) by `berth image unpack-layer`
# against `tar -xzf` of the same file, in the same hyperfine invocation, with the cache protocol of
# shared/reference/perf-anchors.md: before every run, remove the previous output, sync, drop the page cache
# and re-warm the input file, for every command alike. Also the uncompressed .tar against `tar -xf`.
#
#   bench/unpack.sh                     # berth from build/, RUNS=10, WARMUP=2
#   RUNS=20 BERTH=/path/to/berth bench/unpack.sh
#
# The layer is made by bench/mklayer.py (deterministic: 25 x 2 MiB random, 400 x 100 KiB text,
# 2500 x 4 KiB mixed) and gzip -6 -n. Needs root (drop_caches), hyperfine, python3, gzip.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-2}
BERTH=${BERTH:-$SRC/build/cmd/berth/berth}
W=${WORK_DIR:-$SRC/build/bench/unpack}
OUT_DIR=${OUT_DIR:-$W/results-$(date -u +%Y%m%dT%H%M%SZ)}
[ "$(id -u)" = 0 ] || { echo "bench/unpack.sh: needs root (drop_caches)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench/unpack.sh: hyperfine missing" >&2; exit 1; }
mkdir -p "$W" "$OUT_DIR"
if [ ! -f "$W/layer.tar.gz" ]; then
  python3 bench/mklayer.py "$W/layer.tar"
  gzip -6 -n -k -f "$W/layer.tar"
fi
L=$W/layer.tar.gz
T=$W/layer.tar
O=$W/out
# hyperfine -N runs --prepare without a shell too, so the protocol goes through bash -c explicitly.
prep() { echo "bash -c 'rm -rf $O; sync; echo 3 > /proc/sys/vm/drop_caches; cat $1 > /dev/null; mkdir $O'"; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)  layer: $(stat -c %s "$L") bytes gz, $(stat -c %s "$T") bytes tar"
# This disk slows inode allocation after many deletes (perf-anchors.md), and that penalty grows over a
# session, so each pair runs twice in opposite orders (ABBA) and the summary pools both.
hf() { hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$1" --prepare "$(prep "$2")" "${@:3}"; }
hf "$OUT_DIR/gz1.json" "$L" -n 'tar -xzf' "tar -xzf $L -C $O" -n 'berth unpack-layer (gz)' "$BERTH image unpack-layer $L $O"
hf "$OUT_DIR/gz2.json" "$L" -n 'berth unpack-layer (gz)' "$BERTH image unpack-layer $L $O" -n 'tar -xzf' "tar -xzf $L -C $O"
hf "$OUT_DIR/tar1.json" "$T" -n 'tar -xf' "tar -xf $T -C $O" -n 'berth unpack-layer (tar)' "$BERTH image unpack-layer $T $O"
hf "$OUT_DIR/tar2.json" "$T" -n 'berth unpack-layer (tar)' "$BERTH image unpack-layer $T $O" -n 'tar -xf' "tar -xf $T -C $O"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT_DIR" <<'PY'
import json, statistics, sys
d = sys.argv[1]
for group, base in (("gz", "tar -xzf"), ("tar", "tar -xf")):
    times = {}
    for f in (f"{d}/{group}1.json", f"{d}/{group}2.json"):
        for r in json.load(open(f))["results"]:
            times.setdefault(r["command"], []).extend(r["times"])
    b = statistics.median(times[base])
    for cmd, ts in times.items():
        ts = sorted(ts)
        p10, p90 = ts[len(ts) // 10], ts[(len(ts) * 9) // 10]
        print(f"| {cmd} | {statistics.median(ts)*1000:.0f} ms | {p10*1000:.0f}–{p90*1000:.0f} ms | {len(ts)} | "
              f"{statistics.median(ts)/b:.2f}× |")
PY
rm -rf "$O"
