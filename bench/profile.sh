#!/usr/bin/env bash
# bench/profile.sh - where a whole-text check's time goes, stage by stage.
#
# Runs bench/pipeline (sw10k with the baseline policy's regex rules, the
# mixed text in 4 KiB outputs, BENCH_PROFILE_REPS passes) under
# `perf record`, starting the recording after BENCH_PROFILE_DELAY ms so
# that the data load and policy compile are left out, and sorts the
# samples into stages by where the code lives: each function of
# libsluice by the object file that defines it (nm over $BUILD/obj), the
# libraries by name. UTF-8 decoding is fused into the normalizer's
# passes, so it is counted with normalization. Prints a markdown table:
# share of the samples and ns per input byte (the share of the run's own
# ns/byte, from the MB/s the program printed while being sampled).
#
# Environment: BUILD (default build), SLUICE_DATA, BENCH_PROFILE_SET
# (sw10k), BENCH_PROFILE_REPS (40), BENCH_PROFILE_DELAY (2500).
# Exit status 0; 2 if perf is missing or cannot record (the caller prints
# that and goes on).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
DATA=${SLUICE_DATA:-$ROOT/../shared/data}
SET=${BENCH_PROFILE_SET:-sw10k}
REPS=${BENCH_PROFILE_REPS:-40}
DELAY=${BENCH_PROFILE_DELAY:-2500}
command -v perf >/dev/null || { echo "profile: perf not found" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-profile.XXXXXX") || exit 2
[ -n "${PROFILE_KEEP:-}" ] || trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/pol" || exit 2

if ! BENCH_REPS=$REPS perf record -q -D "$DELAY" -o "$TMP/perf.data" -- \
        "$BUILD/bench/pipeline" --data "$DATA" --set "$SET" --tmp "$TMP/pol" \
        --regex-from policies/baseline --corpora no --one-mb no \
        >"$TMP/out.txt" 2>"$TMP/err.txt"; then
    echo "profile: perf record failed: $(tail -1 "$TMP/err.txt")" >&2
    exit 2
fi
MBPS=$(awk -F'\t' '$1 == "R" && $3 == "sluice" && $4 == "mixed" {print $8}' \
    "$TMP/out.txt" | head -1)
for o in "$BUILD"/obj/*/*.o; do
    nm --defined-only "$o" 2>/dev/null |
        awk -v f="$(basename "$o" .o)" '$2 ~ /^[Tt]$/ {print $3 "\t" f}'
done >"$TMP/syms.tsv"
perf report -i "$TMP/perf.data" --no-children --sort dso,sym --stdio \
    --percent-limit 0 -q 2>/dev/null |
awk -v mbps="${MBPS:-0}" -v set="$SET" -v reps="$REPS" '
    FILENAME == ARGV[1] { obj[$1] = $2; next }
    {
        # "  12.34%  dso name  [.] symbol": the dso may hold spaces
        pct = $1; sub(/%/, "", pct)
        dso = ""; sym = ""
        for (i = 2; i <= NF; i++) {
            if ($i == "[.]" || $i == "[k]") { sym = $(i + 1); break }
            dso = dso (dso == "" ? "" : " ") $i
        }
        if (pct == "" || pct + 0 == 0) next
        if (dso ~ /libhs/) st = "matching: Hyperscan (other terms, regex prefilters and gates)"
        else if (dso ~ /libpcre2/ || dso ~ /JIT|jitted/) st = "regex: PCRE2 at prefilter hits"
        else if (dso ~ /libicu/) st = "word boundaries: ICU"
        else if (dso ~ /libc\.so/ && sym ~ /alloc|free|_int_|malloc|unlink_chunk|tcache/) st = "allocation (libc)"
        else if (dso ~ /libc\.so/) st = "copies and other libc"
        else if (dso ~ /kernel/) st = "kernel"
        else if (sym in obj) {
            f = obj[sym]
            if (f == "normalize") st = "normalization (UTF-8 decode fused in)"
            else if (f == "check") st = "decision: confirming hits, allow list, redaction"
            else if (f == "runscan") st = "regex: run gates (digit-run scan)"
            else if (f == "anchor") st = "matching: anchor matcher (Chinese terms)"
            else if (f == "validate") st = "validation (cn_id, luhn, ...)"
            else if (f == "verdict") st = "verdict building"
            else if (f == "wordbreak") st = "word boundaries: Sluice side"
            else st = "engine and other Sluice code (" f ".c)"
        } else st = "the benchmark program and other"
        share[st] += pct; tot += pct
    }
    END {
        printf "Profile (bench/profile.sh): %s terms + the baseline policy'"'"'s regex rules, mixed text, 4 KiB outputs, %d passes under perf: %s MB/s while sampled\n\n", set, reps, mbps
        print "| stage | share of samples | ns per byte |"
        print "|---|--:|--:|"
        n = 0
        for (s in share) keys[++n] = s
        for (i = 1; i <= n; i++)            # by share, descending
            for (k = i + 1; k <= n; k++)
                if (share[keys[k]] > share[keys[i]]) { t = keys[i]; keys[i] = keys[k]; keys[k] = t }
        for (i = 1; i <= n; i++) {
            s = keys[i]; p = share[s] * 100 / tot
            if (p < 0.05) continue
            ns = (mbps > 0) ? sprintf("%.3f", p / 100 * 1000 / mbps) : "-"
            printf "| %s | %.1f %% | %s |\n", s, p, ns
        }
    }' "$TMP/syms.tsv" -
