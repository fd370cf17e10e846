# shellcheck shell=bash
# tests/cli/lib.sh - a tiny TAP helper for the shell tests in tests/cli/.
#
# Source it from a test script (tests/run.sh sets ROOT, SLUICE and
# SLUICE_DATA):
#
#   #!/usr/bin/env bash
#   set -eu
#   . "$ROOT/tests/cli/lib.sh"
#   run "$SLUICE" check -p "$ROOT/policies/baseline" "hello"
#   expect_eq "a clean text exits 0" 0 "$RC"
#   expect_contains "a clean text is printed back" "$OUT" "hello"
#   expect_exit 2 "$SLUICE" check --no-such-flag
#   done_testing
#
# Output is plan-less TAP: "ok N - name", "not ok N - name" (followed by
# "#" diagnostic lines), "ok N - name # SKIP reason". Test names should be
# sentences saying what is expected.
#
# Functions (all return 0, so `set -e` never stops a script at a failed
# assertion; done_testing sets the exit status):
#   ok NAME                      record a pass
#   not_ok NAME [DIAG...]        record a failure, with diagnostic lines
#   check NAME CMD...            pass if CMD exits 0 (output discarded)
#   expect_eq NAME WANT GOT      pass if the strings are equal
#   expect_ne NAME UNWANTED GOT  pass if they differ
#   expect_contains NAME HAYSTACK NEEDLE       pass if NEEDLE is in HAYSTACK
#   expect_not_contains NAME HAYSTACK NEEDLE   pass if it is not
#   expect_exit CODE CMD...      run CMD (via `run`), pass if it exits CODE;
#                                named "CMD exits CODE"
#   expect_exit_named NAME CODE CMD...   the same with your own name
#   run CMD...                   run CMD with the caller's stdin; set OUT and
#                                ERR (stdout, stderr without the last
#                                newline) and RC (exit status)
#   skip REASON [NAME]           record a skipped test
#   bail_out REASON              "Bail out!" and exit 1
#   done_testing                 print a summary comment; exit 1 if any
#                                test failed, else 0
# TAP_TMP is a private temporary directory, removed when the shell exits
# (the library sets an EXIT trap; a script that needs its own should call
# tap_cleanup from it).

: "${ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${SLUICE:=$ROOT/build/sluice}"
: "${SLUICE_DATA:=$ROOT/../shared/data}"

TAP_N=0
TAP_FAILED=0
TAP_SKIPPED=0
OUT=""
ERR=""
RC=0
TAP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-cli.XXXXXX")

tap_cleanup() {
    if [ -n "${TAP_TMP:-}" ] && [ -d "$TAP_TMP" ]; then
        rm -rf "$TAP_TMP"
    fi
}
trap tap_cleanup EXIT

# Print each argument as a "# " diagnostic line (multi-line values are
# indented line by line).
tap_diag() {
    local line arg
    for arg in "$@"; do
        while IFS= read -r line || [ -n "$line" ]; do
            printf '#   %s\n' "$line"
        done <<<"$arg"
    done
}

ok() {
    TAP_N=$((TAP_N + 1))
    printf 'ok %d - %s\n' "$TAP_N" "$1"
    return 0
}

not_ok() {
    local name=$1
    shift
    TAP_N=$((TAP_N + 1))
    TAP_FAILED=$((TAP_FAILED + 1))
    printf 'not ok %d - %s\n' "$TAP_N" "$name"
    if [ $# -gt 0 ]; then
        tap_diag "$@"
    fi
    return 0
}

skip() {
    local reason=$1 name=${2:-skipped}
    TAP_N=$((TAP_N + 1))
    TAP_SKIPPED=$((TAP_SKIPPED + 1))
    printf 'ok %d - %s # SKIP %s\n' "$TAP_N" "$name" "$reason"
    return 0
}

check() {
    local name=$1
    shift
    if "$@" >/dev/null 2>&1; then
        ok "$name"
    else
        not_ok "$name" "command failed (exit $?): $*"
    fi
}

expect_eq() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        not_ok "$1" "want: $2" "got:  $3"
    fi
}

expect_ne() {
    if [ "$2" != "$3" ]; then
        ok "$1"
    else
        not_ok "$1" "did not want: $2"
    fi
}

expect_contains() {
    case "$2" in
        *"$3"*) ok "$1" ;;
        *) not_ok "$1" "want a substring: $3" "in: $2" ;;
    esac
}

expect_not_contains() {
    case "$2" in
        *"$3"*) not_ok "$1" "did not want: $3" "in: $2" ;;
        *) ok "$1" ;;
    esac
}

run() {
    RC=0
    "$@" >"$TAP_TMP/out" 2>"$TAP_TMP/err" || RC=$?
    OUT=$(cat "$TAP_TMP/out")
    ERR=$(cat "$TAP_TMP/err")
    return 0
}

expect_exit_named() {
    local name=$1 code=$2
    shift 2
    run "$@"
    if [ "$RC" = "$code" ]; then
        ok "$name"
    else
        not_ok "$name" "want exit $code, got $RC: $*" "stdout: $OUT" \
            "stderr: $ERR"
    fi
}

expect_exit() {
    local code=$1
    shift
    expect_exit_named "$* exits $code" "$code" "$@"
}

bail_out() {
    printf 'Bail out! %s\n' "$1"
    exit 1
}

done_testing() {
    printf '# %d tests, %d failed, %d skipped\n' "$TAP_N" "$TAP_FAILED" \
        "$TAP_SKIPPED"
    if [ "$TAP_FAILED" -gt 0 ]; then
        exit 1
    fi
    exit 0
}
