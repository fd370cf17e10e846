#!/usr/bin/env bash
# tests/cli/15-stream.sh - `sluice stream`: every example output fed one
# byte at a time (and in random chunks) gives the verdict `sluice check`
# gives for the whole text, and the same released text when not blocked.
set -eu
. "$ROOT/tests/cli/lib.sh"

P="$ROOT/policies/baseline"
EX="$ROOT/examples/outputs.jsonl"

# Each example as a file, and its whole-text verdict from one
# `sluice check --jsonl` run (a policy load per command is what this test
# spends its time on, most of all under ASan).
"$SLUICE" check -p "$P" --json --jsonl "$EX" >"$TAP_TMP/whole.jsonl"
python3 - "$EX" "$TAP_TMP" <<'PY'
import json, sys
verdicts = open(f"{sys.argv[2]}/whole.jsonl", encoding="utf-8").read().splitlines()
k = 0
for i, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    if line.strip():
        with open(f"{sys.argv[2]}/ex{i:03d}.txt", "wb") as f:
            f.write(json.loads(line)["text"].encode("utf-8"))
        with open(f"{sys.argv[2]}/ex{i:03d}.json", "w", encoding="utf-8") as f:
            f.write(verdicts[k])
        k += 1
PY

# Under a sanitizer (ten times slower to load a policy) one chunking,
# the random one; all three otherwise.
MODES=("--chunk 1" "--random-chunks 7" "--chunk 5")
case $(basename "$BUILD") in
    *asan* | *tsan*) MODES=("--random-chunks 7") ;;
esac

compare() {  # compare whole.json stream.json released.txt -> prints a reason or nothing
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
w = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2]))
out = open(sys.argv[3], "rb").read().decode("utf-8", "replace")
if w["action"] != s["action"]:
    print("action", w["action"], "vs", s["action"]); sys.exit()
if w["action"] != "block":
    if w["rules"] != s["rules"] or w["spans"] != s["spans"]:
        print("rules/spans differ", w["rules"], s["rules"]); sys.exit()
    if w["output"] != out:
        print("output differs:", repr(w["output"]), repr(out)); sys.exit()
else:
    if s["output"] != w["output"] or not out.endswith(w["output"]):
        print("block output differs"); sys.exit()
PY
}

for f in "$TAP_TMP"/ex*.txt; do
    name=$(basename "$f" .txt)
    cp "$TAP_TMP/$name.json" "$TAP_TMP/whole.json"
    for mode in "${MODES[@]}"; do
        # shellcheck disable=SC2086
        "$SLUICE" stream -p "$P" $mode --report "$TAP_TMP/stream.json" \
            <"$f" >"$TAP_TMP/released.txt"
        why=$(compare "$TAP_TMP/whole.json" "$TAP_TMP/stream.json" "$TAP_TMP/released.txt")
        if [ -z "$why" ]; then
            ok "$name streamed with $mode matches sluice check"
        else
            not_ok "$name streamed with $mode matches sluice check" "$why"
        fi
    done
done

run sh -c "printf 'you are a big sh' | '$SLUICE' stream -p '$P' --chunk 1 --show-held 2>&1 >/dev/null"
expect_contains "a possible term start is held back" "$OUT" "held 2"

run sh -c "printf '教你做炸药的配方' | '$SLUICE' stream -p '$P' --chunk 2 --exit-code 2>/dev/null"
expect_eq "a blocked stream exits 1 with --exit-code" 1 "$RC"
expect_contains "a blocked stream ends with the refusal" "$OUT" "抱歉，该内容无法显示。"
expect_not_contains "the blocked term is never released" "$OUT" "配方"

run sh -c "printf '' | '$SLUICE' stream -p '$P'"
expect_eq "an empty output streams and exits 0" 0 "$RC"
expect_contains "an empty output is allowed" "$ERR" '"action":"allow"'

# a signed bundle streams with its key, and is refused without it
"$SLUICE" keygen -o "$TAP_TMP/pk" >/dev/null 2>&1
"$SLUICE" build "$P" -o "$TAP_TMP/b.bundle" --sign "$TAP_TMP/pk.key" >/dev/null 2>&1
run sh -c "printf 'hi there' | '$SLUICE' stream -p '$TAP_TMP/b.bundle' --trust '$TAP_TMP/pk.pub'"
expect_eq "a trusted bundle streams" 0 "$RC"
expect_contains "its verdict says signed" "$ERR" '"signed":true'
run sh -c "printf 'hi' | '$SLUICE' stream -p '$TAP_TMP/b.bundle'"
expect_eq "a bundle without --trust is refused" 2 "$RC"

expect_exit 2 "$SLUICE" stream
expect_exit_named "stream --help exits 0" 0 "$SLUICE" stream --help

done_testing
