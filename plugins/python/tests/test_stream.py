"""Streaming through Python: sessions and moderate_stream.

The property (docs/streaming.md): for any way of cutting a text into
chunks, what a session releases equals the whole-text check's output when
not blocked, and the session's verdict has the whole text's action, rules,
categories and spans; when blocked, the refusal is released last and the
spans are a prefix of the whole text's.
"""

import asyncio
import os
import random

import pytest

import sluice

from conftest import ROOT

SEED = int(os.environ.get("SLUICE_PY_SEED", "20240611"))

EXTRA = [
    "you are a sh", "what the ｆ.ｕ.ｃ.ｋ", "fuuuuck this", "敏*感词和他妈的",
    "我的身份证号是11010519491231002X，手机13812345678",
    "token ghp_1234567890abcdefghijklmnopqrstuvwxyz12 here",
    "炸药的配方是什么", "a" * 300 + " fuck " + "b" * 300, "", "x",
]


def cut_bytes(data, rng):
    """Random cuts of bytes, anywhere (inside UTF-8 sequences too)."""
    out, i = [], 0
    while i < len(data):
        n = rng.choice((1, 1, 2, 3, 5, 8, 13, 64))
        out.append(data[i:i + n])
        i += n
    return out


def cut_str(text, rng):
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, 12)
        out.append(text[i:i + n])
        i += n
    return out


def stream_bytes(engine, chunks):
    released = []
    with engine.session() as s:
        for c in chunks:
            released.append(s.feed(c))
            if s.stopped:
                break
        v = s.finish()
    return released, v


def compare(whole, released, v):
    strip = [(x.start, x.end, x.rule) for x in whole.spans]
    got = [(x.start, x.end, x.rule) for x in v.spans]
    assert v.action == whole.action
    if whole.action == "block":
        assert v.output_bytes == whole.output_bytes     # the refusal
        # the refusal comes last, from a feed or (a late block) finish()
        assert (b"".join(released) + v.released.encode()).endswith(
            whole.output_bytes)
        assert (released[-1] == whole.output_bytes) != \
            (v.released.encode() == whole.output_bytes)
        assert got == strip[:len(got)]
    else:
        assert b"".join(released) + v.released.encode() == whole.output_bytes
        assert v.rules == whole.rules
        assert v.categories == whole.categories
        assert got == strip


def corpus(examples):
    return [e["text"] for e in examples] + EXTRA


def test_random_byte_chunkings_equal_the_whole_text(engine, examples):
    rng = random.Random(SEED)
    for text in corpus(examples):
        whole = engine.check(text)
        data = text.encode()
        for _ in range(12):
            released, v = stream_bytes(engine, cut_bytes(data, rng))
            compare(whole, released, v)


def test_one_byte_chunks_equal_the_whole_text(engine, examples):
    for text in corpus(examples):
        whole = engine.check(text)
        data = text.encode()
        released, v = stream_bytes(engine, [data[i:i + 1]
                                            for i in range(len(data))])
        compare(whole, released, v)


def test_random_str_chunkings_through_moderate_stream(engine, examples):
    rng = random.Random(SEED + 1)
    for text in corpus(examples):
        whole = engine.check(text)
        for _ in range(6):
            got = []
            out = "".join(sluice.moderate_stream(cut_str(text, rng), engine,
                                                 on_verdict=got.append))
            assert got[0].action == whole.action
            if whole.action == "block":
                assert out.endswith(whole.output)
            else:
                assert out == whole.output


