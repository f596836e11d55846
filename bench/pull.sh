#!/usr/bin/env bash
# bench/pull.sh: `berth image pull` against `docker pull` (Debian's dockerd on a private socket, data and exec
# roots, overlay2) of the same 3-layer ~80 MB image from Debian's docker-registry on loopback, same run.
#
#   sudo bench/pull.sh                      # RUNS=10 WARMUP=1
#
# Image: three gzip layers of real files (random 1 MiB files plus 4 KiB text files): ~40 + 25 + 15 MB compressed,
# made by python3, put into docker-registry by skopeo (Docker v2s2, what dockerd prefers).
# Cache protocol, identical for both (hyperfine --prepare): remove the image and its layers (berth: the whole
# --root; docker: `docker rmi` of the only image, which deletes its layers), sync, drop the page cache. Each
# pull then downloads, verifies and unpacks all three layers. ABBA order (berth first for RUNS/2 runs, then docker
# first) so neither inherits the other's after-effects. Prints markdown; raw hyperfine JSON goes to $OUT_DIR.
# Needs root, hyperfine, skopeo, docker-registry, dockerd + docker, python3 and build/cmd/berth/berth.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-1}
BERTH=${BERTH:-$SRC/build/cmd/berth/berth}
OUT_DIR=${OUT_DIR:-$SRC/build/bench/pull-$(date -u +%Y%m%dT%H%M%SZ)}
WORK=$(mktemp -d /var/tmp/berth-pull-bench-XXXXXX)
[ "$(id -u)" = 0 ] || { echo "bench/pull.sh: needs root (dockerd, drop_caches)" >&2; exit 1; }
for b in hyperfine skopeo /usr/bin/docker-registry dockerd docker python3 "$BERTH"; do
  command -v "$b" >/dev/null || { echo "bench/pull.sh: $b missing" >&2; exit 1; }
done
mkdir -p "$OUT_DIR"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  umount -R "$WORK/docker-data" 2>/dev/null || true
  umount -R "$WORK/docker-exec" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- the image ---------------------------------------------------------------------------------------------------
python3 - "$WORK/layout" <<'PY'
import gzip, hashlib, io, json, os, random, sys, tarfile
layout = sys.argv[1]
os.makedirs(f"{layout}/blobs/sha256")
rnd = random.Random(20261125)
def put(b):
    d = hashlib.sha256(b).hexdigest()
    open(f"{layout}/blobs/sha256/{d}", "wb").write(b)
    return "sha256:" + d
layers, diff_ids = [], []
for i, mb in enumerate((40, 25, 15)):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add(name, data=None, mode=0o644):
            ti = tarfile.TarInfo(name); ti.mtime = 1700000000; ti.mode = mode
            if data is None:
                ti.type = tarfile.DIRTYPE; ti.mode = 0o755; t.addfile(ti)
            else:
                ti.size = len(data); t.addfile(ti, io.BytesIO(data))
        add(f"l{i}"); add(f"l{i}/bin"); add(f"l{i}/share")
        for j in range(mb - 2):
            add(f"l{i}/bin/blob{j:03d}", rnd.randbytes(1 << 20), 0o755)
        for d in range(10):
            add(f"l{i}/share/d{d}")
            for j in range(50):
                add(f"l{i}/share/d{d}/f{j:02d}.txt", (" ".join(str(rnd.random()) for _ in range(200))).encode()[:4096])
    tar = raw.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
    gz = gzip.compress(tar, compresslevel=6, mtime=0)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(gz), "size": len(gz)})
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/l0/bin/blob000"]},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg), "size": len(cfg)},
                  "layers": layers}).encode()
md = put(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
           "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, open(f"{layout}/index.json", "w"))
open(f"{layout}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
print("layers (MB):", " + ".join(f"{l['size'] / 1e6:.1f}" for l in layers))
PY

# --- docker-registry ---------------------------------------------------------------------------------------------
DR_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/dr.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/dr-root
http:
  addr: 127.0.0.1:$DR_PORT
YML
/usr/bin/docker-registry serve "$WORK/dr.yml" >/dev/null 2>&1 &
PIDS+=($!)
DR=127.0.0.1:$DR_PORT
for _ in $(seq 200); do curl -sf "http://$DR/v2/" >/dev/null && break; sleep 0.05; done
skopeo copy -q --format v2s2 --dest-tls-verify=false "oci:$WORK/layout:v1" "docker://$DR/bench/img:v1"
IMG=$DR/bench/img:v1

# --- dockerd on a private socket and roots -------------------------------------------------------------------------
SOCK=$WORK/docker.sock
dockerd --host "unix://$SOCK" --data-root "$WORK/docker-data" --exec-root "$WORK/docker-exec" \
  --pidfile "$WORK/docker.pid" --bridge none --iptables=false --ip-masq=false --ip-forward=false \
  > "$WORK/dockerd.log" 2>&1 &
PIDS+=($!)
DOCKER="docker -H unix://$SOCK"
for _ in $(seq 300); do $DOCKER version >/dev/null 2>&1 && break; sleep 0.1; done
$DOCKER info --format 'dockerd {{.ServerVersion}}, storage driver {{.Driver}}'

# Both pull once outside the timing: a broken setup fails here, loudly.
$DOCKER pull -q "$IMG" >/dev/null
"$BERTH" image --root "$WORK/berth-root" pull -q "$IMG" >/dev/null

DROP="sync; echo 3 > /proc/sys/vm/drop_caches"
PREP_BERTH="bash -c 'rm -rf $WORK/berth-root; $DROP'"
PREP_DOCKER="bash -c '$DOCKER rmi -f $IMG >/dev/null 2>&1 || true; $DROP'"
CMD_BERTH="$BERTH image --root $WORK/berth-root pull -q $IMG"
CMD_DOCKER="$DOCKER pull -q $IMG"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
half=$(((RUNS + 1) / 2))
hyperfine -N --style none --warmup "$WARMUP" --runs "$half" --export-json "$OUT_DIR/pull.ab.json" \
  --prepare "$PREP_BERTH" -n berth "$CMD_BERTH" --prepare "$PREP_DOCKER" -n docker "$CMD_DOCKER" >/dev/null
hyperfine -N --style none --warmup "$WARMUP" --runs "$half" --export-json "$OUT_DIR/pull.ba.json" \
  --prepare "$PREP_DOCKER" -n docker "$CMD_DOCKER" --prepare "$PREP_BERTH" -n berth "$CMD_BERTH" >/dev/null
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$OUT_DIR" <<'PY'
import json, os, statistics, sys
d = sys.argv[1]
times = {"berth": [], "docker": []}
for part in ("ab", "ba"):
    for x in json.load(open(os.path.join(d, f"pull.{part}.json")))["results"]:
        times[x["command"]] += x["times"]
f = lambda t: f"{statistics.median(t)*1000:.0f} ms [{min(t)*1000:.0f}–{max(t)*1000:.0f}]"
b, g = statistics.median(times["berth"]), statistics.median(times["docker"])
print("\n| pull of the 3-layer image | berth median [min–max] | docker median [min–max] | berth / docker |")
print("|---|---|---|---|")
print(f"| cold cache (n={len(times['berth'])}) | {f(times['berth'])} | {f(times['docker'])} | {b/g:.2f}× |")
print("\nper run (s): berth " + " ".join(f"{t:.2f}" for t in times["berth"]) +
      "; docker " + " ".join(f"{t:.2f}" for t in times["docker"]))
PY
