#!/usr/bin/env bash
# tests/cli/40-diff.sh - `sluice diff OLD NEW --corpus FILE`: the exact
# flips between two versions of a small policy (rules added, removed and
# matched differently; action transitions; output-only changes), counts and
# the summary line, exit statuses (0 nothing changed, 1 something did, 2
# errors and bad lines), --json objects that parse, output identical for
# any -j, bad corpus lines named by file:line, text and JSONL corpora,
# standard input, and a run over real corpora from $SLUICE_DATA (skipped
# when the data is absent).
#
# Fixtures: tests/cli/fixtures/diff/policy (version 1) and corpus.txt;
# version 2 is derived below.
set -eu
. "$ROOT/tests/cli/lib.sh"

FX="$ROOT/tests/cli/fixtures/diff"
V1="$FX/policy"
V2="$TAP_TMP/v2"
C="$FX/corpus.txt"

# Version 2: "meanword" dropped from and "newword" added to words.bad, a
# new rule words.zh (坏话), e-mail blocked instead of redacted, another
# English refusal.
cp -r "$V1" "$V2"
sed -i -e 's/^version: 1$/version: 2/' \
    -e 's/{id: pii.email, action: redact/{id: pii.email, action: block/' \
    -e 's/en: "No."/en: "Not shown."/' "$V2/policy.yaml"
printf '  - id: words.zh\n    category: words\n    terms: [坏话]\n' \
    >>"$V2/policy.yaml"
sed -i '/^meanword$/d' "$V2/lists/words.txt"
echo newword >>"$V2/lists/words.txt"

# Each line of stdin parses as JSON; prints the number of objects.
json_lines() {
    python3 -c 'import json,sys; print(len([json.loads(l) for l in sys.stdin]))'
}

# Run a Python expression over the JSON lines of stdin (as `objs`) and
# print its value.
json_eval() {
    python3 -c 'import json,sys
objs = [json.loads(l) for l in sys.stdin.buffer.read().decode("utf-8").splitlines()]
print(eval(sys.argv[1]))' "$1"
}

# A line of $OUT matching the extended regex $2.
expect_line() {
    if printf '%s\n' "$OUT" | grep -Eq -- "$2"; then
        ok "$1"
    else
        not_ok "$1" "no line matches: $2" "in: $OUT"
    fi
}

# --- the fixture: every kind of change ---------------------------------------

run "$SLUICE" diff "$V1" "$V2" --corpus "$C"
expect_eq "changed verdicts exit 1" 1 "$RC"
expect_eq "nothing on stderr when it is not a terminal" "" "$ERR"
expect_contains "the summary counts inputs, changes and transitions" "$OUT" \
    "8 inputs, 7 changed (allow->redact 2, redact->redact 2, redact->allow 1, redact->block 1, block->block 1)"
expect_eq "the summary is the last line" \
    "8 inputs, 7 changed (allow->redact 2, redact->redact 2, redact->allow 1, redact->block 1, block->block 1)" \
    "$(printf '%s\n' "$OUT" | tail -n 1)"
expect_line "both policies are named with version and hash" \
    '^old: diff-fixture version 1 \(hash [0-9a-f]{12}, unsigned\) from '
expect_line "NEW is named too" '^new: diff-fixture version 2 \(hash [0-9a-f]{12}, unsigned\) from '
expect_line "a new rule counts the inputs it newly matches" \
    '^  \+words\.zh +2 inputs newly matched$'
expect_line "a term added to a rule counts as newly matched" \
    '^  \+words\.bad +1 input newly matched$'
expect_line "a term dropped counts the inputs no longer matched" \
    '^  -words\.bad +2 inputs no longer matched$'
expect_line "a rule matching elsewhere in the same input is counted" \
    '^  ~words\.bad +1 input matched differently$'
expect_line "allow -> redact is counted" '^  allow -> redact +2 inputs$'
expect_line "redact -> allow is counted" '^  redact -> allow +1 input$'
expect_line "an action changed in the policy gives redact -> block" \
    '^  redact -> block +1 input$'
