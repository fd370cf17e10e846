#!/usr/bin/env bash
# tests/integration/20-redis-cli.sh - the Redis state layer through the
# command line, against a real redis-server (docs/redis.md): sluice
# publish, sluice fleet status|worker, sluice check --redis (the fleet's
# policy, the verdict cache, strikes and escalation with expiry), ledger
# anchors (rollback and fork refused, sluice ledger verify --redis), and
# what the commands do when Redis is down.
#
# It starts redis-server on a free loopback port (no persistence, a
# temporary directory) and kills it at the end; without redis-server it
# reports one skipped test. The threaded tests (hot reload under load,
# Redis killed mid-run, timeouts) are 21-redis-fleet.sh.
set -eu
. "$ROOT/tests/cli/lib.sh"

if ! command -v redis-server >/dev/null 2>&1; then
    skip "no redis-server" "the Redis tests need redis-server"
    done_testing
fi

T=$TAP_TMP
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR=127.0.0.1:$PORT
RPID=""

start_redis() {
    mkdir -p "$T/redis"
    redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$T/redis" --daemonize no >>"$T/redis/log" 2>&1 &
    RPID=$!
    for _ in $(seq 100); do
        if "$SLUICE" fleet status --redis "$ADDR" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

stop_redis() {
    if [ -n "$RPID" ]; then
        kill -9 "$RPID" 2>/dev/null || true
        wait "$RPID" 2>/dev/null || true
        RPID=""
    fi
}

WPID=""
cleanup() {
    if [ -n "$WPID" ]; then kill "$WPID" 2>/dev/null || true; fi
    stop_redis
    tap_cleanup
}
trap cleanup EXIT

rcli() {
    redis-cli -p "$PORT" "$@"
}

# The value of "key":"..." (or a number) in a line of JSON.
json_str() {
    printf '%s' "$1" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" | head -1
}

check "redis-server starts on a free loopback port" start_redis

# ---- keys, policies, bundles ------------------------------------------

"$SLUICE" keygen -o "$T/team" --name team >/dev/null
"$SLUICE" keygen -o "$T/other" --name other >/dev/null
"$SLUICE" keygen -o "$T/cache" --digest >/dev/null
"$SLUICE" keygen -o "$T/ledger" --name ledger-it >/dev/null
mkpolicy() {
    mkdir -p "$T/$1"
    printf 'policy: cli-it\nversion: %s\nrules:\n  - id: word.block\n    action: block\n    terms: [%s]\n  - id: pii.phone\n    action: redact\n    regex: %s\n' \
        "$2" "$3" "'(?<![0-9])1[3-9][0-9]{9}(?![0-9])'" >"$T/$1/policy.yaml"
    "$SLUICE" build "$T/$1" -o "$T/$1.bundle" --sign "$T/$4.key" >/dev/null
}
mkpolicy p1 1 alphaword team
mkpolicy p2 2 "alphaword, betaword" team
mkpolicy p3 3 "alphaword, betaword, gammaword" team
mkpolicy px 9 "alphaword" other
python3 - "$T/p2.bundle" "$T/tampered.bundle" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[len(b) // 2] ^= 0x20          # one byte changed after signing
open(sys.argv[2], 'wb').write(b)
PY

# ---- publish ----------------------------------------------------------------

expect_exit_named "publish without --redis is a usage error" 2 \
    "$SLUICE" publish "$T/p1.bundle"
run "$SLUICE" publish "$T/p1.bundle" --redis "$ADDR" --trust "$T/team.pub"
expect_eq "publish exits 0" 0 "$RC"
expect_contains "publish says what it published" "$OUT" "policy cli-it version 1"
expect_contains "the first publish replaces nothing" "$OUT" "nothing: the first"
run "$SLUICE" publish "$T/p1.bundle" --redis "$ADDR" --trust "$T/team.pub"
expect_contains "publishing the current bundle again re-announces it" "$OUT" \
    "already current"
run "$SLUICE" publish "$T/tampered.bundle" --redis "$ADDR" --trust "$T/team.pub"
expect_eq "a tampered bundle is not published" 2 "$RC"
expect_contains "and publish says why" "$ERR" "bundle"
run "$SLUICE" publish "$T/px.bundle" --redis "$ADDR" --trust "$T/team.pub"
expect_eq "a bundle signed by another key is not published with --trust" 2 "$RC"
run "$SLUICE" fleet status --redis "$ADDR" --json
expect_contains "fleet status shows the current policy" "$OUT" '"version":1'
expect_contains "with no worker reporting yet" "$OUT" '"workers":[]'

# ---- check with the fleet's policy ----------------------------------------

run "$SLUICE" check --redis "$ADDR" --trust "$T/team.pub" --json 'say betaword'
expect_eq "check without -p uses the fleet's bundle" 0 "$RC"
expect_contains "signed, by the trusted key" "$OUT" '"signed":true'
expect_contains "under version 1 betaword is allowed" "$OUT" '"action":"allow"'
run "$SLUICE" check --redis "$ADDR" 'say betaword'
expect_eq "without --trust the fleet's signed bundle is refused" 2 "$RC"
run "$SLUICE" publish "$T/p2.bundle" --redis "$ADDR" --trust "$T/team.pub"
run "$SLUICE" check --redis "$ADDR" --trust "$T/team.pub" --json 'say betaword'
expect_contains "after a publish check uses the new bundle" "$OUT" '"version":2'
expect_contains "under version 2 betaword is blocked" "$OUT" '"action":"block"'
run "$SLUICE" publish "$T/p1.bundle" --redis "$ADDR" --trust "$T/team.pub"
expect_eq "publishing an older version is refused (exit 1)" 1 "$RC"
expect_contains "as a downgrade" "$ERR" "downgrade"

# ---- a worker process, hot reload -------------------------------------------

mkfifo "$T/in"
"$SLUICE" fleet worker --redis "$ADDR" --trust "$T/team.pub" --id cli-worker \
    --report 3 <"$T/in" >"$T/worker.out" 2>"$T/worker.err" &
WPID=$!
exec 7>"$T/in"
echo "say betaword" >&7
for _ in $(seq 100); do
    [ -s "$T/worker.out" ] && break
    sleep 0.05
done
run "$SLUICE" fleet status --redis "$ADDR" --exit-code
expect_eq "fleet status --exit-code: every worker runs the current policy" 0 "$RC"
expect_contains "the worker reports its id and policy" "$OUT" "cli-worker"
run "$SLUICE" publish "$T/p3.bundle" --redis "$ADDR" --trust "$T/team.pub"
expect_contains "the publish reaches the subscribed worker" "$OUT" \
    "1 subscriber notified"
for _ in $(seq 100); do
    if "$SLUICE" fleet status --redis "$ADDR" --json | grep -q '"on_current":1'; then
        break
    fi
    sleep 0.05
done
echo "say gammaword" >&7
exec 7>&-
wait "$WPID" || true
WPID=""
first=$(sed -n 1p "$T/worker.out")
last=$(sed -n 2p "$T/worker.out")
expect_contains "the worker's first verdict names version 2" "$first" '"version":2'
expect_contains "after the publish its verdicts name version 3" "$last" '"version":3'
expect_contains "and are version 3's verdicts" "$last" '"action":"block"'
run "$SLUICE" fleet status --redis "$ADDR" --json
expect_contains "a worker that stopped removes its report" "$OUT" '"workers":[]'

# ---- the verdict cache -------------------------------------------------------

C="$SLUICE check -p $T/p3 --redis $ADDR --cache --digest-key $T/cache.digest --json"
run $C 'call 13812345678 now'
expect_contains "the first check of a text is a cache miss" "$OUT" '"cache":"miss"'
miss=$OUT
run $C 'call 13812345678 now'
expect_contains "the second is a hit" "$OUT" '"cache":"hit"'
expect_not_contains "a hit has no reason of its own" "$OUT" '"reason"'
hit=$(printf '%s' "$OUT" | sed 's/"cache":"hit"/"cache":"miss"/')
expect_eq "a hit is the same verdict as the check it came from" "$miss" "$hit"
keys=$(rcli --scan --pattern 'sluice:v:*' 2>/dev/null | head -1)
val=$(rcli GET "$keys" 2>/dev/null | tr -d '\000' || true)
expect_not_contains "the cache entry does not hold the text" "$val" "13812345678"
ttl=$(rcli TTL "$keys" 2>/dev/null || echo -1)
check "the cache entry has a TTL" test "$ttl" -gt 0
run $C --cache-min 1k 'call 13812345678 now'
expect_contains "a text under --cache-min skips the cache" "$OUT" '"cache":"skip"'
run "$SLUICE" check -p "$T/p2" --redis "$ADDR" --cache --digest-key \
    "$T/cache.digest" --json 'call 13812345678 now'
expect_contains "another policy does not read this policy's entries" "$OUT" \
    '"cache":"miss"'
run $C --ledger "$T/led-cache" --ledger-key "$T/ledger.key" 'call 13812345678 now'
run "$SLUICE" ledger show "$T/led-cache" --json
expect_contains "a cache hit is recorded in the ledger, marked as cached" \
    "$OUT" '"cached":true'
run "$SLUICE" ledger verify "$T/led-cache" --key "$T/ledger.pub"
expect_eq "a ledger with a cached record verifies" 0 "$RC"

# ---- strikes and escalation ----------------------------------------------------

S="$SLUICE check -p $T/p3 --redis $ADDR --tenant acme --json"
run $S --subject u1 --escalate row=3,suspend=1s 'alphaword 1'
expect_contains "a block is a strike" "$OUT" '"strikes":{"row":1'
run $S --subject u1 --escalate row=3,suspend=1s 'alphaword 2'
run $S --subject u1 --escalate row=3,suspend=1s 'alphaword 3'
expect_contains "the third block in a row suspends the subject" "$OUT" \
    '"suspend":true'
run $S --subject u1 --escalate row=3,suspend=1s 'hello'
expect_contains "a suspended subject's clean output is blocked" "$OUT" \
    '"action":"block"'
expect_contains "with reason subject_suspended" "$OUT" '"reason":"subject_suspended"'
run $S --subject u2 --escalate row=3,suspend=1s 'hello'
expect_contains "another subject is not affected" "$OUT" '"action":"allow"'
run $S --subject u1 --tenant other --escalate row=3,suspend=1s 'hello'
expect_contains "nor the same subject id of another tenant" "$OUT" \
    '"action":"allow"'
sleep 1.2
run $S --subject u1 --escalate row=3,suspend=1s 'hello'
expect_contains "the suspension expires" "$OUT" '"action":"allow"'
expect_contains "and a clean output ends the row" "$OUT" '"row":0'

# a window of 3 s: two checks must fit in it even under a sanitizer
W="--subject u3 --escalate count=2,window=3s,suspend=5s"
run $S $W 'alphaword a'
sleep 3.2
run $S $W 'alphaword b'
expect_contains "a block outside the window does not count" "$OUT" '"window":1'
expect_contains "so no suspension" "$OUT" '"suspend":false'
run $S $W 'hello'
run $S $W 'alphaword c'
expect_contains "two blocks within the window suspend (a clean one between)" \
    "$OUT" '"suspend":true'
sleep 3.2
check "the window's strikes expire from Redis" \
    test "$(rcli EXISTS 'sluice:strike:{acme:u3}:win' 2>/dev/null)" = 0

run $S --subject u4 --escalate row=1,suspend=5s,mark 'alphaword'
run $S --subject u4 --escalate row=1,suspend=5s,mark 'hello'
expect_contains "with mark a suspended subject's output stands" "$OUT" \
    '"action":"allow"'
expect_contains "marked suspend:true" "$OUT" '"suspend":true'
expect_exit_named "--escalate without --subject is a usage error" 2 \
    "$SLUICE" check -p "$T/p3" --redis "$ADDR" --escalate row=3,suspend=1s x
run $S --subject u4 --escalate row=1,suspend=5s,mark \
    --ledger "$T/led-mark" --ledger-key "$T/ledger.key" 'hello'
run "$SLUICE" ledger show "$T/led-mark" --json
expect_contains "a marked suspension is flagged in the ledger record" \
    "$OUT" '"suspended":true'

# escalation declared by the policy (policy.yaml `escalation:`), no flags
mkdir -p "$T/pe"
cp "$T/p3/policy.yaml" "$T/pe/policy.yaml"
printf 'escalation:\n  row: 2\n  suspend: 5s\n' >>"$T/pe/policy.yaml"
E="$SLUICE check -p $T/pe --redis $ADDR --tenant acme --json --subject u5"
run $E 'alphaword'
expect_contains "the policy's escalation counts strikes without --strikes" \
    "$OUT" '"strikes":{"row":1'
run $E 'betaword'
expect_contains "its row of 2 suspends the subject" "$OUT" '"suspend":true'
run $E 'hello'
expect_contains "and its default action blocks the subject's outputs" \
    "$OUT" '"reason":"subject_suspended"'
run $E --escalate row=5,suspend=5s,mark 'hello'
expect_contains "--escalate on the command line overrides the policy's" \
    "$OUT" '"action":"allow"'
run "$SLUICE" check -p "$T/pe" --json --tenant acme --subject u6 'alphaword'
expect_not_contains "without --redis the escalation is not counted" \
    "$OUT" '"strikes"'

# ---- ledger anchors --------------------------------------------------------------

L="$T/led"
for t in a b c; do
    "$SLUICE" check -p "$T/p3" --ledger "$L" --ledger-key "$T/ledger.key" \
        --redis "$ADDR" --redis-anchor "text $t" >/dev/null
done
run "$SLUICE" ledger verify "$L" --key "$T/ledger.pub" --redis "$ADDR"
expect_eq "a ledger verifies against its anchors in Redis" 0 "$RC"
expect_contains "verify says how many anchors it checked" "$OUT" "redis anchors:"
run "$SLUICE" ledger anchor "$L" --key "$T/ledger.pub" --redis "$ADDR"
expect_contains "anchoring the anchored checkpoint again changes nothing" \
    "$OUT" "anchor same"
cp -a "$L" "$T/led.bak"
"$SLUICE" check -p "$T/p3" --ledger "$L" --ledger-key "$T/ledger.key" \
    --redis "$ADDR" --redis-anchor "text d" >/dev/null
rm -rf "$L"
cp -a "$T/led.bak" "$L"
run "$SLUICE" ledger anchor "$L" --key "$T/ledger.pub" --redis "$ADDR"
expect_eq "a rolled-back ledger's checkpoint is refused (exit 1)" 1 "$RC"
expect_contains "as a rollback" "$OUT" "rollback"
run "$SLUICE" ledger verify "$L" --key "$T/ledger.pub" --redis "$ADDR"
expect_eq "verify --redis fails on the rolled-back ledger" 1 "$RC"
expect_contains "saying it was truncated or rolled back" "$OUT" \
    "truncated or rolled back"
for t in x y z w; do
    "$SLUICE" check -p "$T/p3" --ledger "$L" --ledger-key "$T/ledger.key" \
        "other $t" >/dev/null
done
run "$SLUICE" ledger anchor "$L" --key "$T/ledger.pub" --redis "$ADDR"
expect_eq "a rewritten history that outgrew the anchor is refused" 1 "$RC"
expect_contains "as a fork" "$OUT" "fork"
run "$SLUICE" ledger verify "$L" --key "$T/ledger.pub" --redis "$ADDR"
expect_eq "verify --redis fails on the forked ledger" 1 "$RC"
expect_contains "naming the fork" "$OUT" "fork"
check "Redis keeps the refused checkpoints as evidence" \
    test "$(rcli LLEN 'sluice:anchor-refused:sluice/ledger-it/default' 2>/dev/null)" -ge 1

# ---- Redis down ------------------------------------------------------------------

stop_redis
run $C 'call 13812345678 now'
expect_eq "with Redis down a check still exits 0" 0 "$RC"
expect_contains "its verdict is the policy's" "$OUT" '"action":"redact"'
expect_contains "and says the cache was unavailable" "$OUT" '"cache":"unavailable"'
expect_contains "a warning on stderr says why" "$ERR" "refused"
run $S --subject u1 --escalate row=3,suspend=1s --strikes-fail closed 'hello'
expect_contains "strikes that fail closed block when Redis is down" "$OUT" \
    '"reason":"strikes_unavailable"'
run "$SLUICE" check --redis "$ADDR" --trust "$T/team.pub" 'hello'
expect_eq "with no policy to load from Redis, check fails closed (exit 2)" 2 "$RC"
run "$SLUICE" publish "$T/p3.bundle" --redis "$ADDR" --trust "$T/team.pub"
expect_eq "publish to a Redis that is down fails (exit 2)" 2 "$RC"
check "Redis restarts" start_redis
run $C 'call 13812345678 now'
expect_contains "after a restart the cache works again" "$OUT" '"cache":"miss"'

done_testing
