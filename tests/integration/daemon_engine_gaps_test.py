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
    another image (a local fake registry that holds one blob until released).
Needs root (containers). Exits 77 (skip) when not root or when berth, docker, curl or busybox are missing."""
import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

BUILD = os.environ.get("BERTH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
BERTH = os.path.join(BUILD, "cmd/berth/berth")
DOCKER = shutil.which("docker") or "/usr/local/bin/docker"
FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def run(args, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run(args, capture_output=True, text=True, **kw)


def poll(fn, attempts=400, delay=0.05):
    """Readiness poll (not a timed assertion): fn() until truthy or attempts run out."""
    for _ in range(attempts):
        v = fn()
        if v:
            return v
        time.sleep(delay)
    return fn()


def start_daemon(data, execroot, sock, logpath, extra=()):
    log = open(logpath, "a")
    d = subprocess.Popen([BERTH, "daemon", "--data-root", data, "--exec-root", execroot, "-H", "unix://" + sock,
                          *extra], stdout=log, stderr=subprocess.STDOUT)

    def accepting():
        if d.poll() is not None:
            return True
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sock)
            return True
        except OSError:
            return False
        finally:
            s.close()
    poll(accepting)
    return d


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
    check(code == 400 and "Labels" in text, f"container create with a numeric label -> 400 naming Labels ({code} {text})")
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
    daemon = None

    def d(*a, **kw):
        return run([DOCKER, "-H", "unix://" + sock] + list(a), env=env, **kw)

    try:
        r = run([BERTH, "image", "--root", data, "bootstrap", "busybox"])
        check(r.returncode == 0, f"bootstrap busybox ({r.stderr.strip()})")
        daemon = start_daemon(data, execroot, sock, os.path.join(tmp, "daemon.log"))
        check(daemon.poll() is None, "daemon is up")
        labels_checks(d, sock)
        exec_privileged_checks(d)
        load_checks(d, tmp)
    finally:
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
