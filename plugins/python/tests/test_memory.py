"""Memory stays flat over many checks: no leak in the binding or below it.

RSS is read from /proc/self/statm after a warm-up and again after the run;
each round mixes allowed, redacted and blocked outputs, labels, sessions
and errors, so every path that allocates in C is taken. The count is
SLUICE_PY_CHECKS (default 100000).
"""

import gc
import os

import pytest

import sluice

from conftest import ROOT, asan

CHECKS = int(os.environ.get("SLUICE_PY_CHECKS", "100000"))
TEXTS = [
    "Sure! Photosynthesis turns light into chemical energy.",
    "申请人的身份证号为11010519491231002X，请核对后提交。",
    "what the ｆ.ｕ.ｃ.ｋ is going on",
    "token ghp_1234567890abcdefghijklmnopqrstuvwxyz12 here",
    "你这个傻逼，联系13912345678",
    "番茄炒蛋的做法很简单。",
]


def rss_kib():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def round_of_work(engine, labels, n):
    for i in range(n):
        engine.check(TEXTS[i % len(TEXTS)], request_id="r%d" % i)
        if i % 10 == 0:
            with engine.session(tenant="t") as s:
                s.feed(TEXTS[i % len(TEXTS)][:20])
                s.feed(TEXTS[i % len(TEXTS)][20:])
                s.finish()
        if i % 50 == 0:
            labels.check("这是换脸视频")
        if i % 500 == 0:
            try:
                engine.check("x" * 300)
            except sluice.InputTooLargeError:
                pass


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                    reason="no /proc/self/statm to read RSS from")
def test_rss_is_stable_over_many_checks(baseline):
    label_dir = os.path.join(ROOT, "tests", "cli", "fixtures", "label")
    with sluice.Engine(baseline, max_input=200) as e, \
            sluice.Engine(label_dir) as labels:
        warm = min(10000, CHECKS // 5)
        round_of_work(e, labels, warm)
        gc.collect()
        before = rss_kib()
        round_of_work(e, labels, CHECKS)
        gc.collect()
        grown = rss_kib() - before
    if asan():
        return      # ASan's quarantine grows RSS; ASan itself checks memory
    # A leak of even 40 bytes per check would be 4 MB over 100k checks.
    assert grown < 3 * 1024, "RSS grew by %d KiB over %d checks" % (
        grown, CHECKS)
