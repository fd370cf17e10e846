#!/usr/bin/env bash
# tests/cli/10-check.sh - `sluice check`: verdicts for English and Chinese
# text with the baseline policy, JSON fields of the contract, JSONL input,
# exit statuses, and one-line errors for bad input and bad policies.
set -eu
. "$ROOT/tests/cli/lib.sh"

P="$ROOT/policies/baseline"

run "$SLUICE" check -p "$P" --json '我的身份证号是11010519491231002X'
expect_eq "an ID number check exits 0" 0 "$RC"
expect_contains "an ID number is redacted" "$OUT" '"action":"redact"'
expect_contains "the ID rule is named" "$OUT" '"rules":["pii.cn_id"]'
expect_contains "the span is in original bytes" "$OUT" '"spans":[{"start":21,"end":39,"rule":"pii.cn_id"}]'
expect_contains "the output carries the Chinese mask" "$OUT" '"output":"我的身份证号是[已隐藏]"'
expect_contains "the verdict names the policy" "$OUT" '"policy":{"id":"baseline","version":'
expect_contains "an unsigned policy says so" "$OUT" '"signed":false'

run "$SLUICE" check -p "$P" --json 'what the ｆ.ｕ.ｃ.ｋ is this'
expect_contains "full-width dotted profanity is caught" "$OUT" '"rules":["profanity.en"]'
expect_contains "English text gets the English mask" "$OUT" '"output":"what the [redacted] is this"'

run "$SLUICE" check -p "$P" --json 'The weather in Scunthorpe is mild.'
expect_contains "an allow-listed town is allowed" "$OUT" '"action":"allow"'

run "$SLUICE" check -p "$P" --json '这是炸药的配方'
expect_contains "explosive recipes are blocked" "$OUT" '"action":"block"'
expect_contains "a block returns the Chinese refusal" "$OUT" '"output":"抱歉，该内容无法显示。"'

expect_exit_named "--exit-code makes a block exit 1" 1 \
    "$SLUICE" check -p "$P" --exit-code '这是炸药的配方'
expect_exit_named "--exit-code leaves a redaction at 0" 0 \
    "$SLUICE" check -p "$P" --exit-code 'call 13812345678'

run "$SLUICE" check -p "$P" --json - <<<'stdin text with shit in it'
expect_contains "text is read from stdin with -" "$OUT" '"action":"redact"'

run "$SLUICE" check -p "$P" --json '' 
expect_contains "empty input is allowed" "$OUT" '"action":"allow"'

printf 'bad \xff byte' >"$TAP_TMP/bad.txt"
run "$SLUICE" check -p "$P" --json - <"$TAP_TMP/bad.txt"
expect_eq "invalid UTF-8 is not fatal" 0 "$RC"
expect_contains "invalid UTF-8 is reported" "$OUT" '"invalid_utf8":1'

# one U+FFFD per ill-formed sequence (its maximal subpart), as counted:
# a cut-off ideograph, two stray bytes, a surrogate's three bytes
printf 'ab\xe4\xb8cd\xff\xfe\xed\xa0\x80e' >"$TAP_TMP/bad2.txt"
run "$SLUICE" check -p "$P" --json - <"$TAP_TMP/bad2.txt"
expect_contains "each ill-formed sequence counts once" "$OUT" '"invalid_utf8":6'
expect_contains "and is written as one U+FFFD" "$OUT" \
    '"output":"ab\ufffdcd\ufffd\ufffd\ufffd\ufffd\ufffde"'

head -c 2000 /dev/zero | tr '\0' a >"$TAP_TMP/big.txt"
run "$SLUICE" check -p "$P" --max-input 1k - <"$TAP_TMP/big.txt"
expect_eq "input over --max-input exits 2" 2 "$RC"
expect_contains "the limit is named" "$ERR" "over the limit"

run "$SLUICE" check -p "$P" --jsonl "$ROOT/examples/outputs.jsonl" --json
expect_eq "the examples file is checked" 0 "$RC"
n=$(printf '%s\n' "$OUT" | grep -c '"action"' || true)
want=$(grep -c '"text"' "$ROOT/examples/outputs.jsonl" || true)
expect_eq "one verdict per example" "$want" "$n"
expect_contains "verdicts carry the example id" "$OUT" '{"id":'

printf '{"text": "ok"}\nnot json\n' >"$TAP_TMP/bad.jsonl"
run "$SLUICE" check -p "$P" --jsonl "$TAP_TMP/bad.jsonl"
expect_eq "a malformed JSONL line exits 2" 2 "$RC"
expect_contains "the bad line is named" "$ERR" "bad.jsonl:2:"

run "$SLUICE" check 'no policy'
expect_eq "a missing -p exits 2" 2 "$RC"
expect_contains "a missing -p is explained" "$ERR" "policy is required"

mkdir -p "$TAP_TMP/badpol"
printf 'policy: x\nversion: 1\nrules:\n  - id: r\n    action: block\n    regex: "a(b"\n' \
    >"$TAP_TMP/badpol/policy.yaml"
run "$SLUICE" check -p "$TAP_TMP/badpol" 'x'
expect_eq "a bad policy exits 2" 2 "$RC"
expect_contains "a bad regex error names file and line" "$ERR" "policy.yaml:6:"

run "$SLUICE" check -p "$TAP_TMP/nonexistent" 'x'
expect_eq "a missing policy exits 2" 2 "$RC"

run "$SLUICE" check --help
expect_eq "check --help exits 0" 0 "$RC"
expect_contains "check --help teaches by example" "$OUT" "examples:"

expect_exit 2 "$SLUICE" check -p "$P" --no-such-flag
expect_exit 2 "$SLUICE" no-such-command

done_testing
