"""Loading libsluice.so and declaring its C interface for ctypes.

This module is the only place that knows the C side: where the shared
library is found, the layout of the structs the binding passes
(``sluice_error``, ``sluice_meta``, the options structs of
``include/sluice.h``) and the argument and result types of every function
called. Everything else in the package goes through :func:`lib`.

The library is looked for, in order:

1. ``$SLUICE_LIBRARY``: a path to libsluice.so (nothing else is tried if
   it is set and does not load);
2. next to the package: ``sluice/libsluice.so`` or ``sluice/lib/libsluice.so``
   (a wheel or a vendored copy);
3. the system's library path: ``libsluice.so.0``, then ``libsluice.so``
   (after ``make install`` with ldconfig, or through ``LD_LIBRARY_PATH``);
4. ``$PREFIX/lib`` for ``pkg-config --variable=libdir sluice`` (after
   ``make install PREFIX=...`` with that prefix on ``PKG_CONFIG_PATH``),
   and ``/usr/local/lib``;
5. a source checkout: ``build/libsluice.so`` of the repository holding
   ``plugins/python`` (after ``make``).

The library is loaded on first use, not at ``import sluice``, so that the
package imports (and documents itself) on machines without it.

ctypes releases the GIL around every foreign call (``CDLL``, not
``PyDLL``), so checks on one engine run in parallel from many threads.
"""

import ctypes
import os
import shutil
import subprocess
import threading

c_char_p = ctypes.c_char_p
c_void_p = ctypes.c_void_p
c_int = ctypes.c_int
c_uint = ctypes.c_uint
c_size_t = ctypes.c_size_t
c_int64 = ctypes.c_int64
c_uint32 = ctypes.c_uint32
c_uint64 = ctypes.c_uint64
c_double = ctypes.c_double
POINTER = ctypes.POINTER

# sluice_status (include/sluice.h, "Errors").
SLUICE_OK = 0
SLUICE_ENOMEM = -1
SLUICE_EINVAL = -2
SLUICE_EIO = -3
SLUICE_EPOLICY = -4
SLUICE_ETOOBIG = -5
SLUICE_EMISUSE = -6
SLUICE_ENOPOLICY = -7
SLUICE_EINTERNAL = -8
SLUICE_ELIMIT = -9

POLICY_OPTIONS_VERSION = 2
ENGINE_OPTIONS_VERSION = 1
SESSION_OPTIONS_VERSION = 1
LEDGER_OPTIONS_VERSION = 1
VERIFY_OPTIONS_VERSION = 1
REDIS_OPTIONS_VERSION = 1
ENGINE_REDIS_OPTIONS_VERSION = 1
FLEET_OPTIONS_VERSION = 1


class Error(ctypes.Structure):
    """struct sluice_error: code, file, line, message."""
    _fields_ = [("code", c_int), ("file", ctypes.c_char * 512),
                ("line", c_int), ("message", ctypes.c_char * 512)]


class Meta(ctypes.Structure):
    """struct sluice_meta: caller metadata recorded with a verdict."""
    _fields_ = [("request_id", c_char_p), ("tenant", c_char_p),
                ("subject", c_char_p), ("model", c_char_p)]


class PolicyOptions(ctypes.Structure):
    """struct sluice_policy_options (version 2)."""
    _fields_ = [("version", c_uint), ("max_terms", c_size_t),
                ("max_list_bytes", c_size_t), ("max_rules", c_size_t),
                ("trust", POINTER(c_void_p)), ("ntrust", c_size_t),
                ("allow_unsigned", c_int), ("max_bundle_bytes", c_size_t)]


class EngineOptions(ctypes.Structure):
    """struct sluice_engine_options."""
    _fields_ = [("version", c_uint), ("max_input", c_size_t),
                ("max_spans", c_size_t)]


class Span(ctypes.Structure):
    """struct sluice_span."""
    _fields_ = [("start", c_size_t), ("end", c_size_t), ("rule", c_char_p),
                ("action", c_int), ("term", c_char_p)]


