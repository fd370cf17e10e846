#!/usr/bin/env bash
# tests/cli/20-test.sh - `sluice test`: a passing pack exits 0, a failing
# case exits 1 with an expected-vs-got diff naming the rule, the term and
# the text around it, malformed test files exit 2 naming file and line,
# --filter selects by name, --tap, --json and --junit are machine-readable
# (the JUnit XML is read back with a real XML parser), stream cases run in
# ten chunkings, --mutate reports a deterministic robustness score and
# --min-robustness fails below it, coverage lists the rules and terms no
# case exercised and --min-coverage fails below it, a pack without tests
# is a note, not an error, and the shipped baseline pack passes its own
# cases.
#
# Fixtures: tests/cli/fixtures/test-{pass,fail,malformed,notests,cover}/.
set -eu
. "$ROOT/tests/cli/lib.sh"

FX="$ROOT/tests/cli/fixtures"

# Each JSON line parses; prints the number of objects.
json_lines() {
    python3 -c 'import json,sys; print(len([json.loads(l) for l in sys.stdin]))'
}

# A copy of a pack (default: the passing one) whose tests/z.yaml is $1.
pack_with() {
    rm -rf "$TAP_TMP/p"
    cp -r "$FX/${2:-test-pass}" "$TAP_TMP/p"
    printf '%s\n' "$1" >"$TAP_TMP/p/tests/z.yaml"
}

HAVE_PY=0
if command -v python3 >/dev/null 2>&1; then
    HAVE_PY=1
fi

# Read a JUnit file with Python's XML parser and print what it holds:
# "totals T F E" for <testsuites>, then per <testsuite> "suite NAME T F E
# consistent|inconsistent" (its counts against its own <testcase>s), then
# per failing <testcase> "fail CLASSNAME | NAME | MESSAGE", and "times ok"
# if every time attribute is a number.
junit_summary() {
    python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
print("totals", root.get("tests"), root.get("failures"), root.get("errors"))
times = [root.get("time")]
for s in root.findall("testsuite"):
    cases = s.findall("testcase")
    nf = sum(1 for c in cases if c.find("failure") is not None)
    ne = sum(1 for c in cases if c.find("error") is not None)
    ok = (int(s.get("tests")) == len(cases) and int(s.get("failures")) == nf
          and int(s.get("errors")) == ne)
    print("suite", s.get("name"), s.get("tests"), s.get("failures"),
          s.get("errors"), "consistent" if ok else "inconsistent")
    times.append(s.get("time"))
    for c in cases:
        times.append(c.get("time"))
        f = c.find("failure")
        if f is not None:
            print("fail", c.get("classname"), "|", c.get("name"), "|",
                  f.get("message"))
try:
    [float(t) for t in times]
    print("times ok")
except (TypeError, ValueError):
    print("times bad")
PY
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
expect_contains "the diff names the term that matched" "$OUT" \
    'at 4-13 "otherword", term "otherword"'
expect_contains "the diff shows the text around the span, bracketed" "$OUT" \
    'in "say «otherword» # twice"'
expect_contains "the rules diff names the rule that was not expected" "$OUT" \
    "got [words.bad] (not expected: words.bad)"
expect_contains "the summary counts the failure" "$OUT" "2 cases, 1 passed, 1 failed"
expect_not_contains "a passing case is not shown as failed" "$OUT" \
    "FAIL $FX/test-fail/tests/cases.yaml:2"

pack_with '- name: expects a rule that does not fire
  input: "a badword"
  expect: {rules: [danger.detonator]}'
run "$SLUICE" test "$TAP_TMP/p"
expect_eq "a case expecting an absent rule fails" 1 "$RC"
expect_contains "the rules diff names the missing rule" "$OUT" \
    "(missing: danger.detonator; not expected: words.bad)"

pack_with '- name: a regex match has no term
  input: "card ID-123456 here"
  expect: {action: allow}' test-cover
run "$SLUICE" test "$TAP_TMP/p"
expect_contains "a regex span is shown as a regex match" "$OUT" \
    'ids.never (redact) at 5-14 "ID-123456", a regex match'

pack_with '- name: an invisible character is shown escaped
  input: "a bad\u200bword"
  expect: {action: allow}'
run "$SLUICE" test "$TAP_TMP/p"
expect_contains "the diff shows zero-width characters as escapes" "$OUT" \
    'in "a «bad\u200bword»"'

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
expect_eq "--json prints one parseable object per case, coverage and a summary" 4 "$n"
expect_contains "--json marks the failing case" "$OUT" '"status":"fail"'
expect_contains "--json lists the mismatched fields" "$OUT" \
    '"mismatches":["action","rules","output","spans"]'
expect_contains "--json gives the spans that fired, with their text and term" \
    "$OUT" '"spans":[{"start":4,"end":13,"rule":"words.bad","text":"otherword","term":"otherword"}]'
expect_contains "--json ends with a summary" "$OUT" \
    '{"type":"summary","cases":2,"passed":1,"failed":1}'

run "$SLUICE" test --json "$ROOT/policies/baseline"
n=$(printf '%s\n' "$OUT" | json_lines 2>&1 || true)
case $n in
    ''|*[!0-9]*) not_ok "--json output of the baseline pack parses" "$n" ;;
    *) ok "--json output of the baseline pack parses" ;;
