#!/usr/bin/env bash
# tests/cli/60-bundle.sh - signed policy bundles from the command line:
# `sluice build`, `sluice bundle info|verify`, and `sluice check -p
# BUNDLE --trust PUB [--allow-unsigned]`: the trust rules of
# docs/bundles.md, their exit statuses and messages, reproducible builds,
# and a check of the bundle by the docs' own verifier (Python) and by
# OpenSSL, without Sluice.
set -eu
. "$ROOT/tests/cli/lib.sh"

P="$ROOT/policies/baseline"
FX="$ROOT/tests/cli/fixtures/bundle"
K=$TAP_TMP/policy
B=$TAP_TMP/baseline.bundle

# Overwrite byte N of FILE with another value.
flip_byte() {
    local file=$1 n=$2 orig new
    orig=$(od -An -tx1 -j "$n" -N1 "$file" | tr -d ' \n')
    new=ff
    [ "$orig" != ff ] || new=00
    printf "\\x$new" | dd of="$file" bs=1 seek="$n" conv=notrunc 2>/dev/null
}

# The value of "key":"..." in a line of JSON.
json_str() {
    printf '%s' "$1" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"
}

run "$SLUICE" keygen -o "$K" --name policy-team
expect_eq "a policy key is made" 0 "$RC"
run "$SLUICE" keygen -o "$TAP_TMP/other" --name other-team
expect_eq "a second key is made" 0 "$RC"

# ---- build ------------------------------------------------------------

run "$SLUICE" build "$P" -o "$B" --sign "$K.key"
expect_eq "build exits 0" 0 "$RC"
expect_contains "build says what it wrote" "$OUT" "wrote $B: policy baseline"
expect_contains "build names the signer" "$OUT" "signed by policy-team"
check "the bundle exists" test -s "$B"
expect_eq "the bundle starts with its magic" "SLUICEPB" "$(head -c 8 "$B")"

run "$SLUICE" check -p "$P" --json 'x'
dirhash=$(json_str "$OUT" hash)
run "$SLUICE" bundle info "$B"
expect_eq "bundle info exits 0" 0 "$RC"
expect_contains "info names the policy" "$OUT" "policy     baseline version"
expect_contains "info shows the directory's hash" "$OUT" "hash       $dirhash"
expect_contains "info names the signer" "$OUT" "signer     policy-team (key id"
expect_contains "info without --trust does not claim a verification" "$OUT" \
    "not verified (no --trust)"
expect_contains "info lists policy.yaml first" "$OUT" "policy.yaml"
expect_contains "info lists the lists" "$OUT" "lists/profanity-zh.txt"
expect_not_contains "info leaves out files the policy does not read" "$OUT" \
    "README.md"
expect_contains "info counts rules and terms" "$OUT" " rules, "

run "$SLUICE" bundle info "$B" --trust "$K.pub" --json
expect_eq "info --trust with the signer's key exits 0" 0 "$RC"
expect_contains "info --json says verified" "$OUT" '"signature":"verified"'
expect_contains "info --json has the hash" "$OUT" "\"hash\":\"$dirhash\""
expect_contains "info --json lists files with sizes" "$OUT" \
    '"files":[{"path":"policy.yaml","size":'
expect_contains "info --json names the signer" "$OUT" \
    '"signer":{"name":"policy-team","key_id":"'

run "$SLUICE" bundle info "$B" --trust "$TAP_TMP/other.pub"
expect_eq "info --trust with another key exits 1" 1 "$RC"
expect_contains "info says the signer is not trusted" "$OUT" "NOT TRUSTED"

expect_exit_named "bundle verify with the signer's key exits 0" 0 \
    "$SLUICE" bundle verify "$B" --trust "$K.pub"
expect_contains "bundle verify says verified" "$OUT" "verified: signed by"
expect_exit_named "bundle verify with another key exits 1" 1 \
    "$SLUICE" bundle verify "$B" --trust "$TAP_TMP/other.pub"
expect_exit_named "bundle verify without --trust is a usage error" 2 \
    "$SLUICE" bundle verify "$B"

# ---- check with trust ---------------------------------------------------

run "$SLUICE" check -p "$B" --trust "$K.pub" --json '这是炸药的配方'
expect_eq "check -p BUNDLE --trust exits 0" 0 "$RC"
expect_contains "a trusted bundle gives a signed verdict" "$OUT" '"signed":true'
expect_contains "the bundle decides as its directory does" "$OUT" \
    '"action":"block"'
expect_eq "the verdict names the directory's hash" "$dirhash" \
    "$(json_str "$OUT" hash)"

