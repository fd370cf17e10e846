#!/usr/bin/env bash
# tests/integration/21-redis-fleet.sh - the Redis tests that need threads,
# timing or a Redis to kill (tests/integration/redis_itest.c, built into
# $BUILD/itest/): hot reload while threads check, tampered and untrusted
# bundles refused, Redis killed and restarted mid-run, Redis stalled
# (SIGSTOP) and every call within its timeout. The program starts and
# kills its own redis-server; without redis-server this reports one
# skipped test.
set -eu

if ! command -v redis-server >/dev/null 2>&1; then
    echo "ok 1 - the threaded Redis tests need redis-server # SKIP no redis-server"
    exit 0
fi
PROG=$BUILD/itest/redis_itest
if [ ! -x "$PROG" ]; then
    echo "not ok 1 - $PROG is built (make unit)"
    exit 1
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-redis-it.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
"$PROG" "$TMP"
