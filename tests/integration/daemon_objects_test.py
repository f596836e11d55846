#!/usr/bin/env python3
"""`berth daemon` objects driven by the real docker CLI (v28) on a temporary unix socket and data root:
  docker volume create/ls/inspect/rm/prune (labels, filters, in-use refusal via a reference file),
  docker network create/ls/inspect/connect/disconnect/rm/prune (predefined networks, 403s, duplicate names),
  docker events --since/--until (+ filters), docker system df, docker push/pull against `berth registry serve`
  on loopback (progress stream, 404 for a missing tag), docker save/load, docker import, docker login
  (htpasswd-protected `berth registry serve`: good and bad passwords).
Needs no root. Exits 77 (skip) when berth, docker or busybox are missing."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemons as dm  # noqa: E402
from daemons import BERTH, FAILURES, check, stop_daemon  # noqa: E402

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def bcrypt_hash(pw):
    """An htpasswd bcrypt entry via libcrypt (Python's crypt module), or None."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import crypt
            h = crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH))
            return h if h and h.startswith("$2") else None
        except Exception:
            return None


def start_daemon(tmp, data, sock, extra=()):
    return dm.start_berth_daemon(data, os.path.join(tmp, "exec"), sock, os.path.join(tmp, "daemon.log"),
                                 ["--log-format", "text", *extra])


def containers_checks(docker, data):
    """Volumes referenced by containers, container events, system df with containers."""
    t1 = time.time()
    r = docker("run", "--name", "objvc", "-v", "objdata:/data", "busybox", "sh", "-c",
               "echo persisted > /data/f; dd if=/dev/zero of=/blob bs=1000 count=5 2>/dev/null")
    if r.returncode != 0:
        check(False, f"docker run -v objdata:/data ({r.stderr.strip()})")
        return
    r = docker("volume", "rm", "objdata")
    check(r.returncode != 0 and "volume is in use" in r.stderr, f"volume in use by a container is refused: {r.stderr.strip()}")
    r = docker("volume", "prune", "-f")
    check(r.returncode == 0 and "objdata" not in r.stdout, "prune keeps a volume a container uses")
    raw = run(["curl", "-sS", "--unix-socket", docker.sock, "http://x/v1.41/system/df"])
    j = json.loads(raw.stdout) if raw.returncode == 0 else {}
    cs = {c["Names"][0]: c for c in j.get("Containers") or []}
    c = cs.get("/objvc") or {}
    check(c.get("SizeRw") == 5000 and c.get("SizeRootFs", 0) > 5000,
          f"system df: the container's writable layer (5000 bytes written) and rootfs sizes {c}")
    vu = {v["Name"]: v.get("UsageData") for v in j.get("Volumes") or []}
    check(vu.get("objdata") == {"RefCount": 1, "Size": 10}, f"system df: objdata used once, 10 bytes ({vu.get('objdata')})")
    imgs = j.get("Images") or []
    check(any(i.get("Containers") == 1 for i in imgs), "system df: the image counts its container")
    r = docker("rm", "objvc")
    check(r.returncode == 0, "rm the container")
    r = docker("run", "--rm", "-v", "objdata:/data", "busybox", "cat", "/data/f")
    check(r.returncode == 0 and r.stdout.strip() == "persisted", f"the named volume outlived its container: {r.stdout.strip()}")
    r = docker("volume", "rm", "objdata")
    check(r.returncode == 0, f"volume rm once no container uses it ({r.stderr.strip()})")
    # local driver options: a tmpfs volume is mounted while a container uses it
    r = docker("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=8m", "objtmp")
    check(r.returncode == 0, f"volume create with tmpfs options ({r.stderr.strip()})")
    r = docker("run", "--rm", "-v", "objtmp:/t", "busybox", "sh", "-c", "df -k /t | tail -1")
    fields = r.stdout.split()
    check(r.returncode == 0 and len(fields) > 1 and fields[1] == "8192", f"the container sees an 8 MiB tmpfs: {r.stdout.strip()} {r.stderr.strip()}")
    mp = os.path.join(data, "volumes/objtmp/_data")
    check(f" {mp} " not in open("/proc/self/mountinfo").read(), "the tmpfs is unmounted once no container uses it")
    docker("volume", "rm", "objtmp")
    t2 = time.time() + 1
    r = docker("events", "--since", f"{t1:.3f}", "--until", f"{t2:.3f}", "--filter", "container=objvc",
               "--format", "{{.Type}} {{.Action}}")
    acts = r.stdout.split("\n")
    check("container create" in acts and "container start" in acts and "container die" in acts and "container destroy" in acts,
          f"container events through the bus, filtered by name: {acts}")
    r = docker("events", "--since", f"{t1:.3f}", "--until", f"{t2:.3f}", "--filter", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}")
    check("create objdata" in r.stdout and "destroy objdata" in r.stdout, f"volume events for the implicit volume: {r.stdout.strip()}")


