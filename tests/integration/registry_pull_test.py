#!/usr/bin/env python3
"""`berth image pull` / `berth image push` against Debian's docker-registry on loopback, with images made by
umoci and carried by skopeo (root: umoci keeps owners, overlay mounts):
  - umoci builds a 3-layer image (whiteouts, an opaque directory, hardlinks, symlinks, setuid/setgid files,
    a fifo, owners) and a second image sharing its base layer; skopeo copies both into docker-registry;
  - `berth image pull` (overlay and native snapshotters) unpacks a tree equal, file by file (type, mode, owner,
    link target, content, mtime, hardlinks), to what `umoci unpack` makes of the same image;
  - `berth image push` puts it back; `skopeo inspect --raw` and `skopeo copy` read it with equal digests;
  - pulling the second image fetches only the layer that is missing (registry access log and progress lines).
Exits 77 (skip) when not root or when berth, skopeo, umoci or docker-registry are missing."""
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemons as dm  # noqa: E402
from daemons import BERTH, check  # noqa: E402


def run(*args, **kw):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        print(f"$ {' '.join(str(a) for a in args)}\n{r.stdout}{r.stderr}", flush=True)
    return r


def must(*args, **kw):
    r = run(*args, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{args[0]} {args[1]} failed")
    return r


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def write(path, data, mode=0o644, uid=0, gid=0, mtime=1600000000):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    os.utime(path, (mtime, mtime))


def umoci_layer(layout, src_tag, dst_tag, bundle, change):
    must("umoci", "unpack", "--image", f"{layout}:{src_tag}", bundle)
    change(os.path.join(bundle, "rootfs"))
    must("umoci", "repack", "--image", f"{layout}:{dst_tag}", bundle)


def layer1(r):
    for d in ("bin", "etc", "home/u", "olddir/sub", "opq"):
        os.makedirs(os.path.join(r, d), exist_ok=True)
    write(f"{r}/bin/tool", b"#!/bin/sh\necho tool\n" * 100, 0o755)
    os.link(f"{r}/bin/tool", f"{r}/bin/tool2")  # hardlink within the layer
    os.symlink("tool", f"{r}/bin/sh")
    write(f"{r}/bin/su", os.urandom(5000), 0o4755)  # setuid root
    write(f"{r}/bin/wall", os.urandom(3000), 0o2755, gid=5)  # setgid tty
    write(f"{r}/etc/gone", b"to be deleted\n")
    write(f"{r}/etc/conf", b"v1\n")
    os.symlink("/etc/passwd", f"{r}/etc/abs")  # absolute, dangling inside the rootfs
    write(f"{r}/home/u/secret", b"u's\n", 0o600, uid=1000, gid=1000)
    os.chown(f"{r}/home/u", 1000, 1000)
    os.chmod(f"{r}/home/u", 0o700)
    write(f"{r}/olddir/a", b"a\n")
    write(f"{r}/olddir/sub/b", b"b\n")
    write(f"{r}/opq/old1", b"old1\n")
    write(f"{r}/opq/old2", b"old2\n")


def layer2(r):
    os.unlink(f"{r}/etc/gone")  # whiteout
    shutil.rmtree(f"{r}/olddir")  # whiteout of a whole tree
    shutil.rmtree(f"{r}/opq")  # directory replaced: opaque or per-file whiteouts
    os.makedirs(f"{r}/opq")
    write(f"{r}/opq/new", b"new\n")
    write(f"{r}/data/big", os.urandom(300000) + bytes(300000), 0o640, uid=33, gid=33)


def layer3(r):
    write(f"{r}/etc/conf", b"v2\n")
    os.chmod(f"{r}/bin/tool", 0o700)  # mode change only (tool2 shares the inode)
    write(f"{r}/data/x", b"linked\n" * 50)
    os.link(f"{r}/data/x", f"{r}/data/x-link")
    os.mkfifo(f"{r}/data/pipe", 0o620)
    os.symlink("../bin/tool", f"{r}/data/rel")


def other_layer(r):
    write(f"{r}/other/only-here", b"other image\n")


def tree(root):
    """path -> what must match: type+mode, owner, link target, content digest, mtime (files), inode groups."""
    out, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            e = {"mode": oct(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
            if stat.S_ISLNK(st.st_mode):
                e["link"] = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    e["sha"] = hashlib.sha256(f.read()).hexdigest()[:16]
                e["mtime"] = int(st.st_mtime)
                inodes.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                e["rdev"] = st.st_rdev
            out[rel] = e
    for paths in inodes.values():
        for p in paths:
            out[p]["links"] = sorted(paths)
    return out


def compare(ref, got, what):
    missing = sorted(set(ref) - set(got))
    extra = sorted(set(got) - set(ref))
    differ = [(p, ref[p], got[p]) for p in sorted(set(ref) & set(got)) if ref[p] != got[p]]
    for d in differ[:10]:
        print(f"  {d[0]}: umoci {d[1]} berth {d[2]}")
    if missing or extra:
        print(f"  missing {missing[:10]} extra {extra[:10]}")
    check(not missing and not extra and not differ, f"{what}: {len(ref)} entries equal to umoci's unpack")


def inspect(root, name):
    r = must(BERTH, "image", "--root", root, "inspect", name)
    return json.loads(r.stdout)


def snap_dir(root, kind, chain):
    return os.path.join(root, "snapshots", kind, "snapshots", hashlib.sha256(chain.encode()).hexdigest(), "fs")


def main():
    if os.geteuid() != 0:
        print("skip: needs root (umoci keeps owners; overlay mounts)")
        return 77
    for tool in ("skopeo", "umoci"):
        if not shutil.which(tool):
            print(f"skip: needs {tool}")
            return 77
    if not os.path.exists(BERTH) or not os.path.exists("/usr/bin/docker-registry"):
        print("skip: needs berth and docker-registry")
        return 77
    tmp = tempfile.mkdtemp(prefix="berth-registry-pull-")
    procs, mounts = [], []
    env = dict(os.environ, HOME=tmp)  # no stray credentials
    try:
        # --- umoci makes the images -----------------------------------------------------------------------
        layout = os.path.join(tmp, "layout")
        must("umoci", "init", "--layout", layout)
        must("umoci", "new", "--image", f"{layout}:empty")
        umoci_layer(layout, "empty", "l1", os.path.join(tmp, "b1"), layer1)
        umoci_layer(layout, "l1", "l2", os.path.join(tmp, "b2"), layer2)
        umoci_layer(layout, "l2", "v1", os.path.join(tmp, "b3"), layer3)
        umoci_layer(layout, "l1", "other", os.path.join(tmp, "b4"), other_layer)
        must("umoci", "unpack", "--image", f"{layout}:v1", os.path.join(tmp, "ref"))
        ref = tree(os.path.join(tmp, "ref", "rootfs"))
        check("etc/gone" not in ref and "olddir" not in ref and "opq/old1" not in ref and "opq/new" in ref,
              "umoci's own unpack applied the whiteouts (reference is sound)")
        check(ref["bin/su"]["mode"] == oct(0o104755) and ref["home/u/secret"]["uid"] == 1000
              and ref["bin/tool"]["links"] == ["bin/tool", "bin/tool2"], "reference keeps setuid, owners, hardlinks")
        with open(os.path.join(layout, "index.json")) as f:
            idx = json.load(f)
        tags = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"] for m in idx["manifests"]}
        with open(os.path.join(layout, "blobs/sha256", tags["v1"][7:]), "rb") as f:
            v1_manifest = json.load(f)
        layers = [l["digest"] for l in v1_manifest["layers"]]
        check(len(layers) == 3, "the image has 3 layers")

        dr_log = os.path.join(tmp, "dr.log")
        dp, dr = dm.start_docker_registry(tmp, log_path=dr_log)
        procs.append(dp)
        for tag, repo in (("v1", "interop/img"), ("other", "interop/other")):
            r = run("skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:{tag}", f"docker://{dr}/{repo}:{tag}",
                    env=env)
            check(r.returncode == 0, f"skopeo copy umoci's {tag} -> docker-registry")

        # --- pull (overlay), tree checked through an overlay mount of the chain ----------------------------
        name = f"{dr}/interop/img:v1"
        root1 = os.path.join(tmp, "root-overlay")
        r = run(BERTH, "image", "--root", root1, "pull", name, env=env)
        check(r.returncode == 0 and r.stdout.count("Pull complete") == 3 and f"Digest: {tags['v1']}" in r.stdout,
              "berth image pull (overlay): 3 layers, manifest digest as umoci wrote it")
        info = inspect(root1, name)
        chains = [l["ChainID"] for l in info["Layers"]]
        check(len(chains) == 3 and all(l["Unpacked"] for l in info["Layers"]), "every layer unpacked")
        mnt = os.path.join(tmp, "mnt")
        os.makedirs(mnt)
        lower = ":".join(snap_dir(root1, "overlay", c) for c in reversed(chains))
        r = run("mount", "-t", "overlay", "overlay", "-o", f"ro,lowerdir={lower}", mnt)
        check(r.returncode == 0, "overlay mount of the pulled chain")
        if r.returncode == 0:
            mounts.append(mnt)
            compare(ref, tree(mnt), "overlay snapshots merged")
            run("umount", mnt)
            mounts.remove(mnt)

        # --- pull (native): the top snapshot is the full tree ---------------------------------------------
        root2 = os.path.join(tmp, "root-native")
        r = run(BERTH, "image", "--root", root2, "--snapshotter", "native", "pull", name, env=env)
        check(r.returncode == 0, "berth image pull (native snapshotter)")
        chains2 = [l["ChainID"] for l in inspect(root2, name)["Layers"]]
        check(chains2 == chains, "same chain IDs on both snapshotters")
        compare(ref, tree(snap_dir(root2, "native", chains2[-1])), "native snapshot")

        # --- export: the flattened root filesystem as a tar, from both snapshotters ------------------------
        for root, kind in ((root1, "overlay"), (root2, "native")):
            tarball = os.path.join(tmp, f"export-{kind}.tar")
            r = run(BERTH, "image", "--root", root, "export", "-o", tarball, name, env=env)
            check(r.returncode == 0, f"berth image export ({kind})")
            ex = os.path.join(tmp, f"export-{kind}")
            os.makedirs(ex)
            r = run("tar", "--numeric-owner", "-xpf", tarball, "-C", ex)
            check(r.returncode == 0, f"GNU tar extracts the export ({kind})")
            names = run("tar", "-tf", tarball).stdout.split()
            check(not any("/.wh." in n or n.startswith(".wh.") for n in names), f"no whiteouts in the export ({kind})")
            compare(ref, tree(ex), f"exported rootfs ({kind})")

        # --- save writes an OCI layout that umoci unpacks to the same tree ---------------------------------
        saved = os.path.join(tmp, "saved")
        r = run(BERTH, "image", "--root", root1, "save", "--dir", "-o", saved, name, env=env)
        check(r.returncode == 0, "berth image save --dir (OCI layout + docker archive)")
        r = run("umoci", "unpack", "--image", f"{saved}:v1", os.path.join(tmp, "umoci-of-berth"))
        check(r.returncode == 0, "umoci unpack reads berth's OCI layout")
        if r.returncode == 0:
            compare(ref, tree(os.path.join(tmp, "umoci-of-berth", "rootfs")), "umoci's unpack of berth's layout")

        # --- only the missing layer of an image sharing the base ------------------------------------------
        with open(dr_log) as f:
            f.seek(0, 2)
            log_start = f.tell()
        r = run(BERTH, "image", "--root", root1, "pull", f"{dr}/interop/other:other", env=env)
        with open(dr_log) as f:
            f.seek(log_start)
            log = f.read()
        gets = [l for l in log.splitlines() if "GET /v2/interop/other/blobs/" in l]
        check(r.returncode == 0 and f"{layers[0][7:19]}: Already exists" in r.stdout
              and r.stdout.count("Pull complete") == 1, "second image: base 'Already exists', one layer pulled")
        check(len(gets) == 2 and not any(layers[0] in l for l in gets),
              f"registry log: {len(gets)} blob GETs (config + new layer), none of the base layer")

        # --- push back; skopeo reads it with equal digests ------------------------------------------------
        pushed = f"{dr}/pushed/img:v1"
        must(BERTH, "image", "--root", root1, "tag", name, pushed)
        r = run(BERTH, "image", "--root", root1, "push", pushed, env=env)
        check(r.returncode == 0 and f"v1: digest: {tags['v1']}" in r.stdout, "berth image push to docker-registry")
        check(r.stdout.count("Mounted from interop/") == 3, "layers mounted from the repository they came from")
        r = run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{pushed}", env=env)
        check(r.returncode == 0 and sha(r.stdout.encode()) == tags["v1"], "skopeo inspect --raw: same manifest digest")
        r = run("skopeo", "inspect", "--tls-verify=false", f"docker://{pushed}", env=env)
        check(r.returncode == 0 and json.loads(r.stdout)["Layers"] == layers, "skopeo inspect: same layer digests")
        out = os.path.join(tmp, "out")
        r = run("skopeo", "copy", "--src-tls-verify=false", f"docker://{pushed}", f"oci:{out}:v1", env=env)
        ok = r.returncode == 0
        if ok:
            with open(os.path.join(out, "index.json")) as f:
                ok = json.load(f)["manifests"][0]["digest"] == tags["v1"]
            for d in layers:
                with open(os.path.join(out, "blobs/sha256", d[7:]), "rb") as a, \
                        open(os.path.join(layout, "blobs/sha256", d[7:]), "rb") as b:
                    ok = ok and a.read() == b.read()
        check(ok, "skopeo copy of berth's push: equal manifest digest and layer bytes")

        # a fresh repository (no mount source): every blob uploaded, chunked
        fresh = f"{dr}/fresh/img:v1"
        root3 = os.path.join(tmp, "root-fresh")
        must(BERTH, "image", "--root", root3, "pull", name, env=env)
        must(BERTH, "image", "--root", root3, "tag", name, fresh)
        must(BERTH, "image", "--root", root3, "rm", name)
        r = run(BERTH, "image", "--root", root3, "push", "--chunk-size", "100000", fresh, env=env)
        check(r.returncode == 0 and r.stdout.count(": Pushed") == 3, "chunked push of every layer to a new repository")
        r = run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{fresh}", env=env)
        check(r.returncode == 0 and sha(r.stdout.encode()) == tags["v1"], "skopeo reads the chunked push back")
    finally:
        for m in mounts:
            subprocess.run(["umount", "-l", m])
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if os.environ.get("BERTH_TEST_KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return dm.finish()


if __name__ == "__main__":
    sys.exit(main())
