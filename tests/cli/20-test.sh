#!/usr/bin/env bash
# tests/cli/20-test.sh - `sluice test`: a passing pack exits 0, a failing
# case exits 1 with an expected-vs-got diff, malformed test files exit 2
# naming file and line, --filter selects by name, --tap and --json are
# machine-readable, a pack without tests is a note, not an error, and the
# shipped baseline pack passes its own cases.
#
# Fixtures: tests/cli/fixtures/test-{pass,fail,malformed,notests}/.
set -eu
. "$ROOT/tests/cli/lib.sh"

FX="$ROOT/tests/cli/fixtures"

# Each JSON line parses; prints the number of objects.
json_lines() {
    python3 -c 'import json,sys; print(len([json.loads(l) for l in sys.stdin]))'
}

# A copy of the passing pack whose tests/z.yaml is $1 (for malformed files).
pack_with() {
    rm -rf "$TAP_TMP/p"
    cp -r "$FX/test-pass" "$TAP_TMP/p"
    printf '%s\n' "$1" >"$TAP_TMP/p/tests/z.yaml"
}

# --- a passing pack --------------------------------------------------------

run "$SLUICE" test "$FX/test-pass"
expect_eq "a pack whose cases all pass exits 0" 0 "$RC"
expect_contains "the summary counts the cases" "$OUT" "5 cases, 5 passed, 0 failed"
expect_not_contains "passing cases are not listed by default" "$OUT" "ok   "

run "$SLUICE" test -v "$FX/test-pass"
expect_contains "-v lists passing cases with file and line" "$OUT" \
    "ok   $FX/test-pass/tests/a-words.yaml:3: a listed word is redacted"

run "$SLUICE" test "$FX/test-pass/policy.yaml"
expect_eq "the policy.yaml path works as well as the directory" 0 "$RC"
expect_contains "its tests are found beside it" "$OUT" "5 cases"

# --- a failing case --------------------------------------------------------

run "$SLUICE" test "$FX/test-fail"
expect_eq "a pack with a failing case exits 1" 1 "$RC"
expect_contains "the failing case is named with file and line" "$OUT" \
    "FAIL $FX/test-fail/tests/cases.yaml:6: wrongly expects otherword (#2) to pass"
expect_contains "the action diff shows expected and got" "$OUT" \
    "action:     expected allow, got redact"
expect_contains "the rules diff shows expected and got" "$OUT" \
    "rules:      expected [], got [words.bad]"
expect_contains "the output diff shows the expected text" "$OUT" \
    'expected "say otherword # twice"'
expect_contains "the output diff shows the text it got" "$OUT" \
    'got      "say [redacted] # twice"'
expect_contains "the spans diff shows what matched" "$OUT" "got      [4-13 words.bad]"
expect_contains "the rule that fired is quoted with its text" "$OUT" \
    'words.bad (redact) at 4-13 "otherword"'
expect_contains "the summary counts the failure" "$OUT" "2 cases, 1 passed, 1 failed"
expect_not_contains "a passing case is not shown as failed" "$OUT" \
    "FAIL $FX/test-fail/tests/cases.yaml:2"

# --- malformed test files --------------------------------------------------

run "$SLUICE" test "$FX/test-malformed"
expect_eq "a test file with an unknown key exits 2" 2 "$RC"
expect_contains "the unknown key is named with file and line" "$ERR" \
    "sluice: $FX/test-malformed/tests/cases.yaml:7: unknown key 'acton' in expect"
expect_eq "no case runs when a test file is malformed" "" "$OUT"