esac

# --- stream: true ------------------------------------------------------------

run "$SLUICE" test -v "$FX/test-pass"
expect_contains "-v says a stream case ran in ten chunkings" "$OUT" \
    "stream: 10 chunkings (whole, 1-byte, random; seed 1) agree with the whole text"

run "$SLUICE" test --json --filter danger "$FX/test-pass"
expect_contains "--json reports a stream case's chunkings" "$OUT" \
    '"stream":{"chunkings":10,"seed":1,"status":"pass"}'

run "$SLUICE" test -v --filter "an explosive recipe is blocked" "$ROOT/policies/baseline"
expect_eq "a blocked stream case passes in every chunking" 0 "$RC"
expect_contains "a blocked stream case runs its chunkings" "$OUT" "stream: 10 chunkings"

want=$(cat "$ROOT"/policies/baseline/tests/*.yaml | grep -c '^  stream: true$' || true)
run "$SLUICE" test -v "$ROOT/policies/baseline"
got=$(printf '%s\n' "$OUT" | grep -cE 'stream: [0-9]+ chunkings? \(' || true)
expect_eq "every stream case of the baseline runs its chunkings" "$want" "$got"
expect_ne "the baseline has stream cases" 0 "$want"

run "$SLUICE" test -v --seed 99 --filter danger "$FX/test-pass"
expect_contains "--seed is named with the chunkings" "$OUT" "seed 99"

# --- --junit ---------------------------------------------------------------

run "$SLUICE" test --junit "$TAP_TMP/j.xml" "$FX/test-fail"
expect_eq "--junit keeps the exit status" 1 "$RC"
expect_contains "--junit keeps the usual output" "$OUT" "2 cases, 1 passed, 1 failed"
if [ "$HAVE_PY" = 1 ]; then
    got=$(junit_summary "$TAP_TMP/j.xml" 2>&1 || true)
    expect_contains "the JUnit totals count the cases and the failure" "$got" \
        "totals 2 1 0"
    expect_contains "a testsuite per test file, its counts matching its testcases" \
        "$got" "suite $FX/test-fail/tests/cases.yaml 2 1 0 consistent"
    expect_contains "a failing testcase has classname = file and name = case" \
        "$got" "fail $FX/test-fail/tests/cases.yaml | wrongly expects otherword (#2) to pass |"
    expect_contains "the failure message names the fields that differ" "$got" \
        "expected and got differ in action, rules, output, spans"
    expect_contains "every JUnit time attribute is a number" "$got" "times ok"
    body=$(python3 -c 'import sys, xml.etree.ElementTree as ET
print(ET.parse(sys.argv[1]).getroot().find(".//failure").text)' "$TAP_TMP/j.xml" 2>&1 || true)
    expect_contains "the failure text is the diff, with the term" "$body" \
        'term "otherword"'
else
    skip "no python3" "--junit output parses as XML"
fi

run "$SLUICE" test --junit "$TAP_TMP/b.xml" "$ROOT/policies/baseline"
if [ "$HAVE_PY" = 1 ]; then
    got=$(junit_summary "$TAP_TMP/b.xml" 2>&1 || true)
    n=$(printf '%s\n' "$OUT" | sed -n 's/^\([0-9]*\) cases.*/\1/p')
    expect_contains "the baseline's JUnit totals equal its case count" "$got" \
        "totals $n 0 0"
    expect_eq "the baseline has one consistent testsuite per test file" \
        "$(ls "$ROOT"/policies/baseline/tests/*.yaml | wc -l | tr -d ' ')" \
        "$(printf '%s\n' "$got" | grep -c '^suite .* consistent$' || true)"
else
    skip "no python3" "the baseline's JUnit output parses"
fi

pack_with '- name: "controls \x01\x0b <&> \"q\" ]]> \uFFFE"
  input: "a badword \x00\x07\x1f <&> ]]> \uFFFF"
  expect: {action: allow}'
run "$SLUICE" test --junit "$TAP_TMP/c.xml" "$TAP_TMP/p"
if [ "$HAVE_PY" = 1 ]; then
    got=$(junit_summary "$TAP_TMP/c.xml" 2>&1 || true)
    expect_contains "control characters and markup are escaped into valid XML" \
        "$got" 'fail '"$TAP_TMP"'/p/tests/z.yaml | controls \x01\x0b <&> "q" ]]> \uFFFE |'
else
    skip "no python3" "--junit escapes control characters"
fi

expect_exit_named "--junit to an unwritable path exits 2" 2 \
    "$SLUICE" test --junit "$TAP_TMP/no/such/dir/j.xml" "$FX/test-pass"

# --- --mutate ----------------------------------------------------------------

run "$SLUICE" test --mutate "$ROOT/policies/baseline"
expect_eq "--mutate on the baseline exits 0 (robustness is a report)" 0 "$RC"
expect_contains "--mutate prints an overall robustness score" "$OUT" \
    "mutations (seed 1): "
expect_contains "--mutate prints a row per rule" "$OUT" "profanity.en "
expect_contains "--mutate prints the overall row" "$OUT" "  overall "
expect_contains "--mutate prints the per-kind breakdown" "$OUT" "  zero-width "
expect_contains "--mutate lists slipping variants" "$OUT" "slipping variants"
first=$OUT
run "$SLUICE" test --mutate --seed 1 "$ROOT/policies/baseline"
expect_eq "the same seed gives the same mutation report" "$first" "$OUT"
run "$SLUICE" test --mutate --seed 2 "$ROOT/policies/baseline"
expect_ne "another seed gives other variants" "$first" "$OUT"

run "$SLUICE" test --mutate -v "$ROOT/policies/baseline"
expect_contains "-v lists slipping variants with invisible characters escaped" \
    "$OUT" '\u200b'

run "$SLUICE" test --min-robustness 101 "$ROOT/policies/baseline"
expect_eq "--min-robustness 101 fails" 1 "$RC"
expect_contains "--min-robustness says the score is below it" "$OUT" \
    "is below --min-robustness 101%"
run "$SLUICE" test --min-robustness 0 "$ROOT/policies/baseline"
expect_eq "--min-robustness 0 passes" 0 "$RC"
expect_exit 2 "$SLUICE" test --min-robustness lots "$FX/test-pass"
expect_exit 2 "$SLUICE" test --seed -1 "$FX/test-pass"

run "$SLUICE" test --mutate --tap "$FX/test-pass"
bad=$(printf '%s\n' "$OUT" | grep -Ev '^(ok [0-9]+ - |not ok [0-9]+ - |#|1\.\.[0-9]+$)' || true)
expect_eq "--mutate --tap prints only TAP lines" "" "$bad"

run "$SLUICE" test --mutate --slips 0 "$FX/test-pass"
expect_not_contains "--slips 0 lists no variant" "$OUT" "-> allow"

run "$SLUICE" test --mutate --json "$FX/test-pass"
if [ "$HAVE_PY" = 1 ]; then
    got=$(printf '%s\n' "$OUT" | python3 -c '
import json, sys
objs = [json.loads(l) for l in sys.stdin]
kinds = [o["type"] for o in objs]
m = [o for o in objs if o["type"] == "mutate"][0]
slips = [s for o in objs if o["type"] == "mutate_rule" for s in o["slipped"]
         if s["name"] == "a listed word is redacted"]
kept = all(s["input"].startswith("this is a ") and s["input"].endswith(" here")
           for s in slips)
print(kinds[-1], m["variants"] >= m["caught"], len(slips) > 0, kept)' 2>&1 || true)
    expect_eq "--mutate --json: objects parse, summary last, only the matched part changes" \
        "summary True True True" "$got"
else
    skip "no python3" "--mutate --json parses"
fi

# --- coverage ------------------------------------------------------------------

run "$SLUICE" test "$FX/test-cover"
expect_eq "a pack with unexercised rules still passes" 0 "$RC"
expect_contains "the coverage line counts rules and terms" "$OUT" \
    "coverage: 1 of 3 rules fired (33.3%), 2 of 13 terms matched (15.4%)"
run "$SLUICE" test --coverage "$FX/test-cover"
expect_contains "--coverage lists the rules no case made fire" "$OUT" \
    "rules no case made fire: danger.never, ids.never"
expect_contains "--coverage counts a list's unmatched terms, showing the first" \
    "$OUT" 'terms of words.listed no case matched: 10 of 12: "charlie", "delta"'
expect_not_contains "--coverage shows only the first few of a long list" "$OUT" '"lima"'
expect_contains "--coverage lists an unmatched inline term" "$OUT" \
    'terms of danger.never no case matched: 1 of 1: "detonator"'
run "$SLUICE" test --coverage -v "$FX/test-cover"
expect_contains "--coverage -v lists every unmatched term" "$OUT" '"kilo", "lima"'

run "$SLUICE" test --min-coverage 100 "$FX/test-cover"
expect_eq "--min-coverage 100 fails when a rule never fires" 1 "$RC"
expect_contains "--min-coverage says the coverage is below it" "$OUT" \
    "FAIL rule coverage 33.3% is below --min-coverage 100%"
run "$SLUICE" test --min-coverage 30 "$FX/test-cover"
expect_eq "--min-coverage below the coverage passes" 0 "$RC"
run "$SLUICE" test --min-term-coverage 50 "$FX/test-cover"
expect_eq "--min-term-coverage fails below it" 1 "$RC"
run "$SLUICE" test --min-coverage 100 --min-term-coverage 100 "$FX/test-pass"
expect_eq "a fully covered tiny policy passes --min-coverage 100" 0 "$RC"
expect_contains "a fully covered policy says so" "$OUT" \
    "coverage: 2 of 2 rules fired (100.0%), 3 of 3 terms matched (100.0%)"

run "$SLUICE" test --tap --min-coverage 100 "$FX/test-cover"
expect_contains "--tap reports a missed threshold as a test" "$OUT" \
    "not ok 4 - rule coverage 33.3% is below --min-coverage 100%"
expect_contains "--tap counts the threshold in the plan" "$OUT" "1..4"

run "$SLUICE" test --json --min-coverage 100 "$FX/test-cover"
if [ "$HAVE_PY" = 1 ]; then
    got=$(printf '%s\n' "$OUT" | python3 -c '
import json, sys
objs = [json.loads(l) for l in sys.stdin]
c = [o for o in objs if o["type"] == "coverage"][0]
s = objs[-1]
print(c["rules"]["unfired"], len(c["terms"]["unmatched"]["words.listed"]),
      s["thresholds"][0]["ok"])' 2>&1 || true)
    expect_eq "--json lists every uncovered rule and term, and the threshold" \
        "['danger.never', 'ids.never'] 10 False" "$got"
else
    skip "no python3" "--json coverage parses"
fi

run "$SLUICE" test --junit "$TAP_TMP/t.xml" --min-coverage 100 "$FX/test-cover"
if [ "$HAVE_PY" = 1 ]; then
    got=$(junit_summary "$TAP_TMP/t.xml" 2>&1 || true)
    expect_contains "--junit has a thresholds testsuite with the miss" "$got" \
        "suite thresholds 1 1 0 consistent"
    expect_contains "--junit totals count the missed threshold" "$got" "totals 4 1 0"
else
    skip "no python3" "--junit thresholds"
fi

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
for opt in "--junit FILE" "--seed N" "--mutate" "--min-robustness P" \
           "--coverage" "--min-coverage P" "--min-term-coverage P" "stream: true"; do
    expect_contains "test --help explains $opt" "$OUT" "$opt"
done

# --- the shipped pack --------------------------------------------------------

run "$SLUICE" test "$ROOT/policies/baseline"
expect_eq "the baseline pack passes its own cases" 0 "$RC"
if [ "$RC" != 0 ]; then
    tap_diag "$OUT"
fi

done_testing
