#!/usr/bin/env bash
# tests/fuzz/run.sh - run one libFuzzer target for a while, as `make fuzz`
# does for each target in turn (tests/fuzz/build.mk).
#
#   tests/fuzz/run.sh TARGET SECONDS MAXLEN [EXTRA LIBFUZZER FLAGS...]
#
# Corpus: $FUZZ_BUILD/corpus/TARGET (grows; kept between runs), plus the
# generated seeds ($FUZZ_BUILD/seeds/TARGET) and the committed ones
# (tests/fuzz/seeds/TARGET: inputs of past crashes), plus the dictionary
# tests/fuzz/dict/TARGET.dict when there is one. Crash inputs go to
# $FUZZ_BUILD/crashes/TARGET-*; the whole output to $FUZZ_BUILD/logs/
# TARGET.log, of which the start and end figures (cov, ft, execs) are
# printed. Exit status: libFuzzer's (0 when nothing was found).
set -u

cd "$(dirname "$0")/../.."
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
t=$1 secs=$2 maxlen=$3
shift 3

mkdir -p "$FUZZ_BUILD/corpus/$t" "$FUZZ_BUILD/crashes" "$FUZZ_BUILD/logs"
dirs=("$FUZZ_BUILD/corpus/$t")
[ -d "$FUZZ_BUILD/seeds/$t" ] && dirs+=("$FUZZ_BUILD/seeds/$t")
[ -d "tests/fuzz/seeds/$t" ] && dirs+=("tests/fuzz/seeds/$t")
dict=()
[ -f "tests/fuzz/dict/$t.dict" ] && dict=("-dict=tests/fuzz/dict/$t.dict")
log=$FUZZ_BUILD/logs/$t.log

echo "== fuzz_$t: $secs s (max_len $maxlen)"
rc=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$FUZZ_BUILD/fuzz_$t" -max_total_time="$secs" -max_len="$maxlen" \
    -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$FUZZ_BUILD/crashes/$t-" "${dict[@]}" "$@" \
    "${dirs[@]}" >"$log" 2>&1 || rc=$?
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|peak_rss)' \
    "$log" | sed 's/^/   /'
if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log"
    echo "fuzz_$t failed (status $rc); input saved under $FUZZ_BUILD/crashes/"
fi
exit "$rc"
