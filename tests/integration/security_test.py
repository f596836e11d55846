#!/usr/bin/env python3
"""Security regressions, one test each, against berth-runtime (BERTH_RUNTIME=runc shows how the reference
fares; runc 1.1.5 is expected to fail the /dev/null masking test, CVE-2025-31133, and console_symlink_target:
it mounts the pty on the target of a /dev/console symlink).

  exe_overwrite      CVE-2019-5736: the runtime binary cannot be overwritten from inside a container
  fd_leak_run/exec   CVE-2024-21626: no host fd reaches the container (only 0-2 and --preserve-fds)
  cwd_*              CVE-2024-21626: a cwd that resolves outside the rootfs is refused or lands inside
  mount_symlink_*    CVE-2021-30465: a mount destination that is a symlink out of the rootfs lands inside
  masked_devnull_*   CVE-2025-31133: masked paths are bound from a real /dev/null, not the container's
  sysctl_*           2025 procfs races: sysctl writes land on a real procfs, not a file mounted over it
  console_*          2025 /dev/console races: the console is the pty the runtime opened (verified), never a
                     file reached through the container's /dev/pts, /dev/ptmx or a /dev/console symlink
  nss_not_loaded     glibc NSS is never consulted inside the container's root
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import berthtest as bt  # noqa: E402

NSS_LIB = os.path.join(bt.BUILD_DIR, "tests", "helpers", "probe", "libnss_berthtest.so.2")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class T:
    """Context handed to each test: env, runtime, helpers to make a bundle and run it."""

    def __init__(self, env, rt):
        self.env = env
        self.rt = rt

    def bundle(self, name, args, edit=None, rootfs=None):
        cid = self.env.new_id(name)
        cfg = self.env.config()
        cfg["process"]["args"] = args
        if edit:
            edit(cfg)
        return cid, self.env.bundle(cid, cfg, rootfs)

    def run(self, name, args, edit=None, rootfs=None, pass_fds=(), extra=()):
        cid, b = self.bundle(name, args, edit, rootfs)
        r = self.rt.run(b, cid, pass_fds=pass_fds, extra=extra)
        return cid, b, r, bt.parse_json_lines(r.stdout)


def probe_of(objs):
    return next((o for o in objs if "hostname" in o), None)


# ---- CVE-2019-5736 -------------------------------------------------------------------------------------
def test_exe_overwrite(t):
    """A copy of the runtime runs the container; a watcher inside grabs /proc/<pid>/exe of every process that
    appears (runtime-side processes joining for `exec`, and a process exec'd as /proc/self/exe or via a
    `#!/proc/self/exe` script) and keeps trying to open it for writing. The copy's sha256 must not change."""
    copy_dir = os.path.join(t.env.tmp, "runtime-copy")
    os.makedirs(copy_dir)
    copy = os.path.join(copy_dir, os.path.basename(t.rt.binary))
    shutil.copy2(t.rt.binary, copy)
    before = sha256(copy)
    rt = bt.Runtime("copy", copy, os.path.join(t.env.tmp, "state-copy"))

    def rootfs(r):
        with open(os.path.join(r, "evil"), "w") as f:
            f.write("#!/proc/self/exe\n")
        os.chmod(os.path.join(r, "evil"), 0o755)

    cid, b = t.bundle("exe-overwrite", ["/probe", "exe-watch", "60"],
                      lambda c: c["root"].update(readonly=False), rootfs)
    p = rt.popen("run", "--bundle", b, cid)
    attempts = []
    try:
        bt.wait_for(lambda: (rt.state(cid) or {}).get("status") == "running")
        for args in (["/evil"], ["/proc/self/exe"], ["/probe", "exit", "0"], ["/evil", "--version"],
                     ["/proc/self/exe", "state", cid], ["/probe", "write", "/proc/self/exe"],
                     ["/probe", "json"], ["/evil"]):
            r = rt.cmd("exec", cid, *args, timeout=60)
            attempts.append((args, r.returncode))
        rt.cmd("exec", cid, "/bin/touch", "/tmp/exe-watch-stop")
        out, err = p.communicate(timeout=90)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        rt.force_delete(cid)
    after = sha256(copy)
    watch = next((o for o in bt.parse_json_lines(out) if "exe_watch" in o), None)
    problems = []
    if watch is None:
        problems.append("watcher reported nothing: " + err.decode(errors="replace")[-200:])
    else:
        if watch["written"]:
            problems.append(f"wrote to {watch['written_target']}")
        if watch["self_exe_write_errno"] == 0:
            problems.append("/proc/self/exe opened for writing")
    if before != after:
        problems.append(f"runtime binary changed: {before[:12]} -> {after[:12]}")
    seen = watch["processes_seen"] if watch else "?"
    opened = watch["opened_for_write"] if watch else "?"
    return not problems, "; ".join(problems) or (
        f"sha256 unchanged after {len(attempts)} execs; watcher saw {seen} exe links, "
        f"{opened} writable (own files only)")