expect_line "same-action changes are counted apart" \
    '^  redact -> redact +2 inputs \(same action; rules or output changed\)$'
expect_line "an output-only change is counted" '^  ~output +1 input '
expect_contains "an example gives file:line, actions and rule changes" "$OUT" \
    "$C:2: allow -> redact (+words.bad)"
expect_contains "an added match is marked {+ +}" "$OUT" '"you {+newword+} fool"'
expect_contains "a lost match is marked [- -]" "$OUT" '"what a [-meanword-] move"'
expect_contains "an input with several changes lists them all" "$OUT" \
    "$C:9 (id 9): redact -> redact (+words.zh, -words.bad)"
expect_contains "both sides are marked in one quote" "$OUT" '"[-meanword-] {+坏话+}"'
expect_contains "a JSONL line shows its id" "$OUT" "$C:5 (id j5): redact -> redact (~words.bad)"
expect_contains "a rule's extra match is marked, the common one not" "$OUT" \
    '"a {+newword+} and badword too"'
expect_contains "an action-only change names the unchanged rules" "$OUT" \
    "$C:4: redact -> block (same rules: pii.email)"
expect_contains "an action-only change marks the common match" "$OUT" \
    '"mail [[bob@example.com]] today"'
expect_contains "an output-only change shows the old output" "$OUT" 'old output: "No."'
expect_contains "an output-only change shows the new output" "$OUT" 'new output: "Not shown."'
expect_not_contains "unchanged inputs are not shown" "$OUT" "hello world"
expect_not_contains "an unchanged redaction is not shown" "$OUT" "$C:1:"
expect_line "examples come in groups headed by their count" '^\+words\.zh: 2 inputs newly matched$'

run "$SLUICE" diff "$V1" "$V2" --corpus "$C" --examples 1
expect_contains "--examples 1 keeps the first example of a group" "$OUT" \
    "$C:7: allow -> redact (+words.zh)"
expect_line "--examples 1 says how many more there are" '^  \.\.\. 1 more$'
expect_not_contains "--examples 1 leaves the second example out" "$OUT" \
    "$C:9 (id 9)"

run "$SLUICE" diff "$V1" "$V2" --corpus "$C" --examples 0
expect_eq "--examples 0 keeps the exit status" 1 "$RC"
expect_not_contains "--examples 0 shows no examples" "$OUT" "$C:"
expect_contains "--examples 0 keeps the counts" "$OUT" "8 inputs, 7 changed"

# --- identical policies -------------------------------------------------------

run "$SLUICE" diff "$V1" "$V1" --corpus "$C"
expect_eq "identical policies exit 0" 0 "$RC"
expect_eq "identical policies: no change is reported" "8 inputs, 0 changed" \
    "$(printf '%s\n' "$OUT" | tail -n 1)"
expect_not_contains "identical policies: no groups" "$OUT" "rules:"

cp -r "$V1" "$TAP_TMP/v1copy"
sed -i 's/^version: 1$/version: 3/' "$TAP_TMP/v1copy/policy.yaml"
run "$SLUICE" diff "$V1" "$TAP_TMP/v1copy/policy.yaml" --corpus "$C"
expect_eq "a new version with the same rules exits 0" 0 "$RC"

# --- JSON ---------------------------------------------------------------------

run "$SLUICE" diff "$V1" "$V2" --corpus "$C" --json
expect_eq "--json keeps the exit status" 1 "$RC"
n=$(printf '%s\n' "$OUT" | json_lines 2>&1 || true)
expect_eq "--json prints one object per changed input plus a summary" 8 "$n"
got=$(printf '%s\n' "$OUT" | json_eval '[o["line"] for o in objs if o["type"] == "change"]' 2>&1 || true)
expect_eq "--json lists the changed lines in corpus order" "[2, 3, 4, 5, 7, 8, 9]" "$got"
got=$(printf '%s\n' "$OUT" | json_eval '[(o["old"]["action"], o["new"]["action"]) for o in objs[:-1]]' 2>&1 || true)
expect_eq "--json gives old and new actions" \
    "[('allow', 'redact'), ('redact', 'allow'), ('redact', 'block'), ('redact', 'redact'), ('allow', 'redact'), ('block', 'block'), ('redact', 'redact')]" \
    "$got"
