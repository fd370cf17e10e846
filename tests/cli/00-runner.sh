#!/usr/bin/env bash
# tests/cli/00-runner.sh - checks the shell-test helper (tests/cli/lib.sh)
# itself, and that the sluice binary the other CLI tests use is there and
# answers --help.
set -eu
# shellcheck source=tests/cli/lib.sh
. "${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/cli/lib.sh"

ok "lib.sh loads and records a pass"
expect_eq "expect_eq accepts equal strings" "abc" "abc"
expect_ne "expect_ne accepts different strings" "abc" "abd"
expect_contains "expect_contains finds a substring" "hello world" "lo wo"
expect_not_contains "expect_not_contains misses an absent one" "hello" "bye"
check "check passes on a command that exits 0" true

# Failures and skips are checked in subshells, so that they do not count
# in this script's own results.
inner=$(expect_eq "inner" "a" "b")
expect_contains "a failed expect_eq prints not ok with its number" \
    "$inner" "not ok $((TAP_N + 1)) - inner"
expect_contains "a failed expect_eq says what it wanted" "$inner" "want: a"
inner=$(skip "no redis here" "inner")
expect_contains "skip prints a TAP SKIP directive" "$inner" \
    "ok $((TAP_N + 1)) - inner # SKIP no redis here"
inner=$( (not_ok "inner"; done_testing) ) && rc=0 || rc=$?
expect_eq "done_testing exits 1 after a failure" 1 "$rc"

run sh -c 'echo out; echo err >&2; exit 3'
expect_eq "run captures the exit status" 3 "$RC"
expect_eq "run captures stdout" "out" "$OUT"
expect_eq "run captures stderr" "err" "$ERR"
run cat <<<"from stdin"
expect_eq "run passes the caller's stdin on" "from stdin" "$OUT"
expect_exit 3 sh -c 'exit 3'

# The binary under test (tests/run.sh points SLUICE at $BUILD/sluice).
if [ -x "$SLUICE" ]; then
    ok "the sluice binary exists"
    expect_exit_named "sluice --help exits 0" 0 "$SLUICE" --help
else
    not_ok "the sluice binary exists" "no executable at $SLUICE (make all)"
fi

done_testing
