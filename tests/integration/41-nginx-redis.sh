#!/usr/bin/env bash
# tests/integration/41-nginx-redis.sh - the nginx module with
# `sluice_redis` (docs/nginx.md, docs/redis.md), against a real
# redis-server: each worker follows the fleet's signed bundle (a bundle
# published to Redis is swapped in without a reload, and a bundle signed by
# an untrusted key is refused), and counts strikes per `sluice_subject` as
# the policy's `escalation:` section says (a suspended subject's answers
# and streams are refused; other subjects are not touched).
#
# redis-server and nginx run on free loopback ports in a temporary
# directory, as in 20-redis-cli.sh and 40-nginx.sh; skipped with a reason
# without them, without the module, or under a sanitizer build.
set -eu
. "$ROOT/tests/cli/lib.sh"

MODULE=$BUILD/nginx/ngx_http_sluice_module.so
HERE=$ROOT/plugins/nginx/tests

. "$HERE/nginx.sh"
ngx_require "the nginx + Redis tests" nginx redis-server python3 curl

T=$TAP_TMP
UP=$(ngx_freeport)
NG=$(ngx_freeport)
RP=$(ngx_freeport)
URL=http://127.0.0.1:$NG
ADDR=127.0.0.1:$RP
UPID=""
RPID=""

cleanup() {
    ngx_stop "$T"
    if [ -n "$UPID" ]; then kill "$UPID" 2>/dev/null || true; fi
    if [ -n "$RPID" ]; then kill "$RPID" 2>/dev/null || true; fi
    tap_cleanup
}
trap cleanup EXIT

curl_h() {
    curl -s -D "$T/h" -o "$T/b" "${@:2}" "$URL$1" || true
    OUT=$(cat "$T/b")
    HDR=$(tr -d '\r' <"$T/h")
}
header() {
    printf '%s\n' "$HDR" | sed -n "s/^$1: //Ip" | head -1
}

# ---- Redis, keys, bundles, upstream ------------------------------------------

mkdir -p "$T/redis" "$T/tmp" "$T/logs"
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$T/redis" --daemonize no >>"$T/redis/log" 2>&1 &
RPID=$!

"$SLUICE" keygen -o "$T/team" --name team >/dev/null
"$SLUICE" keygen -o "$T/other" --name other >/dev/null

# version N blocks the words given; row 2 suspends for 30 s
mkbundle() {
    mkdir -p "$T/p$1"
    printf 'policy: ngx-redis\nversion: %s\nrules:\n  - id: word.block\n    action: block\n    terms: [%s]\nescalation:\n  row: 2\n  suspend: 30s\n' \
        "$1" "$2" >"$T/p$1/policy.yaml"
    "$SLUICE" build "$T/p$1" -o "$T/p$1.bundle" --sign "$T/$3.key" >/dev/null
}
mkbundle 1 "forbiddenword" team
mkbundle 2 "forbiddenword, newword" team
mkbundle 3 "forbiddenword, newword, otherword" other

up=0
for _ in $(seq 100); do
    if "$SLUICE" fleet status --redis "$ADDR" >/dev/null 2>&1; then
        up=1
        break
    fi
    sleep 0.05
done
expect_eq "redis-server starts on a free loopback port" 1 "$up"
run "$SLUICE" publish "$T/p1.bundle" --redis "$ADDR" --trust "$T/team.pub"
expect_eq "version 1 is published to the fleet" 0 "$RC"

python3 "$HERE/upstream.py" "$UP" "$T/up.log" 2>>"$T/up.err" &
UPID=$!

ngx_conf_head "$T" "$MODULE" info >"$T/nginx.conf"
cat >>"$T/nginx.conf" <<EOF

    sluice_policy $T/p1.bundle;
    sluice_trust $T/team.pub;
    sluice_redis $ADDR;
    sluice_tenant acme;
    sluice_subject \$http_x_user;

    server {
        listen 127.0.0.1:$NG;
        proxy_buffering off;
        proxy_http_version 1.1;
        sluice on;
        location / { proxy_pass http://127.0.0.1:$UP; }
    }
}
EOF
for _ in $(seq 100); do
    if grep -q listening "$T/up.log" 2>/dev/null; then break; fi
    sleep 0.05