# ---- CVE-2024-21626: fds and cwd -----------------------------------------------------------------------
def open_host_fds():
    """Host fds without O_CLOEXEC that the runtime inherits: a directory, a regular file, the host root."""
    fds = [os.open("/", os.O_RDONLY | os.O_DIRECTORY), os.open("/etc/hostname", os.O_RDONLY),
           os.open("/sys/fs/cgroup", os.O_RDONLY | os.O_DIRECTORY), os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)]
    for fd in fds:
        os.set_inheritable(fd, True)
    return fds


def test_fd_leak_run(t):
    fds = open_host_fds()
    try:
        _, _, r, objs = t.run("fd-leak", ["/probe", "json"], pass_fds=fds)
    finally:
        for fd in fds:
            os.close(fd)
    p = probe_of(objs)
    if p is None:
        return False, f"no probe output (rc {r.returncode}): {r.stderr.decode(errors='replace')[-200:]}"
    got = [f["fd"] for f in p["fds"]]
    return got == [0, 1, 2], f"fds in the container: {p['fds']}" if got != [0, 1, 2] else \
        f"host had {len(fds)} extra inheritable fds; container sees 0,1,2 only"


def test_fd_preserve(t):
    """--preserve-fds N passes fds 3..N+2 that the runtime has, and closes the rest."""
    fds = open_host_fds()  # not necessarily 3..6: the test runner may hold low fds (close-on-exec)
    top = max(fds)
    n = top - 3  # preserves 3..top-1: every inherited fd but the highest
    try:
        _, _, r, objs = t.run("fd-preserve", ["/probe", "json"], pass_fds=fds, extra=("--preserve-fds", str(n)))
    finally:
        for fd in fds:
            os.close(fd)
    p = probe_of(objs)
    if p is None:
        return False, f"no probe output (rc {r.returncode}): {r.stderr.decode(errors='replace')[-200:]}"
    got = [f["fd"] for f in p["fds"]]
    want = [0, 1, 2] + sorted(fd for fd in fds if fd < top)
    return got == want, f"inherited {sorted(fds)}, --preserve-fds {n}: container fds {got}, want {want}"


def test_fd_leak_exec(t):
    cid, b = t.bundle("fd-leak-exec", ["/probe", "signal-wait"])
    p = t.rt.popen("run", "--bundle", b, cid)
    fds = open_host_fds()
    try:
        p.stdout.readline()
        r = t.rt.cmd("exec", cid, "/probe", "json", pass_fds=fds)
        t.rt.cmd("kill", cid, "KILL")
        p.communicate(timeout=30)
    finally:
        for fd in fds:
            os.close(fd)
        if p.poll() is None:
            p.kill()
            p.wait()
        t.rt.force_delete(cid)
    pr = probe_of(bt.parse_json_lines(r.stdout))
    if pr is None:
        return False, f"no probe output (rc {r.returncode}): {r.stderr.decode(errors='replace')[-200:]}"
    got = [f["fd"] for f in pr["fds"]]
    return got == [0, 1, 2], f"exec'd process fds: {pr['fds']}"


def cwd_verdict(r, objs, what):
    p = probe_of(objs)
    if r.returncode != 0 and p is None:
        return True, f"{what}: refused (exit {r.returncode}): {r.stderr.decode(errors='replace').strip()[-120:]}"
    if p is None:
        return False, f"{what}: exit 0 without probe output"
    cwd = p["cwd"] or ""
    host = next((c for c in p["checks"] if c["path"] == "etc/hostname"), {})
    if cwd.startswith("(unreachable)") or (host.get("head") not in (None, "berth-test")):
        return False, f"{what}: cwd escaped the rootfs: {cwd!r}, ./etc/hostname={host.get('head')!r}"
    return True, f"{what}: ran inside with cwd {cwd!r}"


