"""Engines and streaming sessions: the checks themselves.

:class:`Engine` wraps a ``sluice_engine``: one current policy (swapped
atomically by :meth:`Engine.reload`), optionally a ledger that records
every verdict and a Redis handle. It is safe to share between threads:
the C engine is thread-safe, ctypes releases the GIL during each check so
checks run in parallel, and this wrapper counts the checks and sessions in
flight so that :meth:`Engine.close` never frees the C engine under them
(the free happens when the last one ends).

:class:`Session` wraps a ``sluice_session``: one output arriving in chunks.
Each :meth:`Session.feed` returns what may be released now (already
redacted); on a block it returns the refusal and the session stops. One
thread at a time (a lock enforces it); the session pins the policy it
started with, even across a reload.

Fail closed: an engine without a policy raises NoPolicyError on every
check, and an engine whose ledger cannot record blocks (verdict reason
"ledger_unavailable") unless fail_mode="open".
"""

import codecs
import ctypes
import threading

from . import _lib
from .errors import PolicyError, RedisError, error_from, misuse
from .keys import as_key, as_keys
from .ledger import Ledger
from .policy import Policy, as_policy
from .redis import Redis
from .verdict import read_verdict

_META_KEYS = ("request_id", "tenant", "subject", "model")
_FAIL_MODES = {"closed": 0, "open": 1}


def _meta(meta):
    """A sluice_meta from keyword arguments (None when there are none)."""
    if not meta:
        return None
    m = _lib.Meta()
    for k, val in meta.items():
        if k not in _META_KEYS:
            raise TypeError("unknown metadata %r (known: %s)"
                            % (k, ", ".join(_META_KEYS)))
        if val is not None:
            setattr(m, k, _lib.enc(str(val) if not isinstance(
                val, (str, bytes)) else val))
    return m


def _text_bytes(text):
    """(UTF-8 bytes, the same bytes again if `text` was a str, else None)."""
    if isinstance(text, str):
        b = text.encode("utf-8", "surrogatepass")
        return b, b
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text), None
    raise TypeError("text must be str or bytes, not %s" % type(text).__name__)


def _fail_mode(mode):
    if isinstance(mode, int) and mode in (0, 1):
        return mode
    try:
        return _FAIL_MODES[mode]
    except (KeyError, TypeError):
        raise ValueError("fail_mode: 'closed' or 'open', not %r" % (mode,))