done
run nginx -t -p "$T" -c "$T/nginx.conf"
expect_eq "nginx -t accepts sluice_redis with a trusted bundle" 0 "$RC"
nginx -p "$T" -c "$T/nginx.conf" 2>>"$T/logs/stderr.log"
up=0
for _ in $(seq 100); do
    if curl -s -o /dev/null "$URL/chat?text=hi"; then
        up=1
        break
    fi
    sleep 0.05
done
expect_eq "nginx starts with the module and Redis" 1 "$up"

# ---- fleet distribution --------------------------------------------------------

curl_h "/chat?text=newword" -H "X-User: probe"
expect_eq "version 1 lets newword through" allow "$(header X-Sluice-Action)"
expect_contains "... and names version 1" "$(header X-Sluice-Policy)" "id=ngx-redis; version=1;"

run "$SLUICE" publish "$T/p2.bundle" --redis "$ADDR" --trust "$T/team.pub"
expect_eq "version 2 is published" 0 "$RC"
got=""
for _ in $(seq 100); do
    curl_h "/chat?text=newword" -H "X-User: probe2"
    got=$(header X-Sluice-Action)
    [ "$got" = block ] && break
    sleep 0.05
done
expect_eq "the worker swaps to version 2 without a reload" block "$got"
expect_contains "... and its answers name version 2" \
    "$(header X-Sluice-Policy)" "id=ngx-redis; version=2;"

run "$SLUICE" publish "$T/p3.bundle" --redis "$ADDR" --force
sleep 1
curl_h "/chat?text=otherword" -H "X-User: probe3"
expect_eq "a bundle signed by an untrusted key is refused: otherword passes" \
    allow "$(header X-Sluice-Action)"
expect_contains "... still under version 2" "$(header X-Sluice-Policy)" \
    "id=ngx-redis; version=2;"
run "$SLUICE" fleet status --redis "$ADDR" --json
expect_contains "the worker reports the refusal in the fleet status" \
    "$OUT" refused

# ---- strikes and suspension per sluice_subject --------------------------------

curl_h "/chat?text=a+forbiddenword+here" -H "X-User: u1"
expect_eq "u1's first blocked answer" block "$(header X-Sluice-Action)"
curl_h "/chat?text=forbiddenword" -H "X-User: u1"
expect_eq "u1's second blocked answer (row 2: suspended)" block \
    "$(header X-Sluice-Action)"
curl_h "/chat?text=hello" -H "X-User: u1"
expect_eq "a suspended subject's clean answer is refused" block \
    "$(header X-Sluice-Action)"
expect_eq "... with reason subject_suspended" subject_suspended \
    "$(header X-Sluice-Reason)"
curl_h "/chat?text=hello" -H "X-User: u2"
expect_eq "another subject's clean answer passes" allow \
    "$(header X-Sluice-Action)"
curl -sN "$URL/chat?stream=1&text=hello+there" -H "X-User: u1" >"$T/s1" || true
expect_contains "a suspended subject's stream ends with content_filter" \
    "$(cat "$T/s1")" '"finish_reason":"content_filter"'
expect_not_contains "... before any of its text" "$(cat "$T/s1")" 'hello'
curl -sN "$URL/chat?stream=1&text=hello+there" -H "X-User: u2" >"$T/s2" || true
expect_contains "another subject's stream passes to its end" \
    "$(cat "$T/s2")" '"finish_reason": "stop"'
expect_not_contains "... unfiltered" "$(cat "$T/s2")" 'content_filter'
run redis-cli -p "$RP" EXISTS 'sluice:strike:{acme:u1}:susp'
expect_eq "the suspension is in Redis, per tenant and subject" 1 "$OUT"

if grep -E '\[(alert|emerg)\]|exited on signal' "$T/logs/error.log" >/dev/null; then
    not_ok "the error log has no alert and no crashed worker" \
        "$(grep -E '\[(alert|emerg)\]|exited on signal' "$T/logs/error.log" | head -5)"
else
    ok "the error log has no alert and no crashed worker"
fi

done_testing
