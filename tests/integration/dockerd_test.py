#!/usr/bin/env python3
"""A real consumer: Debian's dockerd (docker.io) on a private socket, data root and exec root (with its own
managed containerd under them) runs busybox containers with `--runtime berth`: run, exit codes, a terminal
(console socket), exec, stop, and a memory limit that gets the process OOM-killed. The same steps run with
`--runtime runc` first, which proves the harness; a runc failure is reported as an environment problem.

Env: BERTH_DOCKERD (default /usr/sbin/dockerd), BERTH_DOCKER_CLI (default /usr/bin/docker, API 1.41).
"""

import json
import os
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import berthtest as bt  # noqa: E402
import daemons as dm  # noqa: E402

DOCKERD = dm.DOCKERD
CLI = os.environ.get("BERTH_DOCKER_CLI", "/usr/bin/docker")
IMAGE = "berthtest/busybox:latest"


class Daemon:
    def __init__(self, env, berth):
        self.dir = os.path.join(env.tmp, "docker")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "docker.sock")
        data_root = os.path.join(self.dir, "data")
        exec_root = os.path.join(self.dir, "exec")
        cgroup_parent = f"/{bt.PREFIX}-docker-{os.getpid()}"
        self.tree = dm.DaemonTree([self.dir], cgroup_parent, os.path.join(self.dir, "dockerd.log"))
        self.proc = self.tree.start(dm.dockerd_argv(self.dir, self.sock, data_root, exec_root, cgroup_parent,
                                                    ["--add-runtime", f"berth={berth}"]))
        ok = bt.wait_for(lambda: self.proc.poll() is not None or self.docker("version", timeout=10).returncode == 0,
                         timeout=60, step=0.2)
        if self.proc.poll() is not None or not ok:
            raise RuntimeError("dockerd did not come up: " + self.tail())

    def docker(self, *args, timeout=120, input=None):
        env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}", DOCKER_CONFIG=os.path.join(self.dir, "cli"))
        env.pop("DOCKER_CONTEXT", None)
        return subprocess.run([CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              env=env, input=input, stdin=None if input is not None else subprocess.DEVNULL)

    def tail(self, n=1500):
        return self.tree.tail(n)

    def stop(self):
        r = self.docker("ps", "-aq", timeout=30)
        ids = r.stdout.decode().split()
        if ids:
            self.docker("rm", "-f", *ids, timeout=60)
        self.tree.teardown()


def make_image(env, d):
    tar = os.path.join(env.tmp, "busybox.tar")
    with tarfile.open(tar, "w") as t:
        for name in sorted(os.listdir(env.template)):
            t.add(os.path.join(env.template, name), arcname=name)
    with open(tar, "rb") as f:
        r = d.docker("import", "-", IMAGE, input=f.read())
    if r.returncode != 0:
        raise RuntimeError("docker import: " + r.stderr.decode(errors="replace"))


def steps(d, runtime):
    """Yields (step, ok, detail)."""
    name = f"{bt.PREFIX}-{runtime}-{os.getpid()}"
    rt = ["--runtime", runtime]

    r = d.docker("run", "--rm", *rt, IMAGE, "/probe", "json")
    p = next((o for o in bt.parse_json_lines(r.stdout) if "hostname" in o), None)
    yield ("run /probe json", r.returncode == 0 and p is not None and p["pid"] == 1,
           f"exit {r.returncode}, pid {p and p['pid']}, caps {p and p['caps']['CapEff']}"
           + ("" if r.returncode == 0 else " " + r.stderr.decode(errors='replace')[-200:]))

    r = d.docker("run", "--rm", *rt, IMAGE, "/bin/sh", "-c", "echo hello from $(hostname); exit 3")
    out = r.stdout.decode().strip()
    yield ("run: output and exit code", r.returncode == 3 and out.startswith("hello from"),
           f"exit {r.returncode}, stdout {out!r}" + ("" if r.returncode == 3 else " " + r.stderr.decode()[-200:]))

    r = d.docker("run", "--rm", "-t", *rt, IMAGE, "/probe", "isatty")
    tty = next(iter(bt.parse_json_lines(r.stdout.replace(b"\r", b""))), {})
    yield ("run -t (console socket)", r.returncode == 0 and tty.get("stdout") is True and tty.get("stdin") is True,
           f"exit {r.returncode}, {tty}" + ("" if r.returncode == 0 else " " + r.stderr.decode()[-200:]))

    r = d.docker("run", "-d", "--name", name, *rt, IMAGE, "/probe", "signal-wait")
    started = r.returncode == 0
    used = d.docker("inspect", "-f", "{{.HostConfig.Runtime}}", name).stdout.decode().strip()
    yield ("run -d (HostConfig.Runtime)", started and used == runtime,
           f"started, runtime {used}" if started else r.stderr.decode(errors="replace").strip()[-200:])
    if started:
        ready = bt.wait_for(lambda: b"ready" in d.docker("logs", name).stdout, timeout=30, step=0.1)
        e = d.docker("exec", name, "/probe", "json")
        ep = next((o for o in bt.parse_json_lines(e.stdout) if "hostname" in o), None)
        yield ("exec", bool(ready) and e.returncode == 0 and ep is not None and ep["pid"] != 1,
               f"exit {e.returncode}, pid {ep and ep['pid']}" + ("" if e.returncode == 0 else " " + e.stderr.decode()[-200:]))
        e = d.docker("exec", "-u", "1000:1000", "-w", "/tmp", "-e", "FOO=bar", name, "/bin/sh", "-c",
                     "echo $(id -u):$(pwd):$FOO")
        out = e.stdout.decode().strip()
        yield ("exec -u -w -e", e.returncode == 0 and out == "1000:/tmp:bar", f"exit {e.returncode}, {out!r}")
        e = d.docker("exec", name, "/probe", "exit", "5")
        yield ("exec exit code", e.returncode == 5, f"exit {e.returncode}")
        s = d.docker("stop", "-t", "10", name)
        info = json.loads(d.docker("inspect", name).stdout or b"[{}]")[0].get("State", {})
        logs = d.docker("logs", name).stdout.decode()
        yield ("stop (SIGTERM reaches the process)",
               s.returncode == 0 and not info.get("Running") and info.get("ExitCode") == 143 and '"signal":15' in logs,
               f"stop exit {s.returncode}, ExitCode {info.get('ExitCode')}, logs {logs.strip()[-60:]!r}")
        d.docker("rm", "-f", name)

    r = d.docker("run", "--name", name + "-oom", *rt, "--memory", "32m", "--memory-swap", "32m", IMAGE,
                 "/probe", "memhog", "256")
    info = json.loads(d.docker("inspect", name + "-oom").stdout or b"[{}]")[0].get("State", {})
    yield ("--memory 32m: memhog OOM-killed", r.returncode == 137 and info.get("OOMKilled") is True,
           f"exit {r.returncode}, OOMKilled {info.get('OOMKilled')}, ExitCode {info.get('ExitCode')}")
    d.docker("rm", "-f", name + "-oom")

    left = d.docker("ps", "-aq").stdout.decode().split()
    yield ("nothing left (docker ps -a)", not left, f"{len(left)} containers")


def main():
    bt.require_root()
    berth = bt.require_berth()
    for b in (DOCKERD, CLI):
        if not os.access(b, os.X_OK):
            bt.skip(f"{b} not installed (apt-get install docker.io)")
    env = bt.Env("docker")
    rows = []
    tally = bt.Tally("dockerd")
    d = None
    try:
        d = Daemon(env, berth)
        make_image(env, d)
        for runtime in ("runc", "berth"):
            for step, ok, detail in steps(d, runtime):
                rows.append([runtime, step, tally.record(f"{runtime} {step}", ok), detail[:150]])
    except Exception as e:  # noqa: BLE001
        rows.append(["-", "daemon", tally.record("daemon", False), repr(e)[:300]])
    finally:
        if d:
            d.stop()
            if tally.failed or tally.skipped:
                print("--- dockerd log (tail)\n" + d.tail(3000))
        env.cleanup()
    bt.print_table(f"dockerd {DOCKERD} with --add-runtime berth={berth}", ["runtime", "step", "result", "detail"],
                   rows)
    return tally.finish()


if __name__ == "__main__":
    sys.exit(main())