def test_cwd_symlink_out(t):
    def rootfs(r):
        os.symlink("../../../../../../../../..", os.path.join(r, "up"))
    _, _, r, objs = t.run("cwd-symlink", ["/probe", "json", "etc/hostname"],
                          lambda c: c["process"].update(cwd="/up"), rootfs)
    return cwd_verdict(r, objs, "cwd /up -> ../../..")


def test_cwd_proc_self_fd(t):
    """The 2024 attack: cwd /proc/self/fd/N where N is a directory fd the runtime leaked."""
    fds = open_host_fds()
    results = []
    ok = True
    refused = inside = 0
    try:
        for n in range(3, 9):
            _, _, r, objs = t.run(f"cwd-fd{n}", ["/probe", "json", "etc/hostname"],
                                  lambda c, n=n: c["process"].update(cwd=f"/proc/self/fd/{n}"), pass_fds=fds)
            good, msg = cwd_verdict(r, objs, f"/proc/self/fd/{n}")
            ok &= good
            refused += "refused" in msg
            inside += "ran inside" in msg
            if not good:
                results.append(msg)
    finally:
        for fd in fds:
            os.close(fd)
    return ok, "; ".join(results) or f"cwd /proc/self/fd/3..8 with host dir fds open: {refused} refused, " \
                                      f"{inside} ran inside the rootfs, none escaped"


# ---- CVE-2021-30465: mount destinations ----------------------------------------------------------------
def mount_symlink(t, relative):
    host_target = os.path.join(t.env.tmp, f"host-target-{'rel' if relative else 'abs'}")
    os.makedirs(host_target)
    with open(os.path.join(host_target, "host-marker"), "w") as f:
        f.write("host\n")
    src = os.path.join(t.env.tmp, f"mount-src-{'rel' if relative else 'abs'}")
    os.makedirs(src)
    with open(os.path.join(src, "from-source"), "w") as f:
        f.write("source\n")

    def rootfs(r):
        link = ("../" * 12).rstrip("/") + host_target if relative else host_target
        os.symlink(link, os.path.join(r, "evil"))

    def edit(c):
        c["mounts"].append({"destination": "/evil", "type": "bind", "source": src, "options": ["rbind", "ro"]})
        c["root"]["readonly"] = False
    inside = os.path.join(host_target, "from-source")  # the same path, seen inside the container
    _, b, r, objs = t.run("mount-symlink", ["/probe", "json", inside, "/evil/from-source"], edit, rootfs)
    problems = []
    host_mounts = bt.mounts_under(host_target)
    if host_mounts:
        problems.append(f"host sees mounts at {host_mounts}")
    if os.path.exists(os.path.join(host_target, "from-source")):
        problems.append("the source appeared in the host's target directory")
    p = probe_of(objs)
    if p is None:
        if r.returncode != 0:
            return not problems, "; ".join(problems) or \
                f"refused (exit {r.returncode}): {r.stderr.decode(errors='replace').strip()[-120:]}"
        problems.append("exit 0 without probe output")
    else:
        c = {x["path"]: x for x in p["checks"]}
        if not c[inside]["exists"]:
            problems.append("mount did not land inside the rootfs (at the symlink's target below the root)")
    landed = os.path.join(b, "rootfs", host_target.lstrip("/"))
    return not problems, "; ".join(problems) or f"landed inside at rootfs{host_target}; host target untouched " \
                                                f"({'created' if os.path.isdir(landed) else 'no'} dir in rootfs)"


def test_mount_symlink_abs(t):
    return mount_symlink(t, relative=False)


def test_mount_symlink_rel(t):
    return mount_symlink(t, relative=True)


