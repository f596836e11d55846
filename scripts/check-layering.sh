#!/usr/bin/env bash
# Checks that modules include only headers of modules to their left (docs/ARCHITECTURE.md):
#   base <- sys <- oci <- runtime/{cgroup,seccomp,rootfs} <- runtime
#   oci <- image/* <- image <- registry ; runtime + image <- engine <- api ; cmd may include anything.
set -euo pipefail
cd "$(dirname "$0")/.."
allowed() {  # module -> space-separated list of include prefixes it may use
  case "$1" in
    base) echo "base" ;;
    sys) echo "base sys" ;;
    oci) echo "base sys oci" ;;
    runtime/cgroup|runtime/seccomp) echo "base sys oci $1" ;;
    runtime/rootfs) echo "base sys oci runtime/rootfs" ;;
    runtime) echo "base sys oci runtime" ;;
    net) echo "base net" ;;
    image*) echo "base sys oci net image" ;;
    registry) echo "base sys oci net image registry" ;;
    engine) echo "base sys oci net runtime image engine" ;;
    api) echo "base oci net engine api" ;;
    cluster) echo "base oci net api cluster" ;;
    *) echo "" ;;
  esac
}
bad=0
while IFS= read -r f; do
  rel=${f#src/}
  mod=$(dirname "$rel")
  case "$mod" in
    runtime/cgroup*|runtime/seccomp*|runtime/rootfs*) mod=$(echo "$mod" | cut -d/ -f1-2) ;;
    *) mod=$(echo "$mod" | cut -d/ -f1) ;;
  esac
  ok=$(allowed "$mod")
  while IFS= read -r inc; do
    [ -z "$inc" ] && continue
    top=$(echo "$inc" | cut -d/ -f1)
    two=$(echo "$inc" | cut -d/ -f1-2)
    pass=0
    for a in $ok; do
      if [ "$a" = "$top" ] || [ "$a" = "$two" ]; then pass=1; fi
    done
    if [ $pass = 0 ]; then echo "layering: $f includes \"$inc\" (module $mod may use: $ok)"; bad=1; fi
  done < <(grep -hoE '^#include "[^"]+"' "$f" | sed -E 's/#include "([^"]+)"/\1/' | grep '/' || true)
done < <(find src -name '*.h' -o -name '*.cc' | grep -v '/testing/' | grep -v '_test\.cc$')
[ $bad = 0 ] && echo "layering: ok"
exit $bad
