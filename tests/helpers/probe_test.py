#!/usr/bin/env python3
"""Unit test of the probe itself (no root, no containers): every sub-command prints valid JSON with the
fields the integration tests read."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

PROBE = os.path.join(os.environ.get("BERTH_BUILD_DIR", "build"), "tests", "helpers", "probe", "probe")


def probe(*args, **kw):
    r = subprocess.run([PROBE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                       timeout=60, **kw)
    return r.returncode, [json.loads(ln) for ln in r.stdout.decode().splitlines() if ln.startswith("{")]


class ProbeTest(unittest.TestCase):
    def test_is_static(self):
        with open(PROBE, "rb") as f:
            elf = f.read(1 << 16)
        self.assertNotIn(b"ld-linux", elf, "probe must be linked statically (no interpreter)")

    def test_json_report(self):
        with tempfile.TemporaryDirectory() as d:
            ro = os.path.join(d, "file")
            with open(ro, "w") as f:
                f.write("first line\nsecond\n")
            rc, objs = probe("json", ro, d, os.path.join(d, "missing"), "/dev/null",
                             env={"PROBE_ENV": "x y", "PATH": "/bin"})
        self.assertEqual(rc, 0)
        self.assertEqual(len(objs), 1)
        p = objs[0]
        for k in ("hostname", "domainname", "uid", "euid", "gid", "egid", "groups", "caps", "no_new_privs",
                  "seccomp", "umask", "cwd", "namespaces", "cgroup", "fds", "rlimits", "sysctls", "env", "checks",
                  "uid_map", "oom_score_adj", "root_readonly"):
            self.assertIn(k, p)
        self.assertEqual(p["uid"], os.getuid())
        self.assertEqual(p["gid"], os.getgid())
        self.assertEqual(set(p["caps"]), {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
        self.assertEqual(p["cwd"], os.getcwd())
        self.assertEqual(p["umask"], "%04o" % (lambda m: (os.umask(m), m)[1])(os.umask(0)))
        self.assertIn("PROBE_ENV=x y", p["env"])
        self.assertTrue(p["namespaces"]["pid"].startswith("pid:["))
        self.assertEqual(p["rlimits"]["RLIMIT_NOFILE"][0], __import__("resource").getrlimit(7)[0])
        self.assertIn(0, [f["fd"] for f in p["fds"]])
        c = {x["path"]: x for x in p["checks"]}
        self.assertEqual(c[ro]["type"], "file")
        self.assertEqual(c[ro]["head"], "first line")
        self.assertTrue(c[ro]["readable"])
        self.assertEqual(c[d]["type"], "dir")
        self.assertEqual(c[d]["entries"], 1)
        self.assertFalse(c[os.path.join(d, "missing")]["exists"])
        self.assertEqual(c["/dev/null"]["rdev"], "1:3")

    def test_exit(self):
        self.assertEqual(probe("exit", "42")[0], 42)

    def test_forkbomb_reaps(self):
        rc, objs = probe("forkbomb", "5")
        self.assertEqual(rc, 0)
        self.assertEqual(objs[0]["forked"], 5)
        self.assertEqual(objs[0]["reaped"], 5)

    def test_memhog_small(self):
        rc, objs = probe("memhog", "4")
        self.assertEqual((rc, objs[0]["memhog_mb"]), (0, 4))

    def test_syscall(self):
        rc, objs = probe("syscall", "getpid")
        self.assertEqual(rc, 0)
        self.assertGreater(objs[0]["ret"], 0)
        self.assertEqual(objs[0]["errno"], 0)
        self.assertEqual(probe("syscall", "no-such-call")[0], 2)

    def test_write(self):
        with tempfile.TemporaryDirectory() as d:
            rc, objs = probe("write", os.path.join(d, "w"))
            self.assertTrue(objs[0]["ok"])
            with open(os.path.join(d, "w")) as f:
                self.assertEqual(f.read(), "probe\n")
            rc, objs = probe("write", os.path.join(d, "no", "such", "dir"))
            self.assertFalse(objs[0]["ok"])
            self.assertEqual(objs[0]["errno"], 2)

    def test_signal_wait(self):
        p = subprocess.Popen([PROBE, "signal-wait"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.assertIn(b"ready", p.stdout.readline())
        p.send_signal(10)
        out = p.stdout.read().decode()
        self.assertEqual(p.wait(timeout=30), 138)
        self.assertEqual(json.loads(out)["signal"], 10)

    def test_isatty(self):
        rc, objs = probe("isatty")
        self.assertEqual(objs[0], {"stdin": False, "stdout": False, "stderr": False})

    def test_usage(self):
        self.assertEqual(probe("nonsense")[0], 2)


if __name__ == "__main__":
    if not os.path.exists(PROBE):
        print(f"SKIP: probe not built at {PROBE}")
        sys.exit(77)
    unittest.main()
