#!/usr/bin/env bash
# tests/cli/50-lint.sh - `sluice lint`: compiler-style findings with file,
# line and code, --json lines, the exit status (0 no errors, 1 errors or
# --strict warnings, 2 usage and unreadable policies), --quiet,
# minimum term counts (lint.yaml, --min-terms, --min-total-terms,
# --no-lint-yaml), the Scunthorpe check with given and default
# vocabularies, the shipped baseline policy, which must lint without
# errors, and the cn-genai-template pack, whose A.1/A.2 risks all fall
# short of the standard's minimums as shipped.
#
# Fixtures: tests/cli/fixtures/lint/{clean,warnings,errors,broken,
# minimums,bad-lint-yaml}/, a small vocabulary (vocab.txt) and the golden
# output of the warnings fixture (warnings.golden; regenerate with
# SLUICE_GOLDEN_UPDATE=1).
set -eu
. "$ROOT/tests/cli/lib.sh"

FX="$ROOT/tests/cli/fixtures/lint"

# Each line of $1 parses as JSON; prints the number of objects.
json_lines() {
    python3 -c 'import json,sys; print(len([json.loads(l) for l in sys.stdin]))' <<<"$1"
}

# A JSON field of the last line of $1 (python expression on `d`).
json_last() {
    python3 -c 'import json,sys; d=json.loads(sys.stdin.read().splitlines()[-1]); print('"$2"')' <<<"$1"
}

# --- usage -------------------------------------------------------------------

run "$SLUICE" lint --help
expect_eq "--help exits 0" 0 "$RC"
expect_contains "--help shows the usage" "$OUT" "usage: sluice lint [options] POLICY"
expect_contains "--help teaches with examples" "$OUT" "sluice lint --strict -q policies/baseline"
expect_contains "--help states the exit status" "$OUT" "Exit status: 0 no errors"

run "$SLUICE" lint
expect_eq "no policy is a usage error" 2 "$RC"
expect_contains "no policy is explained in one line" "$ERR" "sluice: lint: which policy?"

expect_exit 2 "$SLUICE" lint --frobnicate "$FX/clean"
expect_exit 2 "$SLUICE" lint "$FX/clean" "$FX/warnings"
expect_exit 2 "$SLUICE" lint --min-terms profanity "$FX/clean"
expect_exit 2 "$SLUICE" lint --min-terms profanity=ten "$FX/clean"
expect_exit 2 "$SLUICE" lint --scunthorpe 0 "$FX/clean"
expect_exit 2 "$SLUICE" lint --min-total-terms 0 "$FX/clean"
expect_exit 2 "$SLUICE" lint --min-total-terms lots "$FX/clean"
expect_exit 2 "$SLUICE" lint --no-vocab --vocab "$FX/vocab.txt" "$FX/clean"

run "$SLUICE" lint --vocab "$TAP_TMP/missing.txt" "$FX/clean"
expect_eq "a missing vocabulary file exits 2" 2 "$RC"
expect_contains "a missing vocabulary file is named" "$ERR" "missing.txt: cannot read vocabulary file"

# --- a clean policy ----------------------------------------------------------

run "$SLUICE" lint --no-vocab "$FX/clean"
expect_eq "a clean policy exits 0" 0 "$RC"
expect_contains "the summary counts the findings" "$OUT" \
    "$FX/clean: 0 errors, 0 warnings, 2 info (1 rule, 2 terms;"
expect_contains "info findings name file and line" "$OUT" \
    "$FX/clean/policy.yaml:6: info: category 'bad' (block): 1 rule, 2 terms, 0 regexes [category-terms]"
expect_contains "the worst-case streaming holdback is stated" "$OUT" \
    "info: streaming holdback: at most 247 bytes"
expect_exit_named "a clean policy passes --strict" 0 "$SLUICE" lint --strict --no-vocab "$FX/clean"