class Engine:
    """A moderation engine.

    Engine(policy, trust=None, ledger=None, redis=None, fail_mode="closed",
    *, allow_unsigned=False, ledger_key=None, max_input=0, max_spans=0,
    max_held=0, cache=False, digest_key=None, cache_ttl=0,
    cache_min_bytes=0, strikes=None, fleet=False, worker=None)

    policy: a policy directory or policy.yaml path, a bundle file path,
        bundle bytes, a sluice.Policy, or None (no policy: every check
        raises NoPolicyError until reload(); or the fleet's, with fleet).
    trust: verifier keys (Key objects or PREFIX.pub paths): only bundles
        they signed load; policy directories are refused unless
        allow_unsigned. Kept for reload() and the fleet.
    ledger: a sluice.Ledger (borrowed: it must be kept open by its owner),
        or a directory: the engine then opens a Ledger there with
        ledger_key (a signer Key or PREFIX.key path) and closes it with
        the engine.
    redis: a sluice.Redis or an address string, for the verdict cache
        (cache=True, keyed with digest_key, else the ledger key's derived
        digest key), strike counting (strikes: None, the library's default;
        True/False), and with fleet=True fleet policy distribution
        (the engine follows the bundle published with `sluice publish`,
        checking it against trust).
    fail_mode: "closed" (default: a verdict that cannot be recorded is a
        block) or "open" (it stands, and the gap is recorded later).
    max_input, max_spans: engine limits (0: 16 MiB, 10,000);
    max_held: the default holdback limit of sessions (0: 1 MiB).

    Raises PolicyError, LedgerError, KeyFileError, RedisError.
    """

    def __init__(self, policy=None, trust=None, ledger=None, redis=None,
                 fail_mode="closed", *, allow_unsigned=False,
                 ledger_key=None, max_input=0, max_spans=0, max_held=0,
                 cache=False, digest_key=None, cache_ttl=0,
                 cache_min_bytes=0, strikes=None, fleet=False, worker=None):
        self._h = None
        self._lock = threading.Lock()
        self._active = 0
        self._closed = False
        self._ledger = None
        self._owns_ledger = False
        self._redis = None
        self._fleet = None
        self._state = False
        self._max_held = max_held
        self._trust = as_keys(trust)
        self._allow_unsigned = allow_unsigned
        self._fail = _fail_mode(fail_mode)
        L = _lib.lib()
        opts = _lib.EngineOptions(_lib.ENGINE_OPTIONS_VERSION, max_input,
                                  max_spans)
        out = ctypes.c_void_p()
        err = _lib.Error()
        rc = L.sluice_engine_new(ctypes.byref(out), ctypes.byref(opts),
                                 ctypes.byref(err))
        if rc:
            raise error_from(rc, err)
        self._h = out.value
        try:
            if policy is not None:
                self.reload(policy)
            if ledger is not None:
                self._attach_ledger(ledger, ledger_key)
            if redis is not None:
                self._attach_redis(redis, cache, digest_key, cache_ttl,
                                   cache_min_bytes, strikes, fleet, worker)
        except BaseException:
            self.close()
            raise

    # ---- setup --------------------------------------------------------------

    def _attach_ledger(self, ledger, ledger_key):
        if isinstance(ledger, Ledger):
            self._ledger = ledger
        else:
            if ledger_key is None:
                raise ValueError("ledger=DIR needs ledger_key (a signer key)")
            self._ledger = Ledger(ledger, ledger_key)
            self._owns_ledger = True
        rc = _lib.lib().sluice_engine_set_ledger(
            self._h, self._ledger._handle(), self._fail)
        if rc:
            raise error_from(rc, None)

    def _attach_redis(self, redis, cache, digest_key, cache_ttl,
                      cache_min_bytes, strikes, fleet, worker):
        L = _lib.lib()
        self._redis = redis if isinstance(redis, Redis) else Redis(redis)
        if cache or strikes:
            opts = _lib.EngineRedisOptions()
            opts.version = _lib.ENGINE_REDIS_OPTIONS_VERSION
            opts.cache = 1 if cache else 0
            dkey = None
            if digest_key is not None:
                dkey = as_key(digest_key)
                opts.digest_key = dkey._handle()
            opts.cache_ttl_s = cache_ttl
            opts.cache_min_bytes = cache_min_bytes
            opts.strikes = {None: 0, True: 1, False: -1}.get(strikes, strikes)
            opts.strikes_fail = self._fail
            err = _lib.Error()
            rc = L.sluice_engine_set_redis(self._h, self._redis._handle(),
                                           ctypes.byref(opts),
                                           ctypes.byref(err))
            if rc:
                raise error_from(rc, err, RedisError)
            self._state = True
        if fleet:
            from .policy import policy_options
            popts, keep = policy_options(self._trust, self._allow_unsigned)
            fopts = _lib.FleetOptions()
            fopts.version = _lib.FLEET_OPTIONS_VERSION
            fopts.policy = ctypes.pointer(popts)
            fopts.worker = _lib.enc(worker)
            out = ctypes.c_void_p()
            err = _lib.Error()
            rc = L.sluice_fleet_start(ctypes.byref(out), self._h,
                                      self._redis._handle(),
                                      ctypes.byref(fopts), ctypes.byref(err))
            del keep
            if rc:
                raise error_from(rc, err, RedisError)
            self._fleet = out.value

    # ---- lifetime -----------------------------------------------------------

    def _acquire(self):
        """The C handle, counted as in use until _release()."""
        with self._lock:
            if self._closed:
                raise misuse("the engine is closed")
            self._active += 1
            return self._h

    def _release(self):
        with self._lock:
            self._active -= 1
            last = self._closed and self._active == 0
        if last:
            self._destroy()

    def _destroy(self):
        L = _lib.lib()
        h, self._h = self._h, None
        if self._fleet is not None:
            L.sluice_fleet_stop(self._fleet)
            self._fleet = None
        if h is not None:
            L.sluice_engine_free(h)
        if self._owns_ledger and self._ledger is not None:
            try:
                self._ledger.close()
            finally:
                self._ledger._free()
        self._ledger = None
        self._redis = None

    def close(self):
        """Stop using the engine; it is freed once the checks and sessions
        in flight end. An owned ledger gets its close record. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            last = self._active == 0
        if last:
            self._destroy()

    @property
    def closed(self):
        """True once close() was called."""
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    # ---- policies -------------------------------------------------------------

    def reload(self, policy, **limits):
        """Make `policy` (a path, bundle bytes or a Policy) the engine's
        policy, atomically: each check runs entirely under the old or the
        new one; open sessions keep theirs. Paths and bytes load with the
        engine's trust keys and allow_unsigned. On failure PolicyError is
        raised and the old policy stays. Returns the new Policy."""
        p, owned = as_policy(policy, trust=self._trust,
                             allow_unsigned=self._allow_unsigned, **limits)
        h = self._acquire()
        try:
            rc = _lib.lib().sluice_engine_set_policy(h, p._handle())
        finally:
            self._release()
        if rc:
            raise error_from(rc, None, PolicyError)
        return p

    @property
    def policy(self):
        """The current Policy (a new reference), or None."""
        h = self._acquire()
        try:
            ph = _lib.lib().sluice_engine_policy(h)
        finally:
            self._release()
        return Policy._wrap(ph) if ph else None

    @property
    def ledger(self):
        """The Ledger recording this engine's verdicts, or None."""
        return self._ledger

    def fleet_stats(self):
        """With fleet=True: the fleet thread's counters (dict), else None."""
        if self._fleet is None:
            return None
        st = _lib.FleetStats()
        _lib.lib().sluice_fleet_get_stats(self._fleet, ctypes.byref(st))
        d = {name: getattr(st, name) for name, _ in st._fields_}
        d["hash"] = _lib.dec(d["hash"])
        return d

    # ---- checks -----------------------------------------------------------

    def check(self, text, **meta):
        """Check one whole output (str or UTF-8 bytes) -> Verdict.

        Metadata recorded with the verdict: request_id, tenant, subject,
        model. Raises NoPolicyError (release nothing), InputTooLargeError,
        SluiceError. A block is a Verdict with action "block", whose output
        is the refusal. The GIL is released during the C check.
        """
        data, as_str = _text_bytes(text)
        m = _meta(meta)
        L = _lib.lib()
        out = ctypes.c_void_p()
        err = _lib.Error()
        info = _lib.StateInfo() if self._state else None
        h = self._acquire()
        try:
            if info is not None:
                rc = L.sluice_check_state(h, data, len(data), m,
                                          ctypes.byref(out),
                                          ctypes.byref(info),
                                          ctypes.byref(err))
            else:
                rc = L.sluice_check(h, data, len(data), m, ctypes.byref(out),
                                    ctypes.byref(err))
        finally:
            self._release()
        if rc:
            raise error_from(rc, err)
        try:
            return read_verdict(L, out.value, as_str,
                                self._ledger is not None, info)
        finally:
            L.sluice_verdict_free(out.value)

    def session(self, max_held=None, **meta):
        """A streaming Session for one output (a context manager).

        `max_held`: bytes the session may hold back before it fails closed
        (None: the engine's max_held). Metadata as for check(). Raises
        NoPolicyError."""
        return Session(self, meta, self._max_held if max_held is None
                       else max_held)


