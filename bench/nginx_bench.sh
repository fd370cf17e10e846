#!/usr/bin/env bash
# bench/nginx_bench.sh - throughput and latency of nginx with and without
# ngx_http_sluice_module (docs/nginx.md, "Performance"), with wrk.
#
#   BUILD=build bench/nginx_bench.sh [SECONDS]      (default 5 per run)
#   NGINX_BENCH_LEDGER=0 ...   the module without a ledger
#   NGINX_BENCH_HOLD=S ...     keep nginx up S seconds after the runs
#                              (prints "port N") for a profiler
#
# One nginx (one worker, its own prefix in a temporary directory, free
# loopback ports) has two servers: an "upstream" that answers from memory
# with a ~1 KB chat completion (application/json) and a 20-chunk stream
# (text/event-stream), and a front that proxies to it over keep-alive
# connections, at /plain/ (sluice off) and /sluice/ (sluice on, the
# baseline policy, a ledger). wrk runs each case twice, alternating, with
# 1 thread and 16 connections; the best run of each is reported: req/s,
# mean and p99 latency, and the module's throughput relative to the plain
# proxy. The machine is shared: everything runs under nice, briefly.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SECS=${1:-5}
LEDGER_CONF=""
MODULE=$BUILD/nginx/ngx_http_sluice_module.so

for tool in nginx wrk python3; do
    command -v "$tool" >/dev/null || { echo "nginx_bench: no $tool" >&2; exit 2; }
done
[ -f "$MODULE" ] || { echo "nginx_bench: no $MODULE (make nginx-module)" >&2; exit 2; }

. "$ROOT/plugins/nginx/tests/nginx.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-ngx-bench.XXXXXX")
cleanup() {
    ngx_stop "$T"
    rm -rf "$T"
}
trap cleanup EXIT

UP=$(ngx_freeport)
FR=$(ngx_freeport)

# ~1 KB of clean model output, as a chat completion; and a stream of it.
python3 - "$T" <<'EOF'
import json, sys
t = sys.argv[1]
text = ("Sure. Here is a short overview of how photosynthesis works. Plants "
        "capture light with chlorophyll, split water into oxygen, protons "
        "and electrons, and use the energy to make ATP and NADPH. In the "
        "Calvin cycle, the enzyme RuBisCO fixes carbon dioxide into a "
        "three-carbon sugar, which the plant turns into glucose, starch and "
        "cellulose. The oxygen we breathe is a by-product of the first "
        "stage. Efficiency is low, around one or two percent of the light "
        "that falls on a leaf, but over the whole planet it adds up to "
        "about a hundred billion tonnes of carbon every year. 光合作用很重要。")
body = {"id": "chatcmpl-bench", "object": "chat.completion",
        "created": 1700000000, "model": "bench-1",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 180,
                  "total_tokens": 192}}
open(t + "/chat.json", "w").write(json.dumps(body, ensure_ascii=False))
words = text.split(" ")
n = 20
chunks = [" ".join(words[i * len(words) // n:(i + 1) * len(words) // n]) + " "
          for i in range(n)]
ev = []
for c in chunks:
    ev.append("data: " + json.dumps({"id": "chatcmpl-bench",
        "object": "chat.completion.chunk", "created": 1700000000,
        "model": "bench-1", "choices": [{"index": 0, "delta": {"content": c},
        "finish_reason": None}]}, ensure_ascii=False) + "\n\n")
ev.append("data: [DONE]\n\n")
open(t + "/stream.txt", "w").write("".join(ev))
EOF

"$BUILD/sluice" keygen -o "$T/ledger" --name bench >/dev/null
if [ "${NGINX_BENCH_LEDGER:-1}" != 0 ]; then
    LEDGER_CONF="sluice_ledger $T/ledger.d $T/ledger.key;"
fi
ngx_conf_head "$T" "$MODULE" warn >"$T/nginx.conf"
cat >>"$T/nginx.conf" <<EOF

    upstream model { server 127.0.0.1:$UP; keepalive 32; }

    server {
        listen 127.0.0.1:$UP;
        location /v1/chat { default_type application/json;
                            alias $T/chat.json; }
        location /v1/stream { default_type text/event-stream;
                              alias $T/stream.txt; }
    }

    server {
        listen 127.0.0.1:$FR;
        proxy_http_version 1.1;
        proxy_set_header Connection "";

        location /plain/ { proxy_pass http://model/v1/; }
        location /sluice/ {
            sluice on;
            sluice_policy $ROOT/policies/baseline;
            $LEDGER_CONF
            proxy_pass http://model/v1/;
        }
    }
}
EOF
nice nginx -p "$T" -c "$T/nginx.conf"
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$FR/plain/chat" && break
    sleep 0.05
done
if ! curl -s -D - -o /dev/null "http://127.0.0.1:$FR/sluice/chat" | grep -qi '^X-Sluice-Action: allow'; then
    echo "nginx_bench: the module did not answer allow" >&2
    exit 1
fi

# run PATH -> "req/s mean_ms p99_ms"
run() {
    nice wrk -t1 -c16 -d"${SECS}s" --latency "http://127.0.0.1:$FR$1" 2>&1 |
        awk '
            /Requests\/sec/ { rps = $2 }
            /^    Latency/ { mean = $2 }
            /^ +99%/ { p99 = $2 }
            function ms(v) {
                if (v ~ /us$/) return v / 1000
                if (v ~ /ms$/) return v + 0
                if (v ~ /s$/) return v * 1000
                return v
            }
            END { printf "%.0f %.3f %.3f\n", rps, ms(mean), ms(p99) }'
}

best() {   # keep the line with the higher req/s
    if [ -z "$1" ] || [ "${2%% *}" -gt "${1%% *}" ]; then echo "$2"; else echo "$1"; fi
}

printf 'nginx_bench: %s s per run, wrk -t1 -c16, one worker, best of 2, ledger %s\n' \
    "$SECS" "$([ -n "$LEDGER_CONF" ] && echo on || echo off)"
printf '%-26s %10s %10s %10s %9s\n' case req/s mean_ms p99_ms vs_plain
for kind in chat stream; do
    p=""; s=""
    for _ in 1 2; do
        p=$(best "$p" "$(run /plain/$kind)")
        s=$(best "$s" "$(run /sluice/$kind)")
    done
    read -r prps pmean pp99 <<<"$p"
    read -r srps smean sp99 <<<"$s"
    printf '%-26s %10s %10s %10s %9s\n' "$kind plain proxy" "$prps" "$pmean" "$pp99" ""
    printf '%-26s %10s %10s %10s %8.1f%%\n' "$kind sluice" "$srps" "$smean" "$sp99" \
        "$(awk -v a="$srps" -v b="$prps" 'BEGIN { print (a - b) * 100 / b }')"
done
if [ -n "${NGINX_BENCH_HOLD:-}" ]; then
    echo "port $FR"
    sleep "$NGINX_BENCH_HOLD"
fi
if grep -E '\[(alert|emerg)\]|exited on signal' "$T/logs/error.log"; then
    echo "nginx_bench: errors in the log" >&2
    exit 1
fi