run "$SLUICE" check -p "$B" --trust "$TAP_TMP/other.pub" 'x'
expect_eq "a bundle signed by an untrusted key exits 2" 2 "$RC"
expect_contains "the refusal says untrusted and names the signer" "$ERR" \
    "untrusted bundle: signed by key 'policy-team'"
expect_eq "the refusal is one line" 1 "$(printf '%s\n' "$ERR" | wc -l)"

run "$SLUICE" check -p "$B" 'x'
expect_eq "a bundle without --trust exits 2" 2 "$RC"
expect_contains "the refusal asks for a trust key" "$ERR" \
    "no trust keys were given"

run "$SLUICE" check -p "$B" --trust "$TAP_TMP/other.pub" --allow-unsigned \
    --json 'x'
expect_eq "--allow-unsigned loads an untrusted bundle" 0 "$RC"
expect_contains "... as unsigned" "$OUT" '"signed":false'
expect_contains "... and says so on stderr" "$ERR" "loaded unsigned"

run "$SLUICE" check -p "$P" --trust "$K.pub" 'x'
expect_eq "a directory with --trust exits 2" 2 "$RC"
expect_contains "the refusal explains unsigned sources" "$ERR" \
    "refusing unsigned policy sources"
run "$SLUICE" check -p "$P" --trust "$K.pub" --allow-unsigned --json 'x'
expect_eq "a directory with --trust --allow-unsigned loads" 0 "$RC"
expect_contains "... unsigned" "$OUT" '"signed":false'

run "$SLUICE" check -p "$B" --trust "$K.key" --json 'x'
expect_contains "a secret key also serves as a trust key" "$OUT" \
    '"signed":true'
"$SLUICE" keygen --digest -o "$TAP_TMP/dep" >/dev/null
run "$SLUICE" check -p "$B" --trust "$TAP_TMP/dep.digest" 'x'
expect_eq "a digest key as --trust exits 2" 2 "$RC"
expect_contains "... with a reason" "$ERR" "digest key"

# ---- changed bytes --------------------------------------------------------

size=$(stat -c %s "$B")
for n in 0 12 40 100 $((size / 2)) $((size - 65)) $((size - 1)); do
    cp "$B" "$TAP_TMP/t.bundle"
    flip_byte "$TAP_TMP/t.bundle" "$n"
    run "$SLUICE" check -p "$TAP_TMP/t.bundle" --trust "$K.pub" 'x'
    expect_eq "a bundle with byte $n changed is refused" 2 "$RC"
done
cp "$B" "$TAP_TMP/t.bundle"
flip_byte "$TAP_TMP/t.bundle" $((size / 2))
run "$SLUICE" check -p "$TAP_TMP/t.bundle" --trust "$K.pub" 'x'
expect_contains "a changed file byte is a bad signature" "$ERR" \
    "bad bundle signature"
run "$SLUICE" bundle info "$TAP_TMP/t.bundle" --trust "$K.pub"
expect_eq "info on a changed bundle exits 1" 1 "$RC"
expect_contains "info says INVALID" "$OUT" "INVALID"
head -c $((size - 10)) "$B" >"$TAP_TMP/t.bundle"
run "$SLUICE" check -p "$TAP_TMP/t.bundle" --trust "$K.pub" 'x'
expect_eq "a truncated bundle exits 2" 2 "$RC"
expect_contains "a truncated bundle is named so" "$ERR" "truncated bundle"
run "$SLUICE" bundle info "$TAP_TMP/t.bundle"
expect_eq "info on a truncated bundle exits 2" 2 "$RC"
run "$SLUICE" bundle info "$P/policy.yaml"
expect_eq "info on a non-bundle exits 2" 2 "$RC"
expect_contains "... saying it is not a bundle" "$ERR" \
    "not a Sluice policy bundle"

# ---- reproducible builds, build errors --------------------------------------

SOURCE_DATE_EPOCH=1714521600 "$SLUICE" build "$P" -o "$TAP_TMP/r1.bundle" \
    --sign "$K.key" >/dev/null
SOURCE_DATE_EPOCH=1714521600 "$SLUICE" build "$P" -o "$TAP_TMP/r2.bundle" \
    --sign "$K.key" >/dev/null
check "the same sources, key and SOURCE_DATE_EPOCH give the same bytes" \
    cmp "$TAP_TMP/r1.bundle" "$TAP_TMP/r2.bundle"
run "$SLUICE" bundle info "$TAP_TMP/r1.bundle"
expect_contains "the creation time is SOURCE_DATE_EPOCH" "$OUT" \
    "created    2024-05-01T00:00:00Z (1714521600)"