class Session:
    """One output checked as it arrives in chunks (Engine.session()).

    feed(chunk) returns what may be released now: a str for a str chunk,
    bytes for bytes (do not mix them in one session). On a block it
    returns the refusal and `stopped` becomes True; feeding again raises
    MisuseError. finish() returns the Verdict; its `released` is the rest
    of the text (held back until the end), to send after the fed ones.
    Use it in a `with` block, or call close(): an unfinished session is
    abandoned (nothing more released, and no ledger record).
    """

    def __init__(self, engine, meta, max_held=0):
        self._h = None
        self._engine = engine
        self._lock = threading.Lock()
        self._stopped = False
        self._finished = False
        self._verdict = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._release = _lib.Release()
        L = _lib.lib()
        m = _meta(meta)
        opts = _lib.SessionOptions(_lib.SESSION_OPTIONS_VERSION, max_held)
        out = ctypes.c_void_p()
        err = _lib.Error()
        eh = engine._acquire()
        try:
            rc = L.sluice_session_new(ctypes.byref(out), eh, m,
                                      ctypes.byref(opts), ctypes.byref(err))
        except BaseException:
            engine._release()
            raise
        if rc:
            engine._release()
            raise error_from(rc, err)
        self._h = out.value

    @property
    def stopped(self):
        """True once the session blocked (the refusal was released)."""
        return self._stopped

    @property
    def finished(self):
        """True once finish() returned."""
        return self._finished

    @property
    def held(self):
        """Bytes fed but not yet released (the holdback)."""
        with self._lock:
            if self._h is None:
                return 0
            return _lib.lib().sluice_session_held(self._h)

    def _out(self, as_str, final=False):
        r = self._release
        raw = ctypes.string_at(r.data, r.len) if r.len else b""
        if not as_str:
            return raw
        return self._decoder.decode(raw, final)

    def feed(self, chunk):
        """Feed the next chunk (str or bytes, cut anywhere) and return what
        to release now (possibly empty). Raises MisuseError after a stop,
        after finish() or close(); SluiceError on a library failure (then
        release nothing more)."""
        data, as_str = _text_bytes(chunk)
        with self._lock:
            if self._h is None or self._finished:
                raise misuse("the session is finished or closed")
            if self._stopped:
                raise misuse("the session stopped on a block")
            rc = _lib.lib().sluice_session_feed(self._h, data, len(data),
                                                ctypes.byref(self._release))
            if rc:
                raise error_from(rc, None)
            if self._release.stop:
                self._stopped = True
                # A refusal starts afresh: no partial sequence before it.
                self._decoder.reset()
            return self._out(isinstance(chunk, str))

    def finish(self):
        """End of output: returns the Verdict (its `released` holds the
        rest of the text to send, "" when blocked). Once only; the session
        is freed afterwards."""
        L = _lib.lib()
        with self._lock:
            if self._h is None or self._finished:
                raise misuse("the session is finished or closed")
            v = ctypes.c_void_p()
            rc = L.sluice_session_finish(self._h, ctypes.byref(self._release),
                                         ctypes.byref(v))
            if rc:
                raise error_from(rc, None)
            self._finished = True
            was_stopped = self._stopped
            try:
                tail = self._out(True, final=True)
                verdict = read_verdict(L, v.value, None,
                                       self._engine._ledger is not None)
            finally:
                L.sluice_verdict_free(v.value)
            if self._release.stop:
                self._stopped = True
            # Stopped by an earlier feed: the refusal went out then. A stop
            # at finish releases the refusal now, as the tail.
            verdict.released = "" if was_stopped else tail
            self._verdict = verdict
        self.close()
        return verdict

    @property
    def verdict(self):
        """The Verdict finish() returned, or None before."""
        return self._verdict

    def close(self):
        """Free the session (idempotent); unfinished, it is abandoned."""
        with self._lock:
            h, self._h = self._h, None
        if h is not None:
            _lib.lib().sluice_session_free(h)
            self._engine._release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass
