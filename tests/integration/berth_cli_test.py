#!/usr/bin/env python3
"""The `berth` CLI (an Engine API client) drives a real daemon through a docker-like scenario: run (plain, -d,
-i, -it through a pty, --rm, exit codes 0/1/125/126/127), create/start -a, exec (-i, -t, -it, -e -w -u, exit
code), logs (-f, --tail, -t), cp both ways, inspect --format / --type, ps filters and --format, stop / kill /
restart / rm, wait, rename, top, stats, volumes persisting across container removal, restart policy after a
crash, networks, save / load, push / pull against `berth registry serve` on loopback, events, system df / prune.

The daemon under test: BERTH_CLI_TEST_DAEMON=dockerd (default: Debian's docker.io on a private socket, data root
and exec root, image imported with `docker import` from tests/helpers/mkrootfs.sh) or =berth (`berth daemon`
on a temporary socket and data root, image from `berth image bootstrap`). Needs root; exits 77 when the daemon
or the berth binary is missing.
"""

import json
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import termios
import fcntl
import io
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import berthtest as bt  # noqa: E402
import daemons as dm  # noqa: E402

DAEMON_KIND = os.environ.get("BERTH_CLI_TEST_DAEMON", "dockerd")
DOCKERD = os.environ.get("BERTH_DOCKERD", "/usr/sbin/dockerd")
DOCKER_CLI = os.environ.get("BERTH_DOCKER_CLI", "/usr/bin/docker")
BERTH = os.environ.get("BERTH_CLI") or os.path.join(bt.BUILD_DIR, "cmd", "berth", "berth")
IMAGE = "berthtest/busybox:latest"
# At API 1.41 the console size arrives with the resize call after start (as with the docker CLI), so a command
# that prints it first waits until the terminal has one (a readiness loop, bounded by the test's hang guard).
WAIT_SIZE = 'while s=$(stty size 2>/dev/null); [ -z "$s" ] || [ "$s" = "0 0" ]; do sleep 0.1; done; '


