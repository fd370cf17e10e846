#!/usr/bin/env bash
# bench/run.sh - runs Sluice's benchmarks and prints their tables.
#
# Called by `make bench` (BUILD set, binaries built). It runs a list of
# stages in order; each stage is a function stage_NAME that runs programs
# from $BUILD/bench, each of which appends its result rows (the format is in
# bench/bench.h) to $RESULTS; stage_report turns them into tables. To add a
# benchmark (ledger records/s, thread scaling, ...): write bench/NAME.c,
# add a stage_NAME function that runs it with `run_prog` (rows) or
# `run_prog_to` (its own text), put NAME in DEFAULT_STAGES before "report",
# and teach stage_report its rows. Stages now: data (checks the data and
# the programs), throughput (per term set: raw Hyperscan, PCRE2
# alternation, Sluice, Sluice terms only), regex (the baseline policy's
# regexes), stream (bench/stream_bench.c: session latency per chunk size),
# report, threads (bench/peers.c --mode threads: one engine shared by 1
# and 2 threads, beside a control loop), floor (bench/floor.c: the two
# stages no check skips, normalization and the matcher over its output,
# timed alone against raw Hyperscan, for BENCH_FLOOR_SETS, default "sw10k
# sw65k"), profile (bench/profile.sh: the share of each stage under
# perf), redis (bench/redis_bench.c: the Redis
# state layer, its own table; it starts its own redis-server and needs no
# data: BENCH_STAGES=redis runs it alone).
#
# Every measurement of one term set with one engine runs in its own process,
# so VmHWM is that run's own peak. Nothing here fails on timings: the exit
# status is 1 only if a program failed (after the tables are printed).
#
# Environment:
#   SLUICE_DATA   data directory (default: ../shared/data from the repo root);
#                 if it is absent the benchmark says so and exits 0
#   BENCH_STAGES  stages to run (default: "$DEFAULT_STAGES")
#   BENCH_SETS    term sets (default: "sw10k sw65k jieba349k")
#   BENCH_MB      size of the mixed text in MiB (default 20)
#   BENCH_REPS    timed repetitions after one warm-up (default 5; median)
#   BENCH_PCRE2_CAP_<set>, BENCH_PCRE2_CORPUS_CAP_<set>
#                 bytes the PCRE2 alternation reads of the mixed text and of
#                 each corpus (defaults below: it runs at well under 1 MB/s)
#   BENCH_SLUICE_CAP_<set>   the same for Sluice (default: no cap)
#   BENCH_TIMEOUT seconds one program may run (default 900)
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
BIN=$BUILD/bench
DATA=${SLUICE_DATA:-$ROOT/../shared/data}
DEFAULT_STAGES="data throughput regex stream report threads floor profile redis"
STAGES=${BENCH_STAGES:-$DEFAULT_STAGES}
SETS=${BENCH_SETS:-"sw10k sw65k jieba349k"}
TIMEOUT=${BENCH_TIMEOUT:-900}
export BENCH_MB=${BENCH_MB:-20} BENCH_REPS=${BENCH_REPS:-5}
RESULTS=$BIN/results.tsv
STREAM_OUT=$BIN/stream.txt
REDIS_OUT=$BIN/redis.txt
FAILED=0

# PCRE2 caps (mixed, per corpus), chosen so each timed pass takes about a
# second on this machine; each run samples 1 piece in k across the text.
: "${BENCH_PCRE2_CAP_sw10k:=524288}"      "${BENCH_PCRE2_CORPUS_CAP_sw10k:=131072}"
: "${BENCH_PCRE2_CAP_sw65k:=262144}"      "${BENCH_PCRE2_CORPUS_CAP_sw65k:=65536}"
: "${BENCH_PCRE2_CAP_jieba349k:=49152}"   "${BENCH_PCRE2_CORPUS_CAP_jieba349k:=16384}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT

# run_prog LABEL PROGRAM ARGS...: run one program, rows to $RESULTS.
run_prog() {
    run_prog_to "$RESULTS" "$@"
}

