"""Shared harness for the integration tests that drive a daemon or a registry over a private socket or a loopback
port: `berth daemon`, Debian's dockerd (with its managed containerd), `berth registry serve`, docker-registry.

What lives here is what those tests used to copy: the check/FAILURES tally, free ports, throwaway TLS
certificates, starting and stopping daemons, and the teardown of a dockerd's process tree, mounts and cgroups.
Runtime and bundle helpers stay in berthtest.py.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import berthtest as bt

BERTH = os.environ.get("BERTH_CLI") or os.path.join(bt.BUILD_DIR, "cmd", "berth", "berth")
DOCKERD = os.environ.get("BERTH_DOCKERD", "/usr/sbin/dockerd")
# Fixed paths dockerd and the containerd shims create whatever their roots are; DockerdTree removes those it made
# once they are empty.
DOCKER_FIXED_DIRS = ("/run/docker/plugins", "/run/docker", "/run/containerd/s", "/run/containerd")

FAILURES = []


def check(cond, what):
    """Prints one ok/FAIL line; failures are collected in FAILURES (see finish())."""
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILURES.append(what)
    return cond


def finish():
    print(f"{len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


def poll(fn, attempts=200, delay=0.05):
    """Readiness poll (not a timed assertion): fn() until truthy or attempts run out."""
    for _ in range(attempts):
        v = fn()
        if v:
            return v
        time.sleep(delay)
    return fn()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def unix_accepting(path):
    """True when something accepts on the unix socket (a stale socket file from a killed daemon refuses)."""
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def http_ready(url):
    """True once url answers HTTP at all (a 401 counts: the server is up)."""
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except urllib.error.HTTPError:
        return True
    except Exception:  # noqa: BLE001
        return False


def make_certs(d, ca_name="test-ca"):
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate it signed, plus a client
    certificate from another CA ("rogue") that a daemon must reject. Returns the file paths by name."""
    os.makedirs(d, exist_ok=True)

    def ossl(*a):
        subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "1", "-subj", f"/CN={ca_name}")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for name, ext in (("server", ["-extfile", "san.ext"]), ("client", [])):
        ossl("req", *ec, "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        ossl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
             "-out", f"{name}.pem", "-days", "1", *ext)
    ossl("req", "-x509", *ec, "-keyout", "rogue-key.pem", "-out", "rogue.pem", "-days", "1", "-subj", "/CN=rogue")
    return {n: os.path.join(d, n + ".pem") for n in ("ca", "ca-key", "server", "server-key", "client", "client-key",
                                                     "rogue", "rogue-key")}


def descendants(root):
    """Every process below pid `root` (children first found, then theirs), from /proc."""
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(p))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def start_berth_daemon(data_root, exec_root, sock, log_path, extra=(), ready=None):
    """`berth daemon` on unix://sock; returns the Popen once it accepts there (or exited). `ready`, when given,
    replaces the accepting check (e.g. a ping)."""
    with open(log_path, "a") as log:
        p = subprocess.Popen([BERTH, "daemon", "--data-root", data_root, "--exec-root", exec_root,
                              "-H", "unix://" + sock, *extra], stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    ready = ready or (lambda: unix_accepting(sock))
    bt.wait_for(lambda: p.poll() is not None or ready(), timeout=30, step=0.05)
    return p


def stop_daemon(p, timeout=30):
    """SIGTERM, then SIGKILL after `timeout`; returns the exit status (-1 when it had to be killed)."""
    if p is None:
        return 0
    if p.poll() is not None:
        return p.returncode
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return -1


def start_berth_registry(root, extra=(), addr="127.0.0.1:0", stderr=subprocess.DEVNULL):
    """`berth registry serve` on loopback; returns (Popen, "127.0.0.1:PORT") once it listens."""
    p = subprocess.Popen([BERTH, "registry", "serve", "--addr", addr, "--root", root, *extra],
                         stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if " port " not in line:
        p.kill()
        p.wait()
        raise RuntimeError(f"berth registry serve did not start: {line!r}")
    return p, "127.0.0.1:" + line.split(" port ")[1].split(",")[0].strip()


def start_docker_registry(tmp, log_path=None):
    """Debian's docker-registry on a free loopback port, data under tmp, deletes enabled; returns (Popen, host).
    With log_path it logs at info level with access lines there (tests that read what a client asked for)."""
    port = free_port()
    log = ("level: info\n  formatter: text\n  accesslog:\n    disabled: false" if log_path else "level: error")
    cfg = os.path.join(tmp, "dr-config.yml")
    with open(cfg, "w") as f:
        f.write(f"""version: 0.1
log:
  {log}
storage:
  filesystem:
    rootdirectory: {tmp}/dr-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
""")
    out = open(log_path, "w") if log_path else subprocess.DEVNULL
    p = subprocess.Popen(["/usr/bin/docker-registry", "serve", cfg], stdout=out, stderr=subprocess.STDOUT)
    if log_path:
        out.close()
    if not poll(lambda: p.poll() is not None or http_ready(f"http://127.0.0.1:{port}/v2/")) or p.poll() is not None:
        p.kill()
        p.wait()
        raise RuntimeError("docker-registry did not start")
    return p, f"127.0.0.1:{port}"


def dockerd_argv(dir, sock, data_root, exec_root, cgroup_parent, extra=()):
    """Debian's dockerd on a private socket, data root and exec root, with its own cgroup parent, no networking
    of its own and an empty config file (never /etc/docker/daemon.json)."""
    cfg = os.path.join(dir, "daemon.json")
    with open(cfg, "w") as f:
        json.dump({}, f)
    return [DOCKERD, "--host", f"unix://{sock}", "--data-root", data_root, "--exec-root", exec_root,
            "--pidfile", os.path.join(dir, "dockerd.pid"), "--config-file", cfg, "--bridge", "none",
            "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
            "--userland-proxy=false", "--cgroup-parent", cgroup_parent,
            "--exec-opt", "native.cgroupdriver=cgroupfs", "--log-level", "warn", *extra]


class DaemonTree:
    """A container daemon (dockerd or `berth daemon`) in its own session; teardown removes what it started (for
    dockerd its managed containerd and shims, for berth its shims: found by walking the process tree), mounts
    under its roots, the fixed /run dirs dockerd creates (when they were not there before and are empty) and the
    cgroups under its cgroup parent."""

    def __init__(self, roots, cgroup_parent, log_path):
        self.roots = list(roots)
        self.cgroup_parent = cgroup_parent
        self.fixed_dirs = [p for p in DOCKER_FIXED_DIRS if not os.path.exists(p)]
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = None

    def start(self, argv):
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        return self.proc

    def tail(self, n=1500):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def teardown(self):
        kids = descendants(self.proc.pid) if self.proc else []
        stop_daemon(self.proc)
        for pid in kids:
            bt.kill_pid(pid)
        self.log.close()
        for root in self.roots:
            for mp in sorted(bt.mounts_under(root), key=len, reverse=True):
                subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
        for p in self.fixed_dirs:
            try:
                os.rmdir(p)
            except OSError:
                pass
        if self.cgroup_parent:
            for d in bt.cgroup_dirs_named(self.cgroup_parent.strip("/"), max_depth=2):
                for sub, _, _ in sorted(os.walk(d), key=lambda x: -len(x[0])):
                    try:
                        os.rmdir(sub)
                    except OSError:
                        pass
