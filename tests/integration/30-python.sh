#!/usr/bin/env bash
# tests/integration/30-python.sh - the Python binding's pytest suite
# (plugins/python/tests/, docs/python.md), run with Debian's python3
# against $BUILD/libsluice.so, each pytest case reported as one TAP line.
#
# Without pytest for /usr/bin/python3 it reports one skipped test. Under
# an ASan build (the library exports __asan symbols) it reports one skip
# too, unless SLUICE_PY_ASAN_RUN=1: the C tests already run every library
# path under ASan, and the CI's time is better spent there. With it,
# libasan is preloaded (with libstdc++) into python3, with leak detection
# off (Python's own allocations are not ours to report; given last, it
# wins over the suite's detect_leaks=1) and the RSS bound of the memory
# test off.
set -eu
. "$ROOT/tests/cli/lib.sh"

PY=/usr/bin/python3
LIB=$BUILD/libsluice.so

if ! [ -x "$PY" ] || ! "$PY" -c 'import pytest' >/dev/null 2>&1; then
    skip "no pytest for $PY (apt-get install python3-pytest)" \
        "the Python binding's tests need pytest"
    done_testing
fi
if ! [ -f "$LIB" ]; then
    not_ok "libsluice.so is built in \$BUILD" "missing: $LIB"
    done_testing
fi

if nm -D "$LIB" 2>/dev/null | grep -q ' __tsan_init'; then
    # a TSan library cannot be loaded into an uninstrumented python3 (its
    # runtime must start with the process); the C tests cover the threads
    skip "libsluice.so is built with ThreadSanitizer" \
        "the Python binding's tests need a library python3 can load"
    done_testing
fi

if nm -D "$LIB" 2>/dev/null | grep -q ' __asan_init' &&
    [ "${SLUICE_PY_ASAN_RUN:-0}" != 1 ]; then
    skip "libsluice.so is built with ASan (SLUICE_PY_ASAN_RUN=1 runs it)" \
        "the Python binding's tests under ASan"
    done_testing
fi

ENVS=(SLUICE_LIBRARY="$LIB" SLUICE="$SLUICE" SLUICE_DATA="$SLUICE_DATA"
      ROOT="$ROOT" BUILD="$BUILD" PYTHONDONTWRITEBYTECODE=1)
if nm -D "$LIB" 2>/dev/null | grep -q ' __asan_init'; then
    # libstdc++ too: ASan must find the real __cxa_throw (Hyperscan
    # throws internally), and python3 itself does not load libstdc++.
    ASAN_LIB="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
    ENVS+=(LD_PRELOAD="$ASAN_LIB"
           ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
           SLUICE_PY_ASAN=1 SLUICE_PY_CHECKS=20000)
fi

XML=$TAP_TMP/junit.xml
rc=0
(cd "$ROOT/plugins/python" &&
    env "${ENVS[@]}" nice "$PY" -m pytest -q -p no:cacheprovider \
        --junitxml="$XML" -o junit_family=xunit1 tests \
        >"$TAP_TMP/pytest.log" 2>&1) || rc=$?

if ! [ -s "$XML" ]; then
    not_ok "pytest runs and writes its report (exit $rc)" \
        "$(tail -n 40 "$TAP_TMP/pytest.log")"
    done_testing
fi

# One TAP line per test case: ok, not ok (with pytest's message), or skip.
"$PY" - "$XML" <<'PY'
import sys
import xml.etree.ElementTree as ET

n = 0
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    n += 1
    name = "%s::%s" % (case.get("classname", "").rsplit(".", 1)[-1],
                       case.get("name"))
    bad = case.find("failure")
    if bad is None:
        bad = case.find("error")
    skipped = case.find("skipped")
    if bad is not None:
        print("not ok %d - %s" % (n, name))
        text = (bad.get("message") or "") + "\n" + (bad.text or "")
        for line in text.strip().splitlines()[-30:]:
            print("#   " + line)
    elif skipped is not None:
        reason = (skipped.get("message") or "skipped").splitlines()[0]
        print("ok %d - %s # SKIP %s" % (n, name, reason))
    else:
        print("ok %d - %s" % (n, name))

PY
# The TAP lines above are the result; a pytest that failed without a
# failing case (an internal error) is a failure of its own.
if [ "$rc" -ne 0 ] && ! grep -q '<failure\|<error' "$XML"; then
    not_ok "pytest exits 0" "$(tail -n 40 "$TAP_TMP/pytest.log")"
fi
# Counting is the runner's (tests/run.sh reads the TAP lines above).
if [ "$rc" -ne 0 ]; then exit 1; fi
exit 0