# ---- CVE-2025-31133: masked paths from a verified /dev/null --------------------------------------------
def masked_verdict(r, objs, fake=None):
    p = probe_of(objs)
    if p is None:
        if r.returncode != 0:
            return True, f"refused (exit {r.returncode}): {r.stderr.decode(errors='replace').strip()[-120:]}"
        if fake and os.path.exists(fake) and b'"hostname"' in open(fake, "rb").read():
            return False, "the container's stdio was reopened on the fake /dev/null (probe output landed there)"
        return False, "exit 0 without probe output"
    c = {x["path"]: x for x in p["checks"]}
    bad = []
    for path in ("/proc/keys", "/etc/masked-file"):
        x = c[path]
        if x.get("type") != "char" or x.get("rdev") != "1:3":
            bad.append(f"{path} is {x.get('type')} {x.get('rdev', '')} head={x.get('head')!r}")
    return not bad, "; ".join(bad) or "masked paths are the real /dev/null (1:3)"


def fake_null_rootfs(r):
    with open(os.path.join(r, "etc/fake-null"), "w") as f:
        f.write("LEAKED-THROUGH-FAKE-NULL\n")
    with open(os.path.join(r, "etc/masked-file"), "w") as f:
        f.write("secret\n")


def test_masked_devnull_bind(t):
    """The container's /dev/null is a bind mount of a regular file (config mount after /dev)."""
    fake = os.path.join(t.env.tmp, "fake-null-file")
    with open(fake, "w") as f:
        f.write("LEAKED-THROUGH-FAKE-NULL\n")

    def edit(c):
        c["mounts"].append({"destination": "/dev/null", "type": "bind", "source": fake, "options": ["bind", "rw"]})
        c["linux"]["maskedPaths"] += ["/etc/masked-file"]
    _, _, r, objs = t.run("masked-bind", ["/probe", "json", "/proc/keys", "/etc/masked-file"], edit, fake_null_rootfs)
    return masked_verdict(r, objs, fake)


def test_masked_devnull_symlink(t):
    """No /dev tmpfs; the rootfs ships /dev/null as a symlink to a regular file."""
    def rootfs(r):
        fake_null_rootfs(r)
        os.symlink("/etc/fake-null", os.path.join(r, "dev/null"))

    def edit(c):
        c["mounts"] = [m for m in c["mounts"] if m["destination"] not in ("/dev", "/dev/pts", "/dev/shm",
                                                                          "/dev/mqueue")]
        c["linux"]["maskedPaths"] += ["/etc/masked-file"]
        c["root"]["readonly"] = False
    _, b, r, objs = t.run("masked-symlink", ["/probe", "json", "/proc/keys", "/etc/masked-file"], edit, rootfs)
    return masked_verdict(r, objs, os.path.join(b, "rootfs/etc/fake-null"))


# ---- console from a verified pty (2025 runc /dev/console races) ---------------------------------------
def console_create(t, name, edit=None, rootfs=None):
    """`create` with process.terminal and --console-socket. Returns what the console socket received and what
    the container's /dev/console is, seen from the host through /proc/<init>/root and /proc/<init>/mountinfo,
    before the container ever runs."""
    import array
    import socket
    import stat
    import threading
    sock_path = os.path.join(t.env.tmp, name + "-console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    srv.settimeout(30)
    got = {"fds": []}

    def accept():
        try:
            conn, _ = srv.accept()
            fds = array.array("i")
            _, anc, _, _ = conn.recvmsg(4096, socket.CMSG_LEN(4 * fds.itemsize))
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
            got["fds"] = list(fds)
            conn.close()
        except OSError:
            pass  # nothing sent: the runtime refused

    def term_edit(c):
        c["process"]["terminal"] = True
        if edit:
            edit(c)
    th = threading.Thread(target=accept, daemon=True)
    th.start()
    cid, b = t.bundle(name, ["/probe", "isatty"], term_edit, rootfs)
    info = {"rootfs": os.path.join(b, "rootfs")}
    try:
        r = t.rt.cmd("create", "--bundle", b, "--console-socket", sock_path, cid)
        info["rc"] = r.returncode
        info["err"] = r.stderr.decode(errors="replace").strip()
        if r.returncode == 0:
            th.join(10)
        for fd in got["fds"]:
            st = os.fstat(fd)
            info.setdefault("received", []).append(
                {"char": stat.S_ISCHR(st.st_mode), "rdev": f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}",
                 "isatty": os.isatty(fd)})
        st = t.rt.state(cid) if r.returncode == 0 else None
        if st:
            pid = st["pid"]
            try:
                c = os.lstat(f"/proc/{pid}/root/dev/console")
                info["console"] = {"char": stat.S_ISCHR(c.st_mode), "link": stat.S_ISLNK(c.st_mode),
                                   "major": os.major(c.st_rdev)}
            except OSError as e:
                info["console"] = {"error": e.strerror}
            mounts = {}
            with open(f"/proc/{pid}/mountinfo") as f:
                for ln in f:
                    parts = ln.split()
                    sep = parts.index("-")
                    mounts[parts[4]] = parts[sep + 1]
            info["mounts"] = mounts
        return cid, b, info
    finally:
        t.rt.force_delete(cid)
        for fd in got["fds"]:  # open until now: closing the master hangs up the waiting init
            os.close(fd)
        srv.close()
        left = bt.leftovers(t.rt, cid, b)
        if left:
            info["left"] = left


