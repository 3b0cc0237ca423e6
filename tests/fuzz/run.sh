#!/usr/bin/env bash
# run.sh — build the libFuzzer harnesses with clang (a separate CMake
# project, tests/fuzz/CMakeLists.txt, so the main gcc build is untouched)
# and run each for SECONDS (default 10, the CI smoke run). Every committed
# seed under corpus/<name>/ is replayed first (the regress-* files are
# inputs that once crashed), then the fuzzer mutates for the rest of the
# time. Fails if any harness crashes, leaks, trips a sanitizer, hangs or
# breaks one of its own checks; prints how to reproduce.
#
#   tests/fuzz/run.sh                 # 10 s each, one at a time
#   tests/fuzz/run.sh 600             # 10 minutes each
#   JOBS=2 tests/fuzz/run.sh 600 http sse   # two at a time, only these
#
# Env: FUZZ_BUILD (build dir, default <repo>/build-fuzz), JOBS (harnesses
# run at once, default 1). New inputs the fuzzer finds go to
# $FUZZ_BUILD/corpus/<name>/ (not committed); crashes to
# $FUZZ_BUILD/artifacts/. Needs clang and libclang-rt-14-dev; without
# clang it says so and exits 0.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECONDS_EACH=${1:-10}
shift || true
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
JOBS=${JOBS:-1}

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: SKIPPED — clang is not installed (apt-get install clang libclang-rt-14-dev)"
    exit 0
fi
if ! compgen -G "$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-*.a" >/dev/null; then
    echo "fuzz: FAILED — clang has no libFuzzer runtime (apt-get install libclang-rt-14-dev)"
    exit 1
fi

echo "fuzz: building harnesses with $(clang --version | head -1) into $BUILD"
if ! { CC=clang cmake -S "$HERE" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$BUILD.cmake.log" 2>&1 &&
       cmake --build "$BUILD" -j"$(nproc)" >>"$BUILD.cmake.log" 2>&1; }; then
    tail -30 "$BUILD.cmake.log"
    echo "fuzz: FAILED to build (is libclang-rt-14-dev installed? it holds libFuzzer)"
    exit 1
fi

# Per harness: largest input, seconds one input may take before it counts
# as a hang (the config sandbox stops a runaway file after 3 s; the HTTP
# harness itself calls 20 s a hang).
max_len() {
    case $1 in
    http) echo 16384 ;;   # past the harness's 8 KiB body limit
    config) echo 8192 ;;
    *) echo 4096 ;;
    esac
}

names=("$@")
if [[ ${#names[@]} -eq 0 ]]; then
    for bin in "$BUILD"/fuzz_*; do
        [[ -x $bin && ! -d $bin ]] && names+=("${bin##*/fuzz_}")
    done
fi
mkdir -p "$BUILD/logs" "$BUILD/artifacts"

run_one() {
    local name=$1 bin=$BUILD/fuzz_$1
    local seeds=$HERE/corpus/$name work=$BUILD/corpus/$name log=$BUILD/logs/$name.log
    local dict=()
    [[ -f $HERE/dict/$name.dict ]] && dict=(-dict="$HERE/dict/$name.dict")
    mkdir -p "$work" "$seeds"
    # The work corpus comes first: libFuzzer adds what it finds there only.
    ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        "$bin" -max_total_time="$SECONDS_EACH" -timeout=25 -rss_limit_mb=2048 \
        -max_len="$(max_len "$name")" -print_final_stats=1 \
        -artifact_prefix="$BUILD/artifacts/$name-" "${dict[@]}" "$work" "$seeds" >"$log" 2>&1
    echo $? >"$BUILD/logs/$name.rc"
}

summary() {
    local name=$1 log=$BUILD/logs/$1.log rc
    rc=$(cat "$BUILD/logs/$name.rc" 2>/dev/null || echo 99)
    local runs cov execs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
    if [[ $rc == 0 ]]; then
        printf 'fuzz: %-8s ok      %8s runs  %6s exec/s  %s\n' "$name" "${runs:-?}" "${execs:-?}" "${cov:-}"
        return 0
    fi
    printf 'fuzz: %-8s FAILED  (exit %s) after %s runs\n' "$name" "$rc" "${runs:-?}"
    grep -E 'ERROR|SUMMARY|runtime error|fuzz_[a-z]+:|Test unit written' "$log" | head -12 | sed 's/^/      /'
    local art
    art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    [[ -n $art ]] && echo "      reproduce: $BUILD/fuzz_$name $art"
    echo "      full log: $log"
    return 1
}

for name in "${names[@]}"; do
    [[ -x $BUILD/fuzz_$name ]] || { echo "fuzz: no harness fuzz_$name in $BUILD"; exit 1; }
    rm -f "$BUILD/logs/$name.rc"
    run_one "$name" &
    while [[ $(jobs -rp | wc -l) -ge $JOBS ]]; do wait -n; done
done
wait

failed=0
for name in "${names[@]}"; do
    summary "$name" || failed=1
done
if [[ $failed != 0 ]]; then
    echo "fuzz: FAILED"
    exit 1
fi
echo "fuzz: all ${#names[@]} harnesses ran ${SECONDS_EACH}s each without a finding"
