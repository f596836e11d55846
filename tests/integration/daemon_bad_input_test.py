#!/usr/bin/env python3
"""Bad input against a real `berth daemon` (temp unix socket, data root and exec root), in raw HTTP written
byte by byte over the socket: malformed JSON, wrong JSON types, oversized bodies (413 before the body is
read), an endless or stalled chunked body, huge headers, garbage request lines, invalid names, path
traversal in archive and volume requests, unknown endpoints, unsupported API versions, and clients that
disconnect mid-request or mid-stream (events, logs -f, attach, pull progress).

After every case the daemon must still answer /_ping, the objects created at the start (a volume with a
file in it, a network, a container) must be intact, and no volume or network may have appeared from a
refused request. At the end the daemon is restarted and the objects must still be there.

Prints one table row per case (known gaps: tests/integration/known_gaps.txt, suite `daemon_bad_input`).
Needs root (containers); exits 77 when not root or when berth / busybox are missing.
"""
import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import berthtest as bt  # noqa: E402
import daemons as dm  # noqa: E402

BERTH = dm.BERTH
MAX_BODY = 1 << 20
PREFIX = "badinput"  # names of everything this suite creates


# ---- raw HTTP over the unix socket ------------------------------------------------------------------------
class Reply:
    def __init__(self, status, headers, body, closed):
        self.status, self.headers, self.body, self.closed = status, headers, body, closed

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def message(self):
        j = self.json()
        return j.get("message") if isinstance(j, dict) else None

    def __repr__(self):
        return f"{self.status} {self.body[:160]!r}"


class Conn:
    """One connection; every byte is ours to choose."""

    def __init__(self, sock_path, timeout=20):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(sock_path)
        self.buf = b""
        self.eof = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def _fill(self):
        try:
            d = self.s.recv(65536)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
        self.buf += d
        return bool(d)

    def _line(self):
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise EOFError("connection closed")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_head(self):
        """Status line and headers (skipping 100 Continue); None when the server closed without a reply."""
        while True:
            try:
                line = self._line()
            except EOFError:
                return None
            parts = line.decode(errors="replace").split(" ", 2)
            status = int(parts[1])
            headers = {}
            while True:
                h = self._line()
                if not h:
                    break
                k, _, v = h.decode(errors="replace").partition(":")
                headers[k.strip().lower()] = v.strip()
            if status != 100:
                return status, headers

    def read_reply(self, head_request=False):
        h = self.read_head()
        if h is None:
            return None
        status, headers = h
        body = b""
        if head_request or status in (101, 204, 304):
            pass
        elif "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n and self._fill():
                pass
            body, self.buf = self.buf[:n], self.buf[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()
                    break
                while len(self.buf) < size + 2 and self._fill():
                    pass
                body += self.buf[:size]
                self.buf = self.buf[size + 2:]
        else:
            while self._fill():
                pass
            body, self.buf = self.buf, b""
        closed = headers.get("connection", "").lower() == "close"
        return Reply(status, headers, body.decode(errors="replace"), closed)

    def server_closed(self):
        """True once the server has closed its side (reads EOF, possibly after discarding unread bytes)."""
        try:
            while self._fill():
                self.buf = b""
        except socket.timeout:
            return False
        return True

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def request(method, target, body=b"", headers=None, content_type="application/json"):
    if isinstance(body, str):
        body = body.encode()
    h = {"Host": "api.moby.localhost", "User-Agent": "berth-bad-input-test"}
    if body or method in ("POST", "PUT"):
        h["Content-Length"] = str(len(body))
        if body and content_type:
            h["Content-Type"] = content_type
    h.update(headers or {})
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items() if v is not None)
    return head.encode() + b"\r\n" + body


class Daemon:
    def __init__(self, tmp):
        self.tmp = tmp
        self.data = os.path.join(tmp, "data")
        self.exec_root = os.path.join(tmp, "exec")
        self.sock = os.path.join(tmp, "engine.sock")
        self.proc = None

    def start(self):
        self.proc = dm.start_berth_daemon(self.data, self.exec_root, self.sock, os.path.join(self.tmp, "daemon.log"),
                                          ["--log-format", "text"], ready=self.ping)
        return self.ping()

    def stop(self):
        dm.stop_daemon(self.proc, timeout=60)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def ping(self):
        try:
            c = Conn(self.sock, timeout=10)
            c.send(request("GET", "/_ping"))
            r = c.read_reply()
            c.close()
            return r is not None and r.status == 200 and r.body == "OK"
        except OSError:
            return False

    def call(self, method, target, body=b"", headers=None, content_type="application/json"):
        c = Conn(self.sock)
        try:
            c.send(request(method, target, body, headers, content_type))
            return c.read_reply(head_request=method == "HEAD")
        finally:
            c.close()

    def threads(self):
        try:
            return len(os.listdir(f"/proc/{self.proc.pid}/task"))
        except OSError:
            return -1