def console_verdict(info, targets=()):
    """Refused (exit != 0, no fd sent), or not fooled: a pty master was sent, /dev/console is a pty slave
    mounted from devpts, and nothing is mounted on the attacker's targets."""
    if info.get("left"):
        return False, "left behind: " + ", ".join(info["left"])
    if info["rc"] != 0:
        if info.get("received"):
            return False, f"refused but sent {info['received']} to the console socket"
        return True, f"refused (exit {info['rc']}): {info['err'][-110:]}"
    bad = []
    rec = info.get("received") or []
    if len(rec) != 1 or not rec[0]["isatty"] or rec[0]["rdev"] != "5:2":
        bad.append(f"console socket got {rec}, want one pty master (5:2)")
    c = info.get("console") or {}
    if not c.get("char") or not 136 <= c.get("major", 0) <= 143:
        bad.append(f"/dev/console is {c}, want a pty slave (136-143)")
    if info.get("mounts", {}).get("/dev/console") != "devpts":
        bad.append(f"/dev/console mounted from {info.get('mounts', {}).get('/dev/console')}, want devpts")
    for tgt in targets:
        if tgt in info.get("mounts", {}):
            bad.append(f"{tgt} has a mount ({info['mounts'][tgt]})")
    return not bad, "; ".join(bad) or "/dev/console is the pty the runtime opened (devpts, 136-143); " \
        "the socket got its master"


def test_console_real_pty(t):
    """Control: the default config. The console must be accepted and pass every check of console_verdict."""
    _, _, info = console_create(t, "console-real")
    if info["rc"] != 0:
        return False, f"default console refused (exit {info['rc']}): {info['err'][-110:]}"
    return console_verdict(info)


def fake_pts_dir(t, name, ptmx):
    """A host directory to stand in for /dev/pts: `ptmx` made by ptmx(path), 0..15 symlinks to
    /proc/sysrq-trigger (what a path-based runtime would bind onto /dev/console as "the slave")."""
    d = os.path.join(t.env.tmp, name)
    os.makedirs(d)
    ptmx(os.path.join(d, "ptmx"))
    for i in range(16):
        os.symlink("/proc/sysrq-trigger", os.path.join(d, str(i)))
    return d


def replace_devpts(src):
    def edit(c):
        c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/dev/pts"]
        c["mounts"].append({"destination": "/dev/pts", "type": "bind", "source": src, "options": ["rbind", "rw"]})
    return edit


def test_console_fake_ptmx_file(t):
    """/dev/pts is a bind of a host directory whose `ptmx` is a regular file (so /dev/ptmx -> pts/ptmx is)."""
    def ptmx(p):
        with open(p, "w") as f:
            f.write("not a pty\n")
    d = fake_pts_dir(t, "fake-pts-file", ptmx)
    _, _, info = console_create(t, "console-ptmx-file", replace_devpts(d))
    return console_verdict(info, ("/proc/sysrq-trigger",))


def test_console_ptmx_symlink_null(t):
    """/dev/pts is a bind of a host directory whose `ptmx` is a symlink to /dev/null (a char device, not a pty)."""
    d = fake_pts_dir(t, "fake-pts-null", lambda p: os.symlink("/dev/null", p))
    _, _, info = console_create(t, "console-ptmx-null", replace_devpts(d))
    return console_verdict(info, ("/proc/sysrq-trigger",))


