#!/usr/bin/env python3
"""Compatibility table: every bundle runs under the reference runtime (runc) and under berth-runtime; the
probe inside reports what it sees, and the normalised reports must match. Each feature also carries an
absolute expectation, checked for both runtimes, so that "both wrong the same way" fails too.

Usage: compat_test.py [-k SUBSTRING]...   (select features by name)
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import berthtest as bt  # noqa: E402

CAP = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7,
       "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18, "CAP_SYS_ADMIN": 21,
       "CAP_AUDIT_WRITE": 29}


def capmask(names):
    return "%016x" % sum(1 << CAP[n] for n in names)


class Run:
    def __init__(self, rc, out, err, extra=None):
        self.rc = rc
        self.out = out
        self.err = err
        self.objs = bt.parse_json_lines(out)
        self.probe = next((o for o in self.objs if "hostname" in o), None)
        self.extra = extra or {}

    def check(self, path):
        for c in (self.probe or {}).get("checks", []):
            if c["path"] == path:
                return c
        return None

    def obj(self, key):
        return next((o for o in self.objs if key in o), None)


class Ctx:
    """What a case needs besides its config: per-run work dir, host namespaces, ids."""

    def __init__(self, env, rt, cid, bundle, work):
        self.env = env
        self.rt = rt
        self.cid = cid
        self.bundle = bundle
        self.work = work
        self.host_ns = bt.host_namespaces()
        self.joined = {}
        self.cleanups = []


class Case:
    def __init__(self, name, config=None, args=None, rootfs=None, observe=None, expect=None, runner=None,
                 input=None, prepare=None, reference=True):
        self.name = name
        self.config = config          # f(cfg, ctx): edits the config
        self.args = args              # probe args (list) or full process.args when it starts with "/"
        self.rootfs = rootfs          # f(rootfs_dir)
        self.observe = observe        # f(run, ctx) -> comparable value
        self.expect = expect          # f(obs) -> None or a failure message
        self.runner = runner          # f(case, ctx) -> Run
        self.input = input
        self.prepare = prepare        # f(ctx): host-side setup before the bundle is written
        # False when the reference runtime lacks the feature (runc 1.1.5): berth is checked against the
        # expectation only, and the reference's result is shown but not compared.
        self.reference = reference


def default_runner(case, ctx):
    r = ctx.rt.run(ctx.bundle, ctx.cid, input=case.input)
    return Run(r.returncode, r.stdout, r.stderr)


def field(*keys):
    def f(run, ctx):
        if run.probe is None:
            return {"rc": run.rc, "error": "no probe output", "stderr": run.err.decode(errors="replace")[-300:]}
        return {k: run.probe.get(k) for k in keys}
    return f


def checks(*paths, keys=("exists", "type", "rdev", "mode", "readable", "writable", "write_errno", "read_errno",
                         "head", "link", "entries", "read_bytes")):
    def f(run, ctx):
        if run.probe is None:
            return {"rc": run.rc, "error": "no probe output", "stderr": run.err.decode(errors="replace")[-300:]}
        res = {}
        for p in paths:
            c = run.check(p) or {}
            res[p] = {k: c.get(k) for k in keys if k in c}
        return res
    return f


def expect_eq(expected):
    def f(obs):
        if obs != expected:
            return f"want {json.dumps(expected, sort_keys=True)}"
        return None
    return f


def expect_fn(pred, msg):
    def f(obs):
        try:
            ok = pred(obs)
        except (KeyError, TypeError, IndexError):
            ok = False
        return None if ok else msg
    return f


def set_process(**kw):
    def f(cfg, ctx):
        cfg["process"].update(kw)
    return f


def chain(*fs):
    def f(cfg, ctx):
        for g in fs:
            g(cfg, ctx)
    return f


def linux(**kw):
    def f(cfg, ctx):
        cfg["linux"].update(kw)
    return f


def resources(**kw):
    def f(cfg, ctx):
        cfg["linux"].setdefault("resources", {}).update(kw)
    return f


def add_mount(m):
    def f(cfg, ctx):
        mm = {k: (v.format(work=ctx.work) if isinstance(v, str) else v) for k, v in m.items()}
        cfg["mounts"].append(mm)
    return f


# ---- special runners -----------------------------------------------------------------------------------
def signal_runner(sig, wait_ready=True):
    def run(case, ctx):
        p = ctx.rt.popen("run", "--bundle", ctx.bundle, ctx.cid)
        try:
            if wait_ready:
                line = p.stdout.readline()  # {"ready":true}
                if b"ready" not in line:
                    out, err = p.communicate(timeout=30)
                    return Run(p.wait(), line + out, err)
            else:
                bt.wait_for(lambda: (ctx.rt.state(ctx.cid) or {}).get("status") == "running")
            k = ctx.rt.cmd("kill", ctx.cid, sig)
            out, err = p.communicate(timeout=30)
            return Run(p.returncode, out, err + k.stderr, {"kill_rc": k.returncode})
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            ctx.rt.force_delete(ctx.cid)
    return run


def exec_runner(exec_args, process=None):
    """Starts the container (probe signal-wait), runs `exec`, then stops the container."""
    def run(case, ctx):
        p = ctx.rt.popen("run", "--bundle", ctx.bundle, ctx.cid)
        try:
            line = p.stdout.readline()
            if b"ready" not in line:
                out, err = p.communicate(timeout=30)
                return Run(p.wait(), line + out, err)
            if process is not None:
                pf = os.path.join(ctx.work, "process.json")
                with open(pf, "w") as f:
                    json.dump(process, f)
                args = ["exec", "--process", pf, ctx.cid]
            else:
                args = [a.format(cid=ctx.cid) for a in exec_args]
            e = ctx.rt.cmd(*args, timeout=60)
            ctx.rt.cmd("kill", ctx.cid, "KILL")
            p.communicate(timeout=30)
            return Run(e.returncode, e.stdout, e.stderr)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            ctx.rt.force_delete(ctx.cid)
    return run


class SeccompAgent:
    """The other end of linux.seccomp.listenerPath: takes the listener fd and the container process state from
    each connection and answers every notification with -errno (a thread; poll before each ioctl)."""
    NOTIF_RECV, NOTIF_SEND, NOTIF_SIZE = 0xC0502100, 0xC0182101, 80  # <linux/seccomp.h>, x86_64

    def __init__(self, path, errno_ret):
        import socket
        import threading
        self.errno_ret = errno_ret
        self.states, self.answered, self.listeners = [], 0, []
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(8)
        self.stop_r, self.stop_w = os.pipe()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def take(self, conn):
        import array
        import socket
        fds = array.array("i")
        msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_LEN(fds.itemsize))
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
        conn.settimeout(10)
        try:
            while True:
                more = conn.recv(65536)
                if not more:
                    break
                msg += more
        except OSError:
            pass
        conn.close()
        try:
            self.states.append(json.loads(msg))
        except json.JSONDecodeError:
            self.states.append({"unparsable": msg[:200].decode(errors="replace")})
        self.listeners.extend(fds)

    def answer(self, fd):
        import fcntl
        import struct
        req = bytearray(self.NOTIF_SIZE)
        try:
            fcntl.ioctl(fd, self.NOTIF_RECV, req, True)
        except OSError:  # the notifying process died meanwhile
            return
        notif_id = struct.unpack_from("Q", req, 0)[0]
        try:
            fcntl.ioctl(fd, self.NOTIF_SEND, bytearray(struct.pack("QqiI", notif_id, 0, -self.errno_ret, 0)), True)
            self.answered += 1
        except OSError:
            pass

    def loop(self):
        import select
        while True:
            p = select.poll()
            p.register(self.stop_r, select.POLLIN)
            p.register(self.srv.fileno(), select.POLLIN)
            for fd in self.listeners:
                p.register(fd, select.POLLIN)
            for fd, ev in p.poll():
                if fd == self.stop_r:
                    return
                if fd == self.srv.fileno():
                    self.take(self.srv.accept()[0])
                elif ev & select.POLLIN:
                    self.answer(fd)
                elif ev & (select.POLLHUP | select.POLLERR):  # its processes are gone
                    os.close(fd)
                    self.listeners.remove(fd)

    def stop(self):
        os.write(self.stop_w, b"x")
        self.thread.join(10)
        for fd in self.listeners + [self.stop_r, self.stop_w]:
            os.close(fd)
        self.srv.close()

    def summary(self, cid):
        return {"answered": self.answered > 0,
                "connections": [{"fds": st.get("fds"), "metadata": st.get("metadata"),
                                 "ociVersion_1.x": str(st.get("ociVersion", "")).startswith("1."),
                                 "state_id_ok": (st.get("state") or {}).get("id") == cid,
                                 "pid_is_init": st.get("pid") == (st.get("state") or {}).get("pid"),
                                 "pid_positive": isinstance(st.get("pid"), int) and st.get("pid") > 0}
                                for st in self.states]}


def notify_config(cfg, ctx):
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": os.path.join(ctx.work, "agent.sock"),
                               "listenerMetadata": "compat-meta",
                               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}


def notify_runner(exec_args=None):
    """A seccomp agent answers mkdir with EOPNOTSUPP (95): for the init (`run`), or for an exec'd process."""
    def run(case, ctx):
        agent = SeccompAgent(os.path.join(ctx.work, "agent.sock"), 95)
        try:
            if exec_args is None:
                r = default_runner(case, ctx)
            else:
                r = exec_runner(exec_args)(case, ctx)
        finally:
            agent.stop()
        r.extra = agent.summary(ctx.cid)
        return r
    return run


