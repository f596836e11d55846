#!/usr/bin/env python3
"""Registry interoperability on loopback (ephemeral ports, temp dirs):
  - Debian's skopeo copies an OCI layout into `berth registry serve` and back out, digests equal;
  - berth's client pulls from `berth registry serve` and from Debian's docker-registry, digests equal;
  - berth's client pushes (chunked, then with a cross-repository mount) into docker-registry, and skopeo reads
    the result back with equal digests.
Exits 77 (skip) when berth, skopeo or docker-registry are missing."""
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
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemons as dm  # noqa: E402
from daemons import BERTH, check  # noqa: E402


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def put_blob(layout, data):
    d = sha(data)
    p = os.path.join(layout, "blobs/sha256", d[7:])
    with open(p, "wb") as f:
        f.write(data)
    return d


def make_layout(layout, layers=3, files_per_layer=20, file_size=40000):
    """A small multi-layer OCI image, written by hand so the test depends on nothing else."""
    os.makedirs(os.path.join(layout, "blobs/sha256"))
    descs, diff_ids = [], []
    for i in range(layers):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for j in range(files_per_layer):
                data = os.urandom(file_size // 2) + bytes(file_size // 2)
                ti = tarfile.TarInfo(f"layer{i}/file{j}")
                ti.size, ti.mtime, ti.mode = len(data), 0, 0o644
                tf.addfile(ti, io.BytesIO(data))
        tar = raw.getvalue()
        diff_ids.append(sha(tar))
        gz = gzip.compress(tar, mtime=0)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put_blob(layout, gz),
                      "size": len(gz)})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": put_blob(layout, config), "size": len(config)},
                           "layers": descs}).encode()
    md = put_blob(layout, manifest)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
                            "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return md, [d["digest"] for d in descs] + [json.loads(manifest)["config"]["digest"]]


