#!/usr/bin/env bash
# mkrootfs.sh DIR: a busybox root filesystem for tests, from Debian's busybox-static.
#   - /bin/busybox copied once, every applet installed as a hard link to it (bin/, sbin/, usr/bin/, usr/sbin/)
#   - /etc/passwd, /etc/group: root, nobody, app (uid 1000, gid 1000, supplementary group extra 1001)
#   - /etc/hostname, empty proc/ sys/ dev/ tmp/ (1777) run/ root/ home/app/
#   - the probe as /probe (PROBE=path, default build/tests/helpers/probe/probe; skipped with PROBE=none)
# DIR must not exist or be empty. Takes about 30 ms. With BERTH_ROOTFS_TEMPLATE=DIR (a rootfs made by this
# script) it copies that instead (cp -a keeps the hard links).
set -euo pipefail
export PATH=/usr/sbin:/sbin:$PATH
dir=${1:?usage: mkrootfs.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
busybox=${BUSYBOX:-/bin/busybox}
probe=${PROBE:-${BERTH_BUILD_DIR:-$src/build}/tests/helpers/probe/probe}

mkdir -p "$dir"
if [ -n "$(ls -A "$dir")" ]; then
  echo "mkrootfs: $dir is not empty" >&2
  exit 1
fi
if [ -n "${BERTH_ROOTFS_TEMPLATE:-}" ]; then
  cp -a "$BERTH_ROOTFS_TEMPLATE/." "$dir/"
  exit 0
fi
[ -x "$busybox" ] || { echo "mkrootfs: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
if ! file_out=$(LC_ALL=C od -An -c -N4 "$busybox" 2>/dev/null) || [[ $file_out != *E*L*F* ]]; then
  echo "mkrootfs: $busybox is not an ELF binary" >&2
  exit 1
fi

cd "$dir"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp run root home/app var/tmp
chmod 1777 tmp var/tmp
chmod 0700 root
cp "$busybox" bin/busybox
chmod 0755 bin/busybox
# Every applet as a hard link (busybox --list-full: "usr/bin/awk", ...). As root busybox installs them
# itself in one process; otherwise one ln per applet (about 1 s).
if [ "$(id -u)" = 0 ] && chroot . /bin/busybox --install 2>/dev/null; then
  :
else
  while IFS= read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    ln -f bin/busybox "$applet"
  done < <("$busybox" --list-full)
fi
[ -e bin/sh ] || ln -f bin/busybox bin/sh

cat > etc/passwd <<'PW'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > etc/group <<'GR'
root:x:0:
app:x:1000:
extra:x:1001:app
nogroup:x:65534:
GR
echo berth-test > etc/hostname
chown 1000:1000 home/app 2>/dev/null || true

if [ "$probe" != none ]; then
  [ -x "$probe" ] || { echo "mkrootfs: probe $probe not built (cmake --build build --target probe)" >&2; exit 1; }
  cp "$probe" probe
  chmod 0755 probe
fi
