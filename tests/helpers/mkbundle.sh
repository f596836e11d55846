#!/usr/bin/env bash
# mkbundle.sh DIR [JQ-FILTER...]: an OCI bundle for tests: DIR/rootfs (mkrootfs.sh) and DIR/config.json
# from `runc spec` (a neutral default, not berth-runtime's), with process.terminal=false and
# process.args=["/probe","json"], then each JQ-FILTER applied in order, e.g.
#   mkbundle.sh /tmp/b '.process.args=["/bin/echo","hi"]' '.hostname="x"'
set -euo pipefail
export PATH=/usr/sbin:/sbin:$PATH
dir=${1:?usage: mkbundle.sh DIR [JQ-FILTER...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
"$here/mkrootfs.sh" "$dir/rootfs"
rm -f "$dir/config.json"
runc spec --bundle "$dir"
filter='.process.terminal=false | .process.args=["/probe","json"]'
for f in "$@"; do filter="$filter | $f"; done
jq "$filter" "$dir/config.json" > "$dir/config.json.tmp"
mv "$dir/config.json.tmp" "$dir/config.json"
