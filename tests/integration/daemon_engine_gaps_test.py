#!/usr/bin/env python3
"""`berth daemon` driven by the real docker CLI (v28) on a temporary socket and data root, for the engine gaps
closed after the first scenario (issue 4):
  - docker cp into and out of mounts: a named volume, a bind mount, a tmpfs (running container), `cp ctr:/`
    carrying the volume's content, a symlink in the rootfs that points into a volume, the same for a stopped
    container (recorded mount sources), and `..` that must stay inside;
  - archive PUT with noOverwriteDirNonDir (what the docker CLI always sends) refusing to replace a directory by a
    non-directory and the reverse, and replacing when it is false;
  - docker load of archives without a name (docker save of an ID: RepoTags null; an OCI layout without ref
    names): "Loaded image ID: sha256:...";
  - label maps with non-string values refused with 400 naming the field (volume, network, container create);
  - exec --privileged gets the full capability set of a --privileged container;
  - a pull stalled in the middle of a layer download does not block `docker images`, image inspect or `run` of
    another image (a local fake registry that holds one blob until released);
  - an rm queued behind the stop of a --rm container answers and never hangs.
Needs root (containers). Exits 77 (skip) when not root or when berth, docker, curl or busybox are missing."""
import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemons as dm  # noqa: E402
from daemons import BERTH, FAILURES, check  # noqa: E402

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