class VerdictInfo(ctypes.Structure):
    """struct sluice_verdict_info (sluice_verdict_read)."""
    VERSION = 1
    _fields_ = [("version", c_uint), ("action", c_int),
                ("output", c_void_p), ("output_len", c_size_t),
                ("reason", c_char_p), ("nrules", c_size_t),
                ("ncategories", c_size_t), ("nspans", c_size_t),
                ("spans_truncated", c_int), ("invalid_utf8", c_size_t),
                ("policy", c_void_p), ("label", c_char_p),
                ("label_position", c_int), ("aigc", c_int),
                ("recorded", c_int), ("record_seq", c_uint64),
                ("record_hash", ctypes.c_ubyte * 32)]


class SessionOptions(ctypes.Structure):
    """struct sluice_session_options."""
    _fields_ = [("version", c_uint), ("max_held", c_size_t)]


class Release(ctypes.Structure):
    """struct sluice_release; data is borrowed until the next call."""
    _fields_ = [("data", c_void_p), ("len", c_size_t), ("stop", c_int)]


CHECKPOINT_FN = ctypes.CFUNCTYPE(None, c_char_p, c_char_p, c_size_t, c_void_p)


class LedgerOptions(ctypes.Structure):
    """struct sluice_ledger_options."""
    _fields_ = [("version", c_uint), ("dir", c_char_p), ("writer", c_char_p),
                ("signer", c_void_p), ("digest_key", c_void_p),
                ("origin", c_char_p), ("mode", c_int),
                ("checkpoint_records", c_uint32), ("checkpoint_ms", c_uint32),
                ("segment_bytes", c_uint64), ("segment_seconds", c_uint32),
                ("no_thread", c_int), ("on_checkpoint", CHECKPOINT_FN),
                ("payload", c_void_p)]


class LedgerStats(ctypes.Structure):
    """struct sluice_ledger_stats."""
    _fields_ = [("records", c_uint64), ("synced", c_uint64),
                ("checkpoints", c_uint64), ("syncs", c_uint64),
                ("session", c_uint32), ("recovered_bytes", c_uint64),
                ("unrecorded", c_uint64), ("failed", c_int)]


class VerifyOptions(ctypes.Structure):
    """struct sluice_verify_options."""
    _fields_ = [("version", c_uint), ("key", c_void_p), ("anchor", c_char_p),
                ("writer", c_char_p), ("allow_tail", c_int),
                ("allow_pruned", c_int)]


class VerifyReport(ctypes.Structure):
    """struct sluice_verify_report."""
    _fields_ = [("ok", c_int), ("writers", c_size_t), ("segments", c_size_t),
                ("records", c_uint64), ("checkpoints", c_uint64),
                ("tail_records", c_uint64), ("torn_bytes", c_uint64),
                ("anchors", c_size_t), ("writer", ctypes.c_char * 72),
                ("seq", c_uint64), ("file", ctypes.c_char * 512),
                ("offset", c_uint64), ("reason", ctypes.c_char * 512),
                ("warning", ctypes.c_char * 512)]


# The record passed to a sluice_record_fn is only handed on to
# sluice_record_json, so it stays opaque here.
RECORD_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p)

LOG_FN = ctypes.CFUNCTYPE(None, c_int, c_char_p, c_void_p)


class RedisOptions(ctypes.Structure):
    """struct sluice_redis_options."""
    _fields_ = [("version", c_uint), ("addr", c_char_p),
                ("username", c_char_p), ("password", c_char_p),
                ("db", c_int), ("prefix", c_char_p),
                ("timeout_ms", c_uint32), ("connect_timeout_ms", c_uint32),
                ("bulk_timeout_ms", c_uint32), ("backoff_min_ms", c_uint32),
                ("backoff_max_ms", c_uint32), ("connections", c_uint),
                ("log", LOG_FN), ("log_payload", c_void_p)]


class Escalation(ctypes.Structure):
    """struct sluice_escalation."""
    _fields_ = [("row", c_uint32), ("count", c_uint32),
                ("window_s", c_uint32), ("suspend_s", c_uint32),
                ("block", c_int)]


