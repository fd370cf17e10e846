#!/usr/bin/env bash
# tests/cli/30-ledger.sh - the ledger from the command line: `sluice
# keygen`, `sluice check --ledger`, `sluice ledger verify|show|prove|digest`
# and `sluice receipt verify`: what they print, their exit statuses, and
# that a changed byte is caught and named.
set -eu
. "$ROOT/tests/cli/lib.sh"

P="$ROOT/policies/baseline"
D=$TAP_TMP/ledger
K=$TAP_TMP/k

# Overwrite byte N of FILE with another value.
flip_byte() {
    local file=$1 n=$2 orig new
    orig=$(od -An -tx1 -j "$n" -N1 "$file" | tr -d ' \n')
    new=ff
    [ "$orig" != ff ] || new=00
    printf "\\x$new" | dd of="$file" bs=1 seek="$n" conv=notrunc 2>/dev/null
}

run "$SLUICE" keygen -o "$K" --name cli-test
expect_eq "keygen exits 0" 0 "$RC"
expect_contains "keygen says what it wrote" "$OUT" "$K.key (secret) and $K.pub"
expect_eq "the secret key is mode 0600" 600 "$(stat -c %a "$K.key")"
expect_contains "the public key is a signed-note verifier key" \
    "$(cat "$K.pub")" "cli-test+"
expect_contains "the secret key is a signed-note signer key" \
    "$(cat "$K.key")" "PRIVATE+KEY+cli-test+"
expect_exit_named "keygen never overwrites a key" 2 \
    "$SLUICE" keygen -o "$K"
expect_exit_named "keygen refuses a key name with a space" 2 \
    "$SLUICE" keygen -o "$TAP_TMP/x" --name 'a b'
run "$SLUICE" keygen --digest -o "$TAP_TMP/dep"
expect_eq "keygen --digest writes a 0600 digest key" 600 \
    "$(stat -c %a "$TAP_TMP/dep.digest")"

run "$SLUICE" check -p "$P" --ledger "$D" --ledger-key "$K.key" --json \
    '这是炸药的配方'
expect_eq "check --ledger exits 0" 0 "$RC"
expect_contains "the verdict names its record" "$OUT" '"record":{"seq":2,"hash":"'
expect_contains "the verdict is still the block" "$OUT" '"action":"block"'
run "$SLUICE" check -p "$P" --ledger "$D" --ledger-key "$K.key" \
    'call me at 13812345678'
expect_contains "human output says where it was recorded" "$OUT" \
    "recorded: 5"
printf '{"id":"a","text":"hello"}\n{"id":"b","text":"you shit"}\n' \
    >"$TAP_TMP/in.jsonl"
run "$SLUICE" check -p "$P" --ledger "$D" --ledger-key "$K.key" --durable \
    --json --jsonl "$TAP_TMP/in.jsonl"
expect_contains "each JSONL line is recorded" "$OUT" '"id":"b"'
expect_contains "durable records have numbers too" "$OUT" '"record":{"seq":9,'
expect_exit_named "--ledger without --ledger-key is a usage error" 2 \
    "$SLUICE" check -p "$P" --ledger "$D" hello
run "$SLUICE" check -p "$P" --ledger /proc/no-such-dir --ledger-key "$K.key" \
    --json hello
expect_eq "an unopenable ledger fails closed with exit 2" 2 "$RC"
expect_eq "and prints no verdict" "" "$OUT"

run "$SLUICE" ledger verify "$D" --key "$K.pub"
expect_eq "a good ledger verifies" 0 "$RC"
expect_contains "verify says what it checked" "$OUT" \
    "ledger OK: 1 writer, 1 segment, 10 records"
run "$SLUICE" ledger verify "$D" --key "$K.pub" --json
expect_contains "verify --json" "$OUT" '"ok":true'

run "$SLUICE" ledger show "$D"
expect_contains "show lists the open record" "$OUT" "default#1 "
expect_contains "show lists verdicts with their policy" "$OUT" \
    "block baseline@"
run "$SLUICE" ledger show "$D" --action block
expect_eq "show --action filters" 1 "$(printf '%s\n' "$OUT" | grep -c .)"
run "$SLUICE" ledger show "$D" --json --rule pii.cn_mobile
expect_contains "show --json --rule finds the phone number record" "$OUT" \
    '"rules":["pii.cn_mobile"]'
run "$SLUICE" ledger show "$D" --type close
expect_eq "three runs, three close records" 3 \
    "$(printf '%s\n' "$OUT" | grep -c 'close session')"
run "$SLUICE" ledger show "$D" --since 2000-01-01 --until @4102444800 \
    --type open