def obs_notify(run, ctx):
    return {**obs_syscall(run, ctx), **run.extra}


def lifecycle_runner(case, ctx):
    """create / state / start / pause / resume / ps / update / events --stats / kill / delete, as containerd's
    shim and dockerd drive them; each step's normalised outcome is observed."""
    rt, cid, steps = ctx.rt, ctx.cid, {}

    def status():
        st = rt.state(cid)
        return st.get("status") if st else None
    try:
        r = rt.cmd("create", "--bundle", ctx.bundle, "--pid-file", os.path.join(ctx.work, "pid"), cid)
        st = rt.state(cid) or {}
        pid_file = open(os.path.join(ctx.work, "pid")).read().strip() if os.path.exists(
            os.path.join(ctx.work, "pid")) else ""
        steps["create"] = {"rc": r.returncode, "status": st.get("status"), "id": st.get("id") == cid,
                           "pid_file_matches": pid_file == str(st.get("pid")),
                           "bundle": os.path.realpath(st.get("bundle", "")) == os.path.realpath(ctx.bundle)}
        lst = rt.cmd("list", "--format", "json")
        try:
            ids = [c.get("id") for c in json.loads(lst.stdout or b"[]") or []]
        except json.JSONDecodeError:
            ids = []
        steps["list"] = {"rc": lst.returncode, "listed": cid in ids}
        r = rt.cmd("start", cid)
        steps["start"] = {"rc": r.returncode, "status": status()}
        r = rt.cmd("pause", cid)
        steps["pause"] = {"rc": r.returncode, "status": status()}
        r = rt.cmd("resume", cid)
        steps["resume"] = {"rc": r.returncode, "status": status()}
        r = rt.cmd("ps", "--format", "json", cid)
        try:
            pids = json.loads(r.stdout or b"[]")
        except json.JSONDecodeError:
            pids = None
        steps["ps"] = {"rc": r.returncode, "lists_pids": isinstance(pids, list) and len(pids) >= 1}
        r = rt.cmd("update", "--memory", str(64 << 20), "--pids-limit", "77", cid)
        cg = {}
        for ctrl, f in (("memory", "memory.limit_in_bytes"), ("pids", "pids.max")):
            found = [os.path.join(d, f) for d in bt.cgroup_dirs_named(cid) if f"/{ctrl}/" in d + "/"]
            cg[f] = open(found[0]).read().strip() if found and os.path.exists(found[0]) else None
        steps["update"] = {"rc": r.returncode, **cg}
        r = rt.cmd("events", "--stats", cid)
        try:
            ev = json.loads(r.stdout.decode().strip().splitlines()[0])
        except (json.JSONDecodeError, IndexError):
            ev = {}
        steps["events --stats"] = {"rc": r.returncode, "type": ev.get("type"),
                                   "has_memory": "memory" in (ev.get("data") or {}),
                                   "has_pids": "pids" in (ev.get("data") or {})}
        r = rt.cmd("kill", cid, "TERM")
        bt.wait_for(lambda: status() == "stopped", 20)
        steps["kill TERM"] = {"rc": r.returncode, "status": status()}
        r = rt.cmd("delete", cid)
        steps["delete"] = {"rc": r.returncode, "state_after": rt.state(cid) is not None}
        r = rt.cmd("state", cid)
        steps["state of a deleted container"] = {"failed": r.returncode != 0}
    finally:
        rt.force_delete(cid)
    return Run(0, b"", b"", steps)