run "$SLUICE" lint -q --no-vocab "$FX/clean"
expect_not_contains "--quiet leaves out info findings" "$OUT" "info:"
expect_contains "--quiet still prints the summary" "$OUT" "0 errors, 0 warnings"

# --- warnings ----------------------------------------------------------------

run "$SLUICE" lint --no-vocab "$FX/warnings"
expect_eq "warnings alone exit 0" 0 "$RC"
expect_contains "a duplicate names both lines" "$OUT" \
    "$FX/warnings/lists/mild.txt:4: warning: term 'eggs' is already at $FX/warnings/lists/mild.txt:3 in the same rule: remove one [duplicate-term]"
expect_contains "a folded duplicate says what it folds to" "$OUT" \
    "mild.txt:5: warning: term 'ＥＧＧＳ' normalizes to the same as 'eggs' at"
expect_contains "a shadowed term names the stronger rule" "$OUT" \
    "mild.txt:2: warning: term 'badword' is also in rule 'bad.words' (block)"
expect_contains "a contained term names the term inside it" "$OUT" \
    "mild.txt:6: warning: term 'spamalot' can never change a verdict"
expect_contains "a short term is a warning" "$OUT" "mild.txt:7: warning: term 'q' is 1 code point long"
expect_contains "an unused category is a warning" "$OUT" "[category-unused]"
expect_contains "a regex matching the empty string is a warning" "$OUT" "[regex-empty-match]"
expect_contains "the summary counts the warnings" "$OUT" "0 errors, 7 warnings"

expect_exit_named "--strict makes warnings fail" 1 "$SLUICE" lint --strict --no-vocab "$FX/warnings"

# golden output (paths relative to the fixtures, the time left out)
GOLDEN="$FX/warnings.golden"
got=$(cd "$FX" && "$SLUICE" lint --no-vocab --no-probe warnings | sed 's/; [0-9]* ms)$/; N ms)/')
if [ "${SLUICE_GOLDEN_UPDATE:-}" = 1 ]; then
    printf '%s\n' "$got" >"$GOLDEN"
fi
expect_eq "the text output matches warnings.golden" "$(cat "$GOLDEN")" "$got"

# --- errors ------------------------------------------------------------------

run "$SLUICE" lint --no-vocab "$FX/errors"
expect_eq "errors exit 1" 1 "$RC"
expect_contains "a term normalizing to nothing is an error at its line" "$OUT" \
    "$FX/errors/policy.yaml:8: error: term '***' normalizes to nothing"
expect_contains "the compiler's refusal of the regex is reported" "$OUT" \
    "$FX/errors/policy.yaml:11: error: the policy is refused: rule 'nested'"
expect_contains "the regex probe finds the blow-up" "$OUT" \
    "policy.yaml:11: error: rule 'nested': regex hits PCRE2's match limit"
expect_contains "the summary says the policy does not load" "$OUT" \
    "3 errors, 0 warnings, 2 info (2 rules, 2 terms; the policy does not load as it is;"
expect_eq "errors go to standard output, not standard error" "" "$ERR"

# --- a policy that cannot be read ---------------------------------------------

run "$SLUICE" lint "$FX/broken"
expect_eq "an unreadable policy exits 2" 2 "$RC"
expect_contains "the reason names file and line" "$ERR" \
    "sluice: $FX/broken/policy.yaml:8: rule 'r': unknown key 'bondary'"
expect_eq "nothing is printed on standard output" "" "$OUT"
expect_exit 2 "$SLUICE" lint "$TAP_TMP/nowhere"

# --- --json --------------------------------------------------------------------

run "$SLUICE" lint --json --no-vocab "$FX/warnings"
expect_eq "--json exits as the text output does" 0 "$RC"
expect_eq "--json prints one object per finding and a summary" 13 "$(json_lines "$OUT")"
expect_contains "a JSON finding has every field" "$OUT" \
    '{"severity":"warning","code":"duplicate-term","file":"'"$FX"'/warnings/lists/mild.txt","line":4,"rule":"mild.words","term":"eggs","message":"term '\''eggs'\'' is already at'