pack_with '- name: x
  input: [1'
run "$SLUICE" test "$TAP_TMP/p"
expect_eq "a YAML syntax error exits 2" 2 "$RC"
expect_contains "a YAML syntax error names file and line" "$ERR" "tests/z.yaml:3: YAML syntax error"

pack_with '- input: "text"'
run "$SLUICE" test "$TAP_TMP/p"
expect_eq "a case without a name exits 2" 2 "$RC"
expect_contains "a case without a name is explained" "$ERR" "z.yaml:1: a test case needs a name"

pack_with '- name: no input here'
run "$SLUICE" test "$TAP_TMP/p"
expect_eq "a case without an input exits 2" 2 "$RC"
expect_contains "a case without an input is explained" "$ERR" "has no input"

pack_with '- name: a
  input: b
  expect: {action: ban}'
run "$SLUICE" test "$TAP_TMP/p"
expect_eq "an unknown action exits 2" 2 "$RC"
expect_contains "an unknown action names its line" "$ERR" "z.yaml:3: expect.action must be one of"

pack_with '- name: a
  input: b
  expect: {spans: [[5, 2]]}'
run "$SLUICE" test "$TAP_TMP/p"
expect_eq "a span ending before its start exits 2" 2 "$RC"

pack_with 'name: a
input: b'
run "$SLUICE" test "$TAP_TMP/p"
expect_eq "a test file that is not a list exits 2" 2 "$RC"
expect_contains "a test file must be a list of cases" "$ERR" "list of cases"

pack_with '- name: a
  input: b
  stream: true
  tags: [one, two]'
run "$SLUICE" test "$TAP_TMP/p"
expect_eq "stream and tags are accepted" 0 "$RC"

# --- --filter --------------------------------------------------------------

run "$SLUICE" test -v --filter "clean" "$FX/test-pass"
expect_eq "--filter exits 0 when the selected cases pass" 0 "$RC"
expect_contains "--filter runs the matching case" "$OUT" "a clean text is allowed"
expect_contains "--filter runs only matching cases" "$OUT" "1 case, 1 passed, 0 failed"

run "$SLUICE" test --filter "listed word is redacted" "$FX/test-fail"
expect_eq "--filter can leave a failing case out" 0 "$RC"

run "$SLUICE" test --filter "no such case" "$FX/test-pass"
expect_eq "a --filter matching nothing exits 0" 0 "$RC"
expect_contains "a --filter matching nothing says so" "$ERR" "no test cases match"

# --- --tap -----------------------------------------------------------------

run "$SLUICE" test --tap "$FX/test-fail"
expect_eq "--tap keeps the exit status" 1 "$RC"
expect_contains "--tap prints ok lines as file: name" "$OUT" "ok 1 - cases.yaml: a listed word is redacted"
expect_contains "--tap prints not ok lines, with '#' escaped" "$OUT" \
    "not ok 2 - cases.yaml: wrongly expects otherword (\\#2) to pass"
expect_contains "--tap puts the diff in diagnostics" "$OUT" "#   action:     expected allow, got redact"
expect_contains "--tap prints the plan" "$OUT" "1..2"
bad=$(printf '%s\n' "$OUT" | grep -Ev '^(ok [0-9]+ - |not ok [0-9]+ - |#|1\.\.[0-9]+$)' || true)
expect_eq "every --tap line is a TAP line" "" "$bad"
n=$(printf '%s\n' "$OUT" | grep -cE '^(not )?ok [0-9]+ - ' || true)
expect_eq "--tap prints one result per case" 2 "$n"

# --- --json ----------------------------------------------------------------

run "$SLUICE" test --json "$FX/test-fail"
expect_eq "--json keeps the exit status" 1 "$RC"
n=$(printf '%s\n' "$OUT" | json_lines 2>&1 || true)
expect_eq "--json prints one parseable object per case plus a summary" 3 "$n"
expect_contains "--json marks the failing case" "$OUT" '"status":"fail"'
expect_contains "--json lists the mismatched fields" "$OUT" \
    '"mismatches":["action","rules","output","spans"]'
expect_contains "--json gives the spans that fired, with their text" "$OUT" \
    '"spans":[{"start":4,"end":13,"rule":"words.bad","text":"otherword"}]'
expect_contains "--json ends with a summary" "$OUT" \
    '{"type":"summary","cases":2,"passed":1,"failed":1}'

run "$SLUICE" test --json "$ROOT/policies/baseline"
n=$(printf '%s\n' "$OUT" | json_lines 2>&1 || true)
case $n in
    ''|*[!0-9]*) not_ok "--json output of the baseline pack parses" "$n" ;;
    *) ok "--json output of the baseline pack parses" ;;
esac

# --- packs without cases, usage ---------------------------------------------

run "$SLUICE" test "$FX/test-notests"
expect_eq "a pack without tests/ exits 0" 0 "$RC"
expect_contains "a pack without tests/ gets a note" "$ERR" "no test cases"

run "$SLUICE" test "$TAP_TMP/nonexistent"
expect_eq "a missing policy exits 2" 2 "$RC"

run "$SLUICE" test
expect_eq "a missing POLICY exits 2" 2 "$RC"
expect_exit 2 "$SLUICE" test --tap --json "$FX/test-pass"
expect_exit 2 "$SLUICE" test --no-such-flag "$FX/test-pass"

run "$SLUICE" test --help
expect_eq "test --help exits 0" 0 "$RC"
expect_contains "test --help teaches by example" "$OUT" "examples:"

# --- the shipped pack --------------------------------------------------------

run "$SLUICE" test "$ROOT/policies/baseline"
expect_eq "the baseline pack passes its own cases" 0 "$RC"
if [ "$RC" != 0 ]; then
    tap_diag "$OUT"
fi

done_testing
