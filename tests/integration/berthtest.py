"""Shared harness for Berth's integration tests: runtimes, bundles, leftovers, result tables.

Every test here drives real binaries (runc, berth-runtime, dockerd) as root. Environment:
  BERTH_BUILD_DIR    build tree (default: <source>/build); the probe and berth-runtime are taken from it
  BERTH_RUNTIME      berth-runtime to test (default: $BERTH_BUILD_DIR/cmd/berth-runtime/berth-runtime)
  BERTH_REFERENCE    reference runtime (default: runc)
  BERTH_TEST_KEEP=1  keep temp dirs for debugging
Tests exit 77 (ctest SKIP_RETURN_CODE) when not root or when berth-runtime is not built.
"""

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
# runc, ip, dockerd and umount live in sbin; CI's PATH may not have it.
os.environ["PATH"] = ":".join(dict.fromkeys(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin",
                                             "/bin", *os.environ.get("PATH", "").split(":")]))
SOURCE_DIR = os.environ.get("BERTH_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("BERTH_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
HELPERS = os.path.join(SOURCE_DIR, "tests", "helpers")
PROBE = os.path.join(BUILD_DIR, "tests", "helpers", "probe", "probe")
CGROUP_ROOT = "/sys/fs/cgroup"
# Every container id and cgroup made by these tests starts with this, so leftovers are easy to find and
# parallel users of the machine are never touched.
PREFIX = "berthtest"


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(SKIP)


def require_root():
    if os.geteuid() != 0:
        skip("needs root (namespaces, mounts, cgroups)")
    if not os.path.exists(PROBE):
        skip(f"probe not built ({PROBE}); cmake --build build --target probe")


def berth_runtime_path():
    return os.environ.get("BERTH_RUNTIME") or os.path.join(BUILD_DIR, "cmd", "berth-runtime", "berth-runtime")


def require_berth():
    p = berth_runtime_path()
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        skip(f"berth-runtime not built yet ({p}); set BERTH_RUNTIME or build target berth-runtime")
    return p


class Runtime:
    """An OCI runtime with a runc-compatible command line and its own --root state dir."""

    def __init__(self, name, binary, state_root):
        self.name = name
        self.binary = binary
        self.root = state_root
        os.makedirs(state_root, exist_ok=True)

    def argv(self, *args):
        return [self.binary, "--root", self.root, *args]

    def cmd(self, *args, input=None, timeout=60, pass_fds=()):
        """Runs one runtime command; stdout/stderr go to files, not pipes, because `create` and `run -d` hand
        their stdio to the container, which would keep a pipe open long after the runtime exits."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            r = subprocess.run(self.argv(*args), input=input, stdout=out, stderr=err, timeout=timeout,
                               pass_fds=pass_fds, stdin=None if input is not None else subprocess.DEVNULL)
            out.seek(0)
            err.seek(0)
            r.stdout = out.read()
            r.stderr = err.read()
            return r

    def popen(self, *args, pass_fds=(), **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(*args), pass_fds=pass_fds, **kw)

    def run(self, bundle, cid, timeout=60, input=None, pass_fds=(), extra=()):
        """`run` in the foreground; returns CompletedProcess (bytes). Always force-deletes afterwards."""
        try:
            return self.cmd("run", *extra, "--bundle", bundle, cid, input=input, timeout=timeout, pass_fds=pass_fds)
        finally:
            self.force_delete(cid)

    def force_delete(self, cid):
        subprocess.run(self.argv("delete", "--force", cid), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL, timeout=30)

    def state(self, cid):
        r = self.cmd("state", cid)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)


class Env:
    """Per-test-program scratch space: a rootfs template, runc's default config, unique ids, cleanup."""

    def __init__(self, tag):
        base = os.environ.get("BERTH_TEST_TMP", "/tmp")
        self.tmp = tempfile.mkdtemp(prefix=f"{PREFIX}-{tag}-", dir=base)
        self.tag = tag
        self.counter = 0
        self.template = os.path.join(self.tmp, "rootfs-template")
        env = dict(os.environ, PROBE=PROBE)
        subprocess.run([os.path.join(HELPERS, "mkrootfs.sh"), self.template], check=True, env=env)
        spec_dir = os.path.join(self.tmp, "spec")
        os.makedirs(spec_dir)
        subprocess.run(["runc", "spec", "--bundle", spec_dir], check=True)
        with open(os.path.join(spec_dir, "config.json")) as f:
            self.base_config = json.load(f)
        self.base_config["process"]["terminal"] = False
        self.base_config["process"]["args"] = ["/probe", "json"]

    def new_id(self, name=""):
        self.counter += 1
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:24]
        return f"{PREFIX}-{self.tag}-{os.getpid()}-{self.counter}-{safe}".rstrip("-")

    def config(self):
        return copy.deepcopy(self.base_config)

    def bundle(self, cid, config, rootfs_setup=None):
        """Makes <tmp>/<cid>/{rootfs,config.json}; rootfs_setup(rootfs_path) may change the rootfs."""
        d = os.path.join(self.tmp, cid)
        os.makedirs(d)
        subprocess.run(["cp", "-a", self.template, os.path.join(d, "rootfs")], check=True)
        if rootfs_setup:
            rootfs_setup(os.path.join(d, "rootfs"))
        cfg = copy.deepcopy(config)
        cfg.setdefault("linux", {})
        cfg["linux"].setdefault("cgroupsPath", f"/{cid}")
        write_config(d, cfg)
        return d

    def cleanup(self):
        if os.environ.get("BERTH_TEST_KEEP") == "1":
            print(f"(kept {self.tmp})")
            return
        # Unmount anything a failed test left below tmp before removing it.
        for mp in sorted(mounts_under(self.tmp), key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_config(bundle, cfg):
    with open(os.path.join(bundle, "config.json"), "w") as f:
        if isinstance(cfg, (dict, list)):
            json.dump(cfg, f, indent=1)
        else:
            f.write(cfg)


def parse_json_lines(data):
    """All JSON objects printed one per line (the probe prints one per sub-command)."""
    out = []
    for line in data.decode(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


# ---- leftovers -----------------------------------------------------------------------------------------
def mounts_under(path):
    res = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path.rstrip("/") + "/"):
                res.append(mp)
    return res


def cgroup_dirs_named(name, max_depth=4):
    """Directories called `name` (or containing it) anywhere in the first levels of every cgroup hierarchy."""
    found = []
    if not os.path.isdir(CGROUP_ROOT):
        return found
    for hier in os.listdir(CGROUP_ROOT):
        top = os.path.join(CGROUP_ROOT, hier)
        if not os.path.isdir(top):
            continue
        base_depth = top.count("/")
        for dirpath, dirnames, _ in os.walk(top):
            if dirpath.count("/") - base_depth >= max_depth:
                dirnames[:] = []
            for d in dirnames:
                if name in d:
                    found.append(os.path.join(dirpath, d))
    return found


def processes_mentioning(needle):
    """pids whose command line or cwd mentions needle (a container id or bundle path)."""
    pids = []
    me = os.getpid()
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == me:
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            cwd = ""
            try:
                cwd = os.readlink(f"/proc/{p}/cwd")
            except OSError:
                pass
            if needle in cmd or (needle.startswith("/") and cwd.startswith(needle)):
                pids.append((int(p), cmd.strip()))
        except OSError:
            continue
    return pids


def leftovers(rt, cid, bundle=None):
    """What a container left behind after delete: a list of human-readable strings (empty when clean)."""
    left = []
    for d in cgroup_dirs_named(cid):
        left.append(f"cgroup {d}")
    sd = os.path.join(rt.root, cid)
    if os.path.exists(sd):
        left.append(f"state dir {sd}")
    if bundle:
        for mp in mounts_under(bundle):
            left.append(f"mount {mp}")
        for pid, cmd in processes_mentioning(bundle):
            left.append(f"process {pid} ({cmd[:80]})")
    for pid, cmd in processes_mentioning(cid):
        left.append(f"process {pid} ({cmd[:80]})")
    return left


# ---- namespaces ----------------------------------------------------------------------------------------
def host_namespaces():
    res = {}
    for ns in os.listdir("/proc/self/ns"):
        try:
            res[ns] = os.readlink(f"/proc/self/ns/{ns}")
        except OSError:
            pass
    return res


def ns_kind(seen, host, joined=None):
    """Normalises namespace links: 'host', 'new', or 'joined:<name>' (inode numbers differ run to run)."""
    out = {}
    joined = joined or {}
    for k, v in seen.items():
        if v is None:
            out[k] = None
        elif k in joined and v == joined[k]:
            out[k] = "joined"
        elif host.get(k) == v:
            out[k] = "host"
        else:
            out[k] = "new"
    return out


# ---- known gaps ----------------------------------------------------------------------------------------
KNOWN_GAPS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "known_gaps.txt")


