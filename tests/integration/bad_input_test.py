#!/usr/bin/env python3
"""Bad input from the command line: a malformed or contradictory config.json makes berth-runtime exit with
status 1 and print one clear line naming the field, and leaves nothing behind (no cgroup directory, no
state directory, no mount, no process). Both `run` and `create` are tried for every case.

BERTH_RUNTIME=runc shows how the reference behaves (it is not expected to pass every line-format check).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import berthtest as bt  # noqa: E402


def edit(f):
    """A case's config edit: f(cfg) changes the parsed runc default config in place."""
    return f


def ns_add(t, **kw):
    return lambda c: c["linux"]["namespaces"].append({"type": t, **kw})


def drop_ns(t):
    def f(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != t]
    return f


def set_path(path, value):
    def f(c):
        cur = c
        for k in path[:-1]:
            cur = cur.setdefault(k, {}) if isinstance(k, str) else cur[k]
        cur[path[-1]] = value
    return f


def chain(*fs):
    def f(c):
        for g in fs:
            g(c)
    return f


# (name, edit or raw text, tokens: the message must name at least one of them)
CASES = [
    ("not JSON", "{ this is not json", ["config.json", "json", "JSON", "parse"]),
    ("process.args is a string", set_path(["process", "args"], "/probe json"), ["args"]),
    ("process.args empty", set_path(["process", "args"], []), ["args"]),
    ("process.user.uid is a string", set_path(["process", "user", "uid"], "0"), ["uid"]),
    ("process.cwd relative", set_path(["process", "cwd"], "tmp"), ["cwd"]),
    ("unknown namespace type", ns_add("bogus"), ["namespace", "bogus"]),
    ("duplicate namespace", ns_add("pid"), ["namespace", "pid"]),
    # (A relative mount destination is deprecated but valid in runtime-spec 1.1; maskedPaths must be absolute.)
    ("relative masked path", lambda c: c["linux"]["maskedPaths"].append("proc/kcore"), ["maskedPaths", "proc/kcore"]),
    ("relative hook path", set_path(["hooks"], {"prestart": [{"path": "bin/true"}]}), ["hook", "path", "bin/true"]),
    ("missing rootfs", set_path(["root", "path"], "does-not-exist"), ["root", "does-not-exist"]),
    ("root.path is a number", set_path(["root", "path"], 42), ["root", "path"]),
    ("uid mapping of size 0",
     chain(ns_add("user"), set_path(["linux", "uidMappings"], [{"containerID": 0, "hostID": 100000, "size": 0}]),
           set_path(["linux", "gidMappings"], [{"containerID": 0, "hostID": 100000, "size": 65536}])),
     ["uidMapping", "mapping", "size"]),
    ("id mappings without a user namespace",
     chain(set_path(["linux", "uidMappings"], [{"containerID": 0, "hostID": 100000, "size": 65536}]),
           set_path(["linux", "gidMappings"], [{"containerID": 0, "hostID": 100000, "size": 65536}])),
     ["uidMapping", "user", "mapping"]),
    ("unknown seccomp action",
     set_path(["linux", "seccomp"], {"defaultAction": "SCMP_ACT_BOGUS", "syscalls": []}),
     ["SCMP_ACT_BOGUS", "defaultAction", "action"]),
    ("unknown seccomp architecture",
     set_path(["linux", "seccomp"], {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_BOGUS"]}),
     ["SCMP_ARCH_BOGUS", "architecture"]),
    ("seccomp SCMP_ACT_NOTIFY without listenerPath",
     set_path(["linux", "seccomp"], {"defaultAction": "SCMP_ACT_ALLOW",
                                     "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
     ["listenerPath"]),
    ("seccomp listenerPath relative",
     set_path(["linux", "seccomp"], {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "run/agent.sock",
                                     "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
     ["listenerPath"]),
    ("seccomp listenerPath with no agent listening",
     set_path(["linux", "seccomp"], {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/berth-no-agent.sock",
                                     "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
     ["listenerPath"]),
    ("seccomp SCMP_ACT_NOTIFY on sendmsg",
     set_path(["linux", "seccomp"], {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/berth-no-agent.sock",
                                     "syscalls": [{"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}),
     ["sendmsg"]),
    ("unknown capability", set_path(["process", "capabilities", "bounding"], ["CAP_BOGUS"]), ["CAP_BOGUS"]),
    ("unknown rlimit", set_path(["process", "rlimits"], [{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]),
     ["RLIMIT_BOGUS", "rlimit"]),
    ("memory limit is a string", set_path(["linux", "resources", "memory"], {"limit": "32m"}),
     ["limit", "memory"]),
    ("hostname without a uts namespace", chain(drop_ns("uts"), set_path(["hostname"], "x")), ["hostname", "uts"]),
    ("net sysctl without a network namespace", chain(drop_ns("network"),
                                                     set_path(["linux", "sysctl"], {"net.core.somaxconn": "1"})),
     ["sysctl", "net.core.somaxconn"]),
    ("device with an unknown type",
     set_path(["linux", "devices"], [{"path": "/dev/x", "type": "q", "major": 1, "minor": 3}]),
     ["device", "type", "/dev/x"]),
    ("unknown mount type (fails while mounting)",
     lambda c: c["mounts"].append({"destination": "/mnt/x", "type": "bogusfs", "source": "none"}),
     ["bogusfs", "/mnt/x", "mount"]),
    ("failing prestart hook", set_path(["hooks"], {"prestart": [{"path": "/bin/false"}]}),
     ["hook", "prestart", "/bin/false"]),
]


def one_case(env, rt, name, edit_or_text, tokens, command):
    cid = env.new_id(f"{command}-{name}")
    cfg = env.config()
    cfg["linux"]["cgroupsPath"] = f"/{cid}"
    if isinstance(edit_or_text, str):
        text = edit_or_text
    else:
        edit_or_text(cfg)
        text = json.dumps(cfg, indent=1)
    bundle = env.bundle(cid, {"linux": {}})  # rootfs + placeholder config
    bt.write_config(bundle, text)
    problems = []
    try:
        r = rt.cmd(command, "--bundle", bundle, cid, timeout=60)
    except Exception as e:  # a hang is a failure, not a harness crash
        rt.force_delete(cid)
        return [f"{command}: {e!r}"], ""
    err = r.stderr.decode(errors="replace").strip()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if r.returncode != 1:
        problems.append(f"exit status {r.returncode}, want 1")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr, want 1")
    if not any(t.lower() in err.lower() for t in tokens):
        problems.append(f"message names none of {tokens}")
    if r.stdout.strip():
        problems.append("printed on stdout")
    if rt.state(cid) is not None:
        problems.append("`state` still knows the container")
    left = bt.leftovers(rt, cid, bundle)
    if left:
        problems.append("left behind: " + ", ".join(left))
    rt.force_delete(cid)  # only matters when the test already failed
    return problems, (lines[0] if lines else "")


def main():
    bt.require_root()
    berth = bt.require_berth()
    env = bt.Env("badinput")
    rt = bt.Runtime("berth", berth, os.path.join(env.tmp, "state"))
    rows = []
    tally = bt.Tally("bad_input")
    details = []
    try:
        for name, e, tokens in CASES:
            for command in ("run", "create"):
                problems, line = one_case(env, rt, name, e, tokens, command)
                ok = not problems
                rows.append([name, command, tally.record(f"{name} ({command})", ok), line[:100]])
                if problems:
                    details.append((name, command, problems, line))
        # The state root itself must not have gained entries. `.seccomp-cache` is not a container's: it holds
        # compiled profiles shared by all containers (a profile that compiles is cached even when the create
        # then fails, e.g. because no seccomp agent listens).
        extra = [e for e in (os.listdir(rt.root) if os.path.isdir(rt.root) else []) if e != ".seccomp-cache"]
        rows.append(["state root empty afterwards", "-", tally.record("state root empty afterwards", not extra),
                     ", ".join(extra)[:100]])
    finally:
        env.cleanup()
    bt.print_table(f"bad input: {berth}", ["case", "command", "result", "message"], rows)
    for name, command, problems, line in details:
        print(f"--- {name} ({command}): " + "; ".join(problems))
        print(f"    stderr: {line}")
    return tally.finish()


if __name__ == "__main__":
    sys.exit(main())
