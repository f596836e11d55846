#!/usr/bin/env bash
# bench/registry.sh: `berth registry serve` against Debian's docker-registry (distribution 2.8) on the same blobs,
# both on loopback, both filesystem-backed under $WORK, same hyperfine invocation per metric. Prints markdown;
# raw hyperfine JSON goes to $OUT_DIR.
#
#   bench/registry.sh                       # RUNS=10 WARMUP=2
#
# Metrics (a 3-blob ~80 MB incompressible image: 40 + 25 + 15 MB, plus a 100 MB blob for uploads):
#   blob GET        curl GET of the 40 MB blob to /dev/null (page cache warm; sendfile on our side)
#   blob PUT        monolithic upload of the 100 MB blob: POST + PUT ?digest= (curl), digest verified by the server
#   pull skopeo     skopeo copy docker://…/bench/img:v1 oci:OUT (whole image)
#   pull berth      berth registry copy docker://…/bench/img:v1 oci:OUT (our client; parallel, verified)
#   push berth      berth registry copy oci:LAYOUT docker://…/push$RANDOM/img:v1 (fresh repository: full upload)
# Needs hyperfine, curl, skopeo, docker-registry, python3 and build/cmd/berth/berth.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-2}
BERTH=${BERTH:-$SRC/build/cmd/berth/berth}
OUT_DIR=${OUT_DIR:-$SRC/build/bench/registry-$(date -u +%Y%m%dT%H%M%SZ)}
WORK=$(mktemp -d /var/tmp/berth-registry-bench-XXXXXX)
mkdir -p "$OUT_DIR"
for b in hyperfine curl skopeo /usr/bin/docker-registry "$BERTH"; do
  command -v "$b" >/dev/null || { echo "bench/registry.sh: $b missing" >&2; exit 1; }
done

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# --- data: an OCI layout with three gzip-wrapped random blobs as layers (real gzip, so skopeo keeps them as they
# are instead of recompressing), and a 100 MB upload blob ---------------------------
python3 - "$WORK/layout" "$WORK/upload.bin" <<'PY'
import gzip, hashlib, json, os, sys
layout, upload = sys.argv[1], sys.argv[2]
os.makedirs(f"{layout}/blobs/sha256")
def put(b):
    d = hashlib.sha256(b).hexdigest()
    open(f"{layout}/blobs/sha256/{d}", "wb").write(b)
    return "sha256:" + d
layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(b), "size": len(b)}
          for b in (gzip.compress(os.urandom(n << 20), compresslevel=1, mtime=0) for n in (40, 25, 15))]
cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg), "size": len(cfg)},
                  "layers": layers}).encode()