# run_prog_to FILE LABEL PROGRAM ARGS...: the same, stdout appended to FILE
# (for programs that print their own text rather than rows).
run_prog_to() {
    local out=$1 label=$2
    shift 2
    echo "bench: $label" >&2
    local t0=$SECONDS
    if ! timeout "$TIMEOUT" "$@" >>"$out"; then
        echo "bench: FAILED: $label" >&2
        printf 'F\t%s\n' "$label" >>"$RESULTS"
        FAILED=1
    fi
    printf 'T\t%s\t%s\n' "$label" "$((SECONDS - t0))" >>"$RESULTS"
}

# A variable's value by name, or a default.
var() {
    local name=$1
    printf '%s' "${!name:-$2}"
}

stage_data() {
    local f
    for f in cmrc2018/cmrc2018_contexts.txt drcd/DRCD_dev_contexts.txt \
             gutenberg/war-and-peace-2600-0.txt \
             llamafactory-demo/alpaca_zh_demo.json \
             llamafactory-demo/alpaca_en_demo.json \
             llamafactory-demo/dpo_zh_demo.json \
             hh-rlhf/harmless-base-test.jsonl.gz \
             sensitive-word/dict_v20240407.txt jieba/dict.txt; do
        if [ ! -r "$DATA/$f" ]; then
            echo "bench: skipped: $DATA/$f not found (set SLUICE_DATA to the data directory)"
            exit 0
        fi
    done
    local p
    for p in baselines pipeline; do
        if [ ! -x "$BIN/$p" ]; then
            echo "bench: $BIN/$p is missing; run 'make bench'" >&2
            exit 2
        fi
    done
}

stage_throughput() {
    local set cap ccap scap
    for set in $SETS; do
        run_prog "$set: raw Hyperscan" "$BIN/baselines" --data "$DATA" \
            --set "$set" --engine hs
        cap=$(var "BENCH_PCRE2_CAP_$set" 0)
        ccap=$(var "BENCH_PCRE2_CORPUS_CAP_$set" "$cap")
        run_prog "$set: PCRE2 alternation" "$BIN/baselines" --data "$DATA" \
            --set "$set" --engine pcre2 --cap "$cap" --corpus-cap "$ccap" \
            --one-mb no
        scap=$(var "BENCH_SLUICE_CAP_$set" 0)
        mkdir -p "$TMP/$set" || exit 2
        run_prog "$set: Sluice" "$BIN/pipeline" --data "$DATA" --set "$set" \
            --tmp "$TMP/$set" --regex-from policies/baseline --cap "$scap"
        # Where the time goes: the same terms without the regex rules.
        mkdir -p "$TMP/$set-terms" || exit 2
        run_prog "$set: Sluice, terms only" "$BIN/pipeline" --data "$DATA" \
            --set "$set" --tmp "$TMP/$set-terms" --regex no --cap "$scap" \
            --corpora no --one-mb no
    done
}

stage_regex() {
    mkdir -p "$TMP/regex-only" || exit 2
    run_prog "regex rules only: Sluice" "$BIN/pipeline" --data "$DATA" \
        --set regex-only --tmp "$TMP/regex-only" \
        --regex-from policies/baseline
    if [ -r policies/baseline/policy.yaml ]; then
        run_prog "policies/baseline: Sluice" "$BIN/pipeline" --data "$DATA" \
            --set baseline --policy policies/baseline
    fi
}

# Streaming latency per chunk size: bench/stream_bench.c (the streaming
# work's own program and output format), on the shipped baseline policy.
stage_stream() {
    if [ ! -x "$BIN/stream_bench" ] || [ ! -r policies/baseline/policy.yaml ]; then
        echo "bench: no $BIN/stream_bench or policies/baseline; stream stage skipped" >&2
        return 0
    fi
    run_prog_to "$STREAM_OUT" "streaming sessions" "$BIN/stream_bench" \
        policies/baseline "$DATA"
}