class Daemon:
    """A daemon on a private socket; .host is the -H value for berth."""

    def __init__(self, env):
        self.dir = os.path.join(env.tmp, "daemon")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "api.sock")
        self.host = "unix://" + self.sock
        self.data_root = os.path.join(self.dir, "data")
        # Short: sockets live under the exec root (a unix socket path has at most 107 bytes).
        self.exec_root = tempfile.mkdtemp(prefix="bc", dir="/tmp")
        cgroup_parent = f"/{bt.PREFIX}-cli-{os.getpid()}"
        # A second listener on loopback TCP with mutual TLS (both daemons refuse TCP without it).
        self.tls = dm.make_certs(os.path.join(self.dir, "tls"), "cli-test-ca")
        self.tcp = f"tcp://127.0.0.1:{dm.free_port()}"
        tls_args = ["-H", self.tcp, "--tlsverify", "--tlscacert", self.tls["ca"], "--tlscert", self.tls["server"],
                    "--tlskey", self.tls["server-key"]]
        self.tree = dm.DaemonTree([self.dir, self.exec_root], cgroup_parent, os.path.join(self.dir, "daemon.log"))
        if DAEMON_KIND == "dockerd":
            argv = dm.dockerd_argv(self.dir, self.sock, self.data_root, self.exec_root, cgroup_parent, tls_args)
        else:
            r = subprocess.run([BERTH, "image", "--root", self.data_root, "bootstrap", "busybox"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("berth image bootstrap: " + r.stderr)
            argv = [BERTH, "daemon", "--data-root", self.data_root, "--exec-root", self.exec_root, "-H", self.host,
                    *tls_args]
        self.proc = self.tree.start(argv)
        ok = bt.wait_for(lambda: self.proc.poll() is not None or berth(self, "version", timeout=10).returncode == 0,
                         timeout=60, step=0.2)
        if self.proc.poll() is not None or not ok:
            raise RuntimeError(f"{DAEMON_KIND} did not come up: " + self.tail())

    def tail(self, n=2000):
        return self.tree.tail(n)

    def stop(self):
        r = berth(self, "ps", "-aq", timeout=30)
        ids = r.stdout.split()
        if ids:
            berth(self, "rm", "-f", *ids, timeout=60)
        self.tree.teardown()
        shutil.rmtree(self.exec_root, ignore_errors=True)


def berth_tls(d, *args, cert="client", key="client-key", timeout=120, input=None):
    """berth --tlsverify ... -H tcp://... ARGS (docker's global TLS flags)."""
    e = dict(os.environ)
    e.pop("BERTH_HOST", None)
    return subprocess.run([BERTH, "--tlsverify", "--tlscacert", d.tls["ca"], "--tlscert", d.tls[cert], "--tlskey",
                           d.tls[key], "-H", d.tcp, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, env=e, text=True, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL)


def berth(d, *args, timeout=120, input=None, env=None):
    """Runs `berth -H <sock> ARGS`; text output."""
    e = dict(os.environ, **(env or {}))
    e.pop("BERTH_HOST", None)
    return subprocess.run([BERTH, "-H", d.host, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, env=e, text=True, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL)


def berth_pty(d, *args, keys=b"", rows=30, cols=100, timeout=60):
    """Runs berth with stdin/stdout/stderr on a fresh pty of the given size, types `keys`, and returns
    (exit code, everything it printed). The deadline only guards against a hang."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    p = subprocess.Popen([BERTH, "-H", d.host, *args], stdin=slave, stdout=slave, stderr=slave,
                         start_new_session=True, close_fds=True)
    os.close(slave)
    out = b""
    sent = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sent and keys:
            os.write(master, keys)
            sent = True
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    try:
        rc = p.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    os.close(master)
    return rc, out.decode(errors="replace")


class PtySession:
    """berth on a pty that is its controlling terminal (so a window-size change sends it SIGWINCH), driven
    step by step: expect() reads until a pattern shows up (bounded by a hang guard), send() types,
    resize() changes the window size."""

    def __init__(self, d, *args, rows=30, cols=100):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

        def ctty():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([BERTH, "-H", d.host, *args], stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, close_fds=True, preexec_fn=ctty)
        os.close(slave)
        self.out = b""

    def expect(self, pattern, timeout=30):
        deadline = time.monotonic() + timeout
        while pattern not in self.out and time.monotonic() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                self.out += chunk
        return pattern in self.out

    def send(self, data):
        os.write(self.master, data)

    def resize(self, rows, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def finish(self, timeout=30):
        self.expect(b"\x00never\x00", timeout=0.5)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        while True:
            r, _, _ = select.select([self.master], [], [], 0.1)
            if not r:
                break
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.out += chunk
        os.close(self.master)
        return rc, self.out.decode(errors="replace")


def inspect(d, name, fmt):
    r = berth(d, "inspect", "--format", fmt, name)
    return r.stdout.strip() if r.returncode == 0 else None


def make_image(env, d):
    if DAEMON_KIND == "dockerd":
        tar = os.path.join(env.tmp, "busybox.tar")
        with tarfile.open(tar, "w") as t:
            for name in sorted(os.listdir(env.template)):
                t.add(os.path.join(env.template, name), arcname=name)
        with open(tar, "rb") as f:
            e = dict(os.environ, DOCKER_HOST=d.host, DOCKER_CONFIG=os.path.join(env.tmp, "dockercfg"))
            r = subprocess.run([DOCKER_CLI, "import", "-", IMAGE], stdin=f, capture_output=True, env=e)
        if r.returncode != 0:
            raise RuntimeError("docker import: " + r.stderr.decode(errors="replace"))
    else:
        r = berth(d, "tag", "busybox", IMAGE)
        if r.returncode != 0:
            raise RuntimeError("berth tag busybox: " + r.stderr)


def short(r):
    return f"rc {r.returncode}, out {r.stdout.strip()[-80:]!r}, err {r.stderr.strip()[-160:]!r}"


def steps(d, env):
    """Yields (step, ok, detail)."""
    p = f"{bt.PREFIX}-cli-{os.getpid()}"
    t0 = int(time.time()) - 1

    r = berth(d, "version")
    yield ("version", r.returncode == 0 and "Server:" in r.stdout and "API version" in r.stdout, short(r))
    r = berth(d, "info", "--format", "{{.OSType}}")
    yield ("info --format", r.returncode == 0 and r.stdout.strip() == "linux", short(r))
    r = berth(d, "images", "--format", "{{.Repository}}:{{.Tag}}")
    yield ("images --format", r.returncode == 0 and IMAGE in r.stdout.split(), short(r))

    # ---- run: output, exit codes ----
    r = berth(d, "run", "--rm", IMAGE, "echo", "hi")
    yield ("run --rm echo hi", r.returncode == 0 and r.stdout == "hi\n", short(r))
    r = berth(d, "run", "--rm", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 1")
    yield ("run: stdout/stderr demuxed, exit 1", r.returncode == 1 and r.stdout == "out\n" and "err\n" in r.stderr,
           short(r))
    r = berth(d, "run", "--rm", "--no-such-flag", IMAGE, "true")
    yield ("run: bad flag -> 125", r.returncode == 125, short(r))
    r = berth(d, "run", "--rm", "berthtest/no-such-image:none", "true")
    yield ("run: missing image -> pull attempted -> 125", r.returncode == 125 and "Unable to find image" in r.stderr,
           short(r))
    r = berth(d, "run", "--rm", IMAGE, "no-such-command")
    yield ("run: command not found -> 127", r.returncode == 127, short(r))
    r = berth(d, "run", "--rm", IMAGE, "/etc")
    yield ("run: not executable -> 126", r.returncode == 126, short(r))
    bad = p + "-badstart"
    r = berth(d, "run", "-d", "--name", bad, IMAGE, "no-such-command")
    state = inspect(d, bad, "{{.State.Status}} {{.State.ExitCode}}")
    rm = berth(d, "rm", bad)
    yield ("run -d: start fails -> the ID on stdout, exit 127, the container exists (created) and rm works",
           r.returncode == 127 and len(r.stdout.strip()) == 64 and "executable file not found" in r.stderr
           and state == "created 127" and rm.returncode == 0, short(r) + f", state {state!r}, rm {rm.returncode}")
    r = berth(d, "run", "--rm", "-i", IMAGE, "sh", "-c", "cat; echo done", input="piped input\n")
    yield ("run -i: stdin piped, half-close", r.returncode == 0 and r.stdout == "piped input\ndone\n", short(r))
    rc, out = berth_pty(d, "run", "--rm", "-it", IMAGE, "sh", "-c",
                        WAIT_SIZE + "stty size; test -t 0 && echo IS-A-TTY; read line; echo got-$line; exit 5",
                        keys=b"typed\r")
    yield ("run -it through a pty (console size, stdin, exit 5)",
           rc == 5 and "30 100" in out and "IS-A-TTY" in out and "got-typed" in out, f"rc {rc}, out {out[-200:]!r}")

    # SIGWINCH on the client's terminal -> POST resize -> the container's pty gets the new size.
    s = PtySession(d, "run", "--rm", "-it", IMAGE, "sh", "-c",
                   WAIT_SIZE + 'echo size-$(stty size | tr " " x); '
                   'while [ "$(stty size)" != "40 120" ]; do sleep 0.1; done; echo resized-$(stty size | tr " " x)')
    first = s.expect(b"size-30x100")
    s.resize(40, 120)
    second = s.expect(b"resized-40x120")
    rc, out = s.finish()
    yield ("run -it: terminal resize (SIGWINCH) reaches the container", first and second and rc == 0,
           f"rc {rc}, out {out[-160:]!r}")

    # ctrl-p ctrl-q detaches: the client exits 0 at once and the container keeps running.
    det = p + "-detach"
    s = PtySession(d, "run", "-it", "--name", det, IMAGE, "sh", "-c", "echo ready-to-detach; while true; do sleep 1; done")
    ready = s.expect(b"ready-to-detach")
    s.send(b"\x10\x11")
    rc, out = s.finish()
    yield ("run -it: ctrl-p ctrl-q detaches, the container keeps running",
           ready and rc == 0 and inspect(d, det, "{{.State.Running}}") == "true", f"rc {rc}, out {out[-120:]!r}")
    berth(d, "rm", "-f", det)

    # Signals to the client are forwarded to the container (sig-proxy).
    sp = p + "-sigproxy"
    proc = subprocess.Popen([BERTH, "-H", d.host, "run", "--rm", "--name", sp, IMAGE, "sh", "-c",
                             "trap 'echo got-term; exit 9' TERM; echo ready; while true; do sleep 0.1; done"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    ready = proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    yield ("run: SIGTERM to the client is forwarded (sig-proxy)", ready and proc.returncode == 9
           and "got-term" in out, f"rc {proc.returncode}, out {out!r}, err {err[-120:]!r}")

    envfile = os.path.join(env.tmp, "env.list")
    with open(envfile, "w") as f:
        f.write("# comment\nB=from-file\n")
    r = berth(d, "run", "--rm", "--read-only", "-w", "/tmp", "-u", "1000:1000", "-e", "A=1", "--env-file", envfile,
              "--hostname", "hh", "--entrypoint", "/bin/sh", "--mount", "type=tmpfs,target=/scratch",
              IMAGE, "-c", "echo $(id -u) $(pwd) $A $B $(hostname); touch /x 2>/dev/null || echo ro; "
              "grep -q ' /scratch ' /proc/mounts && echo tmpfs")
    yield ("run --read-only -w -u -e --env-file --hostname --entrypoint --mount",
           r.returncode == 0 and r.stdout.split("\n")[:3] == ["1000 /tmp 1 from-file hh", "ro", "tmpfs"], short(r))

    name = p + "-res"
    r = berth(d, "create", "--name", name, "--memory", "64m", "--cpus", "0.5", "--init", "--cap-drop", "NET_RAW",
              "--security-opt", "no-new-privileges", "--restart", "on-failure:2", "-p", "8080:80", "-l", "k=v",
              IMAGE, "true")
    hc = json.loads(inspect(d, name, "{{json .HostConfig}}") or "{}")
    lbl = inspect(d, name, "{{index .Config.Labels \"k\"}}")
    yield ("create: --memory --cpus --init --cap-drop --security-opt --restart -p -l reach HostConfig",
           r.returncode == 0 and hc.get("Memory") == 64 << 20 and hc.get("NanoCpus") == 500000000
           and hc.get("Init") is True and hc.get("CapDrop") == ["NET_RAW"]
           and hc.get("SecurityOpt") == ["no-new-privileges"]
           and hc.get("RestartPolicy", {}).get("Name") == "on-failure"
           and hc.get("PortBindings", {}).get("80/tcp", [{}])[0].get("HostPort") == "8080" and lbl == "v",
           short(r) + f" hc {str(hc)[:120]}")
    berth(d, "rm", "-f", name)

    name = p + "-att"
    r = berth(d, "create", "--name", name, IMAGE, "sh", "-c", "echo attached; exit 7")
    r2 = berth(d, "start", "-a", name)
    yield ("create + start -a (output, exit code 7)", r.returncode == 0 and r2.returncode == 7
           and r2.stdout == "attached\n", short(r2))
    r = berth(d, "wait", name)
    yield ("wait (exited container)", r.returncode == 0 and r.stdout.strip() == "7", short(r))
    berth(d, "rm", name)

    # ---- detached container: ps, logs, exec, inspect, top, stats, cp ----
    web = p + "-web"
    r = berth(d, "run", "-d", "--name", web, IMAGE, "sh", "-c",
              "echo started; echo to-stderr >&2; trap 'exit 0' TERM; while true; do sleep 1; done")
    cid = r.stdout.strip()
    yield ("run -d prints the ID", r.returncode == 0 and len(cid) == 64, short(r))
    bt.wait_for(lambda: "started" in berth(d, "logs", web).stdout, timeout=30, step=0.1)
    r = berth(d, "ps", "--filter", f"name={web}", "--format", "{{.ID}} {{.Names}} {{.State}}")
    yield ("ps --filter name --format", r.returncode == 0 and r.stdout.strip() == f"{cid[:12]} {web} running",
           short(r))
    r = berth(d, "ps", "-q", "--no-trunc", "--filter", "status=running")
    yield ("ps -q --no-trunc --filter status=running", r.returncode == 0 and cid in r.stdout.split(), short(r))
    r = berth(d, "ps", "--format", "json", "--filter", f"id={cid}")
    js = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    yield ("ps --format json", r.returncode == 0 and len(js) == 1 and js[0].get("Names") == web, short(r))
    r = berth(d, "logs", web)
    yield ("logs (stdout and stderr apart)", r.returncode == 0 and r.stdout == "started\n"
           and r.stderr == "to-stderr\n", short(r))
    r = berth(d, "logs", "-t", "--tail", "1", web)
    yield ("logs -t --tail 1", r.returncode == 0 and r.stdout == "" and r.stderr.strip().endswith(" to-stderr")
           and r.stderr[:2] == "20" or (r.stdout.strip().endswith(" started") and r.stdout[:2] == "20"), short(r))
    r = berth(d, "exec", web, "sh", "-c", "echo $((2+3)); exit 4")
    yield ("exec (output, exit code 4)", r.returncode == 4 and r.stdout == "5\n", short(r))
    r = berth(d, "exec", "-i", web, "sh", "-c", "tr a-z A-Z", input="shout\n")
    yield ("exec -i (stdin)", r.returncode == 0 and r.stdout == "SHOUT\n", short(r))
    r = berth(d, "exec", "-e", "FOO=bar", "-w", "/tmp", "-u", "1000:1000", web, "sh", "-c", "echo $(id -u):$(pwd):$FOO")
    yield ("exec -e -w -u", r.returncode == 0 and r.stdout.strip() == "1000:/tmp:bar", short(r))
    rc, out = berth_pty(d, "exec", "-t", web, "sh", "-c", "exec 0<&1; " + WAIT_SIZE + "test -t 1 && echo exec-tty; stty size")
    yield ("exec -t (pty, console size)", rc == 0 and "exec-tty" in out and "30 100" in out,
           f"rc {rc}, {out[-120:]!r}")
    rc, out = berth_pty(d, "exec", "-it", web, "sh", keys=b"echo in-$((6*7))\rexit 3\r")
    yield ("exec -it (interactive shell through a pty)", rc == 3 and "in-42" in out, f"rc {rc}, {out[-160:]!r}")
    r = berth(d, "exec", "-d", web, "sh", "-c", "echo detached > /tmp/exec-d")
    ok = bt.wait_for(lambda: berth(d, "exec", web, "cat", "/tmp/exec-d").stdout == "detached\n", timeout=20, step=0.1)
    yield ("exec -d", r.returncode == 0 and bool(ok), short(r))
    yield ("inspect --format {{.State.Running}}", inspect(d, web, "{{.State.Running}}") == "true", "")
    r = berth(d, "inspect", "--type", "image", "--format", "{{.Id}}", IMAGE)
    yield ("inspect --type image", r.returncode == 0 and r.stdout.startswith("sha256:"), short(r))
    r = berth(d, "inspect", web)
    arr = json.loads(r.stdout) if r.returncode == 0 else []
    yield ("inspect (JSON array)", len(arr) == 1 and arr[0].get("Id") == cid, short(r))
    r = berth(d, "inspect", p + "-nosuch")
    yield ("inspect unknown -> No such object, exit 1", r.returncode == 1 and "No such object" in r.stderr, short(r))
    r = berth(d, "top", web)
    yield ("top", r.returncode == 0 and "PID" in r.stdout and "sleep" in r.stdout or "sh" in r.stdout, short(r))
    r = berth(d, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", web)
    yield ("stats --no-stream", r.returncode == 0 and r.stdout.startswith(web + " "), short(r))
    s = PtySession(d, "stats", web, rows=30, cols=120)
    frames = s.expect(b"\x1b[J\x1b[H")  # the end of one frame and the start of the next
    s.proc.send_signal(signal.SIGINT)
    rc, out = s.finish(timeout=30)
    yield ("stats (streaming on a terminal: the table redrawn in place, each line cleared)",
           frames and "CONTAINER ID" in out and "\x1b[K" in out and out.count("\x1b[H") >= 2,
           f"rc {rc}, {out[-160:]!r}")

    # cp both ways
    src = os.path.join(env.tmp, "cpsrc")
    os.makedirs(os.path.join(src, "sub"))
    with open(os.path.join(src, "sub", "f.txt"), "w") as f:
        f.write("from host\n")
    with open(os.path.join(env.tmp, "one.txt"), "w") as f:
        f.write("single file\n")
    r1 = berth(d, "cp", src, f"{web}:/tmp/")
    r2 = berth(d, "cp", os.path.join(env.tmp, "one.txt"), f"{web}:/tmp/renamed.txt")
    r3 = berth(d, "exec", web, "sh", "-c", "cat /tmp/cpsrc/sub/f.txt /tmp/renamed.txt")
    yield ("cp host -> container (dir into dir, file to a new name)",
           r1.returncode == 0 and r2.returncode == 0 and r3.stdout == "from host\nsingle file\n",
           short(r1) + " | " + short(r3))
    dst = os.path.join(env.tmp, "cpdst")
    os.makedirs(dst)
    r1 = berth(d, "cp", f"{web}:/tmp/cpsrc", dst)
    r2 = berth(d, "cp", f"{web}:/etc/hostname", os.path.join(dst, "hn"))
    got1 = open(os.path.join(dst, "cpsrc", "sub", "f.txt")).read() if r1.returncode == 0 and os.path.exists(
        os.path.join(dst, "cpsrc", "sub", "f.txt")) else None
    got2 = open(os.path.join(dst, "hn")).read() if os.path.exists(os.path.join(dst, "hn")) else None
    yield ("cp container -> host (dir into dir, file to a new name)",
           got1 == "from host\n" and got2 is not None and got2.strip() == cid[:12],
           short(r1) + " | " + short(r2) + f" {got2!r}")

    r = subprocess.run([BERTH, "-H", d.host, "cp", f"{web}:/tmp/renamed.txt", "-"], capture_output=True, timeout=60)
    names, content = [], None
    if r.returncode == 0:
        with tarfile.open(fileobj=io.BytesIO(r.stdout), mode="r:") as t:
            names = t.getnames()
            content = t.extractfile("renamed.txt").read() if names == ["renamed.txt"] else None
    yield ("cp container -> stdout (a tar)", names == ["renamed.txt"] and content == b"single file\n",
           f"{names} {r.stderr[-100:]!r}")
    r = berth(d, "diff", web)
    yield ("diff (the copied files show up)", r.returncode == 0 and "A /tmp/cpsrc" in r.stdout.splitlines(), short(r))
    r = berth(d, "pause", web)
    paused = inspect(d, web, "{{.State.Paused}} {{.State.Status}}")
    r2 = berth(d, "unpause", web)
    yield ("pause / unpause", r.returncode == 0 and paused == "true paused" and r2.returncode == 0
           and inspect(d, web, "{{.State.Paused}}") == "false", short(r) + f" {paused}")
    exported = os.path.join(env.tmp, "export.tar")
    r = berth(d, "export", "-o", exported, web)
    members = set()
    if r.returncode == 0 and os.path.exists(exported):
        with tarfile.open(exported) as t:
            members = set(t.getnames())
    yield ("export -o (the container's filesystem)", r.returncode == 0 and "bin/busybox" in members
           and "tmp/renamed.txt" in members, short(r))

    r = berth(d, "rename", web, web + "-2")
    yield ("rename", r.returncode == 0 and inspect(d, web + "-2", "{{.Name}}") == f"/{web}-2", short(r))
    web += "-2"
    r = berth(d, "stop", "-t", "5", web)
    yield ("stop -t 5 (TERM trapped -> exit 0)", r.returncode == 0 and r.stdout.strip() == web
           and inspect(d, web, "{{.State.Running}} {{.State.ExitCode}}") == "false 0", short(r))
    r = berth(d, "ps", "-a", "--filter", "status=exited", "--filter", f"name={web}", "-q")
    yield ("ps -a --filter status=exited", r.returncode == 0 and r.stdout.split() == [cid[:12]], short(r))
    r = berth(d, "restart", "-t", "1", web)
    yield ("restart", r.returncode == 0 and inspect(d, web, "{{.State.Running}}") == "true", short(r))
    r = berth(d, "kill", "-s", "KILL", web)
    ok = bt.wait_for(lambda: inspect(d, web, "{{.State.Running}} {{.State.ExitCode}}") == "false 137", timeout=20)
    yield ("kill -s KILL -> exit code 137", r.returncode == 0 and bool(ok), short(r))
    r = berth(d, "rm", web)
    gone = berth(d, "ps", "-aq", "--filter", f"id={cid}").stdout.strip() == ""
    yield ("rm", r.returncode == 0 and gone, short(r))

    # attach to a running container with stdin open
    att = p + "-attach"
    berth(d, "run", "-d", "-i", "--name", att, IMAGE, "sh", "-c", "read x; echo got-$x; exit 6")
    # stdin stays open until the answer is back: dockerd ends a non-StdinOnce attach's output at stdin EOF.
    proc = subprocess.Popen([BERTH, "-H", d.host, "attach", att], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdin.write("hello\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    proc.stdin.close()
    try:
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    yield ("attach (stdin in, output out, exit code 6)", rc == 6 and line == "got-hello\n",
           f"rc {rc}, line {line!r}, err {proc.stderr.read()[-120:]!r}")
    r = berth(d, "history", "--format", "{{.ID}}", IMAGE)
    yield ("history", r.returncode == 0 and r.stdout.strip() != "", short(r))
    r = berth(d, "container", "prune", "-f")
    yield ("container prune -f", r.returncode == 0 and berth(d, "ps", "-aq", "--filter", f"name={att}").stdout == ""
           and "Total reclaimed space" in r.stdout, short(r))

    # logs -f follows until the container exits
    fol = p + "-follow"
    berth(d, "run", "-d", "--name", fol, IMAGE, "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 1; done")
    r = berth(d, "logs", "-f", fol, timeout=60)
    yield ("logs -f (follows to the container's exit)", r.returncode == 0 and r.stdout == "line1\nline2\nline3\n",
           short(r))
    r = berth(d, "run", "-d", "--name", fol + "-r", IMAGE, "sh", "-c", "while true; do sleep 1; done")
    r = berth(d, "rm", "-f", fol, fol + "-r")
    yield ("rm -f (running and exited)", r.returncode == 0 and r.stdout.split() == [fol, fol + "-r"], short(r))

    # ---- volumes ----
    vol = p + "-vol"
    r = berth(d, "volume", "create", vol)
    yield ("volume create", r.returncode == 0 and r.stdout.strip() == vol, short(r))
    r1 = berth(d, "run", "--rm", "-v", f"{vol}:/data", IMAGE, "sh", "-c", "echo persisted > /data/f")
    r2 = berth(d, "run", "--rm", "-v", f"{vol}:/data", IMAGE, "cat", "/data/f")
    yield ("volume persists across container removal", r1.returncode == 0 and r2.stdout == "persisted\n", short(r2))
    # cp goes through the container's mounts: into the volume (not the rootfs under it) and out of it.
    cv = p + "-cpvol"
    berth(d, "create", "--name", cv, "-v", f"{vol}:/data", IMAGE, "true")
    r1 = berth(d, "cp", os.path.join(env.tmp, "one.txt"), f"{cv}:/data/in.txt")
    r = subprocess.run([BERTH, "-H", d.host, "cp", f"{cv}:/data/f", "-"], capture_output=True, timeout=60)
    content = None
    if r.returncode == 0:
        with tarfile.open(fileobj=io.BytesIO(r.stdout), mode="r:") as t:
            content = t.extractfile("f").read() if t.getnames() == ["f"] else None
    r2 = berth(d, "run", "--rm", "-v", f"{vol}:/data", IMAGE, "cat", "/data/in.txt")
    berth(d, "create", "--name", cv + "-ro", "-v", f"{vol}:/data:ro", IMAGE, "true")
    r3 = berth(d, "cp", os.path.join(env.tmp, "one.txt"), f"{cv}-ro:/data/ro.txt")
    r4 = berth(d, "run", "--rm", "-v", f"{vol}:/data", IMAGE, "ls", "/data")
    yield ("cp into a read-only volume mount is refused", r3.returncode != 0 and "read-only" in r3.stderr
           and "ro.txt" not in r4.stdout.split(), short(r3) + " | " + short(r4))
    berth(d, "rm", cv, cv + "-ro")
    yield ("cp into and out of a volume mount", r1.returncode == 0 and content == b"persisted\n"
           and r2.stdout == "single file\n", short(r1) + " | " + short(r2) + f" {content!r}")
    r = berth(d, "volume", "ls", "-q")
    yield ("volume ls -q", r.returncode == 0 and vol in r.stdout.split(), short(r))
    r = berth(d, "volume", "inspect", "--format", "{{.Name}} {{.Driver}}", vol)
    yield ("volume inspect --format", r.returncode == 0 and r.stdout.strip() == f"{vol} local", short(r))
    r = berth(d, "volume", "rm", vol)
    yield ("volume rm", r.returncode == 0 and vol not in berth(d, "volume", "ls", "-q").stdout.split(), short(r))

    # ---- restart policy after a crash ----
    crash = p + "-crash"
    r = berth(d, "run", "-d", "--name", crash, "--restart", "on-failure:2", IMAGE, "sh", "-c", "echo attempt; exit 3")
    done = bt.wait_for(lambda: inspect(d, crash, "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}")
                       == "2 exited 3", timeout=60, step=0.2)
    logs = berth(d, "logs", crash).stdout
    yield ("restart on-failure:2 after a crash (3 runs)", r.returncode == 0 and bool(done) and logs.count("attempt") == 3,
           f"{inspect(d, crash, '{{.RestartCount}} {{.State.Status}}')}, logs {logs!r}")
    berth(d, "rm", "-f", crash)

    # ---- networks ----
    net = p + "-net"
    r = berth(d, "network", "create", net)
    nid = r.stdout.strip()
    yield ("network create", r.returncode == 0 and len(nid) == 64, short(r))
    r = berth(d, "network", "ls", "--format", "{{.Name}}")
    yield ("network ls", r.returncode == 0 and net in r.stdout.split(), short(r))
    r = berth(d, "network", "inspect", "--format", "{{.Id}}", net)
    yield ("network inspect", r.returncode == 0 and r.stdout.strip() == nid, short(r))
    r = berth(d, "network", "rm", net)
    yield ("network rm", r.returncode == 0 and net not in berth(d, "network", "ls", "--format", "{{.Name}}").stdout,
           short(r))

    # ---- images: save/load, tag/rmi, push/pull against berth registry serve ----
    saved = os.path.join(env.tmp, "saved.tar")
    r = berth(d, "save", "-o", saved, IMAGE)
    yield ("save -o", r.returncode == 0 and os.path.exists(saved) and os.path.getsize(saved) > 100000
           and tarfile.is_tarfile(saved), short(r))
    alias = f"berthtest/cli-{os.getpid()}:saved"
    berth(d, "tag", IMAGE, alias)
    r = berth(d, "rmi", alias)
    yield ("tag + rmi (untag)", r.returncode == 0 and f"Untagged: {alias}" in r.stdout, short(r))
    r = berth(d, "load", "-i", saved)
    r2 = berth(d, "images", "-q", IMAGE)
    yield ("load -i", r.returncode == 0 and "Loaded image" in r.stdout and r2.stdout.strip() != "", short(r))

    reg, host = dm.start_berth_registry(os.path.join(env.tmp, "registry"))
    try:
        ref = f"{host}/berthtest/bb:v1"
        berth(d, "tag", IMAGE, ref)
        r = berth(d, "push", ref)
        yield ("push to berth registry serve (progress stream)", r.returncode == 0 and "digest: sha256:" in r.stdout,
               short(r))
        berth(d, "rmi", ref)
        s = PtySession(d, "pull", ref, rows=30, cols=120)
        rc, out = s.finish(timeout=120)
        yield ("pull from berth registry serve (on a terminal: in-place progress lines)",
               rc == 0 and out.rstrip().endswith(ref) and "Pulling from" in out and "Digest: sha256:" in out
               and "\x1b[K" in out,
               f"rc {rc}, out {out[-200:]!r}")
        r = berth(d, "run", "--rm", ref, "echo", "pulled-image-runs")
        yield ("run the pulled image", r.returncode == 0 and r.stdout == "pulled-image-runs\n", short(r))
        berth(d, "rmi", ref)
        r = berth(d, "run", "--rm", ref, "echo", "implicit-pull")
        yield ("run pulls a missing image implicitly", r.returncode == 0 and r.stdout == "implicit-pull\n"
               and "Unable to find image" in r.stderr, short(r))
        berth(d, "rmi", ref)
    finally:
        reg.terminate()
        reg.wait()

    # ---- TCP with mutual TLS ----
    r = berth_tls(d, "version")
    yield ("--tlsverify -H tcp:// version (mutual TLS)", r.returncode == 0 and "Server:" in r.stdout, short(r))
    tname = p + "-tls"
    r = berth_tls(d, "create", "--name", tname, IMAGE, "true")
    r2 = berth_tls(d, "ps", "-a", "--filter", f"name={tname}", "--format", "{{.Names}}")
    r3 = berth_tls(d, "rm", tname)
    yield ("create / ps / rm over TLS", r.returncode == 0 and r2.stdout.strip() == tname and r3.returncode == 0,
           short(r) + " | " + short(r2))
    r = berth_tls(d, "run", "--rm", "-i", IMAGE, "sh", "-c", "tr a-z A-Z; echo err >&2; exit 2", input="over tls\n")
    yield ("run -i over TLS (hijacked attach, close_notify as stdin EOF)",
           r.returncode == 2 and r.stdout == "OVER TLS\n" and "err\n" in r.stderr, short(r))
    r = berth_tls(d, "version", cert="rogue", key="rogue-key")
    yield ("a client certificate from another CA is refused", r.returncode != 0 and "Server:" not in r.stdout,
           short(r))

    # ---- events, system ----
    t1 = int(time.time()) + 1
    r = berth(d, "events", "--since", str(t0), "--until", str(t1), "--filter", "type=container", "--filter",
              "event=create", "--format", "{{.Action}} {{.Actor.Attributes.name}}", timeout=60)
    yield ("events --since --until --filter --format", r.returncode == 0 and f"create {web.removesuffix('-2')}"
           in r.stdout.splitlines(), short(r))
    r = berth(d, "system", "df")
    yield ("system df", r.returncode == 0 and r.stdout.startswith("TYPE") and "Images" in r.stdout, short(r))
    berth(d, "create", "--name", p + "-prune", IMAGE, "true")
    r = berth(d, "system", "prune", "-f")
    left = berth(d, "ps", "-aq", "--filter", f"name={p}-prune").stdout.strip()
    yield ("system prune -f removes stopped containers", r.returncode == 0 and left == ""
           and "Total reclaimed space" in r.stdout, short(r))
    r = berth(d, "ps", "-aq")
    left = r.stdout.split()
    yield ("nothing left (ps -aq)", r.returncode == 0 and not left, f"{len(left)} containers, " + short(r))


def main():
    bt.require_root()
    if not os.access(BERTH, os.X_OK):
        bt.skip(f"berth not built ({BERTH})")
    if DAEMON_KIND == "dockerd":
        for b in (DOCKERD, DOCKER_CLI):
            if not os.access(b, os.X_OK):
                bt.skip(f"{b} not installed (apt-get install docker.io)")
    elif DAEMON_KIND != "berth":
        bt.skip(f"BERTH_CLI_TEST_DAEMON={DAEMON_KIND}: expected dockerd or berth")
    env = bt.Env("cli")
    rows = []
    tally = bt.Tally(f"berth_cli_{DAEMON_KIND}")
    d = None
    try:
        d = Daemon(env)
        make_image(env, d)
        for step, ok, detail in steps(d, env):
            rows.append([step, tally.record(step, ok), detail[:200]])
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        rows.append(["harness", tally.record("harness", False), repr(e)[:300]])
    finally:
        if d:
            d.stop()
            if tally.failed:
                print("--- daemon log (tail)\n" + d.tail(3000))
        env.cleanup()
    bt.print_table(f"berth CLI against {DAEMON_KIND}", ["step", "result", "detail"], rows)
    return tally.finish()


if __name__ == "__main__":
    sys.exit(main())