class EngineRedisOptions(ctypes.Structure):
    """struct sluice_engine_redis_options."""
    _fields_ = [("version", c_uint), ("cache", c_int),
                ("digest_key", c_void_p), ("cache_ttl_s", c_uint32),
                ("cache_min_bytes", c_size_t), ("strikes", c_int),
                ("escalation", Escalation), ("strikes_fail", c_int)]


class StateInfo(ctypes.Structure):
    """struct sluice_state_info."""
    _fields_ = [("cache", c_int), ("strikes", c_int), ("row", c_uint32),
                ("window", c_uint32), ("suspended", c_int),
                ("suspended_ms", c_uint32), ("redis_ms", c_double)]


class FleetOptions(ctypes.Structure):
    """struct sluice_fleet_options."""
    _fields_ = [("version", c_uint), ("policy", POINTER(PolicyOptions)),
                ("worker", c_char_p), ("report_s", c_uint32),
                ("allow_downgrade", c_int), ("no_initial_load", c_int),
                ("log", LOG_FN), ("log_payload", c_void_p)]


class FleetStats(ctypes.Structure):
    """struct sluice_fleet_stats."""
    _fields_ = [("hash", ctypes.c_char * 65), ("swaps", c_uint64),
                ("refused", c_uint64), ("messages", c_uint64),
                ("reconnects", c_uint64), ("connected", c_int),
                ("last_swap_ms", c_double)]


def _pp(t):
    return POINTER(t)