def run(args, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run(args, capture_output=True, text=True, **kw)


def poll(fn, attempts=400, delay=0.05):
    return dm.poll(fn, attempts, delay)


def start_daemon(data, execroot, sock, logpath, extra=()):
    return dm.start_berth_daemon(data, execroot, sock, logpath, extra)


def curl(sock, method, path, body=None, extra=()):
    """(status, body text) of one request over the unix socket."""
    args = ["curl", "-sS", "--unix-socket", sock, "-X", method, "-w", "\n%{http_code}", *extra]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", body]
    r = run(args + ["http://x" + path])
    text, _, code = r.stdout.rpartition("\n")
    return (int(code) if code.isdigit() else 0), text


def put_tar(sock, ctr, path, tar_bytes, no_overwrite):
    q = f"path={path}&noOverwriteDirNonDir={'true' if no_overwrite else 'false'}"
    p = subprocess.run(["curl", "-sS", "--unix-socket", sock, "-X", "PUT", "-H", "Content-Type: application/x-tar",
                        "--data-binary", "@-", "-w", "\n%{http_code}", f"http://x/v1.41/containers/{ctr}/archive?{q}"],
                       input=tar_bytes, capture_output=True, timeout=60)
    text, _, code = p.stdout.decode(errors="replace").rpartition("\n")
    return (int(code) if code.isdigit() else 0), text


def make_tar(entries):
    """entries: [(name, None) for a directory | (name, bytes) for a file]."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = int(time.time())
            if data is None:
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            else:
                ti.size = len(data)
                ti.mode = 0o644
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def tar_members(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return {m.name.lstrip("./") or ".": (t.extractfile(m).read() if m.isfile() else m) for m in t.getmembers()}


def labels_checks(d, sock):
    cases = [
        ("/v1.41/volumes/create", '{"Name":"gapv","Labels":{"a":1}}',
         "json: cannot unmarshal number into Go struct field VolumeCreateBody.Labels of type string"),
        ("/v1.41/volumes/create", '{"Name":"gapv","DriverOpts":{"o":true}}',
         "json: cannot unmarshal bool into Go struct field VolumeCreateBody.DriverOpts of type string"),
        ("/v1.41/networks/create", '{"Name":"gapn","Labels":{"a":1}}',
         "json: cannot unmarshal number into Go struct field NetworkCreateRequest.Labels of type string"),
        ("/v1.41/networks/create", '{"Name":"gapn","Options":{"a":[1]}}',
         "json: cannot unmarshal array into Go struct field NetworkCreateRequest.Options of type string"),
    ]
    for path, body, msg in cases:
        code, text = curl(sock, "POST", path, body)
        got = json.loads(text).get("message") if text.startswith("{") else text
        check(code == 400 and got == msg, f"{path} {body} -> 400 {msg!r} (got {code} {got!r})")
    r = d("volume", "ls", "-q")
    check("gapv" not in r.stdout.split(), "no volume made by the refused requests")
    r = d("network", "ls", "--format", "{{.Name}}")
    check("gapn" not in r.stdout.split(), "no network made by the refused requests")
    code, text = curl(sock, "POST", "/v1.41/containers/create?name=gapc", '{"Image":"busybox","Labels":{"a":1}}')
    want = "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of type string"
    got = json.loads(text).get("message") if text.startswith("{") else text
    check(code == 400 and got == want, f"container create with a numeric label -> 400 {want!r} ({code} {got!r})")
    r = d("ps", "-a", "--format", "{{.Names}}")
    check("gapc" not in r.stdout.split(), "no container made by the refused request")
    code, text = curl(sock, "POST", "/v1.41/volumes/create", '{"Name":"gapv2","Labels":{"a":null}}')
    check(code == 201 and json.loads(text).get("Labels") == {"a": ""}, f"a null label value reads as \"\" ({code} {text})")
    d("volume", "rm", "gapv2")


def cap_eff(text):
    for line in text.splitlines():
        if line.startswith("CapEff:"):
            return line.split()[1]
    return None


def exec_privileged_checks(d):
    r = d("run", "--rm", "--privileged", "busybox", "grep", "CapEff", "/proc/self/status")
    want = cap_eff(r.stdout)
    check(r.returncode == 0 and want is not None, f"run --privileged: CapEff {want} ({r.stderr.strip()})")
    r = d("run", "-d", "--name", "gapexec", "--privileged", "busybox", "sleep", "1000")
    check(r.returncode == 0, f"run -d --privileged ({r.stderr.strip()})")
    r = d("exec", "--privileged", "gapexec", "grep", "CapEff", "/proc/self/status")
    got = cap_eff(r.stdout)
    check(r.returncode == 0 and got == want, f"exec --privileged: CapEff {got}, a --privileged container's is {want}")
    r = d("exec", "gapexec", "grep", "CapBnd", "/proc/self/status")
    d("rm", "-f", "gapexec")
    r = d("run", "-d", "--name", "gapexec2", "busybox", "sleep", "1000")
    r = d("exec", "gapexec2", "grep", "CapEff", "/proc/self/status")
    plain = cap_eff(r.stdout)
    r = d("exec", "--privileged", "gapexec2", "grep", "CapEff", "/proc/self/status")
    got = cap_eff(r.stdout)
    check(plain is not None and got == want and plain != want,
          f"exec --privileged in a default container: CapEff {got} (plain exec {plain}, privileged {want})")
    d("rm", "-f", "gapexec2")


def load_checks(d, tmp):
    r = d("save", "-o", os.path.join(tmp, "bb.tar"), "busybox")
    check(r.returncode == 0, f"docker save busybox ({r.stderr.strip()})")
    image_id = d("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip()
    with tarfile.open(os.path.join(tmp, "bb.tar")) as t:
        files = {m.name: (m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()}

    def write_variant(path, keep):
        with tarfile.open(path, "w") as out:
            for name, (m, data) in files.items():
                if name in keep:
                    data = keep[name]
                    if data is None:
                        continue
                    m = tarfile.TarInfo(name)
                    m.size = len(data)
                    m.mode = 0o644
                out.addfile(m, io.BytesIO(data) if data is not None else None)
    manifest = json.loads(files["manifest.json"][1])
    for m in manifest:
        m["RepoTags"] = None
    index = json.loads(files["index.json"][1])
    for m in index["manifests"]:
        m.pop("annotations", None)
    variants = {
        # docker save <image ID>: RepoTags null, no OCI index
        "byid.tar": {"manifest.json": json.dumps(manifest).encode(), "index.json": None, "oci-layout": None},
        # an OCI layout whose index entries carry no ref name
        "oci.tar": {"index.json": json.dumps(index).encode(), "manifest.json": None},
    }
    for name, keep in variants.items():
        path = os.path.join(tmp, name)
        write_variant(path, keep)
        r = d("rmi", "-f", "busybox")
        check(r.returncode == 0, f"rmi busybox before loading {name} ({r.stderr.strip()})")
        r = d("load", "-i", path)
        check(r.returncode == 0 and r.stdout.strip() == f"Loaded image ID: {image_id}",
              f"load {name}: {r.stdout.strip()!r} {r.stderr.strip()}")
        r = d("images", "-a", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
        check(f"<none>:<none> {image_id[7:19]}" in r.stdout, f"the loaded image is listed untagged: {r.stdout.strip()}")
        r = d("run", "--rm", image_id[7:19], "echo", "from-id")
        check(r.returncode == 0 and r.stdout == "from-id\n", f"run the loaded image by its ID ({r.stderr.strip()})")
    r = d("load", "-i", os.path.join(tmp, "bb.tar"))
    check(r.returncode == 0 and "Loaded image: busybox:latest" in r.stdout, f"load of the named archive: {r.stdout.strip()}")
    # the round trip through berth itself: docker save <ID> writes no name, docker load reports the ID
    r = d("save", "-o", os.path.join(tmp, "saved-by-id.tar"), image_id[7:19])
    check(r.returncode == 0, f"docker save <ID> ({r.stderr.strip()})")
    with tarfile.open(os.path.join(tmp, "saved-by-id.tar")) as t:
        m = json.loads(t.extractfile("manifest.json").read())
    check(m[0].get("RepoTags") is None, f"save by ID: RepoTags null, as docker writes it ({m[0].get('RepoTags')})")
    d("rmi", "-f", "busybox")
    r = d("load", "-i", os.path.join(tmp, "saved-by-id.tar"))
    check(r.returncode == 0 and r.stdout.strip() == f"Loaded image ID: {image_id}", f"load of it: {r.stdout.strip()!r}")
    d("tag", image_id[7:19], "busybox:latest")
    r = d("images", "--format", "{{.Repository}}:{{.Tag}}")
    check("busybox:latest" in r.stdout.split(), f"tagged again: {r.stdout.split()}")


def cp_checks(d, sock, tmp, data):
    bnd = os.path.join(tmp, "bindsrc")
    os.makedirs(bnd)
    with open(os.path.join(bnd, "h"), "w") as f:
        f.write("inbind\n")
    r = d("run", "-d", "--name", "gapcp", "-v", "gapvol:/data", "-v", f"{bnd}:/bnd", "--tmpfs", "/tm", "busybox",
          "sh", "-c", "echo invol > /data/f; echo intmp > /tm/g; ln -s /data /lnk; ln -s /data/f /lnkf; "
          "ln -s data /rel; ln -s /../../../../etc /esc; touch /ready; sleep 1000")
    check(r.returncode == 0, f"run -d with a volume, a bind and a tmpfs ({r.stderr.strip()})")
    poll(lambda: d("exec", "gapcp", "test", "-e", "/ready").returncode == 0)
    volpath = os.path.join(data, "volumes/gapvol/_data")

    def cp_out(src, *flags):
        p = subprocess.run([DOCKER, "-H", "unix://" + sock, "cp", *flags, src, "-"], capture_output=True, timeout=60)
        if p.returncode != 0:
            return None, p.stderr.decode(errors="replace").strip()
        try:
            return tar_members(p.stdout), ""
        except tarfile.TarError as e:
            return None, str(e)

    def cp_file(src, *flags):
        m, err = cp_out(src, *flags)
        if not m:
            return None, err
        files = [v for v in m.values() if isinstance(v, bytes)]
        return (files[0].decode() if len(files) == 1 else None), err

    def running_checks(state):
        got, err = cp_file("gapcp:/data/f")
        check(got == "invol\n", f"{state}: cp out of a volume: {got!r} {err}")
        got, err = cp_file("gapcp:/bnd/h")
        check(got == "inbind\n", f"{state}: cp out of a bind mount: {got!r} {err}")
        got, err = cp_file("gapcp:/lnk/f")
        check(got == "invol\n", f"{state}: cp through a symlink that points into the volume: {got!r} {err}")
        got, err = cp_file("gapcp:/rel/f")
        check(got == "invol\n", f"{state}: cp through a relative symlink into the volume: {got!r} {err}")
        got, err = cp_file("gapcp:/lnkf", "-L")
        check(got == "invol\n", f"{state}: cp -L of a symlink to a file in the volume: {got!r} {err}")
        got, err = cp_file("gapcp:/../../data/f")
        check(got == "invol\n", f"{state}: '..' stops at the container's root: {got!r} {err}")
        got, err = cp_file("gapcp:/esc/hostname")
        check(got is not None and got.strip() == d("inspect", "-f", "{{.Config.Hostname}}", "gapcp").stdout.strip(),
              f"{state}: a symlink to /../../../../etc stays in the container (its /etc/hostname): {got!r} {err}")
        m, err = cp_out("gapcp:/")
        check(m is not None and m.get("data/f") == b"invol\n" and m.get("bnd/h") == b"inbind\n",
              f"{state}: cp of / carries the volume's and the bind's content ({err})")
        m, err = cp_out("gapcp:/data/.")
        check(m is not None and m.get("f") == b"invol\n", f"{state}: cp of /data/. ({err})")

    running_checks("running")
    got, err = cp_file("gapcp:/tm/g")
    check(got == "intmp\n", f"running: cp out of a tmpfs: {got!r} {err}")
    src = os.path.join(tmp, "up.txt")
    with open(src, "w") as f:
        f.write("uploaded\n")
    for dest, inside in (("/data/", "/data/up.txt"), ("/lnk/", "/data/up.txt"), ("/tm/", "/tm/up.txt"),
                         ("/bnd/", "/bnd/up.txt")):
        d("exec", "gapcp", "rm", "-f", inside)
        r = d("cp", src, "gapcp:" + dest)
        got = d("exec", "gapcp", "cat", inside).stdout
        check(r.returncode == 0 and got == "uploaded\n", f"running: cp into {dest}: the container sees {inside} "
              f"({got!r} {r.stderr.strip()})")
    check(open(os.path.join(volpath, "up.txt")).read() == "uploaded\n", "the copy into the volume is in its source")
    check(open(os.path.join(bnd, "up.txt")).read() == "uploaded\n", "the copy into the bind mount is on the host")
    rootfs_data = os.path.join(data, "containers", d("inspect", "-f", "{{.Id}}", "gapcp").stdout.strip(), "rootfs/data")
    check(not os.path.exists(os.path.join(rootfs_data, "up.txt")), "nothing was written into the rootfs under /data")
    # a tar whose entries reach into a mount below the extraction point: they land in the mount, not under it
    code, text = put_tar(sock, "gapcp", "/", make_tar([("data", None), ("data/deep", None), ("data/deep/x", b"x\n")]),
                         True)
    got = d("exec", "gapcp", "cat", "/data/deep/x").stdout
    check(code == 200 and got == "x\n" and os.path.exists(os.path.join(volpath, "deep/x"))
          and not os.path.exists(os.path.join(rootfs_data, "deep")),
          f"PUT / with data/deep/x (data is a volume) writes into the volume: {code} {text.strip()} {got!r}")
    r = d("cp", os.path.join(tmp, "bindsrc"), "gapcp:/")
    check(r.returncode == 0 and d("exec", "gapcp", "cat", "/bindsrc/h").stdout == "inbind\n",
          f"docker cp of a directory into / ({r.stderr.strip()})")

    # noOverwriteDirNonDir (the docker CLI always sets it)
    d("exec", "gapcp", "sh", "-c", "rm -rf /tmp/x /tmp/dd; echo file > /tmp/x; mkdir -p /tmp/dd/sub")
    os.makedirs(os.path.join(tmp, "up/x"))
    with open(os.path.join(tmp, "up/x/a"), "w") as f:
        f.write("a\n")
    r = d("cp", os.path.join(tmp, "up/x"), "gapcp:/tmp/")
    check(r.returncode != 0 and 'cannot overwrite non-directory "/tmp/x" with directory "/tmp"' in r.stderr,
          f"docker cp of a directory over a file is refused: {r.stderr.strip()}")
    check(d("exec", "gapcp", "cat", "/tmp/x").stdout == "file\n", "the file is untouched")
    code, text = put_tar(sock, "gapcp", "/tmp", make_tar([("dd", b"now a file")]), True)
    check(code == 400 and 'cannot overwrite directory \\"/tmp/dd\\" with non-directory \\"/tmp\\"' in text,
          f"PUT of a file over a directory with noOverwriteDirNonDir: {code} {text.strip()}")
    check(d("exec", "gapcp", "test", "-d", "/tmp/dd/sub").returncode == 0, "the directory is untouched")
    code, text = put_tar(sock, "gapcp", "/tmp", make_tar([("dd", b"now a file")]), False)
    check(code == 200 and d("exec", "gapcp", "cat", "/tmp/dd").stdout == "now a file",
          f"without noOverwriteDirNonDir the file replaces the directory: {code} {text.strip()}")

    # stopped: the recorded mount sources
    r = d("stop", "-t", "1", "gapcp")
    check(r.returncode == 0, f"stop ({r.stderr.strip()})")
    running_checks("stopped")
    got, err = cp_file("gapcp:/tm/g")
    check(got is None and "Could not find the file /tm/g" in err, f"stopped: the tmpfs is gone, as with docker: {err}")
    os.unlink(os.path.join(volpath, "up.txt"))
    r = d("cp", src, "gapcp:/lnk/")
    check(r.returncode == 0 and open(os.path.join(volpath, "up.txt")).read() == "uploaded\n"
          and not os.path.exists(os.path.join(rootfs_data, "up.txt")),
          f"stopped: cp into a symlink to the volume lands in the volume ({r.stderr.strip()})")
    r = d("start", "gapcp")
    got = d("exec", "gapcp", "cat", "/data/up.txt").stdout
    check(got == "uploaded\n", f"restarted: the container sees the copy ({got!r})")
    d("rm", "-f", "gapcp")
    d("volume", "rm", "gapvol")


class StallingRegistry:
    """A minimal registry (plain HTTP on loopback) serving one image, `stall:v1`: busybox's layer plus a new
    layer whose download stops half-way until release() — a pull that stays in progress for as long as the
    test needs, without timing anything."""

    def __init__(self, saved_tar):
        with tarfile.open(saved_tar) as t:
            files = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
        index = json.loads(files["index.json"])
        base = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"][7:]])
        cfg = json.loads(files["blobs/sha256/" + base["config"]["digest"][7:]])
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as t:
            payload = os.urandom(4 << 20)
            ti = tarfile.TarInfo("stall.bin")
            ti.size = len(payload)
            t.addfile(ti, io.BytesIO(payload))
        layer_raw = raw.getvalue()
        import gzip
        layer = gzip.compress(layer_raw, compresslevel=1)
        self.blobs = {}

        def put(b):
            dg = "sha256:" + hashlib.sha256(b).hexdigest()
            self.blobs[dg] = b
            return dg
        for name, b in files.items():
            if name.startswith("blobs/sha256/"):
                self.blobs["sha256:" + name[len("blobs/sha256/"):]] = b
        cfg["rootfs"]["diff_ids"] = cfg["rootfs"]["diff_ids"] + ["sha256:" + hashlib.sha256(layer_raw).hexdigest()]
        cfg_bytes = json.dumps(cfg).encode()
        self.layer_digest = put(layer)
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg_bytes),
                               "size": len(cfg_bytes)},
                    "layers": base["layers"] + [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                                 "digest": self.layer_digest, "size": len(layer)}]}
        self.manifest = json.dumps(manifest).encode()
        self.manifest_digest = put(self.manifest)
        self.stalled = threading.Event()
        self.released = threading.Event()
        reg = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, code, body=b"", ctype="application/octet-stream", head=False, extra=()):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
                for k, v in extra:
                    self.send_header(k, v)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def handle_one(self, head):
                p = self.path.split("?")[0]
                if p in ("/v2/", "/v2"):
                    return self.reply(200, b"{}", "application/json", head)
                if p.startswith("/v2/stall/manifests/"):
                    ref = p.rsplit("/", 1)[1]
                    if ref not in ("v1", reg.manifest_digest):
                        return self.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', "application/json", head)
                    return self.reply(200, reg.manifest, "application/vnd.oci.image.manifest.v1+json", head,
                                      [("Docker-Content-Digest", reg.manifest_digest)])
                if p.startswith("/v2/stall/blobs/"):
                    dg = p.rsplit("/", 1)[1]
                    b = reg.blobs.get(dg)
                    if b is None:
                        return self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}', "application/json", head)
                    if head or dg != reg.layer_digest:
                        return self.reply(200, b, head=head, extra=[("Docker-Content-Digest", dg)])
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(b)))
                    self.send_header("Docker-Content-Digest", dg)
                    self.end_headers()
                    half = len(b) // 2
                    self.wfile.write(b[:half])
                    self.wfile.flush()
                    reg.stalled.set()
                    reg.released.wait(300)
                    self.wfile.write(b[half:])
                    return
                return self.reply(404, b"{}", "application/json", head)

            def do_GET(self):
                self.handle_one(False)

            def do_HEAD(self):
                self.handle_one(True)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self):
        self.released.set()

    def close(self):
        self.released.set()
        self.server.shutdown()


def pull_lock_checks(d, reg):
    ref = f"127.0.0.1:{reg.port}/stall:v1"
    p = subprocess.Popen([*d.base, "pull", ref], env=d.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stalled = poll(lambda: reg.stalled.is_set() or p.poll() is not None, attempts=1200)
        check(stalled and reg.stalled.is_set() and p.poll() is None,
              f"the pull is in progress, half of a layer downloaded (rc={p.poll()})")
        # While the pull holds a download open: the image operations answer (a stuck call fails by its timeout).
        try:
            r = d("images", "--format", "{{.Repository}}:{{.Tag}}", timeout=60)
            check(r.returncode == 0 and "busybox:latest" in r.stdout, f"docker images during the pull: {r.stdout.split()}")
            r = d("image", "inspect", "-f", "{{.Id}}", "busybox", timeout=60)
            check(r.returncode == 0 and r.stdout.startswith("sha256:"), "docker image inspect during the pull")
            r = d("run", "--rm", "busybox", "echo", "during-pull", timeout=60)
            check(r.returncode == 0 and r.stdout == "during-pull\n", f"docker run of another image during the pull ({r.stderr.strip()})")
            r = d("image", "inspect", ref, timeout=60)
            check(r.returncode != 0 and "No such image" in r.stderr, "the image being pulled is not there yet")
        except subprocess.TimeoutExpired as e:
            check(False, f"an image operation blocked behind the pull: {e.cmd[3:]}")
        check(p.poll() is None, "the pull is still waiting for its layer")
    finally:
        reg.release()
    out, err = p.communicate(timeout=120)
    check(p.returncode == 0 and "Downloaded newer image" in out, f"the pull completes once released ({err.strip()})")
    r = d("run", "--rm", ref, "stat", "-c", "%s", "/stall.bin")
    check(r.returncode == 0 and r.stdout.strip() == str(4 << 20), f"the pulled image runs: {r.stdout.strip()} {r.stderr.strip()}")
    r = d("rmi", ref)
    check(r.returncode == 0, f"rmi the pulled image ({r.stderr.strip()})")


def auto_remove_race_checks(d):
    """An rm queued behind a stop of a --rm container: whichever of the rm and the auto-removal gets the
    container first, the rm answers (removed, or "already in progress") and the container is gone; the rm never
    hangs (it used to deadlock when it won: it waited for the monitor thread, which waited for the rm's lock)."""
    for i in range(6):
        r = d("run", "-d", "--rm", "busybox", "sleep", "300")
        cid = r.stdout.strip()
        check(r.returncode == 0 and bool(cid), f"race {i}: run -d --rm ({r.stderr.strip()})")
        if not cid:
            continue
        # sleep as PID 1 ignores SIGTERM: the stop holds the container for 1 s, then kills it
        stop = subprocess.Popen(d.base + ["stop", "-t", "1", cid], env=d.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        try:
            rr = d("rm", cid, timeout=30)
            check(rr.returncode == 0 or "already in progress" in rr.stderr or "No such container" in rr.stderr,
                  f"race {i}: rm during the stop of a --rm container answers ({rr.returncode}: {rr.stderr.strip()})")
        except subprocess.TimeoutExpired:
            check(False, f"race {i}: rm during the stop of a --rm container hung")
        try:
            stop.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stop.kill()
            check(False, f"race {i}: stop of a --rm container hung")
        check(poll(lambda: cid not in d("ps", "-aq", "--no-trunc").stdout),
              f"race {i}: the --rm container is gone")


def main():
    if os.geteuid() != 0:
        print("skip: needs root (containers)")
        return 77
    for p in (BERTH, DOCKER, "/bin/busybox"):
        if not os.access(p, os.X_OK):
            print(f"skip: {p} missing")
            return 77
    if not shutil.which("curl"):
        print("skip: curl missing")
        return 77
    tmp = tempfile.mkdtemp(prefix="gaps-daemon-")
    data = os.path.join(tmp, "data")
    execroot = tempfile.mkdtemp(prefix="bg", dir="/tmp")  # short: shim sockets must fit in sun_path
    sock = os.path.join(tmp, "gaps.sock")
    env = dict(os.environ, DOCKER_CONFIG=os.path.join(tmp, "dockercfg"))
    env.pop("DOCKER_HOST", None)
    daemon = reg = None

    def d(*a, **kw):
        return run(d.base + list(a), env=env, **kw)
    d.base = [DOCKER, "-H", "unix://" + sock]
    d.env = env

    try:
        r = run([BERTH, "image", "--root", data, "bootstrap", "busybox"])
        check(r.returncode == 0, f"bootstrap busybox ({r.stderr.strip()})")
        saved = os.path.join(tmp, "busybox-saved.tar")
        r = run([BERTH, "image", "--root", data, "save", "-o", saved, "busybox"])
        check(r.returncode == 0, f"berth image save busybox ({r.stderr.strip()})")
        reg = StallingRegistry(saved)
        daemon = start_daemon(data, execroot, sock, os.path.join(tmp, "daemon.log"),
                              ("--insecure-registry", f"127.0.0.1:{reg.port}"))
        check(daemon.poll() is None, "daemon is up")
        pull_lock_checks(d, reg)
        cp_checks(d, sock, tmp, data)
        labels_checks(d, sock)
        exec_privileged_checks(d)
        load_checks(d, tmp)
        auto_remove_race_checks(d)
    finally:
        if reg is not None:
            reg.close()
        if daemon is not None:
            d("rm", "-f", *[c for c in d("ps", "-aq").stdout.split()])
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        if FAILURES:
            try:
                print(open(os.path.join(tmp, "daemon.log")).read()[-4000:])
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(execroot, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("all ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