def test_console_ptmx_node_without_devpts(t):
    """/dev/pts is a bind of a host directory with a real ptmx device node (5:2) but no devpts, and its pty
    "slaves" are symlinks to /proc/sysrq-trigger: a runtime that binds /dev/pts/<n> by path would give the
    container a writable sysrq-trigger as /dev/console."""
    d = fake_pts_dir(t, "fake-pts-node", lambda p: os.mknod(p, 0o20666, os.makedev(5, 2)))
    _, _, info = console_create(t, "console-ptmx-node", replace_devpts(d))
    return console_verdict(info, ("/proc/sysrq-trigger",))


def test_console_symlink_target(t):
    """No /dev tmpfs: the rootfs's own /dev/console is a symlink to a file of the rootfs. The pty must not be
    mounted on the symlink's target."""
    def rootfs(r):
        with open(os.path.join(r, "etc/console-target"), "w") as f:
            f.write("not the console\n")
        os.symlink("/etc/console-target", os.path.join(r, "dev/console"))

    def edit(c):
        c["mounts"] = [m for m in c["mounts"] if m["destination"] not in ("/dev", "/dev/shm", "/dev/mqueue")]
        c["root"]["readonly"] = False
    _, _, info = console_create(t, "console-symlink", edit, rootfs)
    return console_verdict(info, ("/etc/console-target",))


# ---- 2025 procfs races: sysctl writes must land on a real procfs --------------------------------------
def test_sysctl_lands_on_procfs(t):
    """A config mount puts a host directory over /proc/sys/kernel; it holds a regular file named shmmax. A
    runtime writing the sysctl kernel.shmmax through the path would write that host file; it must refuse or
    write the kernel's value through a verified procfs handle."""
    decoy = os.path.join(t.env.tmp, "decoy-proc-sys-kernel")
    os.makedirs(decoy)
    with open(os.path.join(decoy, "shmmax"), "w") as f:
        f.write("original\n")

    def edit(c):
        c["mounts"].append({"destination": "/proc/sys/kernel", "type": "bind", "source": decoy,
                            "options": ["rbind", "rw"]})
        c["linux"]["sysctl"] = {"kernel.shmmax": "424242"}
        c["linux"]["readonlyPaths"] = [p for p in c["linux"]["readonlyPaths"] if p != "/proc/sys"]
    _, _, r, objs = t.run("sysctl-procfs", ["/probe", "json"], edit)
    with open(os.path.join(decoy, "shmmax")) as f:
        content = f.read().strip()
    if content != "original":
        return False, f"the sysctl was written into a host file: {content!r}"
    if r.returncode != 0:
        return True, f"refused (exit {r.returncode}): {r.stderr.decode(errors='replace').strip()[-120:]}"
    return True, "host file untouched"