md = put(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
           "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, open(f"{layout}/index.json", "w"))
open(f"{layout}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(upload, "wb").write(os.urandom(100 << 20))
print(layers[0]["digest"])
PY
BIG=$(ls -S "$WORK/layout/blobs/sha256" | head -1)
UPLOAD_DIGEST=sha256:$(sha256sum "$WORK/upload.bin" | cut -d' ' -f1)

# --- servers ------------------------------------------------------------------------------------------------------
"$BERTH" registry serve --addr 127.0.0.1:0 --root "$WORK/berth-root" > "$WORK/berth.out" &
PIDS+=($!)
for _ in $(seq 100); do grep -q port "$WORK/berth.out" 2>/dev/null && break; sleep 0.05; done
BERTH_HOST=127.0.0.1:$(sed -n 's/.* port \([0-9]*\),.*/\1/p' "$WORK/berth.out")
DR_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/dr.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/dr-root
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$DR_PORT
YML
/usr/bin/docker-registry serve "$WORK/dr.yml" >/dev/null 2>&1 &
PIDS+=($!)
DR_HOST=127.0.0.1:$DR_PORT
for _ in $(seq 200); do curl -sf "http://$DR_HOST/v2/" >/dev/null && break; sleep 0.05; done

for h in "$BERTH_HOST" "$DR_HOST"; do
  skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:v1" "docker://$h/bench/img:v1"
done

# Monolithic upload helper: POST for a session, PUT the body with ?digest=.
cat > "$WORK/put_blob.sh" <<'SH'
#!/usr/bin/env bash
set -euo pipefail
host=$1 file=$2 digest=$3
loc=$(curl -sf -X POST -D - -o /dev/null "http://$host/v2/bench/up/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
case $loc in http*) ;; *) loc=http://$host$loc ;; esac
case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$file" -o /dev/null "$loc${sep}digest=$digest"
SH
chmod +x "$WORK/put_blob.sh"

# hf NAME [hyperfine options] -n berth CMD -n docker-registry CMD
# Runs the pair twice, berth first then docker-registry first (RUNS/2 each, "ABBA"), so neither server always
# inherits the other's after-effects (page cache, ext4's recently-deleted inode scan after `rm -rf OUT`).
hf() {
  local name=$1; shift
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  [ -n "${DEBUG:-}" ] && { hyperfine --runs 1 --show-output "$@" 2>&1 | tail -20; return; }
  local n=$#
  local opts=("${@:1:$((n - 6))}") a=("${@:$((n - 5)):3}") b=("${@:$((n - 2)):3}")
  local half=$(((RUNS + 1) / 2))
  hyperfine --style none --warmup "$WARMUP" --runs "$half" --export-json "$OUT_DIR/$name.ab.json" "${opts[@]}" "${a[@]}" "${b[@]}" >/dev/null
  hyperfine --style none --warmup "$WARMUP" --runs "$half" --export-json "$OUT_DIR/$name.ba.json" "${opts[@]}" "${b[@]}" "${a[@]}" >/dev/null
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
hf blob_get -N \
  -n berth "curl -sf -o /dev/null http://$BERTH_HOST/v2/bench/img/blobs/sha256:$BIG" \
  -n docker-registry "curl -sf -o /dev/null http://$DR_HOST/v2/bench/img/blobs/sha256:$BIG"
hf blob_put -N \
  -n berth "$WORK/put_blob.sh $BERTH_HOST $WORK/upload.bin $UPLOAD_DIGEST" \
  -n docker-registry "$WORK/put_blob.sh $DR_HOST $WORK/upload.bin $UPLOAD_DIGEST"
hf pull_skopeo --prepare "rm -rf $WORK/out" \
  -n berth "skopeo copy -q --src-tls-verify=false docker://$BERTH_HOST/bench/img:v1 oci:$WORK/out:v1" \
  -n docker-registry "skopeo copy -q --src-tls-verify=false docker://$DR_HOST/bench/img:v1 oci:$WORK/out:v1"
hf pull_berth --prepare "rm -rf $WORK/out" \
  -n berth "$BERTH registry copy docker://$BERTH_HOST/bench/img:v1 oci:$WORK/out:v1" \
  -n docker-registry "$BERTH registry copy docker://$DR_HOST/bench/img:v1 oci:$WORK/out:v1"
hf push_berth \
  -n berth "$BERTH registry copy oci:$WORK/layout:v1 docker://$BERTH_HOST/push\$RANDOM\$RANDOM/img:v1" \
  -n docker-registry "$BERTH registry copy oci:$WORK/layout:v1 docker://$DR_HOST/push\$RANDOM\$RANDOM/img:v1"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$OUT_DIR" <<'PY'
import json, os, statistics, sys
d = sys.argv[1]
mb = {"blob_get": 40, "blob_put": 100, "pull_skopeo": 80, "pull_berth": 80, "push_berth": 80}
print("\n| metric | berth median [min–max] | docker-registry median [min–max] | berth / docker-registry | berth MB/s |")
print("|---|---|---|---|---|")
for name in ["blob_get", "blob_put", "pull_skopeo", "pull_berth", "push_berth"]:
    times = {"berth": [], "docker-registry": []}
    for part in ("ab", "ba"):
        p = os.path.join(d, f"{name}.{part}.json")
        if os.path.exists(p):
            for x in json.load(open(p))["results"]:
                times[x["command"]] += x["times"]
    if not times["berth"]:
        continue
    b, g = statistics.median(times["berth"]), statistics.median(times["docker-registry"])
    f = lambda t: f"{statistics.median(t)*1000:.0f} ms [{min(t)*1000:.0f}–{max(t)*1000:.0f}]"
    print(f"| {name} | {f(times['berth'])} | {f(times['docker-registry'])} | {b/g:.2f}× | {mb[name]/b:.0f} |")
PY
