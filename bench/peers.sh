#!/usr/bin/env bash
# bench/peers.sh - `make bench-peers`: Sluice and the npm peers (mint-filter,
# obscenity, leo-profanity, bad-words) on the same inputs in one run, then
# Sluice with 1 and 2 threads sharing one engine, then instruction counts
# under callgrind (bench/callgrind.sh). Prints a Markdown report and keeps
# it, with the raw rows, in $BUILD/bench/peers-report/.
#
# How: $BUILD/bench/peers (bench/peers.c) loads the corpora and the term
# lists, compiles Sluice's policies, writes every input to a temporary
# directory and measures Sluice on them; bench/peers/run.mjs reads the same
# files and measures the peers; bench/peers/report.mjs joins the rows.
# The peers come from npm, pinned by bench/peers/package-lock.json, and
# are installed with `npm ci` into bench/peers/node_modules/ (gitignored)
# when missing or older than the lock file. Nothing here is part of
# `make test`.
#
# Environment:
#   BUILD                  build directory (default build)
#   SLUICE_DATA            data directory (default ../shared/data; if it is
#                          missing, one line is printed and the exit is 0)
#   BENCH_PEERS_STAGES     default "sluice peers threads report callgrind"
#   BENCH_PEERS_MIN_TIME   seconds of timed passes per measurement (1)
#   BENCH_PEERS_MIN_REPS   at least this many timed passes (3)
#   BENCH_PEERS_MAX_REPS   at most this many (30)
#   BENCH_PEERS_SHORT      100-character strings per language (10000)
#   BENCH_PEERS_THREADS    threads mode: 1..N threads (2)
#   BENCH_PEERS_NICE       nice level for every program (10)
# Exit status: 0, or 1 if a program failed (never because of a figure), 2
# for a missing tool.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
BIN=$BUILD/bench
DATA=${SLUICE_DATA:-../shared/data}
STAGES=${BENCH_PEERS_STAGES:-sluice peers threads report callgrind}
MIN_TIME=${BENCH_PEERS_MIN_TIME:-1}
MIN_REPS=${BENCH_PEERS_MIN_REPS:-3}
MAX_REPS=${BENCH_PEERS_MAX_REPS:-30}
NSHORT=${BENCH_PEERS_SHORT:-10000}
THREADS=${BENCH_PEERS_THREADS:-2}
NICE="nice -n ${BENCH_PEERS_NICE:-10}"
OUT=$BUILD/bench/peers-report
PEERS_DIR=bench/peers

for f in sensitive-word/dict_v20240407.txt ldnoobw/en.txt \
         gutenberg/war-and-peace-2600-0.txt cmrc2018/cmrc2018_contexts.txt \
         drcd/DRCD_dev_contexts.txt hh-rlhf/harmless-base-test.jsonl.gz \
         llamafactory-demo/alpaca_zh_demo.json; do
    if [ ! -r "$DATA/$f" ]; then
        echo "bench-peers: skipped: $DATA/$f not found (set SLUICE_DATA)"
        exit 0
    fi
done
if [ ! -x "$BIN/peers" ]; then
    echo "bench-peers: $BIN/peers is missing; run 'make bench-peers'" >&2
    exit 2
fi
for tool in node npm; do
    if ! command -v "$tool" >/dev/null; then
        echo "bench-peers: '$tool' not found (Debian: apt-get install nodejs npm)" >&2
        exit 2
    fi
done

# The peers, as pinned by the lock file (npm ci: exactly those versions).
if [ ! -f "$PEERS_DIR/node_modules/.package-lock.json" ] ||
   [ "$PEERS_DIR/package-lock.json" -nt "$PEERS_DIR/node_modules/.package-lock.json" ]; then
    echo "bench-peers: npm ci in $PEERS_DIR" >&2
    (cd "$PEERS_DIR" && npm ci --no-audit --no-fund >&2) || {
        echo "bench-peers: npm ci failed" >&2
        exit 2
    }
fi

mkdir -p "$OUT" || exit 2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-peers.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/in" "$TMP/policies" || exit 2
FAILED=0