expect_contains "a finding without a rule has null" "$OUT" '"code":"category-unused","file":"'"$FX"'/warnings/policy.yaml","line":9,"rule":null,"term":null'
expect_eq "the summary object counts the warnings" 7 "$(json_last "$OUT" 'd["summary"]["warnings"]')"
expect_eq "the summary says the Scunthorpe check was skipped" skipped \
    "$(json_last "$OUT" 'd["summary"]["scunthorpe"]')"
expect_not_contains "--json prints no text summary" "$OUT" "note:"

run "$SLUICE" lint --json -q --no-vocab "$FX/warnings"
expect_eq "--json --quiet leaves out info findings" 8 "$(json_lines "$OUT")"

run "$SLUICE" lint --json --no-vocab "$FX/errors"
expect_eq "--json exits 1 on errors" 1 "$RC"
expect_eq "the JSON summary says the policy does not compile" False \
    "$(json_last "$OUT" 'd["summary"]["compiles"]')"

# --- --min-terms ---------------------------------------------------------------

run "$SLUICE" lint -q --no-vocab --min-terms bad=3 --min-terms mild=2 --min-terms ghost=1 "$FX/warnings"
expect_contains "a category under its minimum is a warning at its line" "$OUT" \
    "$FX/warnings/policy.yaml:7: warning: category 'bad' has 2 terms, fewer than the minimum of 3 [category-min-terms]"
expect_not_contains "a category at or over its minimum is fine" "$OUT" "category 'mild' has"
expect_contains "a minimum for a category no rule has is a warning" "$OUT" \
    "$FX/warnings/policy.yaml: warning: category 'ghost' has no rules and no terms"

# --- lint.yaml -------------------------------------------------------------------

run "$SLUICE" lint --no-vocab "$FX/minimums"
expect_eq "minimums below lint.yaml's are warnings, not errors" 0 "$RC"
expect_contains "a minimum that is met is an info line naming lint.yaml's line" "$OUT" \
    "$FX/minimums/policy.yaml:6: info: category 'full' has 3 terms, at least the minimum of 3 ($FX/minimums/lint.yaml:3) [category-min-terms]"
expect_contains "a minimum that is not met is a warning naming lint.yaml's line" "$OUT" \
    "$FX/minimums/policy.yaml:7: warning: category 'thin' has 1 term, fewer than the minimum of 2 ($FX/minimums/lint.yaml:4) [category-min-terms]"
expect_contains "the total is checked against min_total_terms" "$OUT" \
    "$FX/minimums/policy.yaml: warning: the policy has 4 terms in all, fewer than the minimum of 5 ($FX/minimums/lint.yaml:5) [total-min-terms]"
expect_contains "the summary counts the minimum warnings" "$OUT" "$FX/minimums: 0 errors, 2 warnings,"
expect_exit_named "--strict fails on a minimum that is not met" 1 "$SLUICE" lint --strict --no-vocab "$FX/minimums"

run "$SLUICE" lint -q --no-vocab "$FX/minimums"
expect_not_contains "--quiet leaves out the minimums that are met" "$OUT" "category 'full' has"
expect_contains "--quiet keeps the minimums that are not met" "$OUT" "category 'thin' has 1 term"

run "$SLUICE" lint --no-vocab --min-terms thin=1 --min-terms full=4 --min-total-terms 4 "$FX/minimums"
expect_contains "--min-terms wins over lint.yaml (met)" "$OUT" \
    "info: category 'thin' has 1 term, at least the minimum of 1 [category-min-terms]"
expect_contains "--min-terms wins over lint.yaml (not met)" "$OUT" \
    "warning: category 'full' has 3 terms, fewer than the minimum of 4 [category-min-terms]"
expect_contains "--min-total-terms wins over lint.yaml" "$OUT" \
    "info: the policy has 4 terms in all, at least the minimum of 4 [total-min-terms]"