got=$(printf '%s\n' "$OUT" | json_eval 'objs[-1]["transitions"]' 2>&1 || true)
expect_eq "the summary object counts transitions" \
    "{'allow->redact': 2, 'redact->redact': 2, 'redact->allow': 1, 'redact->block': 1, 'block->block': 1}" \
    "$got"
got=$(printf '%s\n' "$OUT" | json_eval 'objs[-1]["rules"]' 2>&1 || true)
expect_eq "the summary object counts rule changes" \
    "{'words.bad': {'added': 1, 'removed': 2, 'changed': 1}, 'words.zh': {'added': 2, 'removed': 0, 'changed': 0}}" \
    "$got"
got=$(printf '%s\n' "$OUT" | json_eval '(objs[-1]["type"], objs[-1]["inputs"], objs[-1]["changed"], objs[-1]["bad_lines"], objs[-1]["output_only"], objs[-1]["old"]["version"], objs[-1]["new"]["version"])' 2>&1 || true)
expect_eq "the summary object has the totals and both versions" \
    "('summary', 8, 7, 0, 1, 1, 2)" "$got"
expect_contains "a change names its file and line" "$OUT" \
    "{\"type\":\"change\",\"file\":\"$C\",\"line\":9,\"id\":\"9\","
expect_contains "a change gives the old verdict with rules, output and spans" "$OUT" \
    '"old":{"action":"redact","rules":["words.bad"],"output":"[redacted] 坏话","spans":[{"start":0,"end":8,"rule":"words.bad"}]}'
expect_contains "a change lists the rules added, removed and changed" "$OUT" \
    '"added":["words.zh"],"removed":["words.bad"],"changed":[]}'

printf 'you newword \xff fool\n' >"$TAP_TMP/bad-utf8.txt"
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/bad-utf8.txt" --json
n=$(printf '%s\n' "$OUT" | json_lines 2>&1 || true)
expect_eq "--json stays valid UTF-8 JSON for invalid UTF-8 input" 2 "$n"
expect_contains "invalid bytes are written as U+FFFD" "$OUT" '"text":"you newword \ufffd fool"'
# a cut ideograph (two bytes) is one U+FFFD, as verdicts count it; an
# encoded surrogate is not UTF-8: three
printf 'you newword \xe4\xb8 fool \xed\xa0\x80\n' >"$TAP_TMP/cut-utf8.txt"
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/cut-utf8.txt" --json
expect_contains "one U+FFFD per ill-formed sequence" "$OUT" \
    '"text":"you newword \ufffd fool \ufffd\ufffd\ufffd"'

# --- any number of threads, the same output ------------------------------------

# 3000 lines (many batches): the fixture lines over and over, some changed.
python3 - "$C" "$TAP_TMP/many.txt" <<'EOF'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for i in range(3000):
        l = lines[i % len(lines)]
        f.write(l.replace("fool", "fool %d" % i) + "\n")
EOF
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/many.txt" -j 1 --examples 50
out1=$OUT
rc1=$RC
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/many.txt" -j 4 --examples 50
expect_eq "-j 1 and -j 4 exit alike" "$rc1" "$RC"
if [ "$out1" = "$OUT" ]; then
    ok "-j 1 and -j 4 print the same report"
else
    not_ok "-j 1 and -j 4 print the same report" \
        "$(diff <(printf '%s\n' "$out1") <(printf '%s\n' "$OUT") | head -20)"
fi
expect_contains "the many-line corpus is counted whole" "$out1" "2667 inputs, 2333 changed"
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/many.txt" -j 1 --json
out1=$OUT
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/many.txt" -j 3 --json
if [ "$out1" = "$OUT" ]; then
    ok "-j 1 and -j 3 print the same JSON lines"
else
    not_ok "-j 1 and -j 3 print the same JSON lines"
fi

# --- bad lines, formats, several corpora, standard input -----------------------