# name: (restype, argtypes). Opaque handles are c_void_p.
_PROTOTYPES = {
    "sluice_strerror": (c_char_p, [c_int]),
    "sluice_version": (c_char_p, []),
    "sluice_action_name": (c_char_p, [c_int]),
    # policies
    "sluice_policy_load": (c_int, [_pp(c_void_p), c_char_p,
                                   _pp(PolicyOptions), _pp(Error)]),
    "sluice_policy_load_bundle": (c_int, [_pp(c_void_p), c_char_p, c_size_t,
                                          c_char_p, _pp(PolicyOptions),
                                          _pp(Error)]),
    "sluice_policy_ref": (c_void_p, [c_void_p]),
    "sluice_policy_unref": (None, [c_void_p]),
    "sluice_policy_id": (c_char_p, [c_void_p]),
    "sluice_policy_version": (c_int64, [c_void_p]),
    "sluice_policy_hash": (c_char_p, [c_void_p]),
    "sluice_policy_signed": (c_int, [c_void_p]),
    "sluice_policy_signer": (c_char_p, [c_void_p, _pp(c_uint32)]),
    "sluice_policy_rule_count": (c_size_t, [c_void_p]),
    "sluice_policy_term_count": (c_size_t, [c_void_p]),
    "sluice_policy_compile_ms": (c_double, [c_void_p]),
    "sluice_policy_rule_id": (c_char_p, [c_void_p, c_size_t]),
    # engines
    "sluice_engine_new": (c_int, [_pp(c_void_p), _pp(EngineOptions),
                                  _pp(Error)]),
    "sluice_engine_free": (None, [c_void_p]),
    "sluice_engine_set_policy": (c_int, [c_void_p, c_void_p]),
    "sluice_engine_policy": (c_void_p, [c_void_p]),
    # checks and verdicts
    "sluice_check": (c_int, [c_void_p, c_char_p, c_size_t, _pp(Meta),
                             _pp(c_void_p), _pp(Error)]),
    "sluice_check_state": (c_int, [c_void_p, c_char_p, c_size_t, _pp(Meta),
                                   _pp(c_void_p), _pp(StateInfo),
                                   _pp(Error)]),
    "sluice_verdict_free": (None, [c_void_p]),
    "sluice_verdict_action": (c_int, [c_void_p]),
    "sluice_verdict_output": (c_void_p, [c_void_p, _pp(c_size_t)]),
    "sluice_verdict_rule_count": (c_size_t, [c_void_p]),
    "sluice_verdict_rule": (c_char_p, [c_void_p, c_size_t]),
    "sluice_verdict_category_count": (c_size_t, [c_void_p]),
    "sluice_verdict_category": (c_char_p, [c_void_p, c_size_t]),
    "sluice_verdict_span_count": (c_size_t, [c_void_p]),
    "sluice_verdict_span": (c_int, [c_void_p, c_size_t, _pp(Span)]),
    "sluice_verdict_spans_truncated": (c_int, [c_void_p]),
    "sluice_verdict_invalid_utf8": (c_size_t, [c_void_p]),
    "sluice_verdict_policy": (c_void_p, [c_void_p]),
    "sluice_verdict_json": (c_int, [c_void_p, _pp(c_void_p), _pp(c_size_t)]),
    "sluice_verdict_label": (c_char_p, [c_void_p, _pp(c_int)]),
    "sluice_verdict_aigc": (c_char_p, [c_void_p, c_int]),
    "sluice_verdict_aigc_json": (c_int, [c_void_p, _pp(c_void_p),
                                         _pp(c_size_t)]),
    "sluice_verdict_record": (c_int, [c_void_p, _pp(c_uint64),
                                      ctypes.c_char_p]),
    "sluice_verdict_reason": (c_char_p, [c_void_p]),
    "sluice_verdict_read": (c_int, [c_void_p, _pp(VerdictInfo)]),
    # sessions
    "sluice_session_new": (c_int, [_pp(c_void_p), c_void_p, _pp(Meta),
                                   _pp(SessionOptions), _pp(Error)]),
    "sluice_session_feed": (c_int, [c_void_p, c_char_p, c_size_t,
                                    _pp(Release)]),
    "sluice_session_finish": (c_int, [c_void_p, _pp(Release),
                                      _pp(c_void_p)]),
    "sluice_session_held": (c_size_t, [c_void_p]),
    "sluice_session_free": (None, [c_void_p]),
    # keys and ledger
    "sluice_keygen": (c_int, [c_char_p, c_char_p, c_int, _pp(Error)]),
    "sluice_key_load": (c_int, [_pp(c_void_p), c_char_p, _pp(Error)]),
    "sluice_key_parse": (c_int, [_pp(c_void_p), c_char_p, c_size_t,
                                 _pp(Error)]),
    "sluice_key_free": (None, [c_void_p]),
    "sluice_key_type": (c_int, [c_void_p]),
    "sluice_key_name": (c_char_p, [c_void_p]),
    "sluice_key_id": (c_uint32, [c_void_p]),
    "sluice_digest": (c_int, [c_void_p, c_char_p, c_size_t, c_char_p,
                              _pp(c_uint32)]),
    "sluice_ledger_open": (c_int, [_pp(c_void_p), _pp(LedgerOptions),
                                   _pp(Error)]),
    "sluice_ledger_sync": (c_int, [c_void_p, _pp(Error)]),
    "sluice_ledger_close": (c_int, [c_void_p, _pp(Error)]),
    "sluice_ledger_free": (None, [c_void_p]),
    "sluice_ledger_get_stats": (None, [c_void_p, _pp(LedgerStats)]),
    "sluice_engine_set_ledger": (c_int, [c_void_p, c_void_p, c_int]),
    "sluice_ledger_foreach": (c_int, [c_char_p, c_char_p, RECORD_FN,
                                      c_void_p, _pp(Error)]),
    "sluice_record_json": (c_int, [c_void_p, _pp(c_void_p), _pp(c_size_t)]),
    "sluice_ledger_checkpoint": (c_int, [c_char_p, c_char_p, _pp(c_void_p),
                                         _pp(c_size_t), _pp(Error)]),
    "sluice_ledger_verify": (c_int, [c_char_p, _pp(VerifyOptions),
                                     _pp(VerifyReport), _pp(Error)]),
    "sluice_ledger_prove": (c_int, [c_char_p, c_char_p, c_uint64,
                                    _pp(c_void_p), _pp(c_size_t),
                                    _pp(Error)]),
    "sluice_receipt_verify": (c_int, [c_char_p, c_size_t, c_void_p,
                                      _pp(VerifyReport), _pp(Error)]),
    # redis
    "sluice_redis_new": (c_int, [_pp(c_void_p), _pp(RedisOptions),
                                 _pp(Error)]),
    "sluice_redis_free": (None, [c_void_p]),
    "sluice_redis_ping": (c_int, [c_void_p, _pp(Error)]),
    "sluice_engine_set_redis": (c_int, [c_void_p, c_void_p,
                                        _pp(EngineRedisOptions), _pp(Error)]),
    "sluice_cache_status_name": (c_char_p, [c_int]),
    "sluice_fleet_start": (c_int, [_pp(c_void_p), c_void_p, c_void_p,
                                   _pp(FleetOptions), _pp(Error)]),
    "sluice_fleet_stop": (None, [c_void_p]),
    "sluice_fleet_get_stats": (None, [c_void_p, _pp(FleetStats)]),
    "sluice_redis_publish": (c_int, [c_void_p, c_char_p, c_size_t,
                                     _pp(PolicyOptions), c_int, c_void_p,
                                     _pp(Error)]),
}