def q(s):
    return urllib.parse.quote(s, safe="")


def make_tar(entries):
    """entries: (name, kind, data_or_target) with kind file|dir|symlink|hardlink."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, kind, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = int(time.time())
            if kind == "file":
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
                continue
            ti.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
            if kind == "dir":
                ti.mode = 0o755
            else:
                ti.linkname = data
            tf.addfile(ti)
    return bio.getvalue()


def snapshot(root):
    """{relative path: (kind, content or link)} of a host directory tree (the guard of what must not change)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", None)
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", f.read())
    return out


# ---- the suite ----------------------------------------------------------------------------------------------
class Suite:
    def __init__(self, tmp):
        self.tmp = tmp
        self.d = Daemon(tmp)
        self.rows = []
        self.tally = bt.Tally("daemon_bad_input")
        self.container_id = None
        # Host files the archive and volume cases aim at: nothing here may change.
        self.guard = os.path.join(tmp, "guard")
        os.makedirs(os.path.join(self.guard, "dir"))
        with open(os.path.join(self.guard, "canary"), "w") as f:
            f.write("host canary badinput-7f3a\n")
        self.guard_before = None

    # -- bookkeeping
    def record(self, name, ok, detail):
        alive = self.d.alive() and self.d.ping()
        intact, why = self.intact() if alive else (False, "daemon not answering")
        if not alive:
            detail = f"{detail}; daemon gone (exit {self.d.proc.poll()}), restarted"
            self.d.stop()
            self.d.start()
        elif not intact:
            detail = f"{detail}; {why}"
            self.rebaseline()  # one broken case fails once, not every case after it
        res = self.tally.record(name, bool(ok) and alive and intact)
        self.rows.append((name, res, str(detail)[:150]))
        print(f"{res:5} {name}: {detail}", flush=True)

    def case(self, name, fn):
        try:
            ok, detail = fn()
        except Exception as e:  # a case that raised is a failure with its reason, never a crash of the suite
            ok, detail = False, f"{type(e).__name__}: {e}"
        self.record(name, ok, detail)

    def volume_names(self):
        r = self.d.call("GET", "/v1.41/volumes")
        return sorted(v["Name"] for v in (r.json() or {}).get("Volumes") or []) if r and r.status == 200 else None

    def network_names(self):
        r = self.d.call("GET", "/v1.41/networks")
        return sorted(n["Name"] for n in (r.json() or [])) if r and r.status == 200 else None

    def rebaseline(self):
        self.expect_volumes = self.volume_names()
        self.expect_networks = self.network_names()
        self.guard_before = snapshot(self.guard)
        for p in (os.path.join(self.tmp, "escaped"), "/tmp/badinput-escaped"):
            if os.path.lexists(p):
                os.unlink(p)

    def intact(self):
        """The objects made in setup are all there and nothing else appeared."""
        vols = self.volume_names()
        if vols != self.expect_volumes:
            return False, f"volumes now {vols}, expected {self.expect_volumes}"
        data = os.path.join(self.vol_mountpoint, "keep.txt")
        if not os.path.exists(data) or open(data).read() != "keep me\n":
            return False, "the volume's file changed"
        nets = self.network_names()
        if nets != self.expect_networks:
            return False, f"networks now {nets}, expected {self.expect_networks}"
        if self.container_id:
            r = self.d.call("GET", f"/v1.41/containers/{PREFIX}-keep/json")
            if not r or r.status != 200 or (r.json() or {}).get("Id") != self.container_id:
                return False, f"container {PREFIX}-keep: {r}"
        if snapshot(self.guard) != self.guard_before:
            return False, f"host files under {self.guard} changed"
        if os.path.exists(os.path.join(self.tmp, "escaped")) or os.path.exists("/tmp/badinput-escaped"):
            return False, "a file was written outside the container root"
        return True, ""

    def setup(self):
        r = subprocess.run([BERTH, "image", "--root", self.d.data, "bootstrap", "busybox"], capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"bootstrap busybox: {r.stderr.strip()}")
        if not self.d.start():
            raise RuntimeError("daemon did not start: " + open(os.path.join(self.tmp, "daemon.log")).read()[-2000:])
        r = self.d.call("POST", "/v1.41/volumes/create",
                        json.dumps({"Name": f"{PREFIX}-keep", "Labels": {"keep": "1"}}))
        if not r or r.status != 201:
            raise RuntimeError(f"volume create: {r}")
        self.vol_mountpoint = r.json()["Mountpoint"]
        with open(os.path.join(self.vol_mountpoint, "keep.txt"), "w") as f:
            f.write("keep me\n")
        r = self.d.call("POST", "/v1.41/networks/create", json.dumps({"Name": f"{PREFIX}-net", "Labels": {"k": "v"}}))
        if not r or r.status != 201:
            raise RuntimeError(f"network create: {r}")
        self.expect_volumes = self.volume_names()
        self.expect_networks = self.network_names()
        self.guard_before = snapshot(self.guard)
        # A long-running container (needs the container routes): logs -f, attach and archive cases use it.
        body = {"Image": "busybox", "Cmd": ["sh", "-c", "while true; do echo tick; sleep 1; done"],
                "HostConfig": {"NetworkMode": "none"}}
        r = self.d.call("POST", f"/v1.41/containers/create?name={PREFIX}-keep", json.dumps(body))
        self.container_note = f"create: {r}"
        if r and r.status == 201:
            cid = r.json()["Id"]
            s = self.d.call("POST", f"/v1.41/containers/{cid}/start")
            self.container_note = f"start: {s}"
            if s and s.status in (204, 304):
                self.container_id = cid

    def need_container(self):
        if not self.container_id:
            raise RuntimeError(f"no running container ({self.container_note})")

    # -- helpers for the cases
    def expect(self, reply, statuses, need_message=True):
        if reply is None:
            return False, "no reply (connection closed)"
        ok = reply.status in statuses
        if need_message and reply.status >= 400:
            m = reply.message()
            ok = ok and isinstance(m, str) and m != ""
            return ok, f"{reply.status} {m!r}"
        return ok, f"{reply.status}"

    def json_case(self, method, target, body, statuses=(400,)):
        return lambda: self.expect(self.d.call(method, target, body), statuses)

    # -- cases
    def run(self):
        d = self.d
        C = self.case
        # malformed JSON
        C("malformed JSON: container create", self.json_case("POST", "/v1.41/containers/create", '{"Image": "busybox",'))
        C("malformed JSON: volume create", self.json_case("POST", "/v1.41/volumes/create", '{"Name": "x" "y"}'))
        C("malformed JSON: network create", self.json_case("POST", "/v1.41/networks/create", "not json at all"))
        C("malformed JSON: network connect", self.json_case("POST", f"/v1.41/networks/{PREFIX}-net/connect", "{]"))
        C("malformed JSON: exec start", self.json_case("POST", "/v1.41/exec/nosuch/start", '{"Detach":'))
        C("malformed JSON: auth", self.json_case("POST", "/v1.41/auth", "\x00\x01\x02"))
        C("malformed JSON: invalid UTF-8", self.json_case("POST", "/v1.41/volumes/create", b'{"Name": "\xff\xfe"}'))
        C("malformed JSON: 10000-deep nesting", self.json_case("POST", "/v1.41/networks/create", "[" * 10000 + "]" * 10000))
        # wrong JSON types
        C("wrong type: create Image number", self.json_case("POST", "/v1.41/containers/create", '{"Image": 5}'))
        C("wrong type: create Cmd string map", self.json_case("POST", "/v1.41/containers/create",
                                                              '{"Image": "busybox", "Cmd": {"a": 1}}'))
        C("wrong type: create HostConfig.Memory string", self.json_case(
            "POST", "/v1.41/containers/create", '{"Image": "busybox", "HostConfig": {"Memory": "lots"}}'))
        C("wrong type: create body is an array", self.json_case("POST", "/v1.41/containers/create", "[1, 2]"))
        C("wrong type: volume Name number", self.json_case("POST", "/v1.41/volumes/create", '{"Name": 5}'))
        C("wrong type: volume Labels array", self.json_case("POST", "/v1.41/volumes/create",
                                                            json.dumps({"Name": f"{PREFIX}-lab", "Labels": ["x"]})))
        C("wrong type: volume body is a string", self.json_case("POST", "/v1.41/volumes/create", '"vol"'))
        C("wrong type: network Name number", self.json_case("POST", "/v1.41/networks/create", '{"Name": 5}'))
        C("wrong type: network Internal string", self.json_case("POST", "/v1.41/networks/create",
                                                                json.dumps({"Name": f"{PREFIX}-n2", "Internal": "yes"})))
        C("wrong type: network IPAM.Config items", self.json_case(
            "POST", "/v1.41/networks/create", json.dumps({"Name": f"{PREFIX}-n3", "IPAM": {"Config": [1, "x"]}})))
        C("wrong type: network disconnect Force string", self.json_case(
            "POST", f"/v1.41/networks/{PREFIX}-net/disconnect", '{"Container": "nosuch", "Force": "yes"}', (400, 404)))
        C("wrong type: exec start Detach string", self.json_case("POST", "/v1.41/exec/nosuch/start",
                                                                 '{"Detach": "no"}', (400, 404)))
        # invalid names
        C("invalid name: container a/b", self.json_case("POST", "/v1.41/containers/create?name=a%2Fb", '{"Image": "busybox"}'))
        C("invalid name: container -x", self.json_case("POST", "/v1.41/containers/create?name=-x", '{"Image": "busybox"}'))
        C("invalid name: container with newline", self.json_case("POST", "/v1.41/containers/create?name=a%0Ab",
                                                                 '{"Image": "busybox"}'))
        for n in ("a/b", "..", "../../escaped", "/abs", "a\x00b", "x" * 300, ""):
            if n == "":
                continue  # "" is an anonymous volume, which is allowed
            C(f"invalid name: volume {n[:20]!r}", self.json_case("POST", "/v1.41/volumes/create", json.dumps({"Name": n})))
        for n in ("n/1", "..", "", "-n", "a b"):
            C(f"invalid name: network {n!r}", self.json_case("POST", "/v1.41/networks/create", json.dumps({"Name": n})))
        # volume paths with / and .. in the URL
        for target in (f"/v1.41/volumes/..%2F{PREFIX}-keep", "/v1.41/volumes/%2E%2E", f"/v1.41/volumes/../volumes/{PREFIX}-keep",
                       f"/v1.41/volumes/{PREFIX}-keep%2F..%2F..", "/v1.41/volumes/..%2F..%2F..%2Fetc"):
            C(f"volume path: DELETE {target[14:]}", lambda t=target: self.expect(d.call("DELETE", t), (400, 404)))
            C(f"volume path: GET {target[14:]}", lambda t=target: self.expect(d.call("GET", t), (400, 404)))
        C("volume data root intact after .. deletes", lambda: (os.path.isdir(os.path.join(d.data, "volumes")) and
                                                               os.path.isdir(self.vol_mountpoint), "volumes dir present"))
        # unknown endpoints and versions
        for m, t in (("GET", "/v1.41/nope"), ("POST", "/v1.41/containers/x/nope"), ("GET", "/v1.41/volumes/a/b/c"),
                     ("PATCH", "/v1.41/version"), ("GET", "/nope%zz%00"), ("GET", "/v1.41/images/")):
            C(f"unknown endpoint: {m} {t}", lambda m=m, t=t: self.expect(d.call(m, t), (404, 405)))
        C("API version too new", lambda: self.expect_msg(d.call("GET", "/v1.99/version"), 400, "too new"))
        C("API version too old", lambda: self.expect_msg(d.call("GET", "/v1.0/version"), 400, "too old"))
        C("API version absurd", lambda: self.expect(d.call("GET", "/v99999999999999999999.1/version"), (400, 404)))
        # HTTP-level garbage
        C("garbage request line", lambda: self.raw_case(b"HELLO THERE\r\n\r\n"))
        C("binary request", lambda: self.raw_case(bytes(range(256)) * 4 + b"\r\n\r\n"))
        C("huge header (200 KiB)", lambda: self.raw_case(
            b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (200 << 10) + b"\r\n\r\n"))
        C("1 MiB of small headers", lambda: self.raw_case(
            b"GET /_ping HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(100000)) + b"\r\n"))
        C("bad Content-Length", lambda: self.raw_case(
            b"POST /v1.41/volumes/create HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}"))
        C("bad chunk size", lambda: self.raw_case(
            b"POST /v1.41/volumes/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            allow=(400, 413)))
        # oversized bodies
        C("oversized body: Content-Length 1 GiB, 413 before it is sent", lambda: self.oversized(1 << 30))
        C("oversized body: Content-Length 1 MiB + 1", lambda: self.oversized(MAX_BODY + 1))
        C("oversized body: endless chunked body -> 413", self.endless_chunked)
        C("stalled chunked body: others are served", self.stalled_chunked)
        C("disconnect mid-request-body: volume and network create", self.disconnect_mid_body)
        C("disconnect mid-request-body: container create", self.disconnect_mid_body_container)
        # streams the client walks away from
        C("disconnect mid-stream: events x20", self.events_disconnect)
        C("disconnect mid-stream: events with nothing to report", self.events_silent_disconnect)
        C("disconnect mid-stream: logs -f", self.logs_disconnect)
        C("disconnect mid-stream: logs -f of a silent container", self.logs_silent_disconnect)
        C("disconnect mid-stream: wait on a running container", self.wait_disconnect)
        C("disconnect mid-stream: attach", self.attach_disconnect)
        C("disconnect mid-stream: pull progress", self.pull_disconnect)
        # archive traversal (the container's root only)
        C("archive GET ../../etc/passwd stays in the root", self.archive_get_passwd)
        C("archive GET ../ to a host canary", self.archive_get_canary)
        C("archive HEAD ../ to a host canary", self.archive_head_canary)
        C("archive PUT tar with ../ entries", lambda: self.archive_put(
            [("../../../../../../../../" + self.tmp.lstrip("/") + "/escaped", "file", b"x")]))
        C("archive PUT tar with absolute paths", lambda: self.archive_put(
            [(self.tmp + "/escaped", "file", b"x"), ("/tmp/badinput-escaped", "file", b"x")]))
        C("archive PUT symlink out, then write through it", lambda: self.archive_put(
            [("badinput-link", "symlink", self.guard), ("badinput-link/canary", "file", b"overwritten"),
             ("badinput-link/new", "file", b"x")]))
        C("archive PUT relative symlink out, then write through it", lambda: self.archive_put(
            [("badinput-up", "symlink", "../../../../../../../../../.." + self.guard),
             ("badinput-up/dir/new", "file", b"x")]))
        C("archive PUT hardlink to a host file", lambda: self.archive_put(
            [("badinput-hard", "hardlink", self.guard + "/canary")]))
        C("archive PUT to path ../../", lambda: self.archive_put([("escaped", "file", b"x")],
                                                                  path="../../../../../../.." + self.tmp))
        C("archive PUT not a tar", lambda: self.archive_put(None, raw=b"this is not a tar" * 100))
        C("archive PUT path through a symlink in the container", self.archive_put_via_symlink)

    # -- case bodies
    def expect_msg(self, reply, status, text):
        ok, detail = self.expect(reply, (status,))
        return ok and text in (reply.message() or ""), detail

    def raw_case(self, data, allow=None):
        c = Conn(self.d.sock)
        try:
            try:
                c.send(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may close before it has read everything
            r = c.read_reply()
            if r is None:
                return True, "connection closed without a reply"
            ok = 400 <= r.status < 500 if allow is None else r.status in allow
            return ok, f"{r.status} {r.body[:80]!r}"
        finally:
            c.close()

    def oversized(self, length):
        c = Conn(self.d.sock)
        try:
            c.send(request("POST", "/v1.41/volumes/create", b"", {"Content-Length": str(length)}))
            sent = 0
            try:
                c.send(b"{" + b" " * (64 << 10))  # a little of it; the rest never comes
                sent = (64 << 10) + 1
            except (BrokenPipeError, ConnectionResetError):
                pass
            r = c.read_reply()
            if r is None:
                return False, "closed without a reply"
            closed = c.server_closed()
            return r.status == 413 and closed and bool(r.message()), \
                f"{r.status} {r.message()!r} after {sent} of {length} bytes; connection closed: {closed}"
        finally:
            c.close()

    def endless_chunked(self):
        c = Conn(self.d.sock)
        try:
            c.send(request("POST", "/v1.41/volumes/create", b"", {"Transfer-Encoding": "chunked", "Content-Length": None}))
            chunk = b"%x\r\n" % (64 << 10) + b" " * (64 << 10) + b"\r\n"
            sent = 0
            pending = b""
            c.s.settimeout(0.0)
            import select
            try:
                while sent < 64 * MAX_BODY:  # the server must stop us long before this
                    if not pending:
                        pending = chunk
                    try:
                        n = c.s.send(pending)
                        pending = pending[n:]
                        sent += n
                    except BlockingIOError:
                        # the server is not reading: see whether it answered
                        r, _, _ = select.select([c.s], [], [], 5)
                        if r:
                            break
            except (BrokenPipeError, ConnectionResetError):
                pass
            c.s.settimeout(20)
            r = c.read_reply()
            if r is None:
                return False, f"closed without a reply after {sent} bytes"
            return r.status == 413 and sent < 64 * MAX_BODY, f"{r.status} {r.message()!r} after ~{sent >> 10} KiB sent"
        finally:
            c.close()

    def stalled_chunked(self):
        c = Conn(self.d.sock)
        try:
            c.send(request("POST", "/v1.41/volumes/create", b"", {"Transfer-Encoding": "chunked", "Content-Length": None}))
            c.send(b"5\r\n{\"Nam")  # and nothing more
            others = all(self.d.ping() for _ in range(5))
            vol = self.d.call("POST", "/v1.41/volumes/create", json.dumps({"Name": f"{PREFIX}-tmp"}))
            rm = self.d.call("DELETE", f"/v1.41/volumes/{PREFIX}-tmp")
            return others and vol and vol.status == 201 and rm and rm.status == 204, \
                f"ping while stalled: {others}; create+rm on another connection: {vol and vol.status} {rm and rm.status}"
        finally:
            c.close()

    def half_request(self, target, body):
        c = Conn(self.d.sock)
        raw = request("POST", target, body.encode())
        c.send(raw[:len(raw) - len(body) // 2])  # headers and half the body
        c.close()

    def disconnect_mid_body(self):
        # intact() checks that neither object appeared
        self.half_request("/v1.41/volumes/create", json.dumps({"Name": f"{PREFIX}-half", "Labels": {"a": "b"}}))
        self.half_request("/v1.41/networks/create", json.dumps({"Name": f"{PREFIX}-halfnet"}))
        return True, "sent half of a volume create and a network create, then closed"

    def disconnect_mid_body_container(self):
        self.half_request("/v1.41/containers/create?name=" + PREFIX + "-half",
                          json.dumps({"Image": "busybox", "Cmd": ["true"]}))
        r = self.d.call("GET", f"/v1.41/containers/{PREFIX}-half/json")
        return r is not None and r.status == 404, f"container lookup after half a create: {r}"

    def settle_threads(self, base, what):
        n = bt.wait_for(lambda: self.d.threads() <= base + 2, timeout=20, step=0.2)
        return bool(n), f"{what}; daemon threads {self.d.threads()} (before: {base})"

    def events_disconnect(self):
        base = self.d.threads()
        for i in range(20):
            c = Conn(self.d.sock)
            c.send(request("GET", "/v1.41/events?filters=" + q(json.dumps({"type": ["volume"]}))))
            h = c.read_head()
            if h is None or h[0] != 200:
                c.close()
                return False, f"events: {h}"
            if i % 2:
                c.s.shutdown(socket.SHUT_WR)
            c.close()
        # something to write to the dead streams
        self.d.call("POST", "/v1.41/volumes/create", json.dumps({"Name": f"{PREFIX}-ev"}))
        self.d.call("DELETE", f"/v1.41/volumes/{PREFIX}-ev")
        return self.settle_threads(base, "20 event streams opened and dropped")

    def events_silent_disconnect(self):
        """Event streams that never get an event (a filter nothing matches): only the hang-up can end them."""
        base = self.d.threads()
        flt = q(json.dumps({"type": ["volume"], "volume": [f"{PREFIX}-never"]}))
        for i in range(5):
            c = Conn(self.d.sock)
            c.send(request("GET", "/v1.41/events?filters=" + flt))
            h = c.read_head()
            if i % 2:
                c.s.shutdown(socket.SHUT_WR)
            c.close()
            if h is None or h[0] != 200:
                return False, f"events: {h}"
        return self.settle_threads(base, "5 silent event streams dropped")

    def logs_disconnect(self):
        self.need_container()
        base = self.d.threads()
        for _ in range(5):
            c = Conn(self.d.sock)
            c.send(request("GET", f"/v1.41/containers/{self.container_id}/logs?follow=1&stdout=1&stderr=1&tail=1"))
            h = c.read_head()
            c.s.recv(64)  # some of the stream
            c.close()
            if h is None or h[0] != 200:
                return False, f"logs: {h}"
        return self.settle_threads(base, "5 logs -f streams dropped")

    def logs_silent_disconnect(self):
        """A follower of a container that prints nothing: only the hang-up can end the daemon's stream."""
        self.need_container()
        body = {"Image": "busybox", "Cmd": ["sleep", "100000"], "HostConfig": {"NetworkMode": "none"}}
        r = self.d.call("POST", f"/v1.41/containers/create?name={PREFIX}-quiet", json.dumps(body))
        if not r or r.status != 201:
            return False, f"create: {r}"
        cid = r.json()["Id"]
        try:
            s = self.d.call("POST", f"/v1.41/containers/{cid}/start")
            if not s or s.status != 204:
                return False, f"start: {s}"
            base = self.d.threads()
            for _ in range(5):
                c = Conn(self.d.sock)
                c.send(request("GET", f"/v1.41/containers/{cid}/logs?follow=1&stdout=1&stderr=1"))
                h = c.read_head()
                c.close()
                if h is None or h[0] != 200:
                    return False, f"logs: {h}"
            return self.settle_threads(base, "5 logs -f streams of a silent container dropped")
        finally:
            self.d.call("DELETE", f"/v1.41/containers/{cid}?force=1")

    def wait_disconnect(self):
        """Waits whose clients hang up after the headers (as `run -d` leaves its wait): the daemon notices each
        hang-up and ends the waits, while the container goes on running."""
        self.need_container()
        base = self.d.threads()
        for i in range(5):
            c = Conn(self.d.sock)
            c.send(request("POST", f"/v1.41/containers/{self.container_id}/wait?condition=next-exit"))
            h = c.read_head()
            if i % 2:
                c.s.shutdown(socket.SHUT_WR)
            c.close()
            if h is None or h[0] != 200:
                return False, f"wait: {h}"
        r = self.d.call("GET", f"/v1.41/containers/{self.container_id}/json")
        running = r is not None and r.status == 200 and (r.json() or {}).get("State", {}).get("Running")
        ok, detail = self.settle_threads(base, "5 waits dropped")
        return ok and running, f"{detail}; container still running: {running}"

    def attach_disconnect(self):
        self.need_container()
        base = self.d.threads()
        for _ in range(5):
            c = Conn(self.d.sock)
            c.send(request("POST", f"/v1.41/containers/{self.container_id}/attach?stream=1&stdout=1&stderr=1&stdin=1",
                           headers={"Upgrade": "tcp", "Connection": "Upgrade"}))
            h = c.read_head()
            c.close()
            if h is None or h[0] not in (101, 200):
                return False, f"attach: {h}"
        r = self.d.call("GET", f"/v1.41/containers/{self.container_id}/json")
        running = r is not None and r.status == 200 and (r.json() or {}).get("State", {}).get("Running")
        ok, detail = self.settle_threads(base, "5 attach streams dropped")
        return ok and running, f"{detail}; container still running: {running}"

    def pull_disconnect(self):
        reg, host = dm.start_berth_registry(os.path.join(self.tmp, "registry"))
        try:
            auth = {"X-Registry-Auth": base64.urlsafe_b64encode(b"{}").decode()}
            r = self.d.call("POST", f"/v1.41/images/busybox/tag?repo={q(host + '/badinput-bb')}&tag=v1")
            if not r or r.status != 201:
                return False, f"tag: {r}"
            r = self.d.call("POST", f"/v1.41/images/{host}/badinput-bb/push?tag=v1", headers=auth)
            if not r or r.status != 200 or "error" in r.body:
                return False, f"push: {r}"
            r = self.d.call("DELETE", f"/v1.41/images/{host}/badinput-bb:v1")
            if not r or r.status != 200:
                return False, f"rmi: {r}"
            base = self.d.threads()
            for _ in range(3):
                c = Conn(self.d.sock)
                c.send(request("POST", f"/v1.41/images/create?fromImage={q(host + '/badinput-bb')}&tag=v1",
                               headers=auth))
                h = c.read_head()
                c.close()  # walk away from the progress stream
                if h is None or h[0] != 200:
                    return False, f"pull: {h}"
            ok, detail = self.settle_threads(base, "3 pulls dropped after their headers")
            imgs = self.d.call("GET", "/v1.41/images/json")
            names = [t for i in (imgs.json() or []) for t in (i.get("RepoTags") or [])]
            # the image is either fully there (the pull finished) or absent: never a half entry that breaks listing
            self.d.call("DELETE", f"/v1.41/images/{host}/badinput-bb:v1")
            return ok and "busybox:latest" in names, f"{detail}; images: {names}"
        finally:
            reg.terminate()
            reg.wait(timeout=30)

    def archive_get_passwd(self):
        self.need_container()
        r = self.d.call("GET", f"/v1.41/containers/{self.container_id}/archive?path={q('../../etc/passwd')}")
        host = open("/etc/passwd").read()
        if r is None:
            return False, "no reply"
        if r.status == 404:
            return True, "404 (the container has no /etc/passwd)"
        return r.status == 200 and host not in r.body, f"{r.status}; host /etc/passwd in the reply: {host in r.body}"

    def archive_get_canary(self):
        self.need_container()
        path = "../../../../../../../../.." + self.guard + "/canary"
        r = self.d.call("GET", f"/v1.41/containers/{self.container_id}/archive?path={q(path)}")
        if r is None:
            return False, "no reply"
        return r.status in (400, 404) and "badinput-7f3a" not in r.body, f"{r.status} {r.message()!r}"

    def archive_head_canary(self):
        self.need_container()
        path = "../../../../../../../../.." + self.guard + "/canary"
        r = self.d.call("HEAD", f"/v1.41/containers/{self.container_id}/archive?path={q(path)}")
        return (r is not None and r.status in (400, 404)), f"{r and r.status}"

    def archive_put(self, entries, path="/", raw=None):
        self.need_container()
        body = raw if raw is not None else make_tar(entries)
        r = self.d.call("PUT", f"/v1.41/containers/{self.container_id}/archive?path={q(path)}", body,
                        content_type="application/x-tar")
        if r is None:
            return False, "no reply"
        # refusing (4xx) and unpacking inside the root (200) are both fine; intact() checks the host
        return r.status in (200, 400, 403, 404, 409), f"{r.status} {r.message()!r}"

    def archive_put_via_symlink(self):
        self.need_container()
        # a symlink inside the container pointing at a host directory; writing "into" it must stay inside
        r = self.archive_put([("badinput-link2", "symlink", self.guard + "/dir")])
        if not r[0]:
            return r
        r2 = self.d.call("PUT", f"/v1.41/containers/{self.container_id}/archive?path={q('/badinput-link2')}",
                         make_tar([("new", "file", b"x")]), content_type="application/x-tar")
        return r2 is not None and r2.status in (200, 400, 403, 404), f"{r2}"

    def restart_check(self):
        before_v, before_n = self.volume_names(), self.network_names()
        self.d.stop()
        clean = self.d.proc.returncode == 0
        started = self.d.start()
        ok, why = self.intact() if started else (False, "daemon did not start again")
        r = self.d.call("GET", f"/v1.41/volumes/{PREFIX}-keep")
        labels = (r.json() or {}).get("Labels") if r and r.status == 200 else None
        ok = ok and clean and labels == {"keep": "1"} and self.volume_names() == before_v and \
            self.network_names() == before_n
        self.record("restart: every object intact", ok,
                    f"SIGTERM exit {self.d.proc.returncode if not started else 0 if clean else 'non-zero'}; "
                    f"volume labels {labels}; {why or 'volumes, networks, container and host files as before'}")

    def cleanup(self):
        if self.container_id:
            self.d.call("DELETE", f"/v1.41/containers/{self.container_id}?force=1")
        self.d.call("DELETE", f"/v1.41/volumes/{PREFIX}-keep")
        self.d.call("DELETE", f"/v1.41/networks/{PREFIX}-net")
        self.d.stop()


def main():
    if os.geteuid() != 0:
        bt.skip("needs root (containers)")
    for p in (BERTH, "/bin/busybox"):
        if not os.access(p, os.X_OK):
            bt.skip(f"{p} missing")
    tmp = tempfile.mkdtemp(prefix="berth-badinput-")
    s = Suite(tmp)
    try:
        s.setup()
        s.run()
        s.restart_check()
    except Exception as e:
        s.rows.append(("setup", s.tally.record("setup", False), f"{type(e).__name__}: {e}"))
        print(f"FAIL setup: {e}")
    finally:
        try:
            s.cleanup()
        finally:
            if s.d.alive():
                s.d.proc.kill()
            if not os.environ.get("BERTH_TEST_KEEP"):
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print(f"kept {tmp}")
    bt.print_table("berth daemon: bad input", ["case", "result", "detail"], s.rows)
    return s.tally.finish()


if __name__ == "__main__":
    sys.exit(main())