SOURCE_DATE_EPOCH=1714521600 "$SLUICE" build "$P" -o "$TAP_TMP/r3.bundle" \
    --sign "$K.key" --created 1714521601 >/dev/null
run "$SLUICE" bundle info "$TAP_TMP/r3.bundle"
expect_contains "--created wins over SOURCE_DATE_EPOCH" "$OUT" "(1714521601)"

run env SOURCE_DATE_EPOCH=yesterday "$SLUICE" build "$P" -o "$TAP_TMP/x.bundle" \
    --sign "$K.key"
expect_eq "a bad SOURCE_DATE_EPOCH exits 2" 2 "$RC"
expect_exit_named "build without --sign exits 2" 2 \
    "$SLUICE" build "$P" -o "$TAP_TMP/x.bundle"
expect_exit_named "build without -o exits 2" 2 \
    "$SLUICE" build "$P" --sign "$K.key"
run "$SLUICE" build "$P" -o "$TAP_TMP/x.bundle" --sign "$K.pub"
expect_eq "build --sign with a public key exits 2" 2 "$RC"
expect_contains "... and says which key to use" "$ERR" "PREFIX.key"
run "$SLUICE" build "$B" -o "$TAP_TMP/x.bundle" --sign "$K.key"
expect_eq "building from a bundle exits 2" 2 "$RC"
expect_contains "... saying it is a bundle already" "$ERR" "a bundle already"
mkdir -p "$TAP_TMP/badpol"
printf 'policy: x\nversion: 1\nrules:\n  - id: r\n    action: block\n    regex: "a(b"\n' \
    >"$TAP_TMP/badpol/policy.yaml"
run "$SLUICE" build "$TAP_TMP/badpol" -o "$TAP_TMP/x.bundle" --sign "$K.key"
expect_eq "a policy that does not compile is not built" 2 "$RC"
expect_contains "... with file and line" "$ERR" "badpol/policy.yaml:6:"
check "... and no bundle is written" test ! -e "$TAP_TMP/x.bundle"

# ---- without Sluice ------------------------------------------------------------

doc_script=$(sed -n '/^```python$/,/^```$/p' "$ROOT/docs/bundles.md" | sed '1d;$d')
fx_script=$(sed '1,/^# Prints/d' "$FX/verify_bundle.py")
expect_eq "the docs' verifier is the fixture's" "$fx_script" "$doc_script"
if python3 -c 'import cryptography' 2>/dev/null; then
    run python3 "$FX/verify_bundle.py" "$B" "$K.pub"
    expect_eq "the docs' Python verifier accepts the bundle" 0 "$RC"
    expect_contains "... and reads its hash" "$OUT" "$dirhash"
    cp "$B" "$TAP_TMP/t.bundle"
    flip_byte "$TAP_TMP/t.bundle" $((size / 2))
    run python3 "$FX/verify_bundle.py" "$TAP_TMP/t.bundle" "$K.pub"
    expect_ne "the docs' Python verifier refuses a changed bundle" 0 "$RC"
else
    skip "python3 with the cryptography package is not installed" \
        "the docs' Python verifier accepts the bundle"
fi
if command -v openssl >/dev/null && command -v xxd >/dev/null &&
    command -v b2sum >/dev/null; then
    (
        cd "$TAP_TMP"
        { printf 'sluice-bundle-v1\0'
          head -c $((size - 64)) "$B" | b2sum -l 256 | cut -d' ' -f1 |
              xxd -r -p; } >msg
        tail -c 64 "$B" >sig
        { printf '302a300506032b6570032100' | xxd -r -p
          cut -d+ -f3- "$K.pub" | base64 -d | tail -c 32; } >pub.der
    )
    run openssl pkeyutl -verify -pubin -inkey "$TAP_TMP/pub.der" \
        -keyform DER -rawin -in "$TAP_TMP/msg" -sigfile "$TAP_TMP/sig"
    expect_eq "OpenSSL verifies the signature as the docs say" 0 "$RC"
else
    skip "openssl, xxd or b2sum missing" \
        "OpenSSL verifies the signature as the docs say"
fi

# ---- help -----------------------------------------------------------------------

run "$SLUICE" build --help
expect_eq "build --help exits 0" 0 "$RC"
expect_contains "build --help teaches by example" "$OUT" "examples:"
run "$SLUICE" bundle --help
expect_eq "bundle --help exits 0" 0 "$RC"
expect_contains "bundle --help teaches by example" "$OUT" "examples:"
run "$SLUICE" check --help
expect_contains "check --help documents --trust" "$OUT" "--trust PUB"
expect_contains "check --help documents --allow-unsigned" "$OUT" \
    "--allow-unsigned"

done_testing