printf '%s\n' 'you newword fool' '{"text": 5}' '{not json' '{"txt": "x"}' \
    '{"text": "ok"} trailing' '{"text": "fine"}' >"$TAP_TMP/bad.jsonl"
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/bad.jsonl"
expect_eq "bad lines exit 2" 2 "$RC"
expect_contains "a non-string text is named by file:line" "$ERR" \
    "sluice: $TAP_TMP/bad.jsonl:2: \"text\" is not a string"
expect_contains "invalid JSON is named by file:line and byte" "$ERR" \
    "sluice: $TAP_TMP/bad.jsonl:3: invalid JSON at byte "
expect_contains "a JSON line without the field says so" "$ERR" \
    "sluice: $TAP_TMP/bad.jsonl:4: no \"text\" field"
expect_contains "text after the JSON value is refused" "$ERR" \
    "sluice: $TAP_TMP/bad.jsonl:5: text after the JSON value at byte 16"
expect_eq "each bad line is reported once" 4 "$(printf '%s\n' "$ERR" | grep -c 'bad.jsonl:')"
expect_contains "the report still covers the good lines" "$OUT" \
    "2 inputs, 1 changed (allow->redact 1), 4 bad lines skipped"

run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/bad.jsonl" --skip-bad
expect_eq "--skip-bad: bad lines no longer decide the exit status" 1 "$RC"
expect_contains "--skip-bad still reports them" "$ERR" "bad.jsonl:3: invalid JSON"

run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/bad.jsonl" --json --skip-bad
got=$(printf '%s\n' "$OUT" | json_eval 'objs[-1]["bad_lines"]' 2>&1 || true)
expect_eq "--json counts bad lines in the summary" 4 "$got"

run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/bad.jsonl" --format text
expect_eq "--format text reads '{' lines as text" 0 "$([ "$RC" = 1 ] && [ -z "$ERR" ] && echo 0 || echo "rc $RC: $ERR")"
expect_contains "--format text checks every line" "$OUT" "6 inputs, 1 changed"

run "$SLUICE" diff "$V1" "$V2" --corpus "$C" --format jsonl
expect_eq "--format jsonl refuses plain lines" 2 "$RC"
expect_contains "--format jsonl names the plain line" "$ERR" "corpus.txt:1: invalid JSON at byte 1"
printf '%s\n' '["text"]' '"text"' >"$TAP_TMP/arrays.jsonl"
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/arrays.jsonl" --format jsonl
expect_contains "a JSON line that is not an object says so" "$ERR" \
    "sluice: $TAP_TMP/arrays.jsonl:1: not a JSON object"
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/arrays.jsonl"
expect_eq "in auto format, only lines starting with '{' are JSON" \
    "2 inputs, 0 changed" "$(printf '%s\n' "$OUT" | tail -n 1)"

# Windows line ends and a byte-order mark are not part of the text.
printf '\xef\xbb\xbfyou newword fool\r\nwhat a meanword move\r\n' >"$TAP_TMP/crlf.txt"
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/crlf.txt" --json
expect_contains "a BOM is not part of the first line" "$OUT" '"text":"you newword fool"'
expect_contains "CR LF line ends are cut" "$OUT" '"text":"what a meanword move"'

printf '{"response": "you newword fool", "id": "r1"}\n' >"$TAP_TMP/field.jsonl"
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/field.jsonl" --field response
expect_eq "--field reads another JSON field" 1 "$RC"
expect_contains "--field: the line is compared" "$OUT" "field.jsonl:1 (id r1): allow -> redact"

run "$SLUICE" diff "$V1" "$V2" --corpus "$C" --corpus "$TAP_TMP/crlf.txt"
expect_contains "several corpora are read in turn" "$OUT" \
    "10 inputs, 9 changed"
expect_contains "examples name the corpus they come from" "$OUT" "crlf.txt:1: allow -> redact"

run "$SLUICE" diff "$V1" "$V2" --corpus - <"$C"
expect_eq "a corpus on standard input works" 1 "$RC"
expect_contains "standard input is named <stdin>" "$OUT" "<stdin>:2: allow -> redact (+words.bad)"