def known_gaps(suite):
    """{name: reason} from known_gaps.txt lines "suite: exact test name  # reason". A listed test that fails
    is reported as GAP (counted as skipped, with its reason) instead of failing the suite; a listed test that
    passes is reported as FIXED so the line gets removed. The file is the visible list of what berth-runtime
    does not do yet; the issue is done when it is empty."""
    gaps = {}
    if not os.path.exists(KNOWN_GAPS_FILE):
        return gaps
    with open(KNOWN_GAPS_FILE) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or ":" not in line:
                continue
            s, rest = line.split(":", 1)
            name, _, reason = rest.partition("#")
            if s.strip() == suite:
                gaps[name.strip()] = reason.strip() or "known gap"
    return gaps


class Tally:
    """Pass/fail/gap counting shared by the suites."""

    def __init__(self, suite):
        self.gaps = known_gaps(suite)
        self.passed = self.failed = self.skipped = 0
        self.fixed = []

    def record(self, name, ok):
        """Returns the result word for the table: PASS, FAIL, GAP or FIXED."""
        gap = self.gaps.get(name)
        if ok:
            self.passed += 1
            if gap:
                self.fixed.append(name)
                return "FIXED"
            return "PASS"
        if gap:
            self.skipped += 1
            return "GAP"
        self.failed += 1
        return "FAIL"

    def finish(self):
        if self.fixed:
            print("known_gaps.txt lists tests that now pass (remove them): " + ", ".join(self.fixed))
        if self.skipped:
            print(f"{self.skipped} known gaps (tests/integration/known_gaps.txt)")
        return summary(self.passed, self.failed, self.skipped)


# ---- output --------------------------------------------------------------------------------------------
def print_table(title, headers, rows):
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(str(c)))
    print()
    print(f"== {title}")
    line = " | ".join(h.ljust(widths[i]) for i, h in enumerate(headers))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)))
    print()


def summary(passed, failed, skipped=0):
    # The plain closing line CI reads.
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 0 if failed == 0 else 1


def wait_for(pred, timeout=20.0, step=0.02):
    """Polls pred() until it returns a truthy value (used to wait for readiness, never to assert timing)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