run "$SLUICE" lint -q --no-vocab --min-terms thin=0 "$FX/minimums"
expect_not_contains "--min-terms CAT=0 switches lint.yaml's minimum off" "$OUT" "category 'thin' has"
expect_contains "the other minimums stay" "$OUT" "[total-min-terms]"

run "$SLUICE" lint --no-vocab --no-lint-yaml "$FX/minimums"
expect_not_contains "--no-lint-yaml ignores lint.yaml" "$OUT" "min-terms]"

run "$SLUICE" lint --no-vocab "$FX/minimums/policy.yaml"
expect_contains "lint.yaml is read beside a policy given by its file" "$OUT" "[total-min-terms]"

run "$SLUICE" lint --no-vocab "$FX/bad-lint-yaml"
expect_eq "a malformed lint.yaml exits 2" 2 "$RC"
expect_contains "a malformed lint.yaml is named with its line and a suggestion" "$ERR" \
    "sluice: $FX/bad-lint-yaml/lint.yaml:3: unknown key 'min_total_term'; did you mean 'min_total_terms'? (allowed: min_terms, min_total_terms)"
expect_eq "nothing is printed on standard output for a malformed lint.yaml" "" "$OUT"
expect_exit_named "--no-lint-yaml lints a policy whose lint.yaml is malformed" 0 \
    "$SLUICE" lint --no-vocab --no-lint-yaml "$FX/bad-lint-yaml"

mkdir -p "$TAP_TMP/lintdir/lint.yaml"
cp "$FX/clean/policy.yaml" "$TAP_TMP/lintdir/"
run "$SLUICE" lint --no-vocab "$TAP_TMP/lintdir"
expect_eq "a lint.yaml that is not a file exits 2" 2 "$RC"
expect_contains "a lint.yaml that is not a file is named" "$ERR" "lintdir/lint.yaml: cannot read the lint settings"

run "$SLUICE" lint --help
expect_contains "--help explains lint.yaml" "$OUT" "Minimums: lint.yaml in the policy's directory"

# lint.yaml is lint's alone: not part of the policy's hash, not bundled
cp -r "$FX/minimums" "$TAP_TMP/minimums"
policy_hash() {
    "$SLUICE" check --json -p "$1" "x" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["policy"]["hash"])'
}
h1=$(policy_hash "$TAP_TMP/minimums")
printf 'min_total_terms: 1\n' >"$TAP_TMP/minimums/lint.yaml"
expect_eq "changing lint.yaml does not change the policy's hash" "$h1" "$(policy_hash "$TAP_TMP/minimums")"
"$SLUICE" keygen -o "$TAP_TMP/lintkey" --name lint-test >/dev/null
run "$SLUICE" build "$TAP_TMP/minimums" -o "$TAP_TMP/minimums.bundle" --sign "$TAP_TMP/lintkey.key"
expect_eq "a policy with a lint.yaml builds" 0 "$RC"
run "$SLUICE" bundle info "$TAP_TMP/minimums.bundle"
expect_not_contains "lint.yaml is not packed into the bundle" "$OUT" "lint.yaml"

# --- Scunthorpe ---------------------------------------------------------------

run "$SLUICE" lint -q --vocab "$FX/vocab.txt" "$FX/warnings"
expect_contains "a substring term inside vocabulary words is reported" "$OUT" \
    "$FX/warnings/policy.yaml:13: warning: term 'spam' lies inside 3 words of the reference vocabulary ('spammy', 'spammer', 'spamming'): as a substring it matches in all of them"
expect_not_contains "with --vocab the check runs" "$OUT" "Scunthorpe check skipped"

run env SLUICE_DATA="$TAP_TMP/no-data" "$SLUICE" lint -q "$FX/clean"
expect_eq "without vocabularies lint still exits 0" 0 "$RC"
expect_contains "a missing shared data set is one line" "$OUT" \
    "note: Scunthorpe check skipped: no reference vocabulary (set SLUICE_DATA to the shared data set, or pass --vocab FILE)"