def main():
    for p in (BERTH, DOCKER, "/bin/busybox"):
        if not os.access(p, os.X_OK):
            print(f"skip: {p} missing")
            return 77
    tmp = tempfile.mkdtemp(prefix="objects-daemon-")
    data = os.path.join(tmp, "data")
    sock = os.path.join(tmp, "objects.sock")
    env = dict(os.environ, DOCKER_CONFIG=os.path.join(tmp, "dockercfg"))
    env.pop("DOCKER_HOST", None)
    H = ["-H", "unix://" + sock]
    daemon = reg = reg_auth = None

    def docker(*a, **kw):
        return run([DOCKER] + H + list(a), env=env, **kw)
    docker.sock = sock

    try:
        r = run([BERTH, "image", "--root", data, "bootstrap", "busybox"])
        check(r.returncode == 0, f"bootstrap busybox into the data root ({r.stderr.strip()})")
        daemon = start_daemon(tmp, data, sock)
        check(os.path.exists(sock), "daemon created its socket")
        t0 = time.time()

        # ---- volumes ----
        r = docker("volume", "create", "objv1")
        check(r.returncode == 0 and r.stdout.strip() == "objv1", f"volume create prints the name ({r.stderr.strip()})")
        r = docker("volume", "create", "--label", "tier=db", "--label", "x", "objv2")
        check(r.returncode == 0, "volume create with labels")
        r = docker("volume", "create")
        anon = r.stdout.strip()
        check(r.returncode == 0 and len(anon) == 64, f"anonymous volume gets a 64-hex name ({anon})")
        r = docker("volume", "create", "objv1")
        check(r.returncode == 0 and r.stdout.strip() == "objv1", "creating an existing name is idempotent")
        r = docker("volume", "create", "bad/name")
        check(r.returncode != 0 and "invalid characters" in r.stderr, f"invalid volume name refused: {r.stderr.strip()}")
        r = docker("volume", "create", "-o", "bogus=1", "objv3")
        check(r.returncode != 0 and "invalid option key" in r.stderr, "unknown local driver option refused")
        r = docker("volume", "ls", "--format", "{{.Name}} {{.Driver}}")
        names = sorted(r.stdout.split("\n"))
        check(r.returncode == 0 and "objv1 local" in names and "objv2 local" in names and f"{anon} local" in names,
              f"volume ls lists all three: {r.stdout.strip()}")
        r = docker("volume", "ls", "-q", "--filter", "label=tier=db")
        check(r.returncode == 0 and r.stdout.split() == ["objv2"], f"volume ls --filter label=tier=db: {r.stdout.strip()}")
        r = docker("volume", "ls", "-q", "--filter", "name=objv")
        check(sorted(r.stdout.split()) == ["objv1", "objv2"], "volume ls --filter name=objv")
        r = docker("volume", "inspect", "objv2")
        v = json.loads(r.stdout)[0] if r.returncode == 0 else {}
        check(v.get("Mountpoint") == os.path.join(data, "volumes/objv2/_data") and v.get("Labels") == {"tier": "db", "x": ""}
              and v.get("Scope") == "local" and v.get("CreatedAt", "").endswith("Z"), f"volume inspect fields: {v}")
        check(os.path.isdir(os.path.join(data, "volumes/objv2/_data")), "the volume's _data directory exists")
        with open(os.path.join(data, "volumes/objv1/_data/blob"), "wb") as f:
            f.write(b"x" * 300000)
        r = docker("volume", "inspect", "nosuchvol")
        check(r.returncode != 0 and "no such volume" in r.stderr.lower(), f"inspect of a missing volume: {r.stderr.strip()}")

        # system df sees the volume's bytes
        r = docker("system", "df", "-v", "--format", "{{json .}}")
        df = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip().startswith("{") else {}
        vols = {x.get("Name"): x for x in (df.get("Volumes") or [])}
        check(r.returncode == 0 and "objv1" in vols, f"system df -v lists volumes ({r.stderr.strip()})")
        if "objv1" in vols:
            check(vols["objv1"].get("Size", "") in ("300kB", "300.0kB"), f"system df: objv1 size {vols['objv1'].get('Size')}")
        r = docker("system", "df")
        check(r.returncode == 0 and "Images" in r.stdout and "Local Volumes" in r.stdout and "Build Cache" in r.stdout,
              f"system df table:\n{r.stdout}")
        raw = run(["curl", "-sS", "--unix-socket", sock, "http://x/v1.41/system/df"]) if shutil.which("curl") else None
        if raw and raw.returncode == 0:
            j = json.loads(raw.stdout)
            imgs = j.get("Images") or []
            check(len(imgs) == 1 and imgs[0].get("Size", 0) > 0 and j.get("LayersSize") == imgs[0]["Size"],
                  "system df: LayersSize equals the one image's layer bytes")
            vu = {x["Name"]: x.get("UsageData") for x in j.get("Volumes") or []}
            check(vu.get("objv1") == {"RefCount": 0, "Size": 300000}, f"system df: UsageData of objv1 {vu.get('objv1')}")

        r = docker("volume", "rm", "objv2")
        check(r.returncode == 0 and r.stdout.strip() == "objv2", "volume rm")
        check(not os.path.exists(os.path.join(data, "volumes/objv2")), "volume rm removes its directory")
        r = docker("volume", "rm", "objv2")
        check(r.returncode != 0 and "no such volume" in r.stderr.lower(), "volume rm of a missing volume fails")
        # 1.41 semantics: prune removes every unused volume (the CLI says so)
        r = docker("volume", "prune", "-f")
        check(r.returncode == 0 and anon in r.stdout and "objv1" in r.stdout and "Total reclaimed space" in r.stdout,
              f"volume prune -f:\n{r.stdout}")
        r = docker("volume", "ls", "-q")
        check(r.returncode == 0 and r.stdout.strip() == "", "no volumes left after prune")

        # ---- networks ----
        r = docker("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}")
        check(r.returncode == 0 and {"bridge bridge local", "host host local", "none null local"} <= set(r.stdout.split("\n")),
              f"network ls shows the predefined networks:\n{r.stdout}")
        r = docker("network", "create", "objn1")
        nid = r.stdout.strip()
        check(r.returncode == 0 and len(nid) == 64, f"network create prints the ID ({r.stderr.strip()})")
        r = docker("network", "create", "objn1")
        check(r.returncode != 0 and "already exists" in r.stderr, f"duplicate network name: {r.stderr.strip()}")
        r = docker("network", "create", "--subnet", "10.77.0.0/24", "--gateway", "10.77.0.254", "--label", "a=b", "objn2")
        check(r.returncode == 0, f"network create with IPAM config ({r.stderr.strip()})")
        r = docker("network", "inspect", "objn2")
        n2 = json.loads(r.stdout)[0] if r.returncode == 0 else {}
        check((n2.get("IPAM") or {}).get("Config") == [{"Subnet": "10.77.0.0/24", "Gateway": "10.77.0.254"}]
              and n2.get("Labels") == {"a": "b"} and n2.get("Driver") == "bridge", f"network inspect IPAM/labels: {n2}")
        r = docker("network", "inspect", nid[:12])
        n1 = json.loads(r.stdout)[0] if r.returncode == 0 else {}
        check(n1.get("Name") == "objn1" and n1.get("IPAM", {}).get("Config", [{}])[0].get("Subnet") == "172.18.0.0/16",
              f"network inspect by ID prefix; first free subnet: {n1.get('IPAM')}")
        r = docker("network", "ls", "-q", "--filter", "label=a=b")
        check(r.returncode == 0 and len(r.stdout.split()) == 1 and n2.get("Id", "x").startswith(r.stdout.strip()),
              "network ls --filter label")
        r = docker("network", "ls", "--filter", "type=custom", "--format", "{{.Name}}")
        check(sorted(r.stdout.split()) == ["objn1", "objn2"], f"network ls --filter type=custom: {r.stdout.split()}")
        # connect/disconnect: endpoints are runtime state of running containers; the container records which
        # networks it is attached to (docker inspect). A running container by name when the daemon can run
        # one, else a created one (attached, no endpoint), else a raw container ID (a daemon without
        # containers: the network objects do not need the container to exist)
        cid = target = "ab" * 32
        running = False
        r = docker("run", "-d", "--name", "objc", "busybox", "sleep", "300")
        if r.returncode == 0:
            cid, target, running = r.stdout.strip(), "objc", True
        else:
            docker("rm", "-f", "objc")
            r = docker("create", "--name", "objc", "busybox", "true")
            if r.returncode == 0:
                cid, target = r.stdout.strip(), "objc"
        has_endpoint = running or target != "objc"

        def ctr_networks():
            r = docker("inspect", "objc", "--format", "{{json .NetworkSettings.Networks}}")
            return json.loads(r.stdout) if r.returncode == 0 else {}

        rc = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock, "-X", "POST",
                  "-H", "Content-Type: application/json", "-d", json.dumps({"Container": target}),
                  "http://x/v1.41/networks/objn1/connect"])
        check(rc.stdout == "200", f"POST /networks/objn1/connect {target} -> {rc.stdout}")
        rc = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock, "-X", "POST",
                  "-H", "Content-Type: application/json", "-d", json.dumps({"Container": target}),
                  "http://x/v1.41/networks/host/connect"])
        check(rc.stdout == "403", f"connecting to the host network is refused -> {rc.stdout}")
        r = docker("network", "inspect", "objn1", "--format", "{{json .Containers}}")
        eps = json.loads(r.stdout) if r.returncode == 0 else {}
        if has_endpoint:
            check(cid in eps and eps[cid].get("IPv4Address") == "172.18.0.2/16", f"endpoint recorded with an address: {eps}")
            r = docker("network", "rm", "objn1")
            check(r.returncode != 0 and "has active endpoints" in r.stderr, f"network rm with endpoints is refused: {r.stderr.strip()}")
        else:
            check(not eps, f"a created container has no endpoint until it starts: {eps}")
        if target == "objc":
            nets = ctr_networks()
            want_ip = "172.18.0.2" if running else ""
            check("objn1" in nets and nets["objn1"].get("NetworkID") == nid and nets["objn1"].get("IPAddress") == want_ip
                  and (nets["objn1"].get("EndpointID") == eps.get(cid, {}).get("EndpointID", "")) and "bridge" in nets,
                  f"docker inspect shows the connected network: {nets}")
            r = docker("network", "connect", "objn1", "objc")
            check(r.returncode != 0 and "already exists" in r.stderr, f"a second connect is refused: {r.stderr.strip()}")
        rc = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock, "-X", "POST",
                  "-H", "Content-Type: application/json", "-d", json.dumps({"Container": target}),
                  "http://x/v1.41/networks/objn1/disconnect"])
        check(rc.stdout == "200", "POST /networks/objn1/disconnect")
        if target == "objc":
            nets = ctr_networks()
            check("objn1" not in nets and "bridge" in nets, f"docker inspect after disconnect: {nets}")
            # the docker CLI's connect / disconnect (with an alias and an address)
            r = docker("network", "connect", "--alias", "objweb", "--ip", "172.18.0.9", "objn1", "objc")
            check(r.returncode == 0, f"docker network connect --alias --ip ({r.stderr.strip()})")
            nets = ctr_networks()
            ip = nets.get("objn1", {}).get("IPAddress")
            check("objn1" in nets and "objweb" in (nets["objn1"].get("Aliases") or []) and ip == ("172.18.0.9" if running else ""),
                  f"docker inspect shows the alias and address: {nets}")
            r = docker("ps", "-a", "--filter", "network=objn1", "--format", "{{.Names}}")
            check(r.stdout.split() == ["objc"], f"ps --filter network= sees a connected network: {r.stdout.split()}")
            r = docker("network", "disconnect", "objn1", "objc")
            check(r.returncode == 0 and "objn1" not in ctr_networks(), f"docker network disconnect ({r.stderr.strip()})")
            r = docker("network", "inspect", "objn1", "--format", "{{json .Containers}}")
            check(r.returncode == 0 and json.loads(r.stdout) in ({}, None), f"no endpoint left: {r.stdout.strip()}")
            docker("rm", "-f", "objc")
        r = docker("network", "rm", "bridge")
        check(r.returncode != 0 and "pre-defined network" in r.stderr, f"predefined network cannot be removed: {r.stderr.strip()}")
        r = docker("network", "rm", "objn1")
        check(r.returncode == 0, f"network rm ({r.stderr.strip()})")
        r = docker("network", "inspect", "objn1")
        check(r.returncode != 0 and "not found" in r.stderr, "removed network is gone")
        r = docker("network", "prune", "-f")
        check(r.returncode == 0 and "objn2" in r.stdout, f"network prune:\n{r.stdout}")

        # the networks and predefined IDs survive a restart
        r = docker("network", "inspect", "bridge", "--format", "{{.Id}}")
        bridge_id = r.stdout.strip()
        docker("volume", "create", "objkeep")
        check(stop_daemon(daemon) == 0, "daemon stops on SIGTERM")
        daemon = start_daemon(tmp, data, sock)
        r = docker("network", "inspect", "bridge", "--format", "{{.Id}}")
        check(r.returncode == 0 and r.stdout.strip() == bridge_id, "bridge keeps its ID across a restart")
        r = docker("volume", "ls", "-q")
        check(r.stdout.split() == ["objkeep"], "volumes survive a restart")

        # ---- events ----
        t1 = time.time()
        docker("volume", "create", "objev")
        docker("volume", "rm", "objev")
        docker("network", "create", "objevn")
        docker("network", "rm", "objevn")
        docker("tag", "busybox", "objtag:1")
        docker("rmi", "objtag:1")
        t2 = time.time() + 1
        r = docker("events", "--since", f"{t1:.3f}", "--until", f"{t2:.3f}", "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}")
        lines = r.stdout.strip().split("\n")
        check(r.returncode == 0, f"docker events --since --until ends by itself ({r.stderr.strip()})")
        check("volume create objev" in lines and "volume destroy objev" in lines, f"volume events: {lines}")
        check(any(l.startswith("network create ") for l in lines) and any(l.startswith("network destroy ") for l in lines),
              "network create/destroy events")
        check(any(l.startswith("image tag ") for l in lines) and any(l.startswith("image untag ") for l in lines),
              "image tag/untag events")
        r = docker("events", "--since", f"{t1:.3f}", "--until", f"{t2:.3f}", "--filter", "type=volume",
                   "--filter", "event=destroy", "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}")
        check(r.stdout.strip().split("\n") == ["volume destroy objev"], f"events filters type+event: {r.stdout.strip()}")
        r = docker("events", "--since", f"{t1:.3f}", "--until", f"{t2:.3f}", "--filter", "volume=objev", "--format", "{{json .}}")
        evs = [json.loads(l) for l in r.stdout.strip().split("\n") if l]
        check(len(evs) == 2 and all(e.get("timeNano", 0) // 10**9 == e.get("time") for e in evs), "events carry time and timeNano")
        # a live subscriber sees an event published after it started, then stops at --until
        until = time.time() + 4
        live = subprocess.Popen([DOCKER] + H + ["events", "--until", f"{until:.3f}", "--filter", "type=volume",
                                               "--format", "{{.Action}} {{.Actor.ID}}"], env=env, stdout=subprocess.PIPE,
                                text=True)
        time.sleep(1)
        docker("volume", "create", "objlive")
        out, _ = live.communicate(timeout=30)
        check("create objlive" in out, f"live events stream: {out.strip()}")
        docker("volume", "rm", "objlive")

        # ---- image transfer against berth registry serve ----
        reg, host = dm.start_berth_registry(os.path.join(tmp, "registry"))
        r = docker("tag", "busybox", f"{host}/objbb:v1")
        r = docker("push", f"{host}/objbb:v1")
        check(r.returncode == 0 and "digest: sha256:" in r.stdout and "Pushed" in r.stdout,
              f"docker push to berth registry serve:\n{r.stdout}{r.stderr}")
        r = docker("rmi", f"{host}/objbb:v1")
        check(r.returncode == 0, "rmi the pushed name")
        r = docker("pull", f"{host}/objbb:v1")
        check(r.returncode == 0 and "Digest: sha256:" in r.stdout and f"{host}/objbb:v1" in r.stdout,
              f"docker pull from berth registry serve:\n{r.stdout}{r.stderr}")
        r = docker("images", "--format", "{{.Repository}}:{{.Tag}}")
        check(f"{host}/objbb:v1" in r.stdout.split(), "pulled image listed")
        raw = run(["curl", "-sS", "-D", "-", "--unix-socket", sock, "-X", "POST",
                   f"http://x/v1.41/images/create?fromImage={host}%2Fobjbb&tag=v1"])
        body = raw.stdout.replace("\r\n", "\n").split("\n\n", 1)[-1]
        msgs = [json.loads(l) for l in body.splitlines() if l.strip().startswith("{")]
        check(any(m.get("status", "").startswith("Pulling from objbb") for m in msgs)
              and any("Image is up to date" in m.get("status", "") for m in msgs), f"pull JSON stream: {msgs}")
        r = docker("pull", f"{host}/nope:v9")
        check(r.returncode != 0 and ("not found" in r.stderr or "unknown" in r.stderr), f"pull of a missing tag: {r.stderr.strip()}")
        code = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock, "-X", "POST",
                    f"http://x/v1.41/images/create?fromImage={host}%2Fnope&tag=v9"]).stdout
        check(code == "404", f"pull of a missing tag is a 404 before streaming ({code})")

        # ---- save / load ----
        tarball = os.path.join(tmp, "bb.tar")
        r = docker("save", "-o", tarball, "busybox:latest")
        check(r.returncode == 0 and os.path.getsize(tarball) > 100000, f"docker save ({r.stderr.strip()})")
        listing = run(["tar", "-tf", tarball]).stdout.split()
        check("manifest.json" in listing and "index.json" in listing, "save: docker-save manifest.json and OCI index.json")
        docker("rmi", "-f", "busybox:latest", f"{host}/objbb:v1")
        r = docker("load", "-i", tarball)
        check(r.returncode == 0 and "Loaded image: busybox:latest" in r.stdout, f"docker load: {r.stdout.strip()} {r.stderr.strip()}")
        r = docker("run", "--help")  # keeps the CLI honest about the daemon still answering after a large body
        r = docker("images", "--format", "{{.Repository}}:{{.Tag}}")
        check("busybox:latest" in r.stdout.split(), "loaded image listed")

        # ---- import ----
        rootfs = os.path.join(tmp, "rootfs.tar")
        d = os.path.join(tmp, "rootfs")
        os.makedirs(os.path.join(d, "bin"))
        shutil.copy("/bin/busybox", os.path.join(d, "bin/busybox"))
        run(["tar", "-C", d, "-cf", rootfs, "."])
        r = docker("import", rootfs, "objimp:1")
        check(r.returncode == 0 and r.stdout.strip().startswith("sha256:"), f"docker import: {r.stdout.strip()} {r.stderr.strip()}")
        r = docker("image", "inspect", "objimp:1", "--format", "{{len .RootFS.Layers}}")
        check(r.stdout.strip() == "1", "imported image has one layer")

        # ---- login ----
        hashed = bcrypt_hash("objpass")
        if hashed:
            hp = os.path.join(tmp, "htpasswd")
            with open(hp, "w") as f:
                f.write(f"objuser:{hashed}\n")
            reg_auth, ahost = dm.start_berth_registry(os.path.join(tmp, "registry-auth"), ["--htpasswd", hp])
            r = run([DOCKER] + H + ["login", "-u", "objuser", "--password-stdin", ahost], env=env, input="objpass\n")
            check(r.returncode == 0 and "Login Succeeded" in r.stdout, f"docker login good password: {r.stdout.strip()} {r.stderr.strip()}")
            r = run([DOCKER] + H + ["login", "-u", "objuser", "--password-stdin", ahost], env=env, input="wrong\n")
            check(r.returncode != 0 and ("unauthorized" in r.stderr.lower() or "401" in r.stderr), f"docker login bad password: {r.stderr.strip()}")
            # an authenticated push uses the stored credentials (X-Registry-Auth)
            docker("tag", "busybox", f"{ahost}/objpriv:v1")
            r = docker("push", f"{ahost}/objpriv:v1")
            check(r.returncode == 0 and "digest: sha256:" in r.stdout, f"push with X-Registry-Auth: {r.stdout.strip()} {r.stderr.strip()}")
        else:
            print("skip: docker login (no bcrypt in this Python)")

        # ---- with containers (root: they run) ----
        if os.geteuid() == 0:
            containers_checks(docker, data)
        else:
            print("skip: container-backed checks (not root)")

        r = docker("version")
        check(r.returncode == 0, "daemon still serving at the end")
        del t0
    finally:
        for p in (reg, reg_auth):
            if p:
                p.kill()
                p.wait()
        check(stop_daemon(daemon) == 0, "daemon exits 0 on SIGTERM")
        if FAILURES:
            print(f"daemon log: {os.path.join(tmp, 'daemon.log')}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return dm.finish()


if __name__ == "__main__":
    sys.exit(main())
