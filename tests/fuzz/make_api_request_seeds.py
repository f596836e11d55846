#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_api_request (tests/fuzz/corpus/api_request/) from the captured docker CLI
requests (docs: /work/shared/reference/docker-engine-api/decoded_all.txt and examples/*.req.json) plus a
few hand-written malformed requests. Seed format: "METHOD TARGET\\n", header lines, an empty line, the body.
    tests/fuzz/make_api_request_seeds.py [decoded_all.txt] [examples_dir]
"""
import hashlib
import os
import re
import sys

REF = "/work/shared/reference/docker-engine-api"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "api_request")
KEEP = ("content-type", "transfer-encoding", "x-registry-auth", "upgrade", "connection", "expect")


def seed(method, target, headers, body):
    text = f"{method} {target}\n" + "".join(f"{k}: {v}\n" for k, v in headers) + "\n" + body
    return text.encode()


def from_capture(path):
    seen = {}
    lines = open(path, errors="replace").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^>>> ([A-Z]+) (\S+) HTTP/1\.1$", lines[i])
        i += 1
        if not m:
            continue
        method, target = m.groups()
        headers = []
        while i < len(lines) and lines[i].startswith(">>> "):
            k, _, v = lines[i][4:].partition(": ")
            if k.lower() in KEEP:
                headers.append((k, v))
            i += 1
        body = ""
        if i < len(lines) and lines[i].startswith("  ") and lines[i].strip().startswith(("{", "[")):
            body = lines[i][2:] + "\n"
        key = (method, re.sub(r"[0-9a-f]{64}", "ID", target.split("?")[0]), body[:200])
        seen.setdefault(key, seed(method, target, headers, body))
    return list(seen.values())


def from_examples(d):
    routes = {"containers_create": "POST /v1.41/containers/create?name=web", "exec_create": "POST /v1.41/containers/web/exec",
              "network_create": "POST /v1.41/networks/create", "volume_create": "POST /v1.41/volumes/create"}
    out = []
    for f in sorted(os.listdir(d)):
        if not f.endswith(".req.json"):
            continue
        for prefix, line in routes.items():
            if f.startswith(prefix):
                method, target = line.split(" ")
                out.append(seed(method, target, [("Content-Type", "application/json")], open(os.path.join(d, f)).read()))
    return out


BAD = [
    ("POST", "/v1.41/containers/create", [], '{"Image": "busybox", "Cmd": "not-a-list"'),
    ("POST", "/v1.41/containers/create?name=a/b", [], '{"Image": "busybox", "HostConfig": {"Memory": "lots"}}'),
    ("POST", "/v1.41/containers/create", [], '{"Image": 7, "Env": {"A": 1}, "HostConfig": []}'),
    ("POST", "/v1.41/containers/create", [("Transfer-Encoding", "chunked")], '[1,2,3]'),
    ("POST", "/v1.41/volumes/create", [], '{"Name": "../../etc", "Labels": ["x"]}'),
    ("POST", "/v1.41/volumes/create", [], '{"Name": 5}'),
    ("POST", "/v1.41/networks/create", [], '{"Name": "n/1", "IPAM": {"Config": [1, {"Subnet": 2}]}}'),
    ("POST", "/v1.41/networks/n1/disconnect", [], '{"Container": "web", "Force": "yes"}'),
    ("POST", "/v1.41/networks/n1/connect", [], '{"Container": ["web"], "EndpointConfig": {"Aliases": [1]}}'),
    ("POST", "/v1.41/exec/abc/start", [], '{"Detach": "no", "Tty": 1}'),
    ("POST", "/v1.41/auth", [], '"just a string"'),
    ("GET", "/v1.41/containers/json?filters=%7B%22status%22%3A%5B1%5D%7D&limit=x", [], ""),
    ("GET", "/v1.41/events?since=abc&until=-1&filters=%7B%22type%22%3A%7B%22x%22%3Atrue%7D%7D", [], ""),
    ("GET", "/v1.41/containers/web/archive?path=../../etc/passwd", [], ""),
    ("PUT", "/v1.41/containers/web/archive?path=/&noOverwriteDirNonDir=true", [("Content-Type", "application/x-tar")], "\0" * 1024),
    ("GET", "/v1.99/version", [], ""),
    ("GET", "/v1.2/version", [], ""),
    ("GET", "/v1.41/volumes/..%2F..%2Fetc", [], ""),
    ("DELETE", "/v1.41/volumes/a/b", [], ""),
    ("POST", "/v1.41/containers/web/resize?h=-1&w=99999999999", [], ""),
    ("POST", "/v1.41/containers/web/wait?condition=bogus", [], ""),
    ("POST", "/v1.41/containers/web/attach?stream=1&stdout=1", [("Upgrade", "tcp"), ("Connection", "Upgrade")], ""),
    ("POST", "/v1.41/images/create?fromImage=a%00b&tag=%ff", [("X-Registry-Auth", "!!!notbase64")], ""),
    ("GET", "/v1.41/nope/%%%", [], ""),
]


def main():
    capture = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REF, "decoded_all.txt")
    examples = sys.argv[2] if len(sys.argv) > 2 else os.path.join(REF, "examples")
    seeds = from_capture(capture) + from_examples(examples) + [seed(*b) for b in BAD]
    os.makedirs(OUT, exist_ok=True)
    for s in seeds:
        with open(os.path.join(OUT, hashlib.sha1(s).hexdigest()[:16]), "wb") as f:
            f.write(s)
    print(f"{len(seeds)} seeds in {OUT}")


if __name__ == "__main__":
    main()
