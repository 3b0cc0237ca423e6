#!/bin/sh
# dev.sh — set up, build, run and test moongate on Debian 12.
#   scripts/dev.sh run      install what is missing, build, serve the demo
#   scripts/dev.sh test     install what is missing, build, run every test
#   scripts/dev.sh setup    only install (idempotent)
#   scripts/dev.sh build    only build
# SANITIZE=1 builds with AddressSanitizer + UBSan into build-asan/.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PACKAGES="build-essential cmake pkg-config ca-certificates curl openssl \
libluajit2-5.1-dev luajit2 libev-dev libcurl4-openssl-dev libsqlite3-dev lua-cjson-dev \
libssl-dev libhttp-parser-dev libjansson-dev"
# Tests add: a browser for the dashboard, sqlite3 to read the database,
# clang for the fuzzers.
TEST_PACKAGES="chromium sqlite3 clang libclang-rt-14-dev"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else echo "dev.sh: need root to install packages: $*" >&2; exit 1; fi
}

missing_packages() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
}

setup() {
    want="$PACKAGES"
    [ "${1:-}" = test ] && want="$want $TEST_PACKAGES"
    # Node.js (dashboard assets, test tools): Debian 12's own 18.19 unless
    # a newer one is already installed.
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || want="$want nodejs npm"
    # shellcheck disable=SC2086
    miss=$(missing_packages $want)
    if [ -n "$miss" ]; then
        say "installing Debian packages: $(echo $miss)"
        as_root apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends $miss
    fi
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        say "installing npm packages from package-lock.json (npm ci)"
        npm ci --no-audit --no-fund
    fi
    sh dashboard/build.sh
}

build() {
    dir=build; extra=""
    if [ "${SANITIZE:-0}" = 1 ]; then dir=build-asan; extra="-DMG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"; fi
    say "building into $dir/"
    # shellcheck disable=SC2086
    cmake -S . -B "$dir" $extra >/dev/null
    cmake --build "$dir" -j"$(nproc)"
    BUILD_DIR=$dir
}

case "${1:-}" in
setup) setup "${2:-run}" ;;
build) setup run; build ;;
run)
    setup run; build
    say "starting moongate (Ctrl-C stops it)"
    shift
    exec "$ROOT/$BUILD_DIR/moongate" serve "$@"
    ;;
test)
    setup test; build
    say "running tests"
    if [ "${SANITIZE:-0}" = 1 ]; then
        export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:quarantine_size_mb=16:${ASAN_OPTIONS:-}"
        export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    fi
    cd "$BUILD_DIR" && ctest --output-on-failure -j"${TEST_JOBS:-2}" --timeout 900
    ;;
*) echo "usage: scripts/dev.sh run|test|setup|build" >&2; exit 2 ;;
esac