expect_eq "time filters take dates and @seconds" 3 \
    "$(printf '%s\n' "$OUT" | grep -c .)"
expect_exit_named "a bad time is a usage error" 2 \
    "$SLUICE" ledger show "$D" --since yesterday

DG=$("$SLUICE" ledger digest --key "$K.key" 'call me at 13812345678')
expect_eq "digest prints 64 hex digits" 64 "${#DG}"
run "$SLUICE" ledger show "$D" --digest "$DG" --json
expect_contains "the digest finds the record of that text" "$OUT" \
    '"seq":5,'
expect_exit_named "show --exit-code fails when nothing matches" 1 \
    "$SLUICE" ledger show "$D" --digest "$(printf '0%.0s' {1..64})" \
    --exit-code
expect_exit_named "a public key cannot make digests" 2 \
    "$SLUICE" ledger digest --key "$K.pub" text

"$SLUICE" ledger show "$D" --checkpoint >"$TAP_TMP/anchor.txt"
expect_contains "the checkpoint is a signed note" "$(cat "$TAP_TMP/anchor.txt")" \
    "— cli-test "
run "$SLUICE" ledger verify "$D" --key "$K.pub" --anchor "$TAP_TMP/anchor.txt"
expect_eq "the ledger agrees with its anchor" 0 "$RC"

run "$SLUICE" ledger prove "$D" 2 -o "$TAP_TMP/receipt.json"
expect_eq "prove writes a receipt" 0 "$RC"
run "$SLUICE" receipt verify "$TAP_TMP/receipt.json" --key "$K.pub"
expect_eq "the receipt verifies with the public key" 0 "$RC"
expect_contains "receipt verify says what the record says" "$OUT" \
    "action: block"
sed 's/"action":"block"/"action":"allow"/' "$TAP_TMP/receipt.json" \
    >"$TAP_TMP/forged.json"
run "$SLUICE" receipt verify "$TAP_TMP/forged.json" --key "$K.pub"
expect_eq "an edited receipt fails" 1 "$RC"
expect_contains "and says why" "$OUT" "receipt FAILED"
"$SLUICE" keygen -o "$TAP_TMP/other" >/dev/null
expect_exit_named "a receipt fails with another key" 1 \
    "$SLUICE" receipt verify "$TAP_TMP/receipt.json" --key "$TAP_TMP/other.pub"
expect_exit_named "prove of a record that does not exist is an error" 2 \
    "$SLUICE" ledger prove "$D" 999

run "$SLUICE" ledger verify "$D" --key "$TAP_TMP/other.pub"
expect_eq "verify fails with the wrong key" 1 "$RC"
expect_contains "and says whose signature it lacks" "$OUT" \
    "not by the given key"

SEG=$D/default/00000000000000000001.seg
cp "$SEG" "$TAP_TMP/seg.orig"
flip_byte "$SEG" 400
run "$SLUICE" ledger verify "$D" --key "$K.pub"
expect_eq "a changed byte fails verification" 1 "$RC"
expect_contains "and the failure names the segment and offset" "$OUT" \
    "00000000000000000001.seg, offset"
cp "$TAP_TMP/seg.orig" "$SEG"
truncate -s -3 "$SEG"
run "$SLUICE" ledger verify "$D" --key "$K.pub"
expect_eq "a torn tail fails verification" 1 "$RC"
expect_exit_named "--allow-tail accepts a torn tail (a live writer)" 0 \
    "$SLUICE" ledger verify "$D" --key "$K.pub" --allow-tail
run "$SLUICE" check -p "$P" --ledger "$D" --ledger-key "$K.key" --json hello
expect_contains "the next open recovers and goes on" "$OUT" '"record":{"seq":'
run "$SLUICE" ledger show "$D" --type recovery
expect_contains "the recovery is recorded with the bytes cut" "$OUT" \
    "recovery cut="
expect_exit_named "after recovery the ledger verifies" 0 \
    "$SLUICE" ledger verify "$D" --key "$K.pub"

run "$SLUICE" ledger verify "$D"
expect_eq "verify without a key is a usage error" 2 "$RC"
run "$SLUICE" ledger verify "$TAP_TMP/nope" --key "$K.pub"
expect_eq "verify of a missing directory is an input error" 2 "$RC"
expect_exit_named "ledger --help exits 0" 0 "$SLUICE" ledger --help
expect_exit_named "ledger verify --help exits 0" 0 \
    "$SLUICE" ledger verify --help
expect_exit_named "receipt --help exits 0" 0 "$SLUICE" receipt --help

done_testing
