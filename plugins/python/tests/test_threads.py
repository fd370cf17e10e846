"""One engine shared by many threads: checks, sessions, reloads, close.

The C engine is thread-safe and ctypes releases the GIL in each call; the
binding adds a count of calls in flight so that closing an engine never
frees it under a running check.
"""

import threading

import sluice

N_THREADS = 8


def run_threads(target, n=N_THREADS):
    errors = []

    def wrap(i):
        try:
            target(i)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    ts = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts), "a thread hung"
    if errors:
        raise errors[0]


def test_threads_sharing_an_engine_get_the_single_threaded_verdicts(
        engine, examples):
    texts = [e["text"] for e in examples]
    want = [engine.check(t).to_dict() for t in texts]

    def work(i):
        for rep in range(40):
            k = (i * 7 + rep) % len(texts)
            assert engine.check(texts[k], request_id="t%d" % i).to_dict() \
                == want[k]

    run_threads(work)


def test_threads_each_streaming_through_one_engine(engine, examples):
    texts = [e["text"] for e in examples]
    want = [engine.check(t) for t in texts]

    def work(i):
        for rep in range(10):
            k = (i + rep) % len(texts)
            got = []
            out = "".join(sluice.moderate_stream(
                [texts[k][j:j + 3] for j in range(0, len(texts[k]), 3)],
                engine, on_verdict=got.append))
            assert got[0].action == want[k].action
            if not want[k].blocked:
                assert out == want[k].output

    run_threads(work)


def test_reloads_during_checks_are_atomic(tmp_path):
    dirs = []
    for version, term in ((1, "alphaword"), (2, "betaword")):
        d = tmp_path / ("p%d" % version)
        d.mkdir()
        (d / "policy.yaml").write_text(
            "policy: t\nversion: %d\nrules:\n  - {id: w, action: block, "
            "terms: [%s]}\n" % (version, term))
        dirs.append(sluice.Policy(str(d)))
    e = sluice.Engine(dirs[0])
    stop = threading.Event()

    def reloader():
        k = 0
        while not stop.is_set():
            k ^= 1
            e.reload(dirs[k])

    r = threading.Thread(target=reloader)
    r.start()
    try:
        def work(i):
            for _ in range(300):
                v = e.check("alphaword")
                # each check runs wholly under one policy
                assert (v.policy.version == 1) == (v.action == "block")
        run_threads(work, 4)
    finally:
        stop.set()
        r.join()
    e.close()


def test_closing_an_engine_while_threads_check_is_safe(baseline, examples):
    e = sluice.Engine(baseline)
    started = threading.Barrier(N_THREADS + 1)
    results = {"ok": 0, "closed": 0}
    lock = threading.Lock()

    def work(i):
        started.wait()
        for _ in range(200):
            try:
                e.check(examples[i % len(examples)]["text"])
                key = "ok"
            except sluice.MisuseError:
                key = "closed"
            with lock:
                results[key] += 1

    ts = [threading.Thread(target=work, args=(i,)) for i in range(N_THREADS)]
    for t in ts:
        t.start()
    started.wait()
    e.close()
    for t in ts:
        t.join(60)
    assert results["ok"] + results["closed"] == N_THREADS * 200
    assert e.closed


def test_an_open_session_outlives_its_closed_engine(baseline):
    e = sluice.Engine(baseline)
    s = e.session()
    e.close()
    with sluice_raises_misuse():
        e.check("hello")
    assert s.feed("call 13812345678") + s.finish().released == \
        "call [redacted]"


class sluice_raises_misuse:
    """A tiny context manager: the block must raise MisuseError."""

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        assert typ is sluice.MisuseError, typ
        return True
