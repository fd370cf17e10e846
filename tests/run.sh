#!/usr/bin/env bash
# tests/run.sh - the suite runner behind `make test`, `make check-asan` and
# `make check-tsan`. It runs every test program of every stage, counts
# their TAP results, and ends with one line: "N passed, N failed" (and
# ", N skipped" when some were skipped). Exit status 1 if anything failed.
#
# Stages, in order (STAGES below; to add one, write stage_NAME and list it):
#   unit         every executable under $BUILD/tests/ (cmocka binaries, run
#                with CMOCKA_MESSAGE_OUTPUT=TAP)
#   cli          every tests/cli/*.sh (TAP through tests/cli/lib.sh)
#   policy       `$SLUICE test --tap DIR` for every policies/*/ that has tests/
#   integration  every tests/integration/*.sh (TAP, like cli), if any
#
# Counting: "ok N ..." is a pass, "ok N ... # SKIP ..." a skip (so is
# "not ok N # SKIP ...", which cmocka 1.1 prints), "not ok N ..." a failure. A program that exits non-zero (a crash, a sanitizer
# report, a timeout) without any "not ok" line counts as one failure named
# after the program; so does a TAP program that reports no result at all.
# A program run for its exit status alone (the policy stage, when it prints
# no TAP) is one pass or one failure.
#
# Environment:
#   BUILD                build directory (default: build), relative to the
#                        repository root or absolute
#   SLUICE_TESTS         run only programs whose name contains this string
#   SLUICE_DATA          shared test data (default: ../shared/data from the
#                        repository root)
#   SLUICE_TEST_TIMEOUT  seconds allowed per program (default: 900)
# Children get ROOT (repository root), BUILD (absolute), SLUICE
# ($BUILD/sluice) and SLUICE_DATA, exported; they run from ROOT with no
# stdin. Each program's output is kept in $BUILD/test-logs/.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