def cli_runner(case, ctx):
    """The global and per-command flags containerd's shim, conmon and dockerd pass, plus spec/features/
    --version."""
    rt, res = ctx.rt, {}
    log = os.path.join(ctx.work, "runtime.log")
    r = subprocess.run([rt.binary, "--root", rt.root, "--log", log, "--log-format", "json", "--debug", "run",
                        "--bundle", ctx.bundle, "--pid-file", os.path.join(ctx.work, "pid"), "--no-pivot",
                        "--no-new-keyring", ctx.cid], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    rt.force_delete(ctx.cid)
    res["run with shim flags"] = {"rc": r.returncode, "pid_file": os.path.exists(os.path.join(ctx.work, "pid"))}
    sd = os.path.join(ctx.work, "spec")
    os.makedirs(sd)
    r = rt.cmd("spec", "--bundle", sd)
    try:
        spec = json.load(open(os.path.join(sd, "config.json")))
        res["spec"] = {"rc": r.returncode, "ociVersion_1.x": str(spec.get("ociVersion", "")).startswith("1."),
                       "has_process_args": bool(spec.get("process", {}).get("args")),
                       "root_path": spec.get("root", {}).get("path")}
    except (OSError, json.JSONDecodeError):
        res["spec"] = {"rc": r.returncode, "valid_json": False}
    r = rt.cmd("features")
    try:
        f = json.loads(r.stdout)
        res["features"] = {"rc": r.returncode, "ociVersionMin": f.get("ociVersionMin"),
                           "has_hooks": "prestart" in (f.get("hooks") or []),
                           "has_namespaces": "user" in ((f.get("linux") or {}).get("namespaces") or [])}
    except json.JSONDecodeError:
        res["features"] = {"rc": r.returncode, "valid_json": False}
    r = rt.cmd("--version")
    res["--version"] = {"rc": r.returncode, "prints": bool(r.stdout.strip())}
    return Run(0, b"", b"", res)


def console_runner(case, ctx):
    """create --console-socket: the runtime sends the pty master over SCM_RIGHTS; the test reads the
    container's output from it."""
    import array
    import socket
    import threading
    sock_path = os.path.join(ctx.work, "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    srv.settimeout(30)
    got = {}

    def accept():
        try:
            conn, _ = srv.accept()
            fds = array.array("i")
            msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_LEN(4 * fds.itemsize))
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
            got["fds"] = list(fds)
            conn.close()
        except OSError as e:
            got["error"] = repr(e)
    th = threading.Thread(target=accept)
    th.start()
    out = b""
    try:
        r = ctx.rt.cmd("create", "--bundle", ctx.bundle, "--console-socket", sock_path, ctx.cid)
        th.join(35)
        if r.returncode != 0 or not got.get("fds"):
            return Run(r.returncode or 1, b"", r.stderr, {"console": got})
        master = got["fds"][0]
        s = ctx.rt.cmd("start", ctx.cid)
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO once the container side is closed
                break
            if not chunk:
                break
            out += chunk
            if b"}" in out:
                break
        os.close(master)
        bt.wait_for(lambda: (ctx.rt.state(ctx.cid) or {}).get("status") in (None, "stopped"), 10)
        return Run(s.returncode, out.replace(b"\r", b""), r.stderr + s.stderr, {"fds_received": len(got["fds"])})
    finally:
        srv.close()
        ctx.rt.force_delete(ctx.cid)


def prep_ns_holder(ctx):
    """A host process in its own ipc and uts namespaces; the container joins them by /proc/<pid>/ns paths."""
    p = subprocess.Popen(["unshare", "--ipc", "--uts", "sleep", "300"], stdin=subprocess.DEVNULL)
    ctx.cleanups.append(lambda: (p.kill(), p.wait()))
    ctx.holder = p.pid
    bt.wait_for(lambda: os.readlink(f"/proc/{p.pid}/ns/uts") != os.readlink("/proc/self/ns/uts"), 10)
    for ns in ("ipc", "uts"):
        ctx.joined[ns] = os.readlink(f"/proc/{p.pid}/ns/{ns}")


def join_holder(cfg, ctx):
    for ns in cfg["linux"]["namespaces"]:
        if ns["type"] in ("ipc", "uts"):
            ns["path"] = f"/proc/{ctx.holder}/ns/{ns['type']}"
    cfg.pop("hostname", None)


def hooks_runner(case, ctx):
    r = ctx.rt.run(ctx.bundle, ctx.cid)
    extra = {}
    for name in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"):
        p = os.path.join(ctx.work, "hooks", name + ".json")
        if os.path.exists(p):
            with open(p) as f:
                txt = f.read()
            try:
                extra[name] = json.loads(txt)
            except json.JSONDecodeError:
                extra[name] = {"unparsable": txt[:200]}
    return Run(r.returncode, r.stdout, r.stderr, extra)


def hooks_config(cfg, ctx):
    hd = os.path.join(ctx.work, "hooks")
    os.makedirs(hd, exist_ok=True)

    def host(name):
        return {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {hd}/{name}.json"]}

    # createContainer/startContainer run in the container's mount namespace (runc 1.1 runs createContainer
    # before pivot_root, the spec says after): the hooks dir is mounted at its host path so both views agree.
    def inside(name):
        return {"path": "/bin/sh", "args": ["sh", "-c", f"cat > {hd}/{name}.json"]}
    cfg["hooks"] = {
        "prestart": [host("prestart")],
        "createRuntime": [host("createRuntime")],
        "createContainer": [inside("createContainer")],
        "startContainer": [inside("startContainer")],
        "poststart": [host("poststart")],
        "poststop": [host("poststop")],
    }
    cfg["mounts"].append({"destination": hd, "type": "bind", "source": hd, "options": ["rbind", "rw"]})


HOST_HOOKS = ("prestart", "createRuntime", "poststart", "poststop")


def hooks_observe(run, ctx):
    # The "status" each hook sees differs between mature runtimes (runc says "creating" where crun says
    # "created"), so it is not compared; which hooks ran, and with which container, is.
    res = {}
    for name, st in sorted(run.extra.items()):
        res[name] = {"id_ok": st.get("id") == ctx.cid, "has_ociVersion": bool(st.get("ociVersion"))}
        if name in HOST_HOOKS:
            res[name]["bundle_ok"] = os.path.realpath(st.get("bundle", "")) == os.path.realpath(ctx.bundle)
        if name in ("prestart", "createRuntime", "poststart"):
            res[name]["has_pid"] = isinstance(st.get("pid"), int) and st.get("pid", 0) > 0
    res["rc"] = run.rc
    return res


# ---- observations --------------------------------------------------------------------------------------
def obs_defaults(run, ctx):
    p = run.probe
    if p is None:
        return {"rc": run.rc, "error": "no probe output", "stderr": run.err.decode(errors="replace")[-300:]}
    cg = {k: v for k, v in p["cgroup"].items() if k.startswith("v1:")}
    return {
        "rc": run.rc,
        "ids": [p["uid"], p["euid"], p["gid"], p["egid"], p["groups"]],
        "caps": p["caps"],
        "no_new_privs": p["no_new_privs"],
        "seccomp": p["seccomp"],
        "umask": p["umask"],
        "cwd": p["cwd"],
        "root_readonly": p["root_readonly"],
        "pid": p["pid"],
        "ns": bt.ns_kind(p["namespaces"], ctx.host_ns),
        "rlimits": p["rlimits"],
        "env": sorted(p["env"]),
        "fds": [f["fd"] for f in p["fds"]],
        "cgroup": cg,
        "sysctls": {k: v for k, v in p["sysctls"].items() if k not in ("kernel.hostname",)},
        "oom_score_adj": p["oom_score_adj"],
        "hostname": p["hostname"],
    }


def obs_ns(run, ctx):
    if run.probe is None:
        return {"rc": run.rc, "error": "no probe output", "stderr": run.err.decode(errors="replace")[-300:]}
    return bt.ns_kind(run.probe["namespaces"], ctx.host_ns, ctx.joined)


def obs_rc(run, ctx):
    return {"rc": run.rc}


def obs_rc_objs(*keys):
    def f(run, ctx):
        res = {"rc": run.rc}
        for k in keys:
            o = run.obj(k)
            res[k] = o.get(k) if o else None
        return res
    return f


def obs_syscall(run, ctx):
    o = run.obj("syscall")
    return {"rc": run.rc, "errno": o["errno"] if o else None}


# ---- host-side preparation -----------------------------------------------------------------------------
def prep_bind_src(ctx):
    src = os.path.join(ctx.work, "src")
    os.makedirs(src)
    with open(os.path.join(src, "hello"), "w") as f:
        f.write("from host\n")
    with open(os.path.join(ctx.work, "file.txt"), "w") as f:
        f.write("bound file\n")


def prep_netns(ctx):
    """A persistent network namespace bind-mounted on a file (what `ip netns add` does under /run/netns), kept
    in the test's own directory."""
    path = os.path.join(ctx.work, "netns")
    open(path, "w").close()
    subprocess.run(["unshare", f"--net={path}", "true"], check=True)
    ctx.cleanups.append(lambda: subprocess.run(["umount", path], stderr=subprocess.DEVNULL))
    ctx.netns_path = path
    ctx.joined["net"] = "net:[%d]" % os.stat(path).st_ino


def join_netns(cfg, ctx):
    for ns in cfg["linux"]["namespaces"]:
        if ns["type"] == "network":
            ns["path"] = ctx.netns_path


def drop_ns(*types):
    def f(cfg, ctx):
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] not in types]
        if "uts" in types:
            cfg.pop("hostname", None)
    return f


