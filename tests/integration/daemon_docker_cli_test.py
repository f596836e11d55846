#!/usr/bin/env python3
"""`berth daemon` driven by the real docker CLI (v28) on a temporary unix socket and data root:
  version (client and server), info, `berth version` / `berth images` (Engine API client), images, image inspect, history, tag, rmi, image prune; an unknown endpoint
  via curl -> 404 JSON; too-new API version -> 400; SIGTERM -> clean exit and the socket is removed.
Also: TCP is refused without mutual TLS, and with it docker --tlsverify works while clients without a
certificate from the CA are rejected. Needs no root for that part.
As root, the container scenario (container_scenario, its own daemon and data root): run plain / -d / -it through a
pty / --rm, exit codes 0/1/125/126/127, exec (-i, -it), stats (an unlimited container's limit is MemTotal), logs and logs -f, cp both ways (and a `..` path that must
stay inside), diff, top, inspect, ps filters, stop/start/kill/rm (304/409 paths), wait, a named volume across
container removal, restart policy after a crash, health status, memory limit -> OOMKilled, save/load, push/pull
against `berth registry serve`, and `kill -9` of the daemon followed by a restart: the running container is still
running (same pid, exec and logs work) and one that exited while the daemon was down reports its real exit code.
Exits 77 (skip) when berth, docker, curl or busybox are missing."""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemons as dm  # noqa: E402
from daemons import BERTH, FAILURES, check, finish  # noqa: E402

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def pty_run(cmd, env):
    """cmd under `script` (a pty) whose stdin stays open until it is done; returns (exit code, raw output)."""
    p = subprocess.Popen(["script", "-qec", cmd, "/dev/null"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env)
    try:
        out = p.stdout.read()
        rc = p.wait(timeout=60)
    finally:
        p.stdin.close()
        p.stdout.close()
        if p.poll() is None:
            p.kill()
            p.wait()
    return rc, out


def host_mem_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def docker_size(n):
    """The docker CLI's binary size text (go-units BytesSize: 4 significant digits, B/KiB/MiB/...)."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    i = 0
    n = float(n)
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return "%.4g%s" % (n, units[i])


def tls_checks(tmp, data, env):
    if not shutil.which("openssl"):
        print("skip: TCP/TLS checks (openssl missing)")
        return
    certs = dm.make_certs(os.path.join(tmp, "tls"), "engine-test-ca")
    port = dm.free_port()
    p = lambda n: certs[n.removesuffix(".pem")]
    log = open(os.path.join(tmp, "daemon-tls.log"), "w")
    tls_daemon = subprocess.Popen([BERTH, "daemon", "--data-root", os.path.join(tmp, "data-tls"), "--exec-root",
                                   os.path.join(tmp, "exec-tls"), "-H", f"tcp://127.0.0.1:{port}", "--tlsverify",
                                   "--tlscacert", p("ca.pem"), "--tlscert", p("server.pem"), "--tlskey",
                                   p("server-key.pem")], stdout=log, stderr=subprocess.STDOUT)
    try:
        dm.poll(lambda: tls_daemon.poll() is not None
                or socket.socket().connect_ex(("127.0.0.1", port)) == 0)
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
        tls_daemon.send_signal(signal.SIGTERM)
        check(tls_daemon.wait(timeout=30) == 0, "TLS daemon exits 0 on SIGTERM")


def container_scenario(tmp, env):
    """The docker CLI running containers through `berth daemon` (root: namespaces, cgroups, overlay)."""
    data = os.path.join(tmp, "cdata")
    # short: unix socket paths under <exec-root>/shims/<64 hex id>/ must fit in sun_path
    execroot = tempfile.mkdtemp(prefix="bx", dir="/tmp")
    sock = os.path.join(tmp, "containers.sock")
    logpath = os.path.join(tmp, "daemon-containers.log")
    r = run([BERTH, "image", "--root", data, "bootstrap", "busybox"])
    check(r.returncode == 0, f"containers: bootstrap busybox ({r.stderr.strip()})")
    reg_port = dm.free_port()
    extra = ("--insecure-registry", f"127.0.0.1:{reg_port}")
    daemon = dm.start_berth_daemon(data, execroot, sock, logpath, extra)
    H = [DOCKER, "-H", "unix://" + sock]
    reg = None
    ran = []

    def d(*args, **kw):
        ran.append(" ".join(args[:2]))
        return run(H + list(args), env=env, **kw)

    def inspect(name, fmt):
        r = d("inspect", "-f", fmt, name)
        return r.stdout.strip() if r.returncode == 0 else None

    try:
        r = d("run", "--rm", "busybox", "echo", "hi")
        check(r.returncode == 0 and r.stdout == "hi\n", f"run --rm busybox echo hi: {r.stdout!r} {r.stderr.strip()}")
        r = d("run", "--rm", "busybox", "sh", "-c", "echo o; echo e >&2; exit 1")
        check(r.returncode == 1 and r.stdout == "o\n" and r.stderr == "e\n", f"run: exit 1, stdout and stderr apart ({r.returncode})")
        r = d("run", "--rm", "busybox", "nosuchcmd")
        check(r.returncode == 127 and "executable file not found" in r.stderr, f"run nosuchcmd -> 127 ({r.returncode} {r.stderr.strip()})")
        r = d("run", "--rm", "busybox", "/etc")
        check(r.returncode == 126, f"run /etc (a directory) -> 126 ({r.returncode} {r.stderr.strip()})")
        r = d("run", "--rm", "--cap-add", "NOTACAP", "busybox", "true")
        check(r.returncode == 125, f"run with a bad capability -> 125 ({r.returncode} {r.stderr.strip()})")
        r = d("run", "--rm", "nosuch/image:x", "true")
        check(r.returncode == 125 and "nosuch/image" in r.stderr, f"run of a missing image -> 125 ({r.returncode})")

        r = d("run", "-d", "--name", "web", "busybox", "sh", "-c",
              "echo started; i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done")
        web_id = r.stdout.strip()
        check(r.returncode == 0 and len(web_id) == 64, f"run -d --name web ({r.stderr.strip()})")
        r = d("create", "--name", "web", "busybox", "true")
        check(r.returncode != 0 and "is already in use by container" in r.stderr, "create with a taken name -> conflict")
        r = d("ps")
        check(r.returncode == 0 and "web" in r.stdout and "Up " in r.stdout, f"ps lists web:\n{r.stdout}")
        r = d("ps", "-q", "--filter", "name=web", "--no-trunc")
        check(r.stdout.strip() == web_id, "ps --filter name=web -q")
        # no memory limit: dockerd (and so berth) reports the host's memory as the limit, not the cgroup's 8 EiB
        r = d("stats", "--no-stream", "--format", "{{.MemUsage}}", "web")
        limit = r.stdout.strip().rpartition(" / ")[2]
        check(r.returncode == 0 and limit == docker_size(host_mem_total()),
              f"stats --no-stream: limit of an unlimited container is MemTotal ({r.stdout.strip()!r} {r.stderr.strip()})")
        r = d("logs", "web")
        check(r.returncode == 0 and r.stdout.startswith("started\n"), f"logs web: {r.stdout[:40]!r}")
        p = subprocess.Popen(H + ["logs", "-f", "--tail", "0", "web"], env=env, stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        p.kill()
        p.wait()
        check(line.startswith("tick "), f"logs -f streams new lines: {line!r}")
        r = d("exec", "web", "sh", "-c", "echo o; echo e >&2; exit 4")
        check(r.returncode == 4 and r.stdout == "o\n" and r.stderr == "e\n", f"exec exit code 4 ({r.returncode})")
        r = d("exec", "-i", "web", "cat", input="through stdin\n")
        check(r.returncode == 0 and r.stdout == "through stdin\n", f"exec -i cat: {r.stdout!r}")
        if shutil.which("script"):
            cmd = " ".join(H) + " exec -it web sh -c 'tty; exit 6'"
            r = run(["script", "-qec", cmd, "/dev/null"], env=env)
            check(r.returncode == 6 and "/dev/pts/" in r.stdout, f"exec -it through a pty ({r.returncode} {r.stdout!r})")
            cmd = " ".join(H) + " run -it --rm busybox sh -c 'tty; exit 5'"
            r = run(["script", "-qec", cmd, "/dev/null"], env=env)
            check(r.returncode == 5 and "/dev/pts/0" in r.stdout, f"run -it through a pty ({r.returncode} {r.stdout!r})")
            # The output of -it is the container's pty and nothing else: the first bytes are the command's.
            # (script's stdin stays open here: at EOF of its stdin script writes the EOF character into the pty
            # while it is still canonical, the line discipline queues it as a NUL, and once docker has made the
            # terminal raw it reads that NUL and sends it as input, which the container's pty echoes as "^@"
            # before the output. dockerd shows the same, see the reference capture.)
            rc, out = pty_run(" ".join(H) + " run -it --rm busybox echo hi", env)
            check(rc == 0 and out.startswith(b"hi\r\n"), f"run -it: output starts with the command's ({rc} {out[:16]!r})")
            rc, out = pty_run(" ".join(H) + " exec -it web echo hi", env)
            check(rc == 0 and out.startswith(b"hi\r\n"), f"exec -it: output starts with the command's ({rc} {out[:16]!r})")
        src = os.path.join(tmp, "to-container.txt")
        with open(src, "w") as f:
            f.write("copied in\n")
        r = d("cp", src, "web:/tmp/")
        check(r.returncode == 0, f"cp host -> container ({r.stderr.strip()})")
        r = d("exec", "web", "cat", "/tmp/to-container.txt")
        check(r.stdout == "copied in\n", "the copied file is inside")
        dst = os.path.join(tmp, "from-container")
        r = d("cp", "web:/etc/passwd", dst)
        check(r.returncode == 0 and open(dst).read().startswith("root:"), f"cp container -> host ({r.stderr.strip()})")
        hn = os.path.join(tmp, "hostname-out")
        r = d("cp", "web:/etc/hostname", hn)
        check(r.returncode == 0 and open(hn).read().strip() == web_id[:12], "cp of /etc/hostname: the generated file")
        r = d("cp", "web:/../../../../etc/shadow", os.path.join(tmp, "escape"))
        check(r.returncode != 0 or not open(os.path.join(tmp, "escape")).read().startswith(open("/etc/shadow").read()[:10]),
              "cp with .. stays inside the container")
        r = d("diff", "web")
        check(r.returncode == 0 and "A /tmp/to-container.txt" in r.stdout, f"diff: {r.stdout.strip()}")
        r = d("top", "web")
        check(r.returncode == 0 and "PID" in r.stdout and "sleep" in r.stdout or "while" in r.stdout, "top")
        r = d("inspect", "web")
        ins = json.loads(r.stdout)[0] if r.returncode == 0 else {}
        st = ins.get("State", {})
        check(ins.get("Name") == "/web" and st.get("Running") is True and st.get("Pid", 0) > 0 and
              ins.get("Config", {}).get("Cmd", [None])[0] == "sh" and "HostConfig" in ins and "LogPath" in ins,
              "inspect: Name, State.Running, Pid, Config, HostConfig, LogPath")
        r = d("stop", "-t", "1", "web")
        check(r.returncode == 0, f"stop -t 1 ({r.stderr.strip()})")
        check(inspect("web", "{{.State.Status}} {{.State.ExitCode}}") == "exited 137", "stopped by SIGKILL after the timeout: 137")
        r = d("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}")
        check("web" in r.stdout.split(), "ps -a --filter status=exited")
        r = d("wait", "web")
        check(r.stdout.strip() == "137", f"wait on an exited container: {r.stdout.strip()}")
        r = d("start", "web")
        check(r.returncode == 0 and inspect("web", "{{.State.Running}}") == "true", "start again")
        pid1 = inspect("web", "{{.State.Pid}}")
        r = d("restart", "-t", "1", "web")
        check(r.returncode == 0 and inspect("web", "{{.State.Running}}") == "true" and inspect("web", "{{.State.Pid}}") != pid1,
              "restart: running again with a new pid")
        r = d("pause", "web")
        check(r.returncode == 0 and inspect("web", "{{.State.Status}}") == "paused", "pause")
        r = d("unpause", "web")
        check(r.returncode == 0 and inspect("web", "{{.State.Status}}") == "running", "unpause")
        r = d("rename", "web", "web2")
        check(r.returncode == 0 and inspect("web2", "{{.Name}}") == "/web2", "rename")
        d("rename", "web2", "web")
        r = d("ps", "-s", "--format", "{{.Names}} {{.Size}}")
        check(r.returncode == 0 and "web " in r.stdout and "B" in r.stdout, f"ps -s: {r.stdout.strip()}")
        r = subprocess.run(H + ["export", "web"], env=env, capture_output=True, timeout=60)
        check(r.returncode == 0 and r.stdout[257:262] == b"ustar" and b"bin/busybox" in r.stdout, "export: a tar of the rootfs")
        r = d("rm", "web")
        check(r.returncode != 0 and "cannot remove a running container" in r.stderr, "rm of a running container is refused")
        r = d("kill", "web")
        check(r.returncode == 0, "kill")
        dm.poll(lambda: inspect("web", "{{.State.Running}}") == "false")
        r = d("kill", "web")
        check(r.returncode != 0 and "is not running" in r.stderr, "kill of a stopped container -> 409")
        r = d("rm", "web")
        check(r.returncode == 0 and d("ps", "-aq").stdout.strip() == "", "rm")
        d("create", "--name", "leftover", "busybox", "true")
        r = d("container", "prune", "-f")
        check(r.returncode == 0 and d("ps", "-aq").stdout.strip() == "", f"container prune ({r.stdout.strip()})")

        # volumes survive the container
        r = d("run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo persisted > /data/f")
        r2 = d("run", "--rm", "-v", "keep:/data", "busybox", "cat", "/data/f")
        check(r.returncode == 0 and r2.stdout == "persisted\n", f"named volume persists across container removal ({r2.stdout!r})")

        # restart policy after a crash
        r = d("run", "-d", "--name", "crash", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3")
        ok = dm.poll(lambda: inspect("crash", "{{.RestartCount}} {{.State.Status}}") == "2 exited", attempts=400)
        check(r.returncode == 0 and ok, f"on-failure:2 restarts twice then stays exited ({inspect('crash', '{{.RestartCount}} {{.State.Status}}')})")
        # health status
        r = d("run", "-d", "--name", "hc", "--health-cmd", "test -e /tmp/ok || touch /tmp/ok", "--health-interval", "200ms",
              "--health-retries", "1", "busybox", "sh", "-c", "while true; do sleep 1; done")
        ok = dm.poll(lambda: inspect("hc", "{{.State.Health.Status}}") == "healthy", attempts=400)
        check(r.returncode == 0 and ok, f"health status healthy ({inspect('hc', '{{.State.Health.Status}}')})")
        # memory limit -> OOMKilled
        r = d("run", "--name", "oom", "-m", "8m", "--memory-swap", "8m", "busybox", "sh", "-c", "x=a; while true; do x=$x$x; done")
        check(r.returncode == 137 and inspect("oom", "{{.State.OOMKilled}}") == "true", f"memory limit -> OOMKilled ({r.returncode})")
        d("rm", "-f", "crash", "hc", "oom")

        # save / load, push / pull against berth registry serve
        archive = os.path.join(tmp, "bb.tar")
        r = d("save", "-o", archive, "busybox")
        check(r.returncode == 0 and os.path.getsize(archive) > 0, f"save ({r.stderr.strip()})")
        r = d("load", "-i", archive)
        check(r.returncode == 0 and "busybox" in r.stdout, f"load ({r.stdout.strip()} {r.stderr.strip()})")
        reg, _ = dm.start_berth_registry(os.path.join(tmp, "reg"), addr=f"127.0.0.1:{reg_port}")
        ref = f"127.0.0.1:{reg_port}/bb:v1"
        d("tag", "busybox", ref)
        r = d("push", ref)
        check(r.returncode == 0 and "digest: sha256:" in r.stdout, f"push to berth registry serve ({r.stderr.strip()})")
        d("rmi", ref)
        r = d("pull", ref)
        check(r.returncode == 0 and d("image", "inspect", ref).returncode == 0, f"pull back ({r.stderr.strip()})")
        r = d("run", "--rm", ref, "echo", "pulled")
        check(r.stdout == "pulled\n", "run the pulled image")

        # the daemon dies (SIGKILL): containers live on, and one that exits meanwhile keeps its real exit code
        d("run", "-d", "--name", "lr", "busybox", "sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done")
        r = d("run", "-d", "--name", "lr2", "busybox", "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 7")
        lr2_id = r.stdout.strip()
        lr_pid = inspect("lr", "{{.State.Pid}}")
        lr2_pid = inspect("lr2", "{{.State.Pid}}")
        daemon.kill()
        daemon.wait()
        # tell lr2 to exit while no daemon runs (its rootfs is mounted on the host under the data root)
        open(os.path.join(data, "containers", lr2_id, "rootfs", "tmp", "go"), "w").close()
        dm.poll(lambda: not os.path.exists(f"/proc/{lr2_pid}"), attempts=400)
        daemon = dm.start_berth_daemon(data, execroot, sock, logpath, extra)
        check(inspect("lr", "{{.State.Running}} {{.State.Pid}}") == f"true {lr_pid}", "after kill -9 + restart: still running, same pid")
        r = d("ps", "--format", "{{.Names}}")
        check("lr" in r.stdout.split(), "ps lists it after the restart")
        r = d("exec", "lr", "echo", "exec-after-restore")
        check(r.stdout == "exec-after-restore\n", "exec after the restart")
        r = d("logs", "--tail", "1", "lr")
        check(r.stdout.startswith("tick "), "logs after the restart")
        ok = dm.poll(lambda: inspect("lr2", "{{.State.Status}} {{.State.ExitCode}}") == "exited 7")
        check(ok, f"exited while the daemon was down: real exit code ({inspect('lr2', '{{.State.Status}} {{.State.ExitCode}}')})")
        r = d("stop", "-t", "1", "lr")
        check(r.returncode == 0 and inspect("lr", "{{.State.ExitCode}}") == "137", "stop after the restart")
        r = d("rm", "-f", "lr", "lr2")
        check(r.returncode == 0, "rm -f")
        print(f"containers: {len(ran)} docker commands run")
    finally:
        if reg is not None:
            reg.kill()
            reg.wait()
        run(H + ["rm", "-f"] + run(H + ["ps", "-aq"], env=env).stdout.split(), env=env)
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        subprocess.run(["umount", "-R", "-l", data], capture_output=True)
        shutil.rmtree(execroot, ignore_errors=True)


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

        daemon = dm.start_berth_daemon(data, os.path.join(tmp, "exec"), sock, os.path.join(tmp, "daemon.log"))
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

        if os.geteuid() == 0:
            container_scenario(tmp, env)
        else:
            print("skip: container scenario (needs root)")

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
        return finish()
    print("all ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
