"""The optional Redis state layer (docs/redis.md): a connection handle.

A :class:`Redis` wraps a ``sluice_redis`` (thread-safe: a pool of
connections). It does not connect until used. Give it to
:class:`sluice.Engine` (``redis=``) for the verdict cache, strike counters
or fleet policy distribution; the engine keeps a reference, so the handle
outlives every engine that uses it. Every call on an output's path is
bounded by ``timeout_ms``; Redis being down is then the engine's fail mode,
never a hang.
"""

import ctypes

from . import _lib
from .errors import RedisError, error_from


class Redis:
    """A Redis handle: Redis(addr=None, prefix=None, password=None,
    username=None, db=0, timeout_ms=0, connect_timeout_ms=0,
    bulk_timeout_ms=0, connections=0).

    addr: "HOST:PORT", "unix:/PATH" or "redis://..." (None:
    127.0.0.1:6379); prefix: of every key and channel (None: "sluice:");
    zeros mean the library's defaults. Raises RedisError for options the
    library refuses.
    """

    def __init__(self, addr=None, prefix=None, password=None, username=None,
                 db=0, timeout_ms=0, connect_timeout_ms=0, bulk_timeout_ms=0,
                 connections=0):
        self._h = None
        self.addr = addr
        opts = _lib.RedisOptions()
        opts.version = _lib.REDIS_OPTIONS_VERSION
        opts.addr = _lib.enc(addr)
        opts.username = _lib.enc(username)
        opts.password = _lib.enc(password)
        opts.db = db
        opts.prefix = _lib.enc(prefix)
        opts.timeout_ms = timeout_ms
        opts.connect_timeout_ms = connect_timeout_ms
        opts.bulk_timeout_ms = bulk_timeout_ms
        opts.connections = connections
        out = ctypes.c_void_p()
        err = _lib.Error()
        rc = _lib.lib().sluice_redis_new(ctypes.byref(out), ctypes.byref(opts),
                                         ctypes.byref(err))
        if rc:
            raise error_from(rc, err, RedisError)
        self._h = out.value

    def _handle(self):
        if self._h is None:
            raise RedisError("the Redis handle was freed")
        return self._h

    def ping(self):
        """PING now (ignoring any back-off). Raises RedisError."""
        err = _lib.Error()
        rc = _lib.lib().sluice_redis_ping(self._handle(), ctypes.byref(err))
        if rc:
            raise error_from(rc, err, RedisError)

    def publish(self, bundle, trust=None, force=False):
        """Make the bundle bytes the fleet's policy (`sluice publish`):
        checked to load with `trust` first. Raises PolicyError/RedisError."""
        from .errors import PolicyError
        from .policy import policy_options
        data = bytes(bundle)
        opts, keep = policy_options(trust)
        err = _lib.Error()
        rc = _lib.lib().sluice_redis_publish(
            self._handle(), data, len(data), ctypes.byref(opts),
            1 if force else 0, None, ctypes.byref(err))
        del keep
        if rc:
            domain = PolicyError if rc == _lib.SLUICE_EPOLICY else RedisError
            raise error_from(rc, err, domain)

    def _free(self):
        h, self._h = self._h, None
        if h is not None:
            _lib.lib().sluice_redis_free(h)

    def __del__(self):
        try:
            self._free()
        except Exception:  # interpreter shutdown
            pass