head -c 3000 /dev/zero | tr '\0' a >"$TAP_TMP/long.txt"
printf '\nyou newword fool\n' >>"$TAP_TMP/long.txt"
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/long.txt" --max-input 1k
expect_eq "a line over --max-input is a bad line" 2 "$RC"
expect_contains "the long line is named with the limit" "$ERR" \
    "long.txt:1: input is 3000 bytes, over the limit of 1024 (--max-input)"
expect_contains "the lines after it are still compared" "$OUT" "1 input, 1 changed"

gzip -c "$C" >"$TAP_TMP/c.txt.gz"
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/c.txt.gz"
expect_eq "a gzip-compressed corpus exits 2" 2 "$RC"
expect_contains "a gzip-compressed corpus gets a hint" "$ERR" "gzip-compressed; decompress it first"

# --- the progress bar -----------------------------------------------------------

# stderr on a pseudo-terminal, stdout to a pipe.
progress=$(python3 - "$SLUICE" "$V1" "$V2" "$TAP_TMP/many.txt" <<'EOF' 2>&1 || true
import os, pty, subprocess, sys
master, slave = pty.openpty()
p = subprocess.Popen([sys.argv[1], "diff", sys.argv[2], sys.argv[3], "--corpus",
                      sys.argv[4]], stdout=subprocess.DEVNULL, stderr=slave)
os.close(slave)
data = b""
while True:
    try:
        chunk = os.read(master, 4096)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
p.wait()
print(repr(data.decode("utf-8", "replace")))
EOF
)
expect_contains "on a terminal, stderr shows progress in bytes" "$progress" "100% [####################]"
expect_contains "the progress bar counts inputs" "$progress" "2667 inputs"
expect_contains "the progress bar is cleared at the end" "$progress" '\r\x1b[K'

# --- a signed bundle on one side --------------------------------------------------

if "$SLUICE" keygen -o "$TAP_TMP/team" --name team >/dev/null 2>&1 &&
    "$SLUICE" build "$V2" -o "$TAP_TMP/v2.bundle" \
        --sign "$TAP_TMP/team.key" >/dev/null 2>&1; then
    run "$SLUICE" diff "$V1" "$TAP_TMP/v2.bundle" --corpus "$C" \
        --trust "$TAP_TMP/team.pub" --allow-unsigned
    expect_eq "a signed bundle compares like its sources" \
        "8 inputs, 7 changed (allow->redact 2, redact->redact 2, redact->allow 1, redact->block 1, block->block 1)" \
        "$(printf '%s\n' "$OUT" | tail -n 1)"
    expect_line "a bundle checked with --trust is named signed" \
        '^new: diff-fixture version 2 \(hash [0-9a-f]{12}, signed\) from '
    run "$SLUICE" diff "$V1" "$TAP_TMP/v2.bundle" --corpus "$C"
    expect_eq "a bundle without --trust is refused (exit 2)" 2 "$RC"
    expect_contains "the refusal says which policy and why" "$ERR" "v2.bundle: "
else
    skip "sluice build cannot make a bundle here" "diff against a signed bundle"
fi

# --- usage and errors -------------------------------------------------------------

run "$SLUICE" diff "$V1" "$V2"
expect_eq "no corpus exits 2" 2 "$RC"
expect_contains "no corpus is explained" "$ERR" "a corpus is required"
expect_exit 2 "$SLUICE" diff "$V1" --corpus "$C"
expect_exit 2 "$SLUICE" diff "$V1" "$V2" "$V2" --corpus "$C"
expect_exit 2 "$SLUICE" diff "$V1" "$V2" --corpus "$C" -j 0
expect_exit 2 "$SLUICE" diff "$V1" "$V2" --corpus "$C" --examples -1
expect_exit 2 "$SLUICE" diff "$V1" "$V2" --corpus "$C" --format csv
expect_exit 2 "$SLUICE" diff "$V1" "$V2" --corpus "$C" --no-such-flag
expect_exit 2 "$SLUICE" diff "$V1" "$V2" --corpus - --corpus -
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP/nonexistent.txt"
expect_eq "a missing corpus exits 2" 2 "$RC"
expect_contains "a missing corpus is named" "$ERR" "nonexistent.txt: No such file or directory"
run "$SLUICE" diff "$V1" "$V2" --corpus "$TAP_TMP"
expect_eq "a directory as corpus exits 2" 2 "$RC"
run "$SLUICE" diff "$V1" "$TAP_TMP/nonexistent" --corpus "$C"
expect_eq "a NEW policy that does not load exits 2" 2 "$RC"
expect_eq "nothing is compared when a policy does not load" "" "$OUT"

