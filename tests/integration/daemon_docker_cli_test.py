#!/usr/bin/env python3
"""`berth daemon` driven by the real docker CLI (v28) on a temporary unix socket and data root:
  version (client and server), info, `berth version` / `berth images` (Engine API client), images, image inspect, history, tag, rmi, image prune; an unknown endpoint
  via curl -> 404 JSON; too-new API version -> 400; SIGTERM -> clean exit and the socket is removed.
Also: TCP is refused without mutual TLS, and with it docker --tlsverify works while clients without a
certificate from the CA are rejected. Needs no root. Exits 77 (skip) when berth, docker, curl or busybox
are missing."""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
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
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_certs(d):
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    def ossl(*a):
        subprocess.run(["openssl"] + list(a), cwd=d, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "1", "-subj", "/CN=engine-test-ca")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for name, ext in (("server", ["-extfile", "san.ext"]), ("client", [])):
        ossl("req", *ec, "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        ossl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "1", *ext)
    # a second CA whose client certificate the daemon must reject
    ossl("req", "-x509", *ec, "-keyout", "rogue-key.pem", "-out", "rogue.pem", "-days", "1", "-subj", "/CN=rogue")


def tls_checks(tmp, data, env):
    if not shutil.which("openssl"):
        print("skip: TCP/TLS checks (openssl missing)")
        return
    d = os.path.join(tmp, "tls")
    os.makedirs(d)
    make_certs(d)
    port = free_port()
    p = lambda n: os.path.join(d, n)
    log = open(os.path.join(tmp, "daemon-tls.log"), "w")
    dm = subprocess.Popen([BERTH, "daemon", "--data-root", os.path.join(tmp, "data-tls"), "--exec-root",
                           os.path.join(tmp, "exec-tls"), "-H", f"tcp://127.0.0.1:{port}", "--tlsverify",
                           "--tlscacert", p("ca.pem"), "--tlscert", p("server.pem"), "--tlskey", p("server-key.pem")],
                          stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):  # readiness poll
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if dm.poll() is not None:
                    break
                time.sleep(0.05)
        r = run([DOCKER, "--tlsverify", "--tlscacert", p("ca.pem"), "--tlscert", p("client.pem"), "--tlskey",
                 p("client-key.pem"), "-H", f"tcp://127.0.0.1:{port}", "version", "--format", "{{.Server.APIVersion}}"],
                env=env)
        check(r.returncode == 0 and r.stdout.strip() == "1.41", f"docker --tlsverify over tcp:// ({r.stderr.strip()})")
        r = run(["curl", "-sS", "--cacert", p("ca.pem"), f"https://127.0.0.1:{port}/_ping"])
        check(r.returncode != 0 and r.stdout != "OK", "TLS client without a certificate is rejected")
        r = run(["curl", "-sS", "--cacert", p("ca.pem"), "--cert", p("rogue.pem"), "--key", p("rogue-key.pem"),
                 f"https://127.0.0.1:{port}/_ping"])
        check(r.returncode != 0 and r.stdout != "OK", "client certificate from another CA is rejected")
        r = run(["curl", "-sS", "--cacert", p("ca.pem"), "--cert", p("client.pem"), "--key", p("client-key.pem"),
                 f"https://127.0.0.1:{port}/_ping"])
        check(r.returncode == 0 and r.stdout == "OK", "client certificate from the CA is accepted")
    finally:
        dm.send_signal(signal.SIGTERM)
        check(dm.wait(timeout=30) == 0, "TLS daemon exits 0 on SIGTERM")


def main():
    for p in (BERTH, DOCKER, "/bin/busybox"):
        if not os.access(p, os.X_OK):
            print(f"skip: {p} missing")
            return 77
    if not shutil.which("curl"):
        print("skip: curl missing")
        return 77
    tmp = tempfile.mkdtemp(prefix="engine-daemon-")
    data = os.path.join(tmp, "data")
    sock = os.path.join(tmp, "engine.sock")
    env = dict(os.environ, DOCKER_CONFIG=os.path.join(tmp, "dockercfg"))
    env.pop("DOCKER_HOST", None)
    daemon = None
    try:
        r = run([BERTH, "image", "--root", data, "bootstrap", "busybox"])
        check(r.returncode == 0, f"bootstrap busybox into the data root ({r.stderr.strip()})")

        # TCP without mutual TLS is refused before anything listens.
        r = run([BERTH, "daemon", "--data-root", data, "--exec-root", os.path.join(tmp, "exec"),
                 "-H", "tcp://127.0.0.1:0"])
        check(r.returncode != 0 and "mutual TLS" in r.stderr, "tcp:// without --tlsverify is refused")

        log = open(os.path.join(tmp, "daemon.log"), "w")
        daemon = subprocess.Popen([BERTH, "daemon", "--data-root", data, "--exec-root", os.path.join(tmp, "exec"),
                                   "-H", "unix://" + sock], stdout=log, stderr=subprocess.STDOUT)
        for _ in range(200):  # wait for the socket (not a timed assertion: a readiness poll)
            if os.path.exists(sock) or daemon.poll() is not None:
                break
            time.sleep(0.05)
        check(os.path.exists(sock), "daemon created its socket")
        st = os.lstat(sock)
        check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660, "socket mode 0660")
        H = ["-H", "unix://" + sock]

        r = run([DOCKER] + H + ["version"], env=env)
        check(r.returncode == 0, f"docker version exit 0 ({r.stderr.strip()})")
        check("Client:" in r.stdout and "Server:" in r.stdout, "docker version prints client and server")
        check("API version:" in r.stdout and "1.41" in r.stdout, "server API version 1.41")
        r = run([DOCKER] + H + ["version", "--format", "{{json .Server}}"], env=env)
        srv = json.loads(r.stdout) if r.returncode == 0 else {}
        check(srv.get("ApiVersion") == "1.41" and srv.get("Os") == "linux" and srv.get("KernelVersion") == os.uname().release,
              "version: ApiVersion, Os, KernelVersion")

        r = run([DOCKER] + H + ["info", "--format", "{{json .}}"], env=env)
        check(r.returncode == 0, f"docker info exit 0 ({r.stderr.strip()})")
        info = json.loads(r.stdout) if r.returncode == 0 else {}
        check(info.get("Images") == 1 and info.get("Containers") == 0, "info: 1 image, 0 containers")
        check(info.get("DockerRootDir") == data, "info: DockerRootDir is the data root")
        check(info.get("NCPU") == os.cpu_count(), "info: NCPU")
        check("berth" in (info.get("Runtimes") or {}), "info: runtimes include berth")
        check(info.get("Driver") in ("overlay2", "native"), f"info: driver {info.get('Driver')}")
        r = run([DOCKER] + H + ["info"], env=env)
        check(r.returncode == 0 and "Server Version:" in r.stdout, "docker info (text) exit 0")

        r = run([DOCKER] + H + ["images"], env=env)
        check(r.returncode == 0 and "busybox" in r.stdout and "latest" in r.stdout, f"docker images lists busybox:\n{r.stdout}")

        r = run([DOCKER] + H + ["image", "inspect", "busybox"], env=env)
        check(r.returncode == 0, f"docker image inspect busybox exit 0 ({r.stderr.strip()})")
        ins = json.loads(r.stdout)[0] if r.returncode == 0 else {}
        image_id = ins.get("Id", "")
        check(image_id.startswith("sha256:") and ins.get("RepoTags") == ["busybox:latest"], "inspect: Id and RepoTags")
        check((ins.get("Config") or {}).get("Cmd") == ["sh"], "inspect: Config.Cmd from the image")
        check(len((ins.get("RootFS") or {}).get("Layers") or []) == 1, "inspect: one layer")

        r = run([DOCKER] + H + ["image", "inspect", image_id[7:19]], env=env)
        check(r.returncode == 0 and json.loads(r.stdout)[0]["Id"] == image_id, "inspect by short ID")
        r = run([DOCKER] + H + ["image", "inspect", "nosuch:img"], env=env)
        check(r.returncode != 0 and "No such image: nosuch:img" in r.stderr, f"inspect of a missing image: {r.stderr.strip()}")

        r = run([DOCKER] + H + ["history", "busybox"], env=env)
        check(r.returncode == 0 and image_id[7:19] in r.stdout, "docker history")

        # the berth CLI side: version and images through net/http's client over the unix socket
        r = run([BERTH, "version", "-H", "unix://" + sock])
        check(r.returncode == 0 and "Server:" in r.stdout and "API version:  1.41 (minimum version 1.24)" in r.stdout,
              f"berth version ({r.stderr.strip()})")
        r = run([BERTH, "images"], env=dict(os.environ, BERTH_HOST="unix://" + sock))
        check(r.returncode == 0 and "busybox" in r.stdout and image_id[7:19] in r.stdout, f"berth images:\n{r.stdout}")
        r = run([BERTH, "version", "-H", "unix://" + os.path.join(tmp, "nosuch.sock")])
        check(r.returncode != 0 and "is the daemon running" in r.stderr, "berth version without a daemon fails clearly")

        r = run([DOCKER] + H + ["tag", "busybox", "127.0.0.1:5000/bb:v1"], env=env)
        check(r.returncode == 0, f"docker tag ({r.stderr.strip()})")
        r = run([DOCKER] + H + ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"], env=env)
        lines = sorted(r.stdout.split())
        check("127.0.0.1:5000/bb:v1" in lines and "busybox:latest" in lines, f"both names listed: {r.stdout.strip()}")

        r = run([DOCKER] + H + ["rmi", image_id[7:19]], env=env)
        check(r.returncode != 0 and "must be forced" in r.stderr, "rmi by ID with two names needs -f")
        r = run([DOCKER] + H + ["rmi", "127.0.0.1:5000/bb:v1"], env=env)
        check(r.returncode == 0 and "Untagged: 127.0.0.1:5000/bb:v1" in r.stdout and "Deleted" not in r.stdout,
              f"rmi of one name untags only: {r.stdout.strip()}")
        r = run([DOCKER] + H + ["tag", "busybox", "other:x"], env=env)
        r = run([DOCKER] + H + ["rmi", "-f", image_id[7:19]], env=env)
        check(r.returncode == 0 and f"Deleted: {image_id}" in r.stdout and "Untagged: other:x" in r.stdout,
              f"rmi -f by ID deletes: {r.stdout.strip()}")
        r = run([DOCKER] + H + ["images", "-q"], env=env)
        check(r.returncode == 0 and r.stdout.strip() == "", "no images left")
        r = run([DOCKER] + H + ["rmi", "busybox"], env=env)
        check(r.returncode != 0 and "No such image" in r.stderr, "rmi of a missing image fails")
        r = run([DOCKER] + H + ["image", "prune", "-f"], env=env)
        check(r.returncode == 0 and "Total reclaimed space" in r.stdout, "docker image prune -f")

        r = run(["curl", "-sS", "--unix-socket", sock, "-w", "\n%{http_code}", "http://x/v1.41/nonexistent"])
        body, code = r.stdout.rsplit("\n", 1)
        check(code == "404" and json.loads(body) == {"message": "page not found"}, f"unknown endpoint: {code} {body}")
        r = run(["curl", "-sS", "--unix-socket", sock, "-w", "\n%{http_code}", "http://x/v1.99/version"])
        body, code = r.stdout.rsplit("\n", 1)
        check(code == "400" and "too new" in json.loads(body)["message"], f"too-new version: {code} {body}")
        r = run(["curl", "-sS", "-I", "--unix-socket", sock, "http://x/_ping"])
        check("Api-Version: 1.41" in r.stdout and "Pragma: no-cache" in r.stdout, "HEAD /_ping headers")

        tls_checks(tmp, data, env)

        daemon.send_signal(signal.SIGTERM)
        rc = daemon.wait(timeout=30)
        check(rc == 0, f"daemon exits 0 on SIGTERM (rc={rc})")
        check(not os.path.exists(sock), "socket removed on shutdown")
        daemon = None
        logtext = open(os.path.join(tmp, "daemon.log")).read()
        first = logtext.splitlines()[0] if logtext else ""
        try:
            json.loads(first)
            check(True, "logs are JSON lines")
        except ValueError:
            check(False, f"logs are JSON lines: {first}")
    finally:
        if daemon is not None:
            daemon.kill()
            daemon.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("all ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
