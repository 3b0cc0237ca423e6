#!/bin/sh
# build.sh — puts the dashboard's one third-party asset in place: copies
# uPlot (installed by `npm install` from the root package.json) into
# dashboard/vendor/, which the host serves as /dashboard/vendor/. There is
# nothing to compile: the rest of dashboard/ is served as written.
# Idempotent: copies only when a file is missing or differs.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../node_modules/uplot/dist"
dst="$here/vendor"

if [ ! -f "$src/uPlot.iife.min.js" ] || [ ! -f "$src/uPlot.min.css" ]; then
    echo "dashboard/build.sh: $src not found; run 'npm install' in $(cd "$here/.." && pwd) first" >&2
    exit 1
fi
mkdir -p "$dst"
for f in uPlot.iife.min.js uPlot.min.css; do
    if ! cmp -s "$src/$f" "$dst/$f"; then
        cp "$src/$f" "$dst/$f.tmp.$$"
        mv -f "$dst/$f.tmp.$$" "$dst/$f"
        echo "dashboard/build.sh: vendor/$f updated"
    fi
done
