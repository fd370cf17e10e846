"""Moderating a token stream: a generator over any iterable of chunks.

:func:`moderate_stream` wraps whatever yields a model's output piece by
piece (a Hugging Face ``TextIteratorStreamer``, an OpenAI-compatible
client's deltas, a list) and yields only what a session releases:
redacted text as soon as no pending match can cover it, and on a block the
policy's refusal, after which it stops, closing the source so that
generation stops too. :func:`amoderate_stream` is the same for async
iterables (Starlette/FastAPI ``StreamingResponse`` bodies, async clients).

The verdict (the same as a whole-text check of the full output would give,
docs/streaming.md) goes to ``on_verdict`` if given, and is the generator's
return value (``verdict = yield from moderate_stream(...)``).
"""

import inspect


def _close(source):
    close = getattr(source, "close", None)
    if callable(close):
        close()


def moderate_stream(chunks, engine, *, on_verdict=None, max_held=None,
                    **meta):
    """Yield what `engine` lets through of the chunks (str or bytes).

    Stops after yielding the refusal on a block; empty releases are not
    yielded. Metadata (request_id, tenant, subject, model) is recorded
    with the verdict. Raises NoPolicyError before yielding anything when
    the engine has no policy; a library error mid-stream propagates (and
    nothing more is released). If the consumer stops early, the session
    is abandoned (no verdict, no ledger record).
    """
    source = iter(chunks)
    with engine.session(max_held=max_held, **meta) as s:
        try:
            for chunk in source:
                out = s.feed(chunk)
                if out:
                    yield out
                if s.stopped:
                    break
            verdict = s.finish()
        finally:
            if s.stopped or not s.finished:
                _close(source)
        if verdict.released:
            yield verdict.released
    if on_verdict is not None:
        on_verdict(verdict)
    return verdict


async def amoderate_stream(chunks, engine, *, on_verdict=None, max_held=None,
                           **meta):
    """moderate_stream for an async iterable (or a plain one): an async
    generator of released text. On a block the source's aclose() (or
    close()) is called. The verdict goes to on_verdict."""
    if hasattr(chunks, "__aiter__"):
        source = chunks.__aiter__()

        async def chunk_iter():
            async for c in source:
                yield c
    else:
        source = iter(chunks)

        async def chunk_iter():
            for c in source:
                yield c
    with engine.session(max_held=max_held, **meta) as s:
        it = chunk_iter()
        try:
            async for chunk in it:
                out = s.feed(chunk)
                if out:
                    yield out
                if s.stopped:
                    break
            verdict = s.finish()
        finally:
            if s.stopped or not s.finished:
                await it.aclose()
                aclose = getattr(source, "aclose", None)
                if aclose is not None:
                    res = aclose()
                    if inspect.isawaitable(res):
                        await res
                else:
                    _close(source)
        if verdict.released:
            yield verdict.released
    if on_verdict is not None:
        on_verdict(verdict)
