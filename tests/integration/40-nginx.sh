#!/usr/bin/env bash
# tests/integration/40-nginx.sh - the nginx module (docs/nginx.md) in a
# real nginx, in front of a fake OpenAI-compatible upstream
# (plugins/nginx/tests/upstream.py: JSON and SSE, events split across
# writes), with curl, a Python SSE reader and the official `openai` npm
# client: JSON allow/redact/block with Content-Length and X-Sluice-*
# headers, streams passed intact with their timing, redacted, and blocked
# (content_filter, [DONE], upstream let go, connection kept alive),
# observe mode, malformed upstream JSON and SSE (fail closed and open),
# encoded upstream bodies, client disconnect, a long stream's memory,
# ledger records (verified), reload with a new policy, 200 mutated JSON
# bodies and SSE streams (the module's parsers on hostile input: no worker
# may die), a clean error log.
#
# nginx runs as its own master in a temporary prefix on a free loopback
# port (user root, so that workers can write the ledger when CI runs as
# root). Skipped with a reason when the module was not built (sanitizer
# builds, no nginx-dev) or nginx/python3/curl are missing.
set -eu
. "$ROOT/tests/cli/lib.sh"

MODULE=$BUILD/nginx/ngx_http_sluice_module.so
HERE=$ROOT/plugins/nginx/tests

. "$HERE/nginx.sh"
ngx_require "the nginx tests" nginx python3 curl

T=$TAP_TMP
UP=$(ngx_freeport)
NG=$(ngx_freeport)
URL=http://127.0.0.1:$NG
UPID=""

cleanup() {
    ngx_stop "$T"
    if [ -n "$UPID" ]; then kill "$UPID" 2>/dev/null || true; fi
    tap_cleanup
}
trap cleanup EXIT

# ---- policy, keys, upstream, configuration ------------------------------

mkpolicy() {
    mkdir -p "$T/pol"
    printf 'policy: ngx-it\nversion: %s\nrefusal: {zh: "抱歉，该内容无法显示。", en: "Sorry, this content cannot be shown."}\nrules:\n  - id: word.block\n    action: block\n    terms: [forbiddenword, 炸药配方]\n  - id: pii.phone\n    action: redact\n    regex: %s\n' \
        "$1" "'(?<![0-9])1[3-9][0-9]{9}(?![0-9])'" >"$T/pol/policy.yaml"
}
mkpolicy 3
"$SLUICE" keygen -o "$T/ledger" --name ngx-it >/dev/null
mkdir -p "$T/tmp" "$T/logs"

python3 "$HERE/upstream.py" "$UP" "$T/up.log" 2>>"$T/up.err" &
UPID=$!