# The Redis state layer (bench/redis_bench.c): cached and uncached check
# latency over loopback, what a check waits with Redis down, publish-to-
# swap across 4 worker processes. It prints its own table, after the
# report; without redis-server it says so.
# Threads sharing one engine: bench/peers.c's threads mode (the Chinese
# 10k-term and English LDNOOBW policies of bench-peers), 1 and 2 threads,
# each pass also timed for a CPU-bound control loop that shares nothing:
# its scaling is what the machine gave any program at that moment.
stage_threads() {
    local out=$BIN/threads.tsv
    if [ ! -x "$BIN/peers" ]; then
        echo "bench: no $BIN/peers; threads stage skipped" >&2
        return 0
    fi
    : >"$out"
    mkdir -p "$TMP/threads" || exit 2
    run_prog_to "$out" "threads sharing one engine" "$BIN/peers" \
        --mode threads --threads 2 --tmp "$TMP/threads" --data "$DATA"
    echo
    echo "Threads sharing one engine (bench/peers.c --mode threads; 4 KiB outputs of each language's corpora, wall time per pass)"
    echo
    echo "| policy | threads | MB | MB/s | scaling | control loop scaling | CPU per byte vs 1 thread |"
    echo "|---|--:|--:|--:|--:|--:|--:|"
    awk -F'\t' '$1 == "P" {
        # P threads set bytes reps wall cpu control-wall control-cpu
        k = $3; if ($2 == 1) { w1[k] = $6; c1[k] = $7; cw1[k] = $8 }
        row[++n] = $0 }
        END { for (i = 1; i <= n; i++) { split(row[i], f, "\t"); k = f[3]
            printf "| %s | %d | %.2f | %.0f | %.2fx | %.2fx | %.2fx |\n", k, f[2],
                f[4] / 1e6, f[4] / 1e6 / f[6], w1[k] / f[6], cw1[k] / f[8],
                f[7] / c1[k] } }' "$out"
}

# How near raw Hyperscan a normalizing pipeline can get (bench/floor.c).
stage_floor() {
    local set out=$BIN/floor.md
    if [ ! -x "$BIN/floor" ]; then
        echo "bench: no $BIN/floor; floor stage skipped" >&2
        return 0
    fi
    : >"$out"
    for set in ${BENCH_FLOOR_SETS:-sw10k sw65k}; do
        run_prog_to "$out" "$set: floor" "$BIN/floor" --data "$DATA" \
            --set "$set"
        echo >>"$out"
    done
    echo
    cat "$out"
}

# Where a check's time goes, stage by stage (bench/profile.sh, perf).
stage_profile() {
    local out=$BIN/profile.md rc=0
    echo "bench: profile (bench/profile.sh)" >&2
    BUILD=$BUILD SLUICE_DATA=$DATA bench/profile.sh >"$out" || rc=$?
    if [ "$rc" -eq 2 ]; then
        echo "bench: no profile: perf is missing or cannot record here" >&2
        return 0
    elif [ "$rc" -ne 0 ]; then
        FAILED=1
    fi
    echo
    cat "$out"
}

stage_redis() {
    if [ ! -x "$BIN/redis_bench" ]; then
        echo "bench: no $BIN/redis_bench; redis stage skipped" >&2
        return 0
    fi
    run_prog_to "$REDIS_OUT" "redis state layer" "$BIN/redis_bench" \
        --policy policies/baseline
    echo
    cat "$REDIS_OUT"
}

