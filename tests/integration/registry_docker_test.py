#!/usr/bin/env python3
"""The real docker daemon (Debian's dockerd on a private socket, data and exec roots in a temp dir) pulls a busybox
image from `berth registry serve` on loopback and runs it. Needs root; exits 77 (skip) otherwise or when dockerd,
berth or busybox are missing."""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

BUILD = os.environ.get("BERTH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
BERTH = os.path.join(BUILD, "cmd/berth/berth")
BUSYBOX = "/bin/busybox"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def busybox_layout(layout):
    os.makedirs(os.path.join(layout, "blobs/sha256"))

    def put(b):
        d = sha(b)
        with open(os.path.join(layout, "blobs/sha256", d[7:]), "wb") as f:
            f.write(b)
        return d
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        d = tarfile.TarInfo("bin")
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(d)
        with open(BUSYBOX, "rb") as f:
            data = f.read()
        ti = tarfile.TarInfo("bin/busybox")
        ti.size, ti.mode = len(data), 0o755
        tf.addfile(ti, io.BytesIO(data))
        for applet in ("sh", "echo", "cat"):
            ln = tarfile.TarInfo("bin/" + applet)
            ln.type, ln.linkname = tarfile.SYMTYPE, "busybox"
            tf.addfile(ln)
    tar = raw.getvalue()
    gz = gzip.compress(tar, mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh", "-c", "echo hello-from-berth-registry"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha(tar)]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config),
                                      "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(gz),
                                       "size": len(gz)}]}).encode()
    md = put(manifest)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                      "digest": md, "size": len(manifest),
                                                      "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return md


def main():
    if os.geteuid() != 0 or not shutil.which("dockerd") or not os.path.exists(BERTH) or not os.path.exists(BUSYBOX):
        print("skip: needs root, dockerd, busybox and berth")
        return 77
    tmp = tempfile.mkdtemp(prefix="berth-registry-docker-")
    procs = []
    ok = False
    try:
        layout = os.path.join(tmp, "layout")
        md = busybox_layout(layout)
        reg = subprocess.Popen([BERTH, "registry", "serve", "--addr", "127.0.0.1:0", "--root", os.path.join(tmp, "reg")],
                               stdout=subprocess.PIPE, text=True)
        procs.append(reg)
        host = "127.0.0.1:" + reg.stdout.readline().split(" port ")[1].split(",")[0]
        r = subprocess.run([BERTH, "registry", "copy", f"oci:{layout}:v1", f"docker://{host}/bb:v1"],
                           capture_output=True, text=True)
        print(r.stdout + r.stderr, end="")
        if r.returncode != 0:
            return 1
        sock = os.path.join(tmp, "docker.sock")
        log = open(os.path.join(tmp, "dockerd.log"), "w")
        dockerd = subprocess.Popen(["dockerd", "--host", "unix://" + sock, "--data-root", os.path.join(tmp, "data"),
                                    "--exec-root", os.path.join(tmp, "exec"), "--pidfile", os.path.join(tmp, "d.pid"),
                                    "--bridge", "none", "--iptables=false", "--ip-masq=false", "--ip-forward=false"],
                                   stdout=log, stderr=subprocess.STDOUT)
        procs.append(dockerd)
        docker = ["docker", "-H", "unix://" + sock]
        for _ in range(300):
            if subprocess.run(docker + ["version"], capture_output=True).returncode == 0:
                break
            if dockerd.poll() is not None:
                break
            time.sleep(0.1)
        r = subprocess.run(docker + ["pull", f"{host}/bb:v1"], capture_output=True, text=True)
        print(r.stdout + r.stderr, end="")
        pulled = r.returncode == 0 and md in r.stdout
        print(("ok   " if pulled else "FAIL ") + "docker pull from berth registry serve (digest " + md + ")")
        r = subprocess.run(docker + ["run", "--rm", "--network", "none", f"{host}/bb:v1"], capture_output=True, text=True)
        ran = r.returncode == 0 and r.stdout.strip() == "hello-from-berth-registry"
        print(r.stdout + r.stderr, end="")
        print(("ok   " if ran else "FAIL ") + "docker run of the pulled image")
        ok = pulled and ran
        if not ok:
            with open(os.path.join(tmp, "dockerd.log")) as f:
                print(f.read()[-3000:])
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["umount", "-R", os.path.join(tmp, "data")], capture_output=True)
        subprocess.run(["umount", "-R", os.path.join(tmp, "exec")], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