_lock = threading.Lock()
_lib = None
_path = None


def _candidates():
    """Paths and sonames to try, in order (see the module docstring)."""
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "libsluice.so")
    yield os.path.join(here, "lib", "libsluice.so")
    yield "libsluice.so.0"
    yield "libsluice.so"
    if shutil.which("pkg-config"):
        try:
            libdir = subprocess.run(
                ["pkg-config", "--variable=libdir", "sluice"],
                capture_output=True, text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            libdir = ""
        if libdir:
            yield os.path.join(libdir, "libsluice.so")
    yield "/usr/local/lib/libsluice.so"
    # plugins/python/sluice -> repository root
    root = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    yield os.path.join(root, "build", "libsluice.so")


def _declare(cdll):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(cdll, name)
        fn.restype = restype
        fn.argtypes = argtypes
    # free() for the strings the library malloc's (verdict JSON, receipts).
    libc = ctypes.CDLL(None)
    libc.free.restype = None
    libc.free.argtypes = [c_void_p]
    cdll.libc_free = libc.free


def lib():
    """The loaded library, its functions declared; loads it on first call.

    Raises :class:`sluice.LibraryNotFoundError` (an ImportError) when no
    candidate loads, with every path tried and why it failed.
    """
    global _lib, _path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        from .errors import LibraryNotFoundError
        env = os.environ.get("SLUICE_LIBRARY")
        tried = []
        candidates = [env] if env else _candidates()
        for cand in candidates:
            if os.sep in cand and not os.path.exists(cand):
                tried.append("%s: no such file" % cand)
                continue
            try:
                cdll = ctypes.CDLL(cand)
            except OSError as exc:
                tried.append("%s: %s" % (cand, exc))
                continue
            try:
                _declare(cdll)
            except AttributeError as exc:
                tried.append("%s: not a compatible libsluice (%s)"
                             % (cand, exc))
                continue
            _path = cand
            _lib = cdll
            return _lib
        where = "SLUICE_LIBRARY" if env else "the usual places"
        raise LibraryNotFoundError(
            "libsluice.so not found in %s; set SLUICE_LIBRARY to its path "
            "(tried: %s)" % (where, "; ".join(tried)))


def library_path():
    """The path or soname libsluice was loaded from (loading it if needed)."""
    lib()
    return _path


def take_malloced(ptr, n):
    """Copy n bytes at a malloc'd pointer the library gave us, then free it."""
    try:
        return ctypes.string_at(ptr, n)
    finally:
        lib().libc_free(ptr)


def enc(s):
    """str/PathLike/bytes/None -> bytes or None, for const char * args."""
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    return os.fsencode(s) if isinstance(s, os.PathLike) else s.encode("utf-8")


def dec(b):
    """bytes from a const char * result -> str ('' stays '', None stays None)."""
    if b is None:
        return None
    return b.decode("utf-8", "replace")