run "$SLUICE" diff --help
expect_eq "diff --help exits 0" 0 "$RC"
expect_contains "diff --help teaches by example" "$OUT" "examples:"
expect_contains "diff --help explains the exit status" "$OUT" "Exit status: 0 no verdict changed, 1 some changed"

# --- real corpora (shared data) ---------------------------------------------------

WP="$SLUICE_DATA/gutenberg/war-and-peace-2600-0.txt"
ZH="$SLUICE_DATA/cmrc2018/cmrc2018_contexts.txt"
HH="$SLUICE_DATA/hh-rlhf/harmless-base-test.jsonl.gz"
if [ ! -f "$WP" ] || [ ! -f "$ZH" ] || [ ! -f "$HH" ]; then
    skip "no shared data in $SLUICE_DATA" "diff over real corpora"
else
    # baseline plus a few English and Chinese terms: verdicts can only get
    # stricter, so no rule is lost and no action gets milder.
    B2="$TAP_TMP/baseline2"
    cp -r "$ROOT/policies/baseline" "$B2"
    sed -i 's/^version: \([0-9]*\)$/version: 999/' "$B2/policy.yaml"
    printf 'damn\nhell\n' >>"$B2/lists/profanity-en.txt"
    printf '垃圾\n' >>"$B2/lists/profanity-zh.txt"
    want=$(python3 -c 'import sys
n = 0
for p in sys.argv[1:]:
    for i, l in enumerate(open(p, "rb")):
        if i == 0 and l.startswith(b"\xef\xbb\xbf"): l = l[3:]
        n += l.strip(b" \t\r\v\f\n") != b""
print(n)' "$WP" "$ZH")
    run "$SLUICE" diff "$ROOT/policies/baseline" "$B2" --corpus "$WP" --corpus "$ZH" -j 1
    out1=$OUT
    expect_eq "real corpora: stricter terms change some verdicts (exit 1)" 1 "$RC"
    expect_eq "real corpora: no bad lines" "" "$ERR"
    expect_contains "real corpora: every non-blank line is an input" "$OUT" "$want inputs, "
    expect_not_contains "real corpora: no rule is lost" "$OUT" "no longer matched"
    expect_not_contains "real corpora: no action gets milder" "$OUT" "-> allow"
    expect_line "real corpora: the new English terms match" '^  \+profanity\.en +[0-9]+ inputs? newly matched$'
    expect_line "real corpora: the new Chinese term matches" '^  \+profanity\.zh +[0-9]+ inputs? newly matched$'
    run "$SLUICE" diff "$ROOT/policies/baseline" "$B2" --corpus "$WP" --corpus "$ZH" -j 2
    expect_eq "real corpora: -j 1 and -j 2 agree" "$out1" "$OUT"

    run bash -c 'zcat "$1" | "$2" diff "$3" "$4" --corpus - --field rejected --json' \
        _ "$HH" "$SLUICE" "$ROOT/policies/baseline" "$B2"
    expect_eq "real JSONL on stdin: exit 1" 1 "$RC"
    got=$(printf '%s\n' "$OUT" | json_eval '(objs[-1]["inputs"], objs[-1]["bad_lines"], len(objs) - 1 == objs[-1]["changed"], all(o["removed"] == [] for o in objs[:-1]))' 2>&1 || true)
    expect_eq "real JSONL: every dialogue compared, one object per change" \
        "(2312, 0, True, True)" "$got"
fi

done_testing