BUILD=${BUILD:-build}
case $BUILD in
    /*) ;;
    *) BUILD=$ROOT/$BUILD ;;
esac
SLUICE_DATA=${SLUICE_DATA:-$ROOT/../shared/data}
if [ -d "$SLUICE_DATA" ]; then
    SLUICE_DATA=$(cd "$SLUICE_DATA" && pwd)
fi
SLUICE=$BUILD/sluice
export ROOT BUILD SLUICE SLUICE_DATA

FILTER=${SLUICE_TESTS:-}
TIMEOUT=${SLUICE_TEST_TIMEOUT:-900}
LOGDIR=$BUILD/test-logs

STAGES=(unit cli policy integration)

PASSED=0
FAILED=0
SKIPPED=0
FAIL_NAMES=()   # "stage name: what failed", one per failure
FAIL_LOGS=()    # log file of each failing program, once each

# Record a failure that is not a program's own TAP line.
add_failure() {
    FAILED=$((FAILED + 1))
    FAIL_NAMES+=("$1")
}

# Describe a non-zero exit status.
exit_reason() {
    if [ "$1" -eq 124 ]; then
        echo "timed out after ${TIMEOUT}s"
    elif [ "$1" -gt 128 ]; then
        echo "killed by signal $(($1 - 128))"
    else
        echo "exited with status $1"
    fi
}

# run_prog STAGE NAME MODE CMD...
# Run CMD (from ROOT, no stdin, with a timeout), keep its output in the log
# directory, count its TAP lines and print one line about it. MODE "tap":
# a program with no result fails; MODE "exit": without TAP output, the exit
# status alone is one result.
run_prog() {
    local stage=$1 name=$2 mode=$3
    shift 3
    if [ -n "$FILTER" ] && [[ "$name" != *"$FILTER"* ]]; then
        return 0
    fi
    local log="$LOGDIR/$stage/$name.log" rc=0 p f s summary status line
    mkdir -p "$(dirname "$log")"
    # The subshell's stderr is dropped only so that the shell's own
    # "Segmentation fault" notice stays out of the report; the exit status
    # says the same below.
    (timeout -k 10 "$TIMEOUT" "$@" >"$log" 2>&1 </dev/null; exit $?) \
        2>/dev/null || rc=$?

    # A SKIP directive counts as a skip on "ok" and "not ok" lines alike
    # (cmocka 1.1 prints "not ok N # SKIP name").
    read -r p f s < <(awk '
        !/^(not )?ok [0-9]+/ { next }
        tolower($0) ~ /#[ \t]*skip/ { s++; next }
        /^not / { f++; next }
        { p++ }
        END { print p + 0, f + 0, s + 0 }' "$log")
    while IFS= read -r line; do
        FAIL_NAMES+=("$stage $name: $line")
    done < <(grep -E '^not ok [0-9]+' "$log" | grep -viE '#[[:space:]]*skip' ||
             true)

    # A crash or a timeout is a failure of its own even after "not ok"
    # lines: the tests after it never ran.
    if [ "$rc" -ne 0 ] && { [ "$f" -eq 0 ] || [ "$rc" -eq 124 ] ||
                            [ "$rc" -gt 128 ]; }; then
        f=$((f + 1))
        FAIL_NAMES+=("$stage $name: $(exit_reason "$rc")")
    elif [ $((p + f + s)) -eq 0 ]; then
        if [ "$mode" = exit ]; then
            p=1
        else
            f=1
            FAIL_NAMES+=("$stage $name: reported no test result")
        fi
    fi

    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    SKIPPED=$((SKIPPED + s))
    summary="$p passed"
    [ "$f" -eq 0 ] || summary="$summary, $f failed"
    [ "$s" -eq 0 ] || summary="$summary, $s skipped"
    status=PASS
    if [ "$f" -gt 0 ]; then
        status=FAIL
        FAIL_LOGS+=("$stage $name|$log")
    fi
    printf '%s  %-11s %-44s %s\n' "$status" "$stage" "$name" "$summary"
}

stage_unit() {
    local bin
    if [ ! -d "$BUILD/tests" ]; then
        add_failure "unit: no test binaries in $BUILD/tests (run make unit)"
        echo "FAIL  unit        no test binaries in $BUILD/tests"
        return 0
    fi
    while IFS= read -r bin; do
        run_prog unit "${bin#"$BUILD/tests/"}" tap \
            env CMOCKA_MESSAGE_OUTPUT=TAP "$bin"
    done < <(find "$BUILD/tests" -type f -perm -u+x \
                 ! -name '*.o' ! -name '*.so' ! -name '*.a' | LC_ALL=C sort)
}

# Shell tests in DIR, in name order.
run_scripts() {
    local stage=$1 dir=$2 script
    for script in "$dir"/*.sh; do
        [ -f "$script" ] || continue
        [ "$(basename "$script")" != lib.sh ] || continue
        run_prog "$stage" "$(basename "$script")" tap bash "$script"
    done
}

stage_cli() {
    run_scripts cli "$ROOT/tests/cli"
}

stage_policy() {
    local dir
    for dir in "$ROOT"/policies/*/; do
        dir=${dir%/}
        [ -d "$dir/tests" ] || continue
        run_prog policy "policies/$(basename "$dir")" exit \
            "$SLUICE" test --tap "$dir"
    done
}

stage_integration() {
    run_scripts integration "$ROOT/tests/integration"
}

# Print the last lines of a log, indented.
show_log() {
    local log=$1 n
    n=$(wc -l <"$log")
    if [ "$n" -gt 200 ]; then
        echo "    ... ($((n - 200)) earlier lines; full log: $log)"
    fi
    tail -n 200 "$log" | sed 's/^/    /'
}

for stage in "${STAGES[@]}"; do
    "stage_$stage"
done

if [ "$FAILED" -gt 0 ]; then
    echo
    echo "== failed =="
    for entry in "${FAIL_NAMES[@]}"; do
        echo "  $entry"
    done
    for entry in "${FAIL_LOGS[@]}"; do
        echo
        echo "-- output of ${entry%%|*} --"
        show_log "${entry#*|}"
    done
    echo
fi

line="$PASSED passed, $FAILED failed"
[ "$SKIPPED" -eq 0 ] || line="$line, $SKIPPED skipped"
echo "$line"
[ "$FAILED" -eq 0 ]