def add_ns(t):
    def f(cfg, ctx):
        cfg["linux"]["namespaces"].append({"type": t})
    return f


def userns(cfg, ctx):
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]


def rootfs_masked(rootfs):
    os.makedirs(os.path.join(rootfs, "etc/secret"))
    with open(os.path.join(rootfs, "etc/secret/key"), "w") as f:
        f.write("secret\n")
    with open(os.path.join(rootfs, "etc/secret-file"), "w") as f:
        f.write("secret\n")


def rootfs_ctronly_user(rootfs):
    with open(os.path.join(rootfs, "etc/passwd"), "a") as f:
        f.write("ctronly:x:4321:4321:only in the container:/home/ctronly:/bin/sh\n")


# ---- the table -----------------------------------------------------------------------------------------
DEFAULT_DEVS = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx",
                "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/pts", "/dev/shm", "/dev/mqueue"]

CASES = [
    Case("defaults (runc spec)", observe=obs_defaults,
         expect=expect_fn(lambda o: o["rc"] == 0 and o["pid"] == 1 and o["ns"]["pid"] == "new"
                          and o["ns"]["mnt"] == "new" and o["ns"]["net"] == "new" and o["fds"] == [0, 1, 2]
                          and o["no_new_privs"] == "1", "pid 1 in new namespaces, fds 0-2, NoNewPrivs")),
    Case("hostname", config=lambda c, x: c.update(hostname="berth-host"), observe=field("hostname"),
         expect=expect_eq({"hostname": "berth-host"})),
    Case("domainname", config=lambda c, x: c.update(domainname="example.test"), observe=field("domainname"),
         expect=expect_eq({"domainname": "example.test"}), reference=False),
    Case("user uid/gid", config=set_process(user={"uid": 1000, "gid": 1000}),
         observe=field("uid", "euid", "gid", "egid", "groups"),
         expect=expect_eq({"uid": 1000, "euid": 1000, "gid": 1000, "egid": 1000, "groups": []})),
    Case("additionalGids", config=set_process(user={"uid": 1000, "gid": 1000, "additionalGids": [1001, 5]}),
         observe=field("gid", "groups"), expect=expect_fn(lambda o: sorted(o["groups"]) == [5, 1000, 1001]
                                                          or sorted(o["groups"]) == [5, 1001], "groups 5,1001")),
    Case("umask", config=set_process(user={"uid": 0, "gid": 0, "umask": 0o027}), observe=field("umask"),
         expect=expect_eq({"umask": "0027"})),
    Case("cwd", config=set_process(cwd="/tmp"), observe=field("cwd"), expect=expect_eq({"cwd": "/tmp"})),
    Case("cwd created when missing", config=chain(set_process(cwd="/work/sub"),
                                                  lambda c, x: c["root"].update(readonly=False)),
         observe=field("cwd"), expect=expect_eq({"cwd": "/work/sub"})),
    Case("env", config=set_process(env=["PATH=/bin:/usr/bin", "FOO=bar", "EMPTY=", "SPACES=a b  c", "HOME=/h"]),
         observe=lambda r, x: {"env": sorted(r.probe["env"]) if r.probe else None},
         expect=expect_eq({"env": sorted(["PATH=/bin:/usr/bin", "FOO=bar", "EMPTY=", "SPACES=a b  c",
                                          "HOME=/h"])})),
    Case("HOME from the container's /etc/passwd", rootfs=rootfs_ctronly_user,
         config=set_process(user={"uid": 4321, "gid": 4321}, env=["PATH=/bin"]),
         observe=lambda r, x: {"HOME": [e for e in (r.probe or {}).get("env", []) if e.startswith("HOME=")]},
         expect=expect_eq({"HOME": ["HOME=/home/ctronly"]})),
    Case("capabilities (5 sets, root)",
         config=set_process(capabilities={
             "bounding": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_KILL"],
             "effective": ["CAP_CHOWN", "CAP_KILL"],
             "permitted": ["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"],
             "inheritable": ["CAP_KILL"],
             "ambient": ["CAP_KILL"]}),
         observe=field("caps"),
         expect=expect_eq({"caps": {"CapBnd": capmask(["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_KILL"]),
                                    # uid 0 execs with effective = permitted; noNewPrivileges keeps permitted
                                    # from growing to the bounding set
                                    "CapEff": capmask(["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"]),
                                    "CapPrm": capmask(["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"]),
                                    "CapInh": capmask(["CAP_KILL"]), "CapAmb": capmask(["CAP_KILL"])}})),
    Case("capabilities (non-root, ambient)",
         config=set_process(user={"uid": 1000, "gid": 1000}, capabilities={
             "bounding": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL"],
             "effective": ["CAP_NET_BIND_SERVICE"], "permitted": ["CAP_NET_BIND_SERVICE"],
             "inheritable": ["CAP_NET_BIND_SERVICE"], "ambient": ["CAP_NET_BIND_SERVICE"]}),
         observe=field("caps"),
         expect=expect_eq({"caps": {"CapBnd": capmask(["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_KILL"]),
                                    "CapEff": capmask(["CAP_NET_BIND_SERVICE"]),
                                    "CapPrm": capmask(["CAP_NET_BIND_SERVICE"]),
                                    "CapInh": capmask(["CAP_NET_BIND_SERVICE"]),
                                    "CapAmb": capmask(["CAP_NET_BIND_SERVICE"])}})),
    # runc's default spec lists ambient capabilities but no inheritable ones, so none can be raised: a
    # non-root process ends up with nothing.
    Case("capabilities (non-root, none)", config=set_process(user={"uid": 1000, "gid": 1000}),
         observe=lambda r, x: {k: v for k, v in (r.probe or {}).get("caps", {}).items() if k != "CapBnd"},
         expect=expect_eq({"CapInh": "0" * 16, "CapPrm": "0" * 16, "CapEff": "0" * 16, "CapAmb": "0" * 16})),
    Case("noNewPrivileges false", config=set_process(noNewPrivileges=False), observe=field("no_new_privs"),
         expect=expect_eq({"no_new_privs": "0"})),
    Case("read-only rootfs", config=lambda c, x: c["root"].update(readonly=True), args=["json", "/", "/tmp"],
         observe=lambda r, x: {"root_readonly": (r.probe or {}).get("root_readonly"),
                               **checks("/", "/tmp", keys=("writable", "write_errno"))(r, x)},
         expect=expect_eq({"root_readonly": True, "/": {"writable": False, "write_errno": 30},
                           "/tmp": {"writable": False, "write_errno": 30}})),
    Case("writable rootfs", config=lambda c, x: c["root"].update(readonly=False), args=["json", "/", "/tmp"],
         observe=checks("/", "/tmp", keys=("writable",)),
         expect=expect_eq({"/": {"writable": True}, "/tmp": {"writable": True}})),
    Case("maskedPaths", rootfs=rootfs_masked,
         config=lambda c, x: c["linux"]["maskedPaths"].extend(["/etc/secret", "/etc/secret-file"]),
         args=["json", "/proc/kcore", "/proc/keys", "/etc/secret", "/etc/secret-file", "/sys/firmware"],
         observe=checks("/proc/kcore", "/proc/keys", "/etc/secret", "/etc/secret-file", "/sys/firmware"),
         expect=expect_fn(lambda o: o["/proc/keys"]["rdev"] == "1:3" and o["/etc/secret-file"]["rdev"] == "1:3"
                          and o["/etc/secret-file"].get("head") is None and o["/etc/secret"]["entries"] == 0
                          and not o["/etc/secret"]["writable"],
                          "files masked by /dev/null (1:3), directories by an empty read-only dir")),
    Case("readonlyPaths", config=chain(lambda c, x: c["root"].update(readonly=False),
                                       linux(readonlyPaths=["/etc", "/proc/sys", "/proc/sysrq-trigger"])),
         args=["json", "/etc", "/etc/passwd", "/proc/sys/kernel/domainname", "/tmp"],
         observe=checks("/etc", "/etc/passwd", "/proc/sys/kernel/domainname", "/tmp",
                        keys=("readable", "writable", "write_errno")),
         expect=expect_eq({"/etc": {"readable": True, "writable": False, "write_errno": 30},
                           "/etc/passwd": {"readable": True, "writable": False, "write_errno": 30},
                           "/proc/sys/kernel/domainname": {"readable": True, "writable": False, "write_errno": 30},
                           "/tmp": {"readable": True, "writable": True}})),
    Case("memory limit (cgroup value)", config=resources(memory={"limit": 32 << 20, "reservation": 16 << 20}),
         observe=lambda r, x: {k: (r.probe or {}).get("cgroup", {}).get(k) for k in
                               ("v1:memory.limit_in_bytes", "v1:memory.soft_limit_in_bytes")},
         expect=expect_eq({"v1:memory.limit_in_bytes": str(32 << 20),
                           "v1:memory.soft_limit_in_bytes": str(16 << 20)})),
    Case("memory limit enforced (OOM kill)", config=resources(memory={"limit": 32 << 20, "swap": 32 << 20}),
         args=["memhog", "256"], observe=obs_rc_objs("memhog_mb"),
         expect=expect_eq({"rc": 137, "memhog_mb": None})),
    Case("pids limit contains a fork bomb", config=resources(pids={"limit": 16}), args=["forkbomb", "200"],
         observe=lambda r, x: {"rc": r.rc, **{k: (r.obj("forked") or {}).get(k) for k in ("forked", "errno")}},
         expect=expect_eq({"rc": 0, "forked": 15, "errno": 11})),
    Case("pids limit (cgroup value)", config=resources(pids={"limit": 123}),
         observe=lambda r, x: {"pids.max": (r.probe or {}).get("cgroup", {}).get("v1:pids.max")},
         expect=expect_eq({"pids.max": "123"})),
    Case("cpu shares/quota/period", config=resources(cpu={"shares": 512, "quota": 50000, "period": 100000}),
         observe=lambda r, x: {k: (r.probe or {}).get("cgroup", {}).get(k) for k in
                               ("v1:cpu.shares", "v1:cpu.cfs_quota_us", "v1:cpu.cfs_period_us")},
         expect=expect_eq({"v1:cpu.shares": "512", "v1:cpu.cfs_quota_us": "50000",
                           "v1:cpu.cfs_period_us": "100000"})),
    Case("cpuset cpus/mems", config=resources(cpu={"cpus": "0", "mems": "0"}),
         observe=lambda r, x: {"cpus_allowed": (r.probe or {}).get("cpus_allowed"),
                               "cpuset.cpus": (r.probe or {}).get("cgroup", {}).get("v1:cpuset.cpus")},
         expect=expect_eq({"cpus_allowed": "0", "cpuset.cpus": "0"})),
    Case("seccomp errno (mkdir -> 42)",
         config=linux(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                             "errnoRet": 42}]}),
         args=["syscall", "mkdir"], observe=obs_syscall, expect=expect_eq({"rc": 0, "errno": 42})),
    Case("seccomp argument filter",
         config=linux(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
             {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
              "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]}]}),
         args=["syscall", "personality"], observe=obs_syscall, expect=expect_eq({"rc": 0, "errno": 7})),
    Case("seccomp kill (SIGSYS)",
         config=linux(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
             {"names": ["getcwd"], "action": "SCMP_ACT_KILL"}]}),
         args=["syscall", "getcwd"], observe=obs_rc, expect=expect_eq({"rc": 128 + 31})),
    Case("seccomp mode reported", config=linux(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}),
         observe=field("seccomp"), expect=expect_eq({"seccomp": "2"})),
    Case("seccomp SCMP_ACT_LOG + SECCOMP_FILTER_FLAG_LOG",
         config=linux(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                               "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_LOG"}]}),
         args=["syscall", "getcwd"], observe=obs_syscall, expect=expect_eq({"rc": 0, "errno": 0}),
         reference=False),
    Case("seccomp SCMP_ACT_NOTIFY: agent answers mkdir (run)", config=notify_config, args=["syscall", "mkdir"],
         runner=notify_runner(), observe=obs_notify,
         expect=expect_eq({"rc": 0, "errno": 95, "answered": True,
                           "connections": [{"fds": ["seccompFd"], "metadata": "compat-meta", "ociVersion_1.x": True,
                                            "state_id_ok": True, "pid_is_init": True, "pid_positive": True}]})),
    Case("seccomp SCMP_ACT_NOTIFY: agent answers mkdir (exec)", config=notify_config, args=["signal-wait"],
         runner=notify_runner(["exec", "{cid}", "/probe", "syscall", "mkdir"]), observe=obs_notify,
         expect=expect_fn(lambda o: o["rc"] == 0 and o["errno"] == 95 and o["answered"]
                          and len(o["connections"]) == 2 and all(c["fds"] == ["seccompFd"] and c["state_id_ok"]
                                                                 for c in o["connections"])
                          and not o["connections"][1]["pid_is_init"],
                          "two listeners (init, exec); the exec'd process's pid")),
    Case("personality LINUX32", config=linux(personality={"domain": "LINUX32"}), observe=field("personality"),
         expect=expect_eq({"personality": "0x8"}), reference=False),
    Case("masked/readonly paths that do not exist are skipped",
         config=lambda c, x: (c["linux"]["maskedPaths"].append("/proc/does-not-exist"),
                              c["linux"]["readonlyPaths"].append("/does/not/exist")),
         observe=obs_rc, expect=expect_eq({"rc": 0})),
    Case("args[0] looked up in the container's PATH", args=["probe", "exit", "3"],
         config=set_process(env=["PATH=/nonexistent:/"]), observe=obs_rc, expect=expect_eq({"rc": 3})),
    Case("exit code", args=["exit", "42"], observe=obs_rc, expect=expect_eq({"rc": 42})),
    Case("missing executable fails", args=["/does-not-exist"],
         observe=lambda r, x: {"failed": r.rc != 0}, expect=expect_eq({"failed": True})),
    Case("kill forwards SIGUSR1", args=["signal-wait"], runner=signal_runner("USR1"),
         observe=lambda r, x: {"rc": r.rc, "signal": (r.obj("signal") or {}).get("signal"),
                               "kill_rc": r.extra.get("kill_rc")},
         expect=expect_eq({"rc": 138, "signal": 10, "kill_rc": 0})),
    Case("kill SIGTERM to a handler", args=["signal-wait", "3"], runner=signal_runner("TERM"),
         observe=lambda r, x: {"rc": r.rc, "signal": (r.obj("signal") or {}).get("signal")},
         expect=expect_eq({"rc": 3, "signal": 15})),
    Case("kill SIGKILL -> 137", args=["sleep", "120"], runner=signal_runner("KILL", wait_ready=False),
         observe=lambda r, x: {"rc": r.rc, "kill_rc": r.extra.get("kill_rc")},
         expect=expect_eq({"rc": 137, "kill_rc": 0})),
    Case("rlimits", config=set_process(rlimits=[
        {"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 512}, {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
        {"type": "RLIMIT_NPROC", "hard": 4096, "soft": 1000}, {"type": "RLIMIT_MSGQUEUE", "hard": 9000, "soft": 8000},
        {"type": "RLIMIT_STACK", "hard": 2**64 - 1, "soft": 8388608}]),
         observe=lambda r, x: {k: (r.probe or {}).get("rlimits", {}).get(k) for k in
                               ("RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_NPROC", "RLIMIT_MSGQUEUE", "RLIMIT_STACK")},
         expect=expect_eq({"RLIMIT_NOFILE": [512, 2048], "RLIMIT_CORE": [0, 0], "RLIMIT_NPROC": [1000, 4096],
                           "RLIMIT_MSGQUEUE": [8000, 9000], "RLIMIT_STACK": [8388608, -1]})),
    Case("sysctls", config=linux(sysctl={"kernel.shmmax": "123456789", "net.core.somaxconn": "1234",
                                         "kernel.msgmax": "16384", "net.ipv4.ip_forward": "1"}),
         observe=lambda r, x: {k: (r.probe or {}).get("sysctls", {}).get(k) for k in
                               ("kernel.shmmax", "net.core.somaxconn", "kernel.msgmax", "net.ipv4.ip_forward")},
         expect=expect_eq({"kernel.shmmax": "123456789", "net.core.somaxconn": "1234", "kernel.msgmax": "16384",
                           "net.ipv4.ip_forward": "1"})),
    Case("user namespace mappings", config=userns,
         observe=lambda r, x: {"rc": r.rc, **({k: " ".join((r.probe.get(k) or "").split()) for k in
                                                ("uid_map", "gid_map")} if r.probe else {}),
                               "uid": (r.probe or {}).get("uid"),
                               "userns": bt.ns_kind((r.probe or {}).get("namespaces", {}), x.host_ns).get("user")},
         expect=expect_eq({"rc": 0, "uid_map": "0 200000 65536", "gid_map": "0 200000 65536", "uid": 0,
                           "userns": "new"})),
    Case("oomScoreAdj", config=set_process(oomScoreAdj=500), observe=field("oom_score_adj"),
         expect=expect_eq({"oom_score_adj": "500"})),
    Case("tmpfs mount", config=add_mount({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
                                          "options": ["nosuid", "nodev", "mode=750", "size=1m"]}),
         args=["json", "/mnt/t"], observe=checks("/mnt/t", keys=("type", "mode", "writable", "entries")),
         expect=expect_eq({"/mnt/t": {"type": "dir", "mode": "0750", "writable": True, "entries": 0}})),
    Case("bind mount read-only", prepare=prep_bind_src,
         config=add_mount({"destination": "/mnt/ro", "type": "bind", "source": "{work}/src",
                           "options": ["rbind", "ro"]}),
         args=["json", "/mnt/ro", "/mnt/ro/hello"],
         observe=checks("/mnt/ro", "/mnt/ro/hello", keys=("head", "writable", "write_errno")),
         expect=expect_eq({"/mnt/ro": {"writable": False, "write_errno": 30},
                           "/mnt/ro/hello": {"head": "from host", "writable": False, "write_errno": 30}})),
    Case("bind mount read-write", prepare=prep_bind_src,
         config=add_mount({"destination": "/mnt/rw", "type": "bind", "source": "{work}/src",
                           "options": ["rbind", "rw"]}),
         args=["write", "/mnt/rw/created"],
         observe=lambda r, x: {"rc": r.rc, "ok": (r.obj("write") or {}).get("ok"),
                               "host_sees": open(os.path.join(x.work, "src/created")).read()
                               if os.path.exists(os.path.join(x.work, "src/created")) else None},
         expect=expect_eq({"rc": 0, "ok": True, "host_sees": "probe\n"})),
    Case("bind mount of a file", prepare=prep_bind_src,
         config=add_mount({"destination": "/etc/bound.txt", "type": "bind", "source": "{work}/file.txt",
                           "options": ["bind", "ro"]}),
         args=["json", "/etc/bound.txt"], observe=checks("/etc/bound.txt", keys=("type", "head", "writable")),
         expect=expect_eq({"/etc/bound.txt": {"type": "file", "head": "bound file", "writable": False}})),
    Case("linux.devices + device cgroup allow",
         config=chain(linux(devices=[{"path": "/dev/xfull", "type": "c", "major": 1, "minor": 7,
                                      "fileMode": 0o666, "uid": 0, "gid": 0}]),
                      lambda c, x: c["linux"]["resources"]["devices"].append(
                          {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"})),
         args=["json", "/dev/xfull"], observe=checks("/dev/xfull", keys=("type", "rdev", "mode", "readable",
                                                                         "writable")),
         expect=expect_eq({"/dev/xfull": {"type": "char", "rdev": "1:7", "mode": "0666", "readable": True,
                                          "writable": True}})),
    # A device node shipped in the rootfs (not in linux.devices) is refused by the device cgroup.
    Case("device cgroup denies", rootfs=lambda r: os.mknod(os.path.join(r, "loop0"), 0o60666, os.makedev(7, 0)),
         args=["json", "/loop0"], observe=checks("/loop0", keys=("type", "readable", "read_errno")),
         expect=expect_eq({"/loop0": {"type": "block", "readable": False, "read_errno": 1}})),
    Case("default devices and /dev links", args=["json", *DEFAULT_DEVS],
         observe=checks(*DEFAULT_DEVS, keys=("exists", "type", "rdev", "mode", "link")),
         expect=expect_fn(lambda o: o["/dev/null"]["rdev"] == "1:3" and o["/dev/urandom"]["rdev"] == "1:9"
                          and o["/dev/fd"]["link"] == "/proc/self/fd", "null 1:3, urandom 1:9, /dev/fd link")),
    Case("network namespace joined by path", prepare=prep_netns, config=join_netns, observe=obs_ns,
         expect=expect_fn(lambda o: o["net"] == "joined" and o["pid"] == "new", "net joined, pid new")),
    Case("host network and uts", config=drop_ns("network", "uts"), observe=obs_ns,
         expect=expect_fn(lambda o: o["net"] == "host" and o["uts"] == "host" and o["ipc"] == "new",
                          "net/uts host, ipc new")),
    Case("cgroup namespace", config=add_ns("cgroup"),
         observe=lambda r, x: {"cgroupns": obs_ns(r, x).get("cgroup"),
                               "paths": sorted({ln.split(":", 2)[2] for ln in (r.probe or {}).get("cgroup_raw", [])})},
         expect=expect_eq({"cgroupns": "new", "paths": ["/"]})),
    Case("ipc+uts joined by /proc/<pid>/ns path", prepare=prep_ns_holder, config=join_holder, observe=obs_ns,
         expect=expect_fn(lambda o: o["ipc"] == "joined" and o["uts"] == "joined" and o["net"] == "new",
                          "ipc/uts joined, net new")),
    Case("lifecycle: create/state/start/pause/resume/ps/update/events/kill/delete",
         args=["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"], runner=lifecycle_runner,
         observe=lambda r, x: r.extra,
         expect=expect_fn(lambda o: o["create"] == {"rc": 0, "status": "created", "id": True,
                                                    "pid_file_matches": True, "bundle": True}
                          and o["list"]["listed"] and o["start"]["status"] == "running"
                          and o["pause"] == {"rc": 0, "status": "paused"}
                          and o["resume"] == {"rc": 0, "status": "running"}
                          and o["ps"] == {"rc": 0, "lists_pids": True}
                          and o["update"] == {"rc": 0, "memory.limit_in_bytes": str(64 << 20), "pids.max": "77"}
                          and o["events --stats"]["rc"] == 0 and o["events --stats"]["has_memory"]
                          and o["kill TERM"] == {"rc": 0, "status": "stopped"}
                          and o["delete"] == {"rc": 0, "state_after": False}
                          and o["state of a deleted container"]["failed"], "every step as runc does it")),
    Case("CLI: shim flags, spec, features, --version", args=["exit", "0"], runner=cli_runner,
         observe=lambda r, x: r.extra,
         expect=expect_eq({"run with shim flags": {"rc": 0, "pid_file": True},
                           "spec": {"rc": 0, "ociVersion_1.x": True, "has_process_args": True,
                                    "root_path": "rootfs"},
                           "features": {"rc": 0, "ociVersionMin": "1.0.0", "has_hooks": True,
                                        "has_namespaces": True},
                           "--version": {"rc": 0, "prints": True}})),
    Case("terminal via --console-socket", config=set_process(terminal=True), args=["isatty"],
         runner=console_runner, observe=obs_rc_objs("stdin", "stdout", "stderr"),
         expect=expect_eq({"rc": 0, "stdin": True, "stdout": True, "stderr": True})),
    Case("hooks with state on stdin", config=hooks_config, runner=hooks_runner, observe=hooks_observe,
         expect=expect_fn(lambda o: all(h in o for h in ("prestart", "createRuntime", "createContainer",
                                                         "startContainer", "poststart", "poststop"))
                          and all(o[h]["id_ok"] and o[h].get("bundle_ok", True) for h in o if h != "rc")
                          and o["createRuntime"]["has_pid"] and o["poststart"]["has_pid"],
                          "all six hooks ran with the container's id, bundle and pid")),
    Case("exec --process", args=["signal-wait"],
         runner=exec_runner(None, process={"terminal": False, "user": {"uid": 1000, "gid": 1000,
                                                                       "additionalGids": [1001]},
                                           "args": ["/probe", "json"], "env": ["PATH=/bin", "X=exec"],
                                           "cwd": "/tmp", "capabilities": {"bounding": ["CAP_KILL"],
                                                                           "effective": ["CAP_KILL"],
                                                                           "permitted": ["CAP_KILL"]},
                                           "noNewPrivileges": True}),
         observe=lambda r, x: {"rc": r.rc, **({k: r.probe[k] for k in ("uid", "gid", "groups", "cwd", "no_new_privs")}
                                              if r.probe else {}),
                               "env": sorted((r.probe or {}).get("env", [])),
                               "pid_is_1": (r.probe or {}).get("pid") == 1,
                               "ns": bt.ns_kind((r.probe or {}).get("namespaces", {}), x.host_ns)},
         expect=expect_fn(lambda o: o["rc"] == 0 and o["uid"] == 1000 and o["cwd"] == "/tmp"
                          and "X=exec" in o["env"] and not o["pid_is_1"] and o["ns"]["pid"] == "new"
                          and sorted(o["groups"]) == [1001], "exec joins the container as 1000 in /tmp")),
    Case("exec with arguments", args=["signal-wait"],
         runner=exec_runner(["exec", "--cwd", "/tmp", "--env", "FOO=bar", "--user", "1000:1000", "{cid}",
                             "/probe", "json"]),
         observe=lambda r, x: {"rc": r.rc, "uid": (r.probe or {}).get("uid"), "cwd": (r.probe or {}).get("cwd"),
                               "FOO": "FOO=bar" in (r.probe or {}).get("env", [])},
         expect=expect_eq({"rc": 0, "uid": 1000, "cwd": "/tmp", "FOO": True})),
    Case("exec exit code", args=["signal-wait"], runner=exec_runner(["exec", "{cid}", "/probe", "exit", "7"]),
         observe=obs_rc, expect=expect_eq({"rc": 7})),
    Case("stdio passed through", args=["/bin/sh", "-c", "read x; echo out:$x; echo err:$x >&2"], input=b"abc\n",
         observe=lambda r, x: {"rc": r.rc, "stdout": r.out.decode(), "stderr_has": b"err:abc" in r.err},
         expect=expect_eq({"rc": 0, "stdout": "out:abc\n", "stderr_has": True})),
    Case("no terminal: isatty", args=["isatty"], observe=obs_rc_objs("stdin", "stdout", "stderr"),
         expect=expect_eq({"rc": 0, "stdin": False, "stdout": False, "stderr": False})),
]


def run_case(env, rt, case):
    cid = env.new_id(case.name)
    work = os.path.join(env.tmp, cid + "-work")
    os.makedirs(work)
    ctx = Ctx(env, rt, cid, None, work)
    try:
        if case.prepare:
            case.prepare(ctx)
        cfg = env.config()
        if case.args:
            cfg["process"]["args"] = case.args if case.args[0].startswith("/") or case.args[0] == "probe" \
                else ["/probe", *case.args]
        if case.config:
            case.config(cfg, ctx)
        ctx.bundle = env.bundle(cid, cfg, case.rootfs)
        run = (case.runner or default_runner)(case, ctx)
        obs = case.observe(run, ctx)
        left = bt.leftovers(rt, cid, ctx.bundle)
        return obs, left, run
    finally:
        for c in ctx.cleanups:
            c()


def main():
    bt.require_root()
    berth = bt.require_berth()
    select = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "-k" and i + 1 < len(sys.argv)]
    env = bt.Env("compat")
    os.chmod(env.tmp, 0o755)  # user-namespaced containers must traverse it
    ref = bt.Runtime(os.path.basename(os.environ.get("BERTH_REFERENCE", "runc")),
                     os.environ.get("BERTH_REFERENCE", "runc"), os.path.join(env.tmp, "state-ref"))
    new = bt.Runtime("berth", berth, os.path.join(env.tmp, "state-berth"))
    rows = []
    tally = bt.Tally("compat")
    details = []
    try:
        for case in CASES:
            if select and not any(s in case.name for s in select):
                continue
            res = {}
            for rt in (ref, new):
                t0 = time.monotonic()
                try:
                    obs, left, run = run_case(env, rt, case)
                    err = run.err.decode(errors="replace").strip()
                except Exception as e:  # a harness error in one case must not hide the others
                    obs, left, err = {"exception": repr(e)}, [], ""
                res[rt.name] = (obs, left, err, time.monotonic() - t0)
            (ro, rl, rerr, _), (no, nl, nerr, _) = res[ref.name], res["berth"]
            problems = []
            if case.reference and ro != no:
                problems.append("differs from " + ref.name)
            for who, o, left in ((ref.name, ro, rl), ("berth", no, nl)):
                if who == ref.name and not case.reference:
                    continue
                msg = case.expect(o) if case.expect else None
                if msg:
                    problems.append(f"{who}: {msg}")
                if left:
                    problems.append(f"{who} left: " + ", ".join(left))
            ok = not problems
            word = tally.record(case.name, ok)
            ref_col = ("ok" if not (case.expect and case.expect(ro)) else "FAIL") if case.reference \
                else "n/a"
            rows.append([case.name, ref_col, "ok" if not (case.expect and case.expect(no)) else "FAIL",
                         ("yes" if ro == no else "NO") if case.reference else "-", word])
            if not ok:
                details.append((case.name + (f" [known gap: {tally.gaps[case.name]}]" if word == "GAP" else ""),
                                problems, ro, no, rerr, nerr))
    finally:
        env.cleanup()
    bt.print_table(f"compat: {ref.name} vs berth-runtime ({berth})",
                   ["feature", ref.name, "berth", "same", "result"], rows)
    for name, problems, ro, no, rerr, nerr in details:
        print(f"--- {name}: " + "; ".join(problems))
        print(f"  {ref.name}: {json.dumps(ro, sort_keys=True)}")
        print(f"  berth: {json.dumps(no, sort_keys=True)}")
        if rerr:
            print(f"  {ref.name} stderr: {rerr[-400:]}")
        if nerr:
            print(f"  berth stderr: {nerr[-400:]}")
    print(f"{len(rows)} features compared")
    return tally.finish()


if __name__ == "__main__":
    sys.exit(main())
