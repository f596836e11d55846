#!/usr/bin/env python3
"""bench/engine.py: the engine against Debian's dockerd (docker.io), same run, same machine.

  bench/engine.py [--runs 50] [--concurrent 100] [--berth build/cmd/berth/berth]

Starts dockerd (with its managed containerd) on a private socket, data root and exec root, and `berth daemon`
on its own; puts the same busybox image in both (`docker import` of tests/helpers/mkrootfs.sh's tree, and
`berth image bootstrap busybox` on berth's data root), then measures with hyperfine:
  1. `berth run --rm busybox true` (berth CLI -> berth daemon) against
     `docker run --rm --network none busybox true` (docker CLI -> dockerd)          target <= 0.08x
  2. the docker CLI against berth daemon vs against dockerd, same `run --rm`       target <= 0.2x
  3. N concurrent `run -d busybox sleep 300`: wall time, all running?              target <= 0.2x
  4. idle RSS: berth daemon vs dockerd + containerd                                target <= 15 MB
Prints markdown for docs/BENCHMARKS.md. Needs root, hyperfine, docker.io, busybox-static.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import berthtest as bt  # noqa: E402
import daemons  # noqa: E402
import dockerd_test  # noqa: E402

DOCKER = os.environ.get("BERTH_DOCKER_CLI") or shutil.which("docker") or "/usr/bin/docker"


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid):
    return daemons.descendants(pid)


class Berth:
    def __init__(self, tmp, berth):
        self.berth = berth
        self.dir = os.path.join(tmp, "berth")
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "berth.sock")
        self.data = os.path.join(self.dir, "data")
        self.exec_root = os.path.join(self.dir, "exec")
        r = subprocess.run([berth, "image", "--root", self.data, "bootstrap", "busybox"], capture_output=True)
        if r.returncode != 0:
            raise RuntimeError("bootstrap: " + r.stderr.decode(errors="replace"))
        self.log = open(os.path.join(self.dir, "daemon.log"), "wb")
        self.proc = subprocess.Popen([berth, "daemon", "--data-root", self.data, "--exec-root", self.exec_root,
                                      "-H", f"unix://{self.sock}", "--log-level", "warn"],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        if not bt.wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, timeout=20):
            raise RuntimeError("berth daemon did not come up")

    def cli(self, *args):
        return [self.berth, "-H", f"unix://{self.sock}", *args]

    def stop(self):
        subprocess.run(self.cli("rm", "-f", *subprocess.run(self.cli("ps", "-aq"), capture_output=True)
                                .stdout.decode().split()), capture_output=True)
        kids = descendants(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for p in kids:
            bt.kill_pid(p)
        for mp in sorted(bt.mounts_under(self.dir), key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)


def hyperfine(out_json, runs, cmds, names):
    argv = ["hyperfine", "-N", "--warmup", "5", "--runs", str(runs), "--export-json", out_json]
    for c, n in zip(cmds, names):
        argv += ["-n", n, c]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    res = json.load(open(out_json))["results"]
    return {r["command"]: r for r in res}


def row(name, r):
    t = sorted(x * 1000 for x in r["times"])
    q = lambda p: t[min(len(t) - 1, int(p * len(t)))]
    return f"| {name} | {statistics.median(t):.1f} | {q(0.1):.1f}–{q(0.9):.1f} | {len(t)} |", statistics.median(t)


def concurrent(argv_for, n):
    t0 = time.monotonic()
    procs = [subprocess.Popen(argv_for(i), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(n)]
    fails = sum(1 for p in procs if p.wait() != 0)
    return time.monotonic() - t0, fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--concurrent", type=int, default=100)
    ap.add_argument("--berth", default=os.path.join(SRC, "build", "cmd", "berth", "berth"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/engine.py: needs root")
    for b in ("hyperfine", DOCKER, dockerd_test.DOCKERD):
        if not shutil.which(b):
            sys.exit(f"bench/engine.py: {b} missing (scripts/setup.sh installs it)")
    env = bt.Env("bench-engine")
    d = b = None
    try:
        print(f"load before: {open('/proc/loadavg').read().split()[:3]}", file=sys.stderr)
        d = dockerd_test.Daemon(env, os.path.join(SRC, "build", "cmd", "berth-runtime", "berth-runtime"))
        dockerd_test.make_image(env, d)  # busybox:latest in dockerd
        b = Berth(env.tmp, a.berth)
        dk = lambda sock: f"{DOCKER} -H unix://{sock}"
        berth_cli = " ".join(b.cli())
        for c in (f"{berth_cli} run --rm busybox true", f"{dk(b.sock)} run --rm busybox true",
                  f"{dk(d.sock)} run --rm --network none {dockerd_test.IMAGE} true"):
            r = subprocess.run(c.split(), capture_output=True, timeout=60)
            if r.returncode != 0:
                raise RuntimeError(f"{c}: {r.stderr.decode(errors='replace')}")
        out = os.path.join(env.tmp, "hf.json")
        res = hyperfine(out, a.runs,
                        [f"{berth_cli} run --rm busybox true", f"{dk(b.sock)} run --rm busybox true",
                         f"{dk(d.sock)} run --rm --network none {dockerd_test.IMAGE} true"],
                        ["berth CLI -> berth daemon", "docker CLI -> berth daemon", "docker CLI -> dockerd"])
        print("| `run --rm busybox true` | median ms | p10–p90 ms | runs |\n|---|---|---|---|")
        med = {}
        for k, r in res.items():
            line, m = row(k, r)
            med[k] = m
            print(line)
        dd = med["docker CLI -> dockerd"]
        print(f"\nratios: berth CLI->berth / docker->dockerd = {med['berth CLI -> berth daemon'] / dd:.3f} "
              f"(target <= 0.08); docker CLI->berth / docker->dockerd = {med['docker CLI -> berth daemon'] / dd:.3f}"
              f" (target <= 0.2)\n")

        n = a.concurrent
        tb, fb = concurrent(lambda i: b.cli("run", "-d", "busybox", "sleep", "300"), n)
        runb = len(subprocess.run(b.cli("ps", "-q"), capture_output=True).stdout.split())
        idle_berth_with = rss_kib(b.proc.pid)
        shim_rss = [rss_kib(p) for p in descendants(b.proc.pid)]
        td, fd = concurrent(lambda i: [DOCKER, "-H", f"unix://{d.sock}", "run", "-d", "--network", "none",
                                       dockerd_test.IMAGE, "sleep", "300"], n)
        rund = len(d.docker("ps", "-q").stdout.split())
        print(f"| {n} concurrent `run -d … sleep 300` | wall s | failed | running after |\n|---|---|---|---|")
        print(f"| berth CLI -> berth daemon | {tb:.2f} | {fb} | {runb} |")
        print(f"| docker CLI -> dockerd | {td:.2f} | {fd} | {rund} |")
        print(f"\nratio: {tb / td:.3f} (target <= 0.2); berth daemon RSS with {runb} containers: "
              f"{idle_berth_with / 1024:.1f} MiB\n")
        subprocess.run(b.cli("rm", "-f", *subprocess.run(b.cli("ps", "-aq"), capture_output=True).stdout.decode()
                             .split()), capture_output=True, timeout=300)
        ids = d.docker("ps", "-aq").stdout.decode().split()
        if ids:
            d.docker("rm", "-f", *ids, timeout=300)
        time.sleep(5)
        rb = rss_kib(b.proc.pid)
        rd = rss_kib(d.proc.pid)
        rc = sum(rss_kib(p) for p in descendants(d.proc.pid))
        print("| idle daemon RSS | MiB |\n|---|---|")
        print(f"| berth daemon | {rb / 1024:.1f} |")
        print(f"| dockerd | {rd / 1024:.1f} |")
        print(f"| dockerd + containerd | {(rd + rc) / 1024:.1f} |")
        print(f"\nload after: {open('/proc/loadavg').read().split()[:3]}")
    finally:
        if b:
            b.stop()
        if d:
            d.stop()
        env.cleanup()


if __name__ == "__main__":
    main()
