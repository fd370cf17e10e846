#!/usr/bin/env bash
# bench/callgrind.sh - instruction counts of Sluice's pipeline on a fixed
# input, under `valgrind --tool=callgrind`: the figure that stays put when
# timings on a shared machine do not, so a regression shows as more
# instructions per byte even in a noisy run.
#
# What runs: `$BUILD/bench/peers --mode callgrind` (bench/peers.c) with the
# two policies of `make bench-peers` (sw10k Chinese terms; LDNOOBW English,
# boundary: word, variants leet and repeat; full normalization). For each
# case (the first 64 KiB of each corpus in 4 KiB outputs, and 1,000
# 100-character strings) it zeroes the counters, runs sluice_check over
# the case, and dumps them (callgrind client requests), after one
# uncounted warm-up check. Loading the data and compiling the policies run
# without instrumentation (--instr-atstart=no), so the whole takes well
# under a minute. The count is Ir (instructions executed), in Sluice and
# every library below it.
#
# Caveats: the count depends on the build (compiler, -O2), on the library
# versions and on which code Hyperscan picks for the CPU that valgrind
# emulates; compare counts from the same machine and toolchain.
#
# Environment: BUILD (default build), SLUICE_DATA (default ../shared/data),
# CALLGRIND_BYTES (bytes per corpus, 65536), CALLGRIND_SHORT (strings per
# language, 1000), CALLGRIND_TOP (also print the N functions with the most
# instructions, self cost, of each case; default 0), CALLGRIND_KEEP (a
# directory to keep the callgrind.out files in, for callgrind_annotate).
# Exit status 0, 1 if the run failed, 2 if valgrind is missing.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
BIN=$BUILD/bench
DATA=${SLUICE_DATA:-../shared/data}
BYTES=${CALLGRIND_BYTES:-65536}
NSHORT=${CALLGRIND_SHORT:-1000}
TOP=${CALLGRIND_TOP:-0}

if ! command -v valgrind >/dev/null; then
    echo "callgrind: valgrind not found (Debian: apt-get install valgrind)" >&2
    exit 2
fi
if [ ! -d "$DATA" ]; then
    echo "callgrind: skipped: $DATA not found (set SLUICE_DATA)"
    exit 0
fi
if [ ! -x "$BIN/peers" ]; then
    echo "callgrind: $BIN/peers is missing; run 'make bench-callgrind'" >&2
    exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-callgrind.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/policies" || exit 2

t0=$SECONDS
if ! valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$TMP/callgrind.out" \
        "$BIN/peers" --mode callgrind --data "$DATA" --tmp "$TMP/policies" \
        --cg-bytes "$BYTES" --cg-short "$NSHORT" \
        >"$TMP/cases.tsv" 2>"$TMP/valgrind.log"; then
    echo "callgrind: the run failed; valgrind said:" >&2
    tail -20 "$TMP/valgrind.log" >&2
    exit 1
fi
secs=$((SECONDS - t0))
if grep -q 'not available' "$TMP/cases.tsv"; then
    echo "callgrind: $BIN/peers was built without valgrind/callgrind.h; no per-case counts" >&2
    exit 1
fi

# case -> Ir, from the dumps (one per client request, in order)
: >"$TMP/ir.tsv"
for f in "$TMP"/callgrind.out.*; do
    [ -e "$f" ] || continue
    awk '/^desc: Trigger: Client Request: / { sub(/^desc: Trigger: Client Request: /, ""); name = $0 }
         /^summary: / { ir = $2 }
         END { if (name != "") printf "%s\t%s\n", name, ir }' "$f" >>"$TMP/ir.tsv"
done

echo "## Instruction counts (callgrind, fixed input)"
echo
printf '%s; %s; %s; run took %s s under valgrind\n' \
    "$(valgrind --version)" \
    "libhs $(pkg-config --modversion libhs), icu-uc $(pkg-config --modversion icu-uc), libpcre2-8 $(pkg-config --modversion libpcre2-8)" \
    "$(cc --version | head -1)" "$secs"
echo
echo "| case | outputs | bytes | instructions | per byte | per output |"
echo "|---|--:|--:|--:|--:|--:|"
awk -F'\t' 'NR == FNR { ir[$1] = $2; next }
    $1 == "G" {
        n = ir[$2]
        if (n == "") { printf "| %s | %s | %s | - | - | - |\n", $2, $3, $4; next }
        printf "| %s | %d | %d | %d | %.1f | %.0f |\n", $2, $3, $4, n, n / $4, n / $3
    }' "$TMP/ir.tsv" "$TMP/cases.tsv"

if [ "$TOP" -gt 0 ] && command -v callgrind_annotate >/dev/null; then
    for f in "$TMP"/callgrind.out.*; do
        name=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")
        echo
        echo "Top $TOP functions by instructions (self), $name:"
        echo '```'
        # self cost per function; the harness's own frames (bench/peers.c)
        # are left out: counting starts inside them, so callgrind books
        # the whole case to them too
        callgrind_annotate --threshold=100 --auto=no "$f" 2>/dev/null |
            awk '/file:function/ { on = 1; next } on && /^-+$/ { next }
                 on && NF > 0 && !/bench\/peers\.c:/' | head -n "$TOP"
        echo '```'
    done
fi
if [ -n "${CALLGRIND_KEEP:-}" ]; then
    mkdir -p "$CALLGRIND_KEEP" && cp "$TMP"/callgrind.out.* "$CALLGRIND_KEEP"/ &&
        echo && echo "(dumps kept in $CALLGRIND_KEEP)"
fi
exit 0