def layout_manifest(layout, ref="v1"):
    with open(os.path.join(layout, "index.json")) as f:
        idx = json.load(f)
    for m in idx["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref or len(idx["manifests"]) == 1:
            return m["digest"]
    return None


def blob(layout, d):
    with open(os.path.join(layout, "blobs/sha256", d[7:]), "rb") as f:
        return f.read()


def same_blobs(a, b, digests):
    return all(os.path.exists(os.path.join(b, "blobs/sha256", d[7:])) and blob(a, d) == blob(b, d) for d in digests)


def run(*args, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, **kw)
    if r.returncode != 0:
        print(f"$ {' '.join(args)}\n{r.stdout}{r.stderr}", flush=True)
    return r


def start_berth(root, *extra):
    return dm.start_berth_registry(root, extra, stderr=None)


def main():
    if not os.path.exists(BERTH) or not shutil.which("skopeo") or not os.path.exists("/usr/bin/docker-registry"):
        print("skip: needs berth, skopeo and docker-registry")
        return 77
    tmp = tempfile.mkdtemp(prefix="berth-registry-interop-")
    procs = []
    try:
        src = os.path.join(tmp, "src")
        md, digests = make_layout(src)
        bp, berth_host = start_berth(os.path.join(tmp, "berth-root"))
        procs.append(bp)
        dp, dr_host = dm.start_docker_registry(tmp)
        procs.append(dp)
        env = dict(os.environ, HOME=tmp)  # no stray credentials

        # skopeo -> berth registry serve -> skopeo
        r = run("skopeo", "copy", "--dest-tls-verify=false", f"oci:{src}:v1", f"docker://{berth_host}/interop/img:v1",
                env=env)
        check(r.returncode == 0, "skopeo copy oci -> berth registry serve")
        r = run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{berth_host}/interop/img:v1", env=env)
        check(r.returncode == 0 and sha(r.stdout.encode()) == md, "skopeo inspect --raw on berth: same manifest digest")
        out1 = os.path.join(tmp, "out1")
        r = run("skopeo", "copy", "--src-tls-verify=false", f"docker://{berth_host}/interop/img:v1", f"oci:{out1}:v1",
                env=env)
        check(r.returncode == 0 and layout_manifest(out1) == md and same_blobs(src, out1, digests),
              "skopeo copy berth registry serve -> oci: equal digests and bytes")
        r = run("skopeo", "list-tags", "--tls-verify=false", f"docker://{berth_host}/interop/img", env=env)
        check(r.returncode == 0 and json.loads(r.stdout)["Tags"] == ["v1"], "skopeo list-tags on berth")

        # berth client <- berth registry serve
        out2 = os.path.join(tmp, "out2")
        r = run(BERTH, "registry", "copy", f"docker://{berth_host}/interop/img:v1", f"oci:{out2}:v1", env=env)
        check(r.returncode == 0 and layout_manifest(out2) == md and same_blobs(src, out2, digests),
              "berth client pull from berth registry serve: equal digests")

        # skopeo -> docker-registry; berth client pulls it (twice: the second finds everything present)
        r = run("skopeo", "copy", "--dest-tls-verify=false", f"oci:{src}:v1", f"docker://{dr_host}/interop/img:v1",
                env=env)
        check(r.returncode == 0, "skopeo copy oci -> docker-registry")
        out3 = os.path.join(tmp, "out3")
        r = run(BERTH, "registry", "copy", f"docker://{dr_host}/interop/img:v1", f"oci:{out3}:v1", env=env)
        check(r.returncode == 0 and layout_manifest(out3) == md and same_blobs(src, out3, digests),
              "berth client pull from docker-registry: equal digests")
        r = run(BERTH, "registry", "copy", f"docker://{dr_host}/interop/img:v1", f"oci:{out3}:v1", env=env)
        check(r.returncode == 0 and "0 downloaded, 4 present" in r.stdout, "second pull downloads nothing")

        # berth client pushes into docker-registry (chunked), then mounts into another repository
        r = run(BERTH, "registry", "copy", "--chunk-size", "65536", f"oci:{src}:v1",
                f"docker://{dr_host}/pushed/img:v1", env=env)
        check(r.returncode == 0 and "4 uploaded" in r.stdout, "berth chunked push to docker-registry")
        r = run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{dr_host}/pushed/img:v1", env=env)
        check(r.returncode == 0 and sha(r.stdout.encode()) == md, "skopeo inspect --raw on docker-registry: same digest")
        out4 = os.path.join(tmp, "out4")
        r = run("skopeo", "copy", "--src-tls-verify=false", f"docker://{dr_host}/pushed/img:v1", f"oci:{out4}:v1",
                env=env)
        check(r.returncode == 0 and layout_manifest(out4) == md and same_blobs(src, out4, digests),
              "skopeo copy docker-registry -> oci after berth push: equal digests and bytes")
        r = run(BERTH, "registry", "copy", "--mount-from", "pushed/img", f"oci:{src}:v1",
                f"docker://{dr_host}/mounted/img:v1", env=env)
        check(r.returncode == 0 and "4 mounted" in r.stdout, "berth push with cross-repository mount on docker-registry")

        # berth pushes into berth registry serve (mount from skopeo's repository)
        r = run(BERTH, "registry", "copy", "--mount-from", "interop/img", f"oci:{src}:v1",
                f"docker://{berth_host}/mounted/img:v1", env=env)
        check(r.returncode == 0 and "4 mounted" in r.stdout, "berth push with cross-repository mount on berth")

        # TLS: berth registry serve --tls-cert/--tls-key; skopeo trusts the CA via --dest-cert-dir, and berth's
        # client reaches the loopback registry over https (plain http would be refused by a TLS listener)
        certs = os.path.join(tmp, "certs")
        os.makedirs(certs)
        r = run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", os.path.join(certs, "key.pem"),
                "-out", os.path.join(certs, "ca.crt"))
        check(r.returncode == 0, "self-signed certificate for 127.0.0.1")
        tp, tls_host = start_berth(os.path.join(tmp, "tls-root"), "--tls-cert", os.path.join(certs, "ca.crt"),
                                   "--tls-key", os.path.join(certs, "key.pem"))
        procs.append(tp)
        r = run("skopeo", "copy", f"--dest-cert-dir={certs}", f"oci:{src}:v1", f"docker://{tls_host}/tls/img:v1",
                env=env)
        check(r.returncode == 0, "skopeo copy into berth over TLS with certificate verification")
        out5 = os.path.join(tmp, "out5")
        r = run(BERTH, "registry", "copy", f"docker://{tls_host}/tls/img:v1", f"oci:{out5}:v1", env=env)
        check(r.returncode == 0 and layout_manifest(out5) == md and same_blobs(src, out5, digests),
              "berth client pull over TLS: equal digests")
        try:
            urllib.request.urlopen(f"http://{tls_host}/v2/", timeout=5)
            plain = True
        except Exception:  # noqa: BLE001
            plain = False
        check(not plain, "the TLS listener refuses plain HTTP")

        # htpasswd (bcrypt) auth: `berth login` checks and stores docker-format credentials; berth's client and
        # skopeo both use that config.json
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import crypt
        hp = os.path.join(tmp, "htpasswd")
        with open(hp, "w") as f:
            f.write("alice:" + crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32)) + "\n")
        ap, auth_host = start_berth(os.path.join(tmp, "auth-root"), "--htpasswd", hp)
        procs.append(ap)
        authfile = os.path.join(tmp, "auth", "config.json")
        r = subprocess.run([BERTH, "login", "--authfile", authfile, "-u", "alice", "--password-stdin", auth_host],
                           input="wrong\n", capture_output=True, text=True, env=env)
        check(r.returncode != 0 and not os.path.exists(authfile), "berth login refuses a wrong password")
        r = subprocess.run([BERTH, "login", "--authfile", authfile, "-u", "alice", "--password-stdin", auth_host],
                           input="s3cret\n", capture_output=True, text=True, env=env)
        check(r.returncode == 0 and os.path.exists(authfile), "berth login stores credentials")
        r = run(BERTH, "registry", "copy", f"oci:{src}:v1", f"docker://{auth_host}/private/img:v1", env=env)
        check(r.returncode != 0, "push without credentials is refused")
        r = run(BERTH, "registry", "copy", "--authfile", authfile, f"oci:{src}:v1",
                f"docker://{auth_host}/private/img:v1", env=env)
        check(r.returncode == 0, "berth push with the stored credentials")
        r = run("skopeo", "inspect", "--raw", "--tls-verify=false", "--authfile", authfile,
                f"docker://{auth_host}/private/img:v1", env=env)
        check(r.returncode == 0 and sha(r.stdout.encode()) == md, "skopeo reads berth's config.json and pulls")
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return dm.finish()


if __name__ == "__main__":
    sys.exit(main())