conf() {
    ngx_conf_head "$T" "$MODULE" info
    cat <<EOF
    keepalive_requests 100;

    sluice_policy $T/pol;
    sluice_ledger $T/ledger.d $T/ledger.key;
    sluice_tenant \$http_x_tenant;
    $1

    server {
        listen 127.0.0.1:$NG;
        proxy_buffering off;
        proxy_http_version 1.1;
        sluice on;

        location / { proxy_pass http://127.0.0.1:$UP; }
        location /observe/ { sluice_mode observe;
                             proxy_pass http://127.0.0.1:$UP/; }
        location /open/ { sluice_fail open; proxy_pass http://127.0.0.1:$UP/; }
        location /buffered/ { proxy_buffering on;
                              proxy_pass http://127.0.0.1:$UP/; }
        location /plain/ { sluice_text_types text/plain;
                           proxy_pass http://127.0.0.1:$UP/; }
        location /small/ { sluice_max_body 200;
                           proxy_pass http://127.0.0.1:$UP/; }
        location /direct/ { sluice off; proxy_pass http://127.0.0.1:$UP/; }
    }
}
EOF
}
conf "" >"$T/nginx.conf"

for _ in $(seq 100); do
    if grep -q listening "$T/up.log" 2>/dev/null; then break; fi
    sleep 0.05
done

run nginx -t -p "$T" -c "$T/nginx.conf"
expect_eq "nginx -t accepts a configuration with load_module and the sluice directives" 0 "$RC"
expect_contains "nginx -t compiles the policy (and says it is unsigned)" "$ERR" "ngx-it 3 is unsigned"

conf "" | sed "s|sluice_policy $T/pol;|sluice_policy $T/nope;|" >"$T/bad.conf"
run nginx -t -p "$T" -c "$T/bad.conf"
expect_eq "nginx -t refuses a policy that does not load" 1 "$RC"
expect_contains "... saying which policy" "$ERR" "sluice_policy \"$T/nope\""

conf "" | sed "s|sluice on;|sluice on; sluice_mode sideways;|" >"$T/bad2.conf"
run nginx -t -p "$T" -c "$T/bad2.conf"
expect_eq "nginx -t refuses an unknown sluice_mode" 1 "$RC"

nginx -p "$T" -c "$T/nginx.conf" 2>>"$T/logs/stderr.log"
up=0
for _ in $(seq 100); do
    if curl -s -o /dev/null "$URL/direct/chat"; then up=1; break; fi
    sleep 0.05
done
if [ "$up" != 1 ]; then
    bail_out "nginx did not start: $(tail -5 "$T/logs/error.log" 2>/dev/null)"
fi
ok "nginx starts with the module on a free loopback port"

# curl_h PATH: headers to $T/h, body to $T/b; OUT is the body.
curl_h() {
    curl -s -D "$T/h" -o "$T/b" "${@:2}" "$URL$1" || true
    OUT=$(cat "$T/b")
    HDR=$(tr -d '\r' <"$T/h")
}
header() {
    printf '%s\n' "$HDR" | sed -n "s/^$1: //Ip" | head -1
}
q() {
    python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"
}

# ---- JSON ---------------------------------------------------------------

curl_h "/chat?text=$(q 'A clean answer about the weather.')"
clean=$OUT
curl -s -o "$T/direct" "$URL/direct/chat?text=$(q 'A clean answer about the weather.')"
expect_eq "a clean JSON answer passes byte for byte" "$(cat "$T/direct")" "$clean"
expect_eq "... with X-Sluice-Action: allow" allow "$(header X-Sluice-Action)"
expect_contains "... and X-Sluice-Policy naming id, version and hash" \
    "$(header X-Sluice-Policy)" "id=ngx-it; version=3; hash="
expect_eq "... and a Content-Length that is the body's" \
    "$(stat -c %s "$T/b")" "$(header Content-Length)"
expect_contains "... and X-Sluice-Record naming its ledger record" \
    "$(header X-Sluice-Record)" "seq="

curl_h "/chat?text=$(q 'Call me at 13812345678 tomorrow.')" -H 'X-Tenant: acme'
expect_contains "a phone number in a JSON answer is redacted" "$OUT" \
    '"content":"Call me at [redacted] tomorrow."'
expect_eq "... X-Sluice-Action: redact" redact "$(header X-Sluice-Action)"
expect_eq "... Content-Length fixed to the rewritten body" \
    "$(stat -c %s "$T/b")" "$(header Content-Length)"
REDACT_REC=$(header X-Sluice-Record)

curl_h "/chat?text=$(q 'Here it is: forbiddenword and more.')"
expect_contains "a blocked JSON answer carries the refusal" "$OUT" \
    '"content":"Sorry, this content cannot be shown."'
expect_contains "... and finish_reason content_filter" "$OUT" \
    '"finish_reason":"content_filter"'
expect_not_contains "... and not the blocked term" "$OUT" forbiddenword
expect_eq "... X-Sluice-Action: block" block "$(header X-Sluice-Action)"

curl_h "/chat?completion=1&text=$(q '我的电话是13812345678')"
expect_contains "a completions body (choices[].text) is redacted" "$OUT" \
    '"text":"我的电话是[已隐藏]"'

curl_h "/buffered/chat?text=$(q 'buffered forbiddenword')"
expect_eq "a JSON answer proxied with proxy_buffering on is blocked too" \
    block "$(header X-Sluice-Action)"

curl_h "/plain/chat?mode=plain&text=$(q 'plain 13812345678 text')"
expect_eq "a sluice_text_types body is checked as text" \
    "plain [redacted] text" "$OUT"

curl_h "/chat?mode=plain&text=$(q 'plain 13812345678 text')"
expect_eq "other content types pass untouched" "plain 13812345678 text" "$OUT"

# ---- SSE ----------------------------------------------------------------

text='The quick brown fox jumps over the lazy dog, twice; 中文也可以。'
run python3 "$HERE/sse_client.py" "$URL/chat?stream=1&split=3&text=$(q "$text")"
expect_contains "a clean stream passes intact (events split in 3-byte writes)" \
    "$OUT" "\"content\": \"$text\""
expect_contains "... ends with [DONE]" "$OUT" '"done": true'
expect_contains "... with the summary comment sluice-action: allow" "$OUT" \
    'sluice-action: allow'

curl -sN "$URL/chat?stream=1&text=$(q 'Hello there, friend.')" >"$T/raw1"
curl -sN "$URL/direct/chat?stream=1&text=$(q 'Hello there, friend.')" >"$T/raw2"
expect_eq "clean events are passed byte for byte" \
    "$(grep '^data:' "$T/raw2")" "$(grep '^data:' "$T/raw1")"

run python3 "$HERE/sse_client.py" "$URL/chat?stream=1&delay=0.25&text=$(q 'one two three four five six seven eight')"
first=$(printf '%s' "$OUT" | python3 -c 'import json,sys; t=json.load(sys.stdin)["times"]; print(t[0], t[-1], len(t))')
read -r t_first t_last n_times <<<"$first"
if [ "$t_first" -lt 200 ] && [ "$t_last" -gt 1500 ] && [ "$n_times" -ge 8 ]; then
    ok "token timing is kept: first text after ${t_first} ms, last after ${t_last} ms, $n_times chunks"
else
    not_ok "token timing is kept" "first=$t_first ms last=$t_last ms chunks=$n_times" "$OUT"
fi

run python3 "$HERE/sse_client.py" "$URL/chat?stream=1&split=1&text=$(q 'call 13812345678 now, or 13912345678 later')"
expect_contains "phone numbers are redacted inside a stream written byte by byte" \
    "$OUT" '"content": "call [redacted] now, or [redacted] later"'
expect_contains "... summary says redact" "$OUT" 'sluice-action: redact'

: >"$T/up.log.mark"
before=$(grep -c 'gone after' "$T/up.log" || true)
run python3 "$HERE/sse_client.py" "$URL/chat?stream=1&split=5&delay=0.01&mode=endless&text=$(q 'safe words then forbiddenword and on ')"
expect_contains "a blocked stream ends with finish_reason content_filter" "$OUT" \
    '"finish": "content_filter"'
expect_contains "... and [DONE]" "$OUT" '"done": true'
expect_contains "... carrying the refusal" "$OUT" 'Sorry, this content cannot be shown.'
expect_not_contains "... and the blocked term never reaches the client" "$OUT" forbidden
expect_contains "... summary comment sluice-action: block" "$OUT" 'sluice-action: block'
expect_contains "... summary comment names the record" "$OUT" 'sluice-record: writer=nginx-'
gone=0
for _ in $(seq 60); do
    now=$(grep -c 'gone after' "$T/up.log" || true)
    if [ "$now" -gt "$before" ]; then gone=1; break; fi
    sleep 0.05
done
expect_eq "... and nginx stops reading the (endless) upstream" 1 "$gone"

curl -sN "$URL/chat?stream=1&split=1&text=$(q '这是炸药配方的内容')" >"$T/zh"
expect_not_contains "a Chinese term split inside UTF-8 sequences is blocked" \
    "$(cat "$T/zh")" 炸药
expect_contains "... with the Chinese refusal" "$(cat "$T/zh")" '抱歉，该内容无法显示。'

run python3 "$HERE/sse_client.py" "$URL/chat?stream=1&crlf=1&split=2&text=$(q 'crlf 13812345678 events')"
expect_contains "CRLF-delimited events are parsed and redacted" "$OUT" \
    '"content": "crlf [redacted] events"'

run python3 "$HERE/sse_client.py" "$URL/chat?stream=1&completion=1&split=4&text=$(q 'completion forbiddenword stream')"
expect_contains "a completions stream (choices[].text) is blocked" "$OUT" \
    '"finish": "content_filter"'
expect_not_contains "... without the term" "$OUT" forbiddenword

# keep-alive: a blocked stream, then a JSON request, on one connection
run curl -sv "$URL/chat?stream=1&text=$(q 'x forbiddenword y')" \
    "$URL/chat?text=hello"
expect_contains "the client's connection is reused after a blocked stream" \
    "$ERR" "Re-using existing connection"
expect_contains "... and the second answer arrives whole" "$OUT" '"content": "hello"'

# ---- observe mode -------------------------------------------------------

curl_h "/observe/chat?text=$(q 'observe forbiddenword here')"
expect_contains "observe mode passes a JSON answer unchanged" "$OUT" \
    '"content": "observe forbiddenword here"'
expect_eq "... and says what enforce would do" block "$(header X-Sluice-Action)"
expect_eq "... and that it only observed" observe "$(header X-Sluice-Mode)"

run python3 "$HERE/sse_client.py" "$URL/observe/chat?stream=1&split=4&text=$(q 'observe forbiddenword stream')"
expect_contains "observe mode passes a stream unchanged" "$OUT" \
    '"content": "observe forbiddenword stream"'
expect_contains "... with the summary saying block" "$OUT" 'sluice-action: block'

# ---- malformed and encoded upstreams --------------------------------------

curl_h "/chat?mode=malformed"
expect_eq "malformed upstream JSON fails closed with 502" 502 \
    "$(head -1 "$T/h" | awk '{print $2}')"
expect_contains "... with a JSON error saying why" "$OUT" sluice_malformed_upstream

curl_h "/open/chat?mode=malformed"
expect_eq "with sluice_fail open, malformed JSON passes" 200 \
    "$(head -1 "$T/h" | awk '{print $2}')"
expect_eq "... marked X-Sluice-Action: error" error "$(header X-Sluice-Action)"

run python3 "$HERE/sse_client.py" "$URL/chat?stream=1&mode=malformed&text=$(q 'one two three four')"
expect_contains "a malformed SSE event ends the stream closed (content_filter)" \
    "$OUT" '"finish": "content_filter"'
expect_contains "... with reason malformed_upstream" "$OUT" \
    'sluice-reason: malformed_upstream'
expect_contains "... its last chunk is the policy's refusal" "$OUT" \
    'Sorry, this content cannot be shown.'

curl -sN "$URL/open/chat?stream=1&mode=malformed&text=$(q 'one two three four')" >"$T/mo"
expect_contains "with sluice_fail open, a malformed SSE stream passes on" \
    "$(cat "$T/mo")" 'data: [DONE]'
expect_contains "... marked error in the summary" "$(cat "$T/mo")" \
    'sluice-action: error'

curl_h "/small/chat?n=20&text=$(q 'long answer ')"
expect_eq "a body over sluice_max_body fails closed" 502 \
    "$(head -1 "$T/h" | awk '{print $2}')"

curl_h "/chat?text=hi" -H 'Accept-Encoding: gzip'
expect_contains "the upstream is asked for an identity encoding" \
    "$(tail -1 "$T/up.log")" "accept-encoding=identity"

curl_h "/chat?mode=gzip&text=hi" -H 'Accept-Encoding: gzip'
expect_eq "a gzip body the upstream sends anyway is refused (fail closed)" 502 \
    "$(head -1 "$T/h" | awk '{print $2}')"

# ---- the official openai client ------------------------------------------

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    skip "no node/npm" "the openai npm client streams through nginx"
elif [ ! -d "$HERE/node_modules/openai" ] &&
     ! (cd "$HERE" && timeout 120 npm ci --no-audit --no-fund --silent \
            >"$T/npm.log" 2>&1); then
    skip "npm ci failed (offline?): $(tail -1 "$T/npm.log")" \
        "the openai npm client streams through nginx"
else
    run node "$HERE/openai_stream.mjs" "$URL/v1" 'Hello from the openai client, all clean.'
    expect_eq "the openai client streams a clean answer intact" \
        '{"content":"Hello from the openai client, all clean.","finish":"stop"' \
        "${OUT%,\"chunks\"*}"
    run node "$HERE/openai_stream.mjs" "$URL/v1" 'Please forbiddenword now'
    expect_contains "the openai client sees a blocked stream end with content_filter" \
        "$OUT" '"finish":"content_filter"'
    expect_not_contains "... without the term" "$OUT" forbiddenword
    run node "$HERE/openai_stream.mjs" "$URL/v1" 'ring 13812345678' json
    expect_contains "the openai client gets a redacted JSON answer" "$OUT" \
        '"content":"ring [redacted]"'
fi

# ---- client disconnect, memory over a long stream ---------------------------

curl -sN --max-time 0.5 "$URL/chat?stream=1&delay=0.01&mode=endless&text=$(q 'la la ')" \
    >/dev/null 2>&1 || true
run curl -s "$URL/chat?text=still%20alive"
expect_contains "nginx serves on after a client went away mid-stream" "$OUT" \
    '"content": "still alive"'

WPID=$(pgrep -P "$(cat "$T/nginx.pid")" | head -1)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$WPID/status"; }
curl -sN --max-time 6 "$URL/chat?stream=1&delay=0.0002&mode=endless&text=$(q 'tokens keep coming 13812345678 ')" \
    >"$T/long" 2>/dev/null &
LPID=$!
sleep 1.5
r1=$(rss)
sleep 4
r2=$(rss)
wait "$LPID" 2>/dev/null || true
events=$(grep -c '^data:' "$T/long" || true)
if [ "$events" -gt 2000 ] && [ $((r2 - r1)) -lt 1024 ]; then
    ok "a long stream ($events events) does not grow the worker (RSS ${r1} -> ${r2} kB)"
else
    not_ok "a long stream does not grow the worker" \
        "events=$events rss: $r1 -> $r2 kB"
fi
expect_not_contains "... and its redactions held all along" \
    "$(grep -o '"content":"[^"]*"' "$T/long" | tr -d '\n' | sed 's/"content":"//g; s/"//g')" \
    13812345678

# ---- reload with a new policy version -------------------------------------

mkpolicy 4
nginx -p "$T" -c "$T/nginx.conf" -s reload 2>>"$T/logs/stderr.log"
v4=0
for _ in $(seq 100); do
    curl_h "/chat?text=hi"
    case $(header X-Sluice-Policy) in *"version=4"*) v4=1; break ;; esac
    sleep 0.05
done
expect_eq "nginx -s reload loads the new policy version" 1 "$v4"

# ---- hostile upstream bodies: the JSON and SSE parsers ------------------------
# 50 JSON bodies and 50 SSE streams, each a valid one with a few random
# byte edits (upstream.py mutate=SEED: flips, structural bytes inserted,
# cuts, repeats), written in random pieces, through the fail-closed and
# the fail-open locations. Whatever each answer is, no worker may die.

workers_before=$(pgrep -P "$(cat "$T/nginx.pid")" | sort | tr '\n' ' ')
answered=0
for seed in $(seq 1 50); do
    for loc in "" open/; do
        curl -s -m 5 -o /dev/null "$URL/${loc}chat?mutate=$seed&text=$(q 'fine, then forbiddenword, 13812345678 and 你好')" && answered=$((answered + 1))
        curl -s -m 5 -o /dev/null "$URL/${loc}chat?stream=1&mutate=$seed&text=$(q 'a stream with forbiddenword in it')" && answered=$((answered + 1))
    done
done
workers_after=$(pgrep -P "$(cat "$T/nginx.pid")" | sort | tr '\n' ' ')
expect_eq "200 mutated JSON bodies and SSE streams are all answered" 200 \
    "$answered"
# a crashed worker is replaced by a new process; the old workers of the
# reload above may still be finishing, and leave when they are done
new=""
for w in $workers_after; do
    case " $workers_before " in *" $w "*) ;; *) new="$new $w" ;; esac
done
expect_eq "... and no worker had to be replaced (none crashed)" "" "$new"

# ---- ledger -----------------------------------------------------------------

kill -QUIT "$(cat "$T/nginx.pid")"
for _ in $(seq 100); do
    [ -f "$T/nginx.pid" ] || break
    sleep 0.05
done
writer=$(printf '%s' "$REDACT_REC" | sed -n 's/^writer=\([^;]*\);.*/\1/p')
seq=$(printf '%s' "$REDACT_REC" | sed -n 's/.*seq=\([0-9]*\);.*/\1/p')
run "$SLUICE" ledger show "$T/ledger.d" --writer "$writer"
expect_contains "the record named in X-Sluice-Record is in the ledger" "$OUT" \
    "$writer#$seq "
expect_contains "... as a redact by its rule and policy version" \
    "$(printf '%s\n' "$OUT" | grep "^$writer#$seq ")" "redact ngx-it@3 rules=pii.phone"
expect_contains "... with the tenant from sluice_tenant" \
    "$(printf '%s\n' "$OUT" | grep "^$writer#$seq ")" "tenant=acme"
run "$SLUICE" ledger show "$T/ledger.d" --type verdict
n=$(printf '%s\n' "$OUT" | grep -c . || true)
# about 30 moderated responses above; a few (the long and the cut-short
# streams, the reload probes) depend on timing
if [ "$n" -ge 25 ]; then
    ok "the moderated responses have their records ($n verdict records)"
else
    not_ok "the moderated responses have their records" "only $n" "$OUT"
fi
run "$SLUICE" ledger verify "$T/ledger.d" --key "$T/ledger.pub"
expect_eq "the ledger the workers wrote verifies" 0 "$RC"

# ---- the error log ----------------------------------------------------------

log=$(cat "$T/logs/error.log" "$T/logs/stderr.log" 2>/dev/null)
expect_not_contains "the error log has no [alert]" "$log" "[alert]"
expect_not_contains "the error log has no [emerg]" "$log" "[emerg]"
expect_not_contains "no worker crashed" "$log" "exited on signal"

done_testing