# run LABEL FILE PROGRAM ARGS...: stdout to FILE, a failure remembered.
run() {
    local label=$1 file=$2
    shift 2
    echo "bench-peers: $label" >&2
    if ! "$@" >"$file"; then
        echo "bench-peers: FAILED: $label" >&2
        FAILED=1
    fi
}

COMMON=(--data "$DATA" --min-time "$MIN_TIME" --min-reps "$MIN_REPS"
        --max-reps "$MAX_REPS")

stage_sluice() {
    run "Sluice (bench/peers.c)" "$OUT/rows-sluice.tsv" $NICE "$BIN/peers" \
        --mode run --out "$TMP/in" --tmp "$TMP/policies" --short "$NSHORT" \
        "${COMMON[@]}"
}

stage_peers() {
    if [ ! -r "$TMP/in/manifest.tsv" ]; then
        echo "bench-peers: no inputs (the sluice stage writes them); peers skipped" >&2
        FAILED=1
        return
    fi
    run "peers (bench/peers/run.mjs)" "$OUT/rows-peers.tsv" $NICE node \
        "$PEERS_DIR/run.mjs" --in "$TMP/in" --min-time "$MIN_TIME" \
        --min-reps "$MIN_REPS" --max-reps "$MAX_REPS"
}

stage_threads() {
    # its notes repeat the sluice stage's: only the P rows are kept
    run "threads (bench/peers.c --mode threads)" "$TMP/threads.tsv" $NICE \
        "$BIN/peers" --mode threads --threads "$THREADS" --tmp "$TMP/policies" \
        "${COMMON[@]}"
    grep '^P' "$TMP/threads.tsv" >"$OUT/rows-threads.tsv" || true
}

stage_report() {
    local files=("$OUT/rows-notes.tsv") f
    for f in rows-sluice rows-peers rows-threads; do
        [ -r "$OUT/$f.tsv" ] && files+=("$OUT/$f.tsv")
    done
    node "$PEERS_DIR/report.mjs" "${files[@]}" >"$OUT/report.md" || FAILED=1
    cat "$OUT/report.md"
}

stage_callgrind() {
    if ! command -v valgrind >/dev/null; then
        echo "bench-peers: valgrind not found; callgrind stage skipped" >&2
        return
    fi
    echo "bench-peers: instruction counts (bench/callgrind.sh)" >&2
    echo
    BUILD=$BUILD SLUICE_DATA=$DATA bench/callgrind.sh | tee "$OUT/callgrind.md"
    [ "${PIPESTATUS[0]}" -eq 0 ] || FAILED=1
}

{
    printf 'N\tmachine\t%s cores, %s, %s\n' "$(nproc)" \
        "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
        "$(uname -sr)"
    printf 'N\tlibraries\tlibhs %s, libpcre2-8 %s, icu-uc %s, %s\n' \
        "$(pkg-config --modversion libhs)" \
        "$(pkg-config --modversion libpcre2-8)" \
        "$(pkg-config --modversion icu-uc)" "$(cc --version | head -1)"
    printf 'N\tload\tload average before the run: %s; CPU pressure: %s\n' \
        "$(cut -d' ' -f1-3 /proc/loadavg)" \
        "$(head -1 /proc/pressure/cpu 2>/dev/null || echo unknown)"
    dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
    printf 'N\tcommit\t%s%s\n' "$(git rev-parse --short HEAD 2>/dev/null)" \
        "$([ "$dirty" -gt 0 ] && echo " with $dirty files changed in the work tree")"
} >"$OUT/rows-notes.tsv"

T0=$SECONDS
for stage in $STAGES; do
    if ! declare -F "stage_$stage" >/dev/null; then
        echo "bench-peers: unknown stage '$stage'" >&2
        exit 2
    fi
    if [ "$stage" = report ]; then
        printf 'N\tload\tload average after the measurements: %s; CPU pressure: %s\n' \
            "$(cut -d' ' -f1-3 /proc/loadavg)" \
            "$(head -1 /proc/pressure/cpu 2>/dev/null || echo unknown)" >>"$OUT/rows-notes.tsv"
    fi
    "stage_$stage"
done
echo "bench-peers: ${STAGES// /, } took $((SECONDS - T0)) s; report and rows in $OUT/" >&2
exit "$FAILED"