# --- the shipped baseline ------------------------------------------------------

run "$SLUICE" lint "$ROOT/policies/baseline"
expect_eq "the baseline policy lints without errors" 0 "$RC"
expect_contains "the baseline summary has no errors" "$OUT" "$ROOT/policies/baseline: 0 errors,"
if [ -f "$SLUICE_DATA/obscenity/english-words.txt" ]; then
    expect_not_contains "with the shared data the Scunthorpe check runs on the baseline" \
        "$OUT" "Scunthorpe check skipped"
else
    skip "no shared data at \$SLUICE_DATA ($SLUICE_DATA)" \
        "with the shared data the Scunthorpe check runs on the baseline"
fi
if [ "$(printf '%s\n' "$OUT" | grep -c ': error: ')" != 0 ]; then
    not_ok "no baseline finding is an error" "$OUT"
else
    ok "no baseline finding is an error"
fi

# --- the cn-genai-template pack ------------------------------------------------

TPL="$ROOT/policies/cn-genai-template"
run "$SLUICE" lint -q --no-vocab "$TPL"
expect_eq "the template lints without errors" 0 "$RC"
expect_eq "each of the 17 A.1 and A.2 risks is below its minimum, as shipped" 17 \
    "$(printf '%s\n' "$OUT" | grep -c "warning: category 'a[12]\.0[1-9]' has .* fewer than the minimum of [12]00 ($TPL/lint.yaml:[0-9]*) \[category-min-terms\]$")"
expect_contains "an A.1 risk is measured against 200 terms" "$OUT" \
    "$TPL/policy.yaml:33: warning: category 'a1.01' has 1 term, fewer than the minimum of 200 ($TPL/lint.yaml:14) [category-min-terms]"
expect_contains "an A.2 risk is measured against 100 terms" "$OUT" \
    "warning: category 'a2.09' has 9 terms, fewer than the minimum of 100"
expect_contains "the template's total is below 10,000 terms" "$OUT" \
    "$TPL/policy.yaml: warning: the policy has 67 terms in all, fewer than the minimum of 10000 ($TPL/lint.yaml:32) [total-min-terms]"
expect_not_contains "the A.3 to A.5 risks have no minimum" "$OUT" "category 'a3."
expect_contains "the minimums are the template's only warnings" "$OUT" "$TPL: 0 errors, 18 warnings,"
expect_exit_named "the template fails --strict until its lists are filled in" 1 \
    "$SLUICE" lint --strict -q --no-vocab "$TPL"

run "$SLUICE" lint --json -q --no-vocab "$TPL"
expect_eq "--json reports each A.1 and A.2 minimum" 17 \
    "$(python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if json.loads(l).get("code") == "category-min-terms"))' <<<"$OUT")"

# --- sections that cannot take effect ---------------------------------------------

mkdir -p "$TAP_TMP/sect"
cat >"$TAP_TMP/sect/policy.yaml" <<'YAML'
policy: sect
version: 1
rules:
  - {id: mild, action: redact, terms: [spamword]}
label:
  producer: "ExampleAI"
escalation:
  row: 3
  suspend: 1h
YAML
run "$SLUICE" lint --no-vocab "$TAP_TMP/sect"
expect_contains "a label section no output can get is a warning" "$OUT" \
    "$TAP_TMP/sect/policy.yaml:6: warning: the label: section has no effect: no rule has action label and 'always' is false [label-unused]"
expect_contains "an escalation in a policy that blocks nothing is a warning" "$OUT" \
    "$TAP_TMP/sect/policy.yaml:8: warning: the escalation: section has no effect: no rule blocks, and only blocked outputs are strikes [escalation-unused]"
sed -i 's/action: redact/action: block/; s/producer:/always: true\n  producer:/' "$TAP_TMP/sect/policy.yaml"
run "$SLUICE" lint --no-vocab "$TAP_TMP/sect"
expect_not_contains "with a block rule and always: true neither is reported" \
    "$OUT" "has no effect"

done_testing