# ---- NSS -----------------------------------------------------------------------------------------------
def test_nss_not_loaded(t):
    """The container's /etc/nsswitch.conf names a module shipped in its /lib; resolving the process user
    (HOME, groups) and an `exec --user` must parse the container's files, never load that module."""
    if not os.path.exists(NSS_LIB):
        return False, f"{NSS_LIB} not built"

    def rootfs(r):
        with open(os.path.join(r, "etc/nsswitch.conf"), "w") as f:
            f.write("passwd: berthtest\ngroup: berthtest\nshadow: berthtest\ninitgroups: berthtest\n")
        for d in ("lib", "lib64", "usr/lib", "lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"):
            os.makedirs(os.path.join(r, d), exist_ok=True)
            shutil.copy(NSS_LIB, os.path.join(r, d, "libnss_berthtest.so.2"))
        with open(os.path.join(r, "etc/passwd"), "a") as f:
            f.write("ctronly:x:4321:4321:only in the container:/home/ctronly:/bin/sh\n")
        with open(os.path.join(r, "etc/group"), "a") as f:
            f.write("ctronly:x:4321:\nctrextra:x:4322:ctronly\n")

    def edit(c):
        c["process"]["user"] = {"uid": 4321, "gid": 4321, "additionalGids": [4322]}
        c["process"]["env"] = ["PATH=/bin"]
        c["root"]["readonly"] = False
    cid, b = t.bundle("nss", ["/probe", "signal-wait"], edit, rootfs)
    p = t.rt.popen("run", "--bundle", b, cid)
    try:
        p.stdout.readline()
        e1 = t.rt.cmd("exec", "--user", "4321:4321", cid, "/probe", "json")
        e2 = t.rt.cmd("exec", cid, "/probe", "json")
        t.rt.cmd("kill", cid, "KILL")
        p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        t.rt.force_delete(cid)
    problems = []
    marker = os.path.join(b, "rootfs", "nss-loaded")
    if os.path.exists(marker):
        with open(marker) as f:
            problems.append("container's NSS module was loaded: " + f.read().strip().replace("\n", ", "))
    if os.path.exists("/nss-loaded"):
        problems.append("NSS module loaded on the host side (/nss-loaded)")
    p1 = probe_of(bt.parse_json_lines(e1.stdout))
    if p1 is None:
        problems.append(f"exec --user failed (exit {e1.returncode}): {e1.stderr.decode(errors='replace')[-120:]}")
    elif "HOME=/home/ctronly" not in p1["env"] or p1["uid"] != 4321:
        problems.append(f"exec --user 4321: uid {p1['uid']}, HOME {[x for x in p1['env'] if x.startswith('HOME')]}")
    if probe_of(bt.parse_json_lines(e2.stdout)) is None:
        problems.append(f"plain exec failed (exit {e2.returncode})")
    return not problems, "; ".join(problems) or "module never loaded; HOME=/home/ctronly from the container's passwd"


TESTS = [
    ("exe_overwrite (CVE-2019-5736)", test_exe_overwrite),
    ("fd_leak_run (CVE-2024-21626)", test_fd_leak_run),
    ("fd_leak_exec (CVE-2024-21626)", test_fd_leak_exec),
    ("fd_preserve", test_fd_preserve),
    ("cwd_symlink_out (CVE-2024-21626)", test_cwd_symlink_out),
    ("cwd_proc_self_fd (CVE-2024-21626)", test_cwd_proc_self_fd),
    ("mount_symlink_abs (CVE-2021-30465)", test_mount_symlink_abs),
    ("mount_symlink_rel (CVE-2021-30465)", test_mount_symlink_rel),
    ("masked_devnull_bind (CVE-2025-31133)", test_masked_devnull_bind),
    ("masked_devnull_symlink (CVE-2025-31133)", test_masked_devnull_symlink),
    ("console_real_pty (control)", test_console_real_pty),
    ("console_fake_ptmx_file (console from a verified pty)", test_console_fake_ptmx_file),
    ("console_ptmx_symlink_null (console from a verified pty)", test_console_ptmx_symlink_null),
    ("console_ptmx_node_without_devpts (console from a verified pty)", test_console_ptmx_node_without_devpts),
    ("console_symlink_target (console from a verified pty)", test_console_symlink_target),
    ("sysctl_lands_on_procfs (2025 procfs races)", test_sysctl_lands_on_procfs),
    ("nss_not_loaded", test_nss_not_loaded),
]


def main():
    bt.require_root()
    berth = bt.require_berth()
    select = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "-k" and i + 1 < len(sys.argv)]
    env = bt.Env("security")
    t = T(env, bt.Runtime("berth", berth, os.path.join(env.tmp, "state")))
    rows = []
    tally = bt.Tally("security")
    try:
        for name, fn in TESTS:
            if select and not any(s in name for s in select):
                continue
            try:
                ok, detail = fn(t)
            except Exception as e:  # noqa: BLE001 - report and go on
                ok, detail = False, f"harness error: {e!r}"
            rows.append([name, tally.record(name, ok), detail[:160]])
        stray = [d for d in bt.cgroup_dirs_named(f"{bt.PREFIX}-security-{os.getpid()}")]
        if stray:
            rows.append(["no cgroups left", tally.record("no cgroups left", False), ", ".join(stray)[:160]])
    finally:
        env.cleanup()
    bt.print_table(f"security: {berth}", ["test", "result", "detail"], rows)
    return tally.finish()


if __name__ == "__main__":
    sys.exit(main())