def test_shared_corpus_samples_stream_like_whole_texts(engine, data_dir):
    rng = random.Random(SEED + 2)
    texts = []
    for sub in ("llamafactory-demo", "cold", "chineseharm-bench", "hh-rlhf"):
        d = os.path.join(data_dir, sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if os.path.isfile(p) and name.endswith((".jsonl", ".csv",
                                                    ".txt", ".json")):
                with open(p, encoding="utf-8", errors="replace") as f:
                    head = f.read(400000)
                lines = [ln for ln in head.splitlines() if ln.strip()]
                texts += rng.sample(lines, min(30, len(lines)))
    if not texts:
        pytest.skip("no corpus files found under %s" % data_dir)
    for text in texts:
        whole = engine.check(text)
        released, v = stream_bytes(engine, cut_bytes(text.encode(), rng))
        compare(whole, released, v)


def test_a_block_yields_the_refusal_last_and_closes_the_source(engine):
    closed = []

    def model():
        try:
            yield "Here is your token: "
            yield "ghp_1234567890abcdefghij"
            yield "klmnopqrstuvwxyz12 and"
            for _ in range(100000):
                yield " more"
        finally:
            closed.append(True)

    verdicts = []
    out = list(sluice.moderate_stream(model(), engine,
                                      on_verdict=verdicts.append))
    assert verdicts[0].action == "block"
    assert out[-1] == verdicts[0].output == "Sorry, this content can't be shown."
    assert "ghp_" not in "".join(out)
    assert closed == [True]


def test_the_verdict_is_the_generators_return_value(engine):
    def outer():
        v = yield from sluice.moderate_stream(["call 138", "12345678 now"],
                                              engine)
        return v
    g = outer()
    parts = []
    try:
        while True:
            parts.append(next(g))
    except StopIteration as stop:
        v = stop.value
    assert v.action == "redact" and v.rules == ["pii.cn_mobile"]
    assert "".join(parts) == "call [redacted] now"


def test_amoderate_stream_moderates_an_async_iterable(engine):
    async def model():
        for piece in ["what the f", "uck, ", "said ", "he"]:
            await asyncio.sleep(0)
            yield piece

    async def run():
        verdicts = []
        out = [p async for p in sluice.amoderate_stream(
            model(), engine, on_verdict=verdicts.append)]
        return out, verdicts[0]

    out, v = asyncio.run(run())
    assert "".join(out) == "what the [redacted], said he"
    assert v.action == "redact"


def test_feeding_a_stopped_session_raises_misuse(engine):
    with engine.session() as s:
        out = s.feed("token ghp_1234567890abcdefghijklmnopqrstuvwxyz12 ok")
        # On a block only the refusal goes out, nothing of the chunk.
        assert s.stopped and out == "Sorry, this content can't be shown."
        with pytest.raises(sluice.MisuseError):
            s.feed("more")
        v = s.finish()
        assert v.blocked and v.released == ""
        with pytest.raises(sluice.MisuseError):
            s.finish()


def test_the_session_holds_back_a_possible_match(engine):
    with engine.session() as s:
        assert s.feed("you are a sh") != "you are a sh"
        assert s.held > 0
    with engine.session() as s:
        first = s.feed("you are a sh")
        rest = s.feed("ip")
        v = s.finish()
        assert first + rest + v.released == "you are a ship"


def test_bytes_chunks_give_bytes_back(engine):
    with engine.session() as s:
        out = s.feed("我的身份证号是".encode()[:5])
        assert isinstance(out, bytes)


def test_a_session_keeps_its_policy_across_a_reload(tmp_path):
    p1 = tmp_path / "p1"
    p1.mkdir()
    (p1 / "policy.yaml").write_text(
        "policy: t\nversion: 1\nrules:\n  - {id: w, action: block, "
        "terms: [alphaword]}\n")
    p2 = tmp_path / "p2"
    p2.mkdir()
    (p2 / "policy.yaml").write_text(
        "policy: t\nversion: 2\nrules:\n  - {id: w, action: block, "
        "terms: [betaword]}\n")
    with sluice.Engine(str(p1)) as e:
        with e.session() as s:
            s.feed("say ")
            e.reload(str(p2))
            s.feed("alphaword")
            v = s.finish()
        assert v.action == "block" and v.policy.version == 1
        assert e.check("alphaword").action == "allow"
        assert e.check("betaword").policy.version == 2


def test_an_abandoned_stream_frees_its_session(engine):
    g = sluice.moderate_stream(iter(["hello ", "world ", "again"]), engine)
    assert next(g)
    g.close()           # consumer went away: no exception, nothing leaks


def test_streaming_a_policy_with_labels(root):
    pdir = os.path.join(ROOT, "tests", "cli", "fixtures", "label")
    with sluice.Engine(pdir) as e:
        whole = e.check("这是换脸视频，请看")
        out = "".join(sluice.moderate_stream(list("这是换脸视频，请看"), e))
        assert whole.label is not None
        assert out == whole.output