# The tables, from the rows in $RESULTS (formats in bench/bench.h; F is a
# failed program, T its wall time in seconds).
REPORT_AWK=$(cat <<'AWK'
function num(x, d) {
    if (x == "" || x < 0) return "-"
    if (d != "") return sprintf("%." d "f", x)
    if (x >= 100) return sprintf("%.0f", x)
    if (x >= 10) return sprintf("%.1f", x)
    if (x >= 0.1) return sprintf("%.2f", x)
    return sprintf("%.3f", x)
}
function ratio(a, b) {
    if (a == "" || b == "" || b <= 0) return "-"
    return (a / b >= 10) ? sprintf("%.0fx", a / b) : sprintf("%.2fx", a / b)
}
function mib(kb) { return (kb == "" || kb < 0) ? "-" : sprintf("%.0f", kb / 1024) }
function get(arr, k) { return (k in arr) ? arr[k] : "" }
$1 == "R" && $3 == "pcre2-regex" {
    rx[$2 SUBSEP $4] = $8
    if (!($2 in seen_rx)) { seen_rx[$2] = 1; rxs[++nrx] = $2 }
    next
}
$1 == "R" {
    k = $2 SUBSEP $3 SUBSEP $4 SUBSEP $5
    mbps[k] = $8; bytes[k] = $6; matches[k] = $15
    if ($16 != "-") rnote[k] = $16
    se = $2 SUBSEP $3
    nterms[se] = $7; comp[se] = $9; db[se] = $10
    base[se] = $11; loaded[se] = $12
    if ($13 > rend[se]) rend[se] = $13
    if ($14 > hwm[se]) hwm[se] = $14
    if (!($2 in seen_set)) { seen_set[$2] = 1; sets[++nsets] = $2 }
    if (!($4 in seen_corpus) && $4 != "mixed") { seen_corpus[$4] = 1; corp[++ncorp] = $4 }
}
$1 == "N" {
    if (!($3 in note_keys)) { notes[++nnotes] = $3; note_keys[$3] = $2 }
    else if (index(", " note_keys[$3] ", ", ", " $2 ", ") == 0) note_keys[$3] = note_keys[$3] ", " $2
    if ($2 == "machine") machine = $3
    if ($2 == "libraries") libs = $3
    if ($2 == "load") load = $3
}
$1 == "F" { fails[++nfails] = $2; if ($2 ~ /^policies\/baseline/) failed_baseline = 1 }
$1 == "T" { times[++ntimes] = $2 " " $3 " s" }
END {
    printf "Sluice benchmark: %d MiB mixed text, median of %d timed passes after 1 warm-up, one thread\n", mb, reps
    printf "%s; %s; %s\n\n", machine, libs, load
    print "1. Throughput (MB/s), mixed text cut into 4 KiB outputs"
    print "| terms | count | raw Hyperscan | Sluice | PCRE2 alternation | Sluice / Hyperscan | Sluice / PCRE2 | Sluice, terms only | terms only / Hyperscan |"
    print "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
    for (i = 1; i <= nsets; i++) {
        s = sets[i]; if (s == "regex-only" || s == "baseline") continue
        h = get(mbps, s SUBSEP "hs" SUBSEP "mixed" SUBSEP 4096)
        sl = get(mbps, s SUBSEP "sluice" SUBSEP "mixed" SUBSEP 4096)
        pc = get(mbps, s SUBSEP "pcre2" SUBSEP "mixed" SUBSEP 4096)
        st = get(mbps, s SUBSEP "sluice-terms" SUBSEP "mixed" SUBSEP 4096)
        n = get(nterms, s SUBSEP "hs")
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", s, n, num(h), num(sl), num(pc), ratio(sl, h), ratio(sl, pc), num(st), ratio(st, h)
    }
    print "\n2. Throughput (MB/s), mixed text cut into 1 MiB outputs"
    print "| terms | raw Hyperscan | Sluice | Sluice / Hyperscan |"
    print "|---|--:|--:|--:|"
    for (i = 1; i <= nsets; i++) {
        s = sets[i]; if (s == "regex-only" || s == "baseline") continue
        h = get(mbps, s SUBSEP "hs" SUBSEP "mixed" SUBSEP 1048576)
        sl = get(mbps, s SUBSEP "sluice" SUBSEP "mixed" SUBSEP 1048576)
        if (h == "" && sl == "") continue
        printf "| %s | %s | %s | %s |\n", s, num(h), num(sl), ratio(sl, h)
    }
    print "\n3. Compile time and memory (ms, MiB; Sluice: VmRSS before the policy load -> after it -> after the checks, and VmHWM)"
    print "| terms | Hyperscan compile | Hyperscan db | Hyperscan VmHWM | PCRE2 compile | PCRE2 code+JIT | Sluice compile | Sluice terms | Sluice VmRSS | Sluice VmHWM |"
    print "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    for (i = 1; i <= nsets; i++) {
        s = sets[i]; if (s == "regex-only" || s == "baseline") continue
        h = s SUBSEP "hs"; p = s SUBSEP "pcre2"; l = s SUBSEP "sluice"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s -> %s -> %s | %s |\n", s,
            num(get(comp, h), 0), (get(db, h) >= 0 && get(db, h) != "") ? sprintf("%.1f", db[h] / 1048576) : "-",
            mib(get(hwm, h)), num(get(comp, p), 0),
            (get(db, p) >= 0 && get(db, p) != "") ? sprintf("%.1f", db[p] / 1048576) : "-",
            num(get(comp, l), 0), get(nterms, l) == "" ? "-" : nterms[l],
            mib(get(base, l)), mib(get(loaded, l)), mib(get(rend, l)), mib(get(hwm, l))
    }
    print "\n4. Throughput per corpus (MB/s), 4 KiB outputs"
    print "| terms | corpus | MB | raw Hyperscan | Sluice | PCRE2 alternation | Sluice / Hyperscan | Sluice / PCRE2 |"
    print "|---|---|--:|--:|--:|--:|--:|--:|"
    for (i = 1; i <= nsets; i++) {
        s = sets[i]
        for (j = 1; j <= ncorp; j++) {
            c = corp[j]
            h = get(mbps, s SUBSEP "hs" SUBSEP c SUBSEP 4096)
            sl = get(mbps, s SUBSEP "sluice" SUBSEP c SUBSEP 4096)
            pc = get(mbps, s SUBSEP "pcre2" SUBSEP c SUBSEP 4096)
            b = get(bytes, s SUBSEP "hs" SUBSEP c SUBSEP 4096)
            if (b == "") b = get(bytes, s SUBSEP "sluice" SUBSEP c SUBSEP 4096)
            if (h == "" && sl == "" && pc == "") continue
            printf "| %s | %s | %.1f | %s | %s | %s | %s | %s |\n", s, c, b / 1e6, num(h), num(sl), num(pc), ratio(sl, h), ratio(sl, pc)
        }
    }
    print "\n5. Matches found in the mixed text, 4 KiB outputs (Hyperscan: every occurrence of every term; PCRE2: leftmost, non-overlapping, per alternation; Sluice: spans kept in the verdicts)"
    print "| terms | raw Hyperscan | PCRE2 alternation (on its sample) | Sluice |"
    print "|---|--:|--:|--:|"
    for (i = 1; i <= nsets; i++) {
        s = sets[i]; if (s == "regex-only" || s == "baseline") continue
        printf "| %s | %s | %s | %s |\n", s,
            get(matches, s SUBSEP "hs" SUBSEP "mixed" SUBSEP 4096) == "" ? "-" : matches[s SUBSEP "hs" SUBSEP "mixed" SUBSEP 4096],
            get(matches, s SUBSEP "pcre2" SUBSEP "mixed" SUBSEP 4096) == "" ? "-" : matches[s SUBSEP "pcre2" SUBSEP "mixed" SUBSEP 4096],
            get(matches, s SUBSEP "sluice" SUBSEP "mixed" SUBSEP 4096) == "" ? "-" : matches[s SUBSEP "sluice" SUBSEP "mixed" SUBSEP 4096]
    }
    if (failed_baseline) sets[++nsets] = "baseline"
    print "\n6. Regex rules (Sluice; regex-only: the regex rules of policies/baseline alone; baseline: policies/baseline as shipped)"
    print "| policy | 4 KiB outputs MB/s | 1 MiB outputs MB/s | compile ms | spans (mixed, 4 KiB) | VmHWM MiB |"
    print "|---|--:|--:|--:|--:|--:|"
    for (i = 1; i <= nsets; i++) {
        s = sets[i]; if (s != "regex-only" && s != "baseline") continue
        l = s SUBSEP "sluice"
        if (get(comp, l) == "") { printf "| %s | failed (see the notes) | | | | |\n", s; continue }
        printf "| %s | %s | %s | %s | %s | %s |\n", s,
            num(get(mbps, l SUBSEP "mixed" SUBSEP 4096)), num(get(mbps, l SUBSEP "mixed" SUBSEP 1048576)),
            num(get(comp, l), 0), get(matches, l SUBSEP "mixed" SUBSEP 4096), mib(get(hwm, l))
    }
    if (nrx > 0) {
        print "\n7. Each regex rule alone: raw PCRE2-JIT (PCRE2_UTF, no validator, no normalization), MB/s, 4 KiB outputs"
        printf "| rule | mixed"
        for (j = 1; j <= ncorp; j++) printf " | %s", corp[j]
        printf " |\n|---|--:"
        for (j = 1; j <= ncorp; j++) printf "|--:"
        print "|"
        for (i = 1; i <= nrx; i++) {
            printf "| %s | %s", rxs[i], num(get(rx, rxs[i] SUBSEP "mixed"))
            for (j = 1; j <= ncorp; j++) printf " | %s", num(get(rx, rxs[i] SUBSEP corp[j]))
            print " |"
        }
    }
    if (stream != "" && (getline line < stream) > 0) {
        print "\n8. Streaming sessions (bench/stream_bench.c; per feed, one thread)"
        print "```"
        print line
        while ((getline line < stream) > 0) print line
        print "```"
    }
    print "\nTargets of issue 2 (informational; nothing here fails on timings):"
    h = get(mbps, "sw10k" SUBSEP "hs" SUBSEP "mixed" SUBSEP 4096); sl = get(mbps, "sw10k" SUBSEP "sluice" SUBSEP "mixed" SUBSEP 4096)
    pc = get(mbps, "sw10k" SUBSEP "pcre2" SUBSEP "mixed" SUBSEP 4096)
    printf "  sw10k: Sluice / raw Hyperscan %s (target >= 0.4x), Sluice / PCRE2 %s (target >= 20x)\n", ratio(sl, h), ratio(sl, pc)
    h = get(mbps, "sw65k" SUBSEP "hs" SUBSEP "mixed" SUBSEP 4096); sl = get(mbps, "sw65k" SUBSEP "sluice" SUBSEP "mixed" SUBSEP 4096)
    printf "  sw65k: Sluice / raw Hyperscan %s (target >= 0.4x)\n", ratio(sl, h)
    printf "  (terms only, without the regex rules: sw10k %s, sw65k %s of raw Hyperscan)\n",
        ratio(get(mbps, "sw10k" SUBSEP "sluice-terms" SUBSEP "mixed" SUBSEP 4096), get(mbps, "sw10k" SUBSEP "hs" SUBSEP "mixed" SUBSEP 4096)),
        ratio(get(mbps, "sw65k" SUBSEP "sluice-terms" SUBSEP "mixed" SUBSEP 4096), get(mbps, "sw65k" SUBSEP "hs" SUBSEP "mixed" SUBSEP 4096))
    l = "jieba349k" SUBSEP "sluice"
    printf "  jieba349k: Sluice VmRSS after the checks %s MiB, VmHWM %s MiB (target < 300 MB resident), compile %s ms\n", mib(get(rend, l)), mib(get(hwm, l)), num(get(comp, l), 0)
    print "\nNotes:"
    for (i = 1; i <= nnotes; i++) {
        k = note_keys[notes[i]]
        if (k != "machine" && k != "libraries") print "  " k ": " notes[i]
    }
    for (k in rnote) { split(k, a, SUBSEP); rn[++nrn] = "  " a[1] " " a[2] " " a[3] " " a[4] " B: " rnote[k] " (" bytes[k] " bytes read)" }
    for (i = 1; i <= nrn; i++) for (j = i + 1; j <= nrn; j++) if (rn[j] < rn[i]) { t = rn[i]; rn[i] = rn[j]; rn[j] = t }
    for (i = 1; i <= nrn; i++) print rn[i]
    printf "  wall time per program:"
    for (i = 1; i <= ntimes; i++) printf "%s %s", (i > 1 ? ";" : ""), times[i]
    print ""
    for (i = 1; i <= nfails; i++) print "  FAILED: " fails[i]
}
AWK
)

