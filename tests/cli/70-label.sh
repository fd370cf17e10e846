#!/usr/bin/env bash
# tests/cli/70-label.sh - GB 45438 labels through the sluice command: the
# explicit label in `sluice check` output and `sluice stream` releases,
# the "label" and "aigc" fields of --json, the ProduceID tied to the
# ledger record, and the load-time refusal of a label text that does not
# say "AI-generated" (docs/labels.md). Fixture: tests/cli/fixtures/label.
set -eu
. "$ROOT/tests/cli/lib.sh"

P="$ROOT/tests/cli/fixtures/label"
NL='
'

# --- a label rule: the label goes at the end ------------------------------
run "$SLUICE" check -p "$P" --json '这是换脸视频'
expect_eq "a label verdict exits 0" 0 "$RC"
expect_contains "the action is label" "$OUT" '"action":"label"'
expect_contains "the output ends with the Chinese label" "$OUT" \
    '"output":"这是换脸视频\n\n本内容由人工智能生成"'
expect_contains "the JSON names the label and its place" "$OUT" \
    '"label":{"text":"本内容由人工智能生成","position":"end"}'
expect_contains "the implicit label has the standard's first fields" "$OUT" \
    '"aigc":{"Label":"1","ContentProducer":"示例科技有限公司","ProduceID":"'
expect_contains "the propagator is named" "$OUT" \
    '"ContentPropagator":"example-gateway","PropagateID":"'
id=$(printf '%s' "$OUT" | sed -n 's/.*"ProduceID":"\([0-9a-f]*\)".*/\1/p')
expect_eq "without a ledger the ProduceID is 32 hex digits" 32 "${#id}"
expect_contains "the PropagateID is the ProduceID" "$OUT" \
    "\"PropagateID\":\"$id\""

run "$SLUICE" check -p "$P" --json 'a deepfake video'
expect_contains "English text gets the English label" "$OUT" \
    '"output":"a deepfake video\n\nAI-generated content"'

run "$SLUICE" check -p "$P" '这是换脸视频 13812345678'
expect_contains "a redaction outranking a label rule keeps the label" \
    "$OUT" "redact (deepfake, phone)"
expect_contains "the redacted output carries it at the end" "$OUT" \
    "这是换脸视频 [已隐藏]${NL}${NL}本内容由人工智能生成"

run "$SLUICE" check -p "$P" --json 'a plain answer'
expect_contains "an output no label rule fires on is released as it is" \
    "$OUT" '"output":"a plain answer"'
expect_not_contains "and has no label" "$OUT" '"label"'
expect_not_contains "and no implicit label" "$OUT" '"aigc"'

run "$SLUICE" check -p "$P" --json '换脸 炸药配方'
expect_contains "a block wins" "$OUT" '"action":"block"'
expect_contains "a block releases the bare refusal" "$OUT" \
    '"output":"抱歉，该内容无法显示。"'
expect_not_contains "a block is never labelled" "$OUT" '"aigc"'

# --- always: every released output, at the start --------------------------
A="$TAP_TMP/always"
mkdir -p "$A"
sed 's/^  position: start$/  position: start\n  always: true/' \
    "$P/policy.yaml" >"$A/policy.yaml"
run "$SLUICE" check -p "$A" --json 'a plain answer'
expect_contains "with always a plain output is labelled at the start" \
    "$OUT" '"output":"AI-generated content\n\na plain answer"'
run "$SLUICE" check -p "$A" --json '1. 首先'
expect_contains "a leading label follows the first letter" "$OUT" \
    '"output":"本内容由人工智能生成\n\n1. 首先"'
run "$SLUICE" check -p "$A" --json '这是换脸视频'
expect_contains "with always a label rule's label goes at the start too" \
    "$OUT" '"label":{"text":"本内容由人工智能生成","position":"start"}'

for text in '1. 首先，这是换脸视频。' 'call 13812345678 about the deepfake' \
        'plain text, then 你好'; do
    run "$SLUICE" check -p "$A" --json "$text"
    want=$(printf '%s' "$OUT" | sed -n 's/.*"output":"\([^"]*\)".*/\1/p' |
        sed 's/\\n/\n/g')
    printf '%s' "$text" >"$TAP_TMP/in.txt"
    for chunk in 1 3 7; do
        run "$SLUICE" stream -p "$A" --chunk "$chunk" <"$TAP_TMP/in.txt"
        expect_eq "stream --chunk $chunk of '$text' equals check" \
            "$want" "$OUT"
    done
done

printf '%s' '这是换脸视频' >"$TAP_TMP/in.txt"
run "$SLUICE" stream -p "$P" --chunk 2 <"$TAP_TMP/in.txt"
expect_eq "a streamed label rule's label comes at the end" \
    "这是换脸视频${NL}${NL}本内容由人工智能生成" "$OUT"
expect_contains "the streamed verdict names the label" "$ERR" \
    '"label":{"text":"本内容由人工智能生成","position":"end"}'

# --- the ProduceID names the ledger record ----------------------------------
run "$SLUICE" keygen -o "$TAP_TMP/lk" --name label-test
expect_eq "a ledger key is made" 0 "$RC"
run "$SLUICE" check -p "$A" --ledger "$TAP_TMP/ledger" \
    --ledger-key "$TAP_TMP/lk.key" --json 'recorded output'
expect_eq "a recorded check exits 0" 0 "$RC"
rh=$(printf '%s' "$OUT" | sed -n 's/.*"record":{"seq":[0-9]*,"hash":"\([0-9a-f]*\)".*/\1/p')
pid=$(printf '%s' "$OUT" | sed -n 's/.*"ProduceID":"\([0-9a-f]*\)".*/\1/p')
expect_eq "the record hash is 64 hex digits" 64 "${#rh}"
expect_eq "the ProduceID is the record hash" "$rh" "$pid"

# --- a label text that does not say AI-generated is refused ----------------
B="$TAP_TMP/bad"
mkdir -p "$B"
sed 's/text: {zh: "本内容由人工智能生成"/text: {zh: "本内容由模型提供"/' \
    "$P/policy.yaml" >"$B/policy.yaml"
run "$SLUICE" check -p "$B" 'x'
expect_eq "a bad label text exits 2" 2 "$RC"
expect_contains "the refusal names file and line" "$ERR" \
    "$B/policy.yaml:7: label: 'text.zh' must say the content is AI-generated"
expect_contains "and what the standard asks" "$ERR" \
    "needs '人工智能' or 'AI', and '生成' or '合成' (GB 45438)"

sed '/^  producer:/d' "$P/policy.yaml" >"$B/policy.yaml"
run "$SLUICE" check -p "$B" 'x'
expect_contains "a label section needs a producer" "$ERR" \
    "label: missing required key 'producer'"

done_testing