stage_report() {
    awk -F'\t' -v mb="$BENCH_MB" -v reps="$BENCH_REPS" -v stream="$STREAM_OUT" \
        "$REPORT_AWK" "$RESULTS"
}

: >"$RESULTS" || exit 2
: >"$STREAM_OUT" || exit 2
: >"$REDIS_OUT" || exit 2
{
    printf 'N\tmachine\t%s cores, %s\n' "$(nproc)" \
        "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    printf 'N\tlibraries\tlibhs %s, libpcre2-8 %s, icu-uc %s\n' \
        "$(pkg-config --modversion libhs)" \
        "$(pkg-config --modversion libpcre2-8)" \
        "$(pkg-config --modversion icu-uc)"
    printf 'N\tload\tload average before the run: %s\n' \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$RESULTS"
T0=$SECONDS
for stage in $STAGES; do
    if ! declare -F "stage_$stage" >/dev/null; then
        echo "bench: unknown stage '$stage'" >&2
        exit 2
    fi
    "stage_$stage"
done
echo "bench: ${STAGES// /, } took $((SECONDS - T0)) s; rows in $RESULTS"
# ledger: bench/ledger_bench.c prints its own table (alone: $BIN/ledger_bench)
if [ -z "${BENCH_STAGES:-}" ] && [ -x "$BIN/ledger_bench" ]; then
    "$BIN/ledger_bench" --dir "$TMP" || FAILED=1; fi
exit "$FAILED"
