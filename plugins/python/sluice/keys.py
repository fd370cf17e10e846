"""Ledger and bundle keys: generating, loading and using them.

A :class:`Key` wraps a ``sluice_key`` (immutable once loaded, safe to
share between threads). Three kinds exist (include/sluice.h, "Ledger"):
``"signer"`` (PREFIX.key, secret: signs ledger checkpoints and policy
bundles), ``"verifier"`` (PREFIX.pub: checks them; the trust keys of an
engine) and ``"digest"`` (PREFIX.digest, secret: keys the content digests
in ledger records and cache keys). Secret material is wiped by the library
when the key is freed.
"""

import ctypes
import os

from . import _lib
from .errors import KeyFileError, error_from

_KINDS = {1: "signer", 2: "verifier", 3: "digest"}


class Key:
    """A loaded key. Build one with Key.load(path) or Key.parse(text)."""

    __slots__ = ("_h", "__weakref__")

    def __init__(self, handle):
        """Wrap a sluice_key handle (internal: use load or parse)."""
        self._h = handle

    @classmethod
    def load(cls, path):
        """Load a key file of any kind. Raises KeyFileError."""
        L = _lib.lib()
        out = ctypes.c_void_p()
        err = _lib.Error()
        rc = L.sluice_key_load(ctypes.byref(out), _lib.enc(path),
                               ctypes.byref(err))
        if rc:
            raise error_from(rc, err, KeyFileError)
        return cls(out.value)

    @classmethod
    def parse(cls, text):
        """Parse a key from its text (str or bytes). Raises KeyFileError."""
        L = _lib.lib()
        data = _lib.enc(text)
        out = ctypes.c_void_p()
        err = _lib.Error()
        rc = L.sluice_key_parse(ctypes.byref(out), data, len(data),
                                ctypes.byref(err))
        if rc:
            raise error_from(rc, err, KeyFileError)
        return cls(out.value)

    @staticmethod
    def generate(prefix, name=None, digest=False):
        """Write a key pair PREFIX.key (0600) + PREFIX.pub, or with
        `digest` a digest key PREFIX.digest; never overwrites a file.

        Returns the paths written, as a tuple. Raises KeyFileError.
        """
        L = _lib.lib()
        err = _lib.Error()
        rc = L.sluice_keygen(_lib.enc(prefix), _lib.enc(name),
                             1 if digest else 0, ctypes.byref(err))
        if rc:
            raise error_from(rc, err, KeyFileError)
        prefix = os.fspath(prefix)
        if digest:
            return (prefix + ".digest",)
        return (prefix + ".key", prefix + ".pub")

    def _handle(self):
        if self._h is None:
            raise KeyFileError("the key was freed")
        return self._h

    @property
    def kind(self):
        """"signer", "verifier" or "digest"."""
        return _KINDS.get(_lib.lib().sluice_key_type(self._handle()), "?")

    @property
    def name(self):
        """The key's name, as signatures carry it."""
        return _lib.dec(_lib.lib().sluice_key_name(self._handle()))

    @property
    def id(self):
        """The signed-note key id (signer, verifier) or digest key id."""
        return _lib.lib().sluice_key_id(self._handle())

    def digest(self, text):
        """The keyed digest of an output, as ledger records carry it (32
        bytes). A verifier key cannot make one (KeyFileError)."""
        data = text.encode("utf-8", "surrogatepass") \
            if isinstance(text, str) else bytes(text)
        out = ctypes.create_string_buffer(32)
        rc = _lib.lib().sluice_digest(self._handle(), data, len(data), out,
                                      None)
        if rc:
            raise error_from(rc, None, KeyFileError)
        return out.raw

    def free(self):
        """Wipe and free the key now (it is also freed when collected)."""
        h, self._h = self._h, None
        if h is not None:
            _lib.lib().sluice_key_free(h)

    def __del__(self):
        try:
            self.free()
        except Exception:  # interpreter shutdown: the library may be gone
            pass

    def __repr__(self):
        if self._h is None:
            return "<sluice.Key freed>"
        return "<sluice.Key %s %s+%08x>" % (self.kind, self.name, self.id)


def as_key(k):
    """A Key from a Key, or from a path to a key file."""
    return k if isinstance(k, Key) else Key.load(k)


def as_keys(ks):
    """A list of Keys from None, one key (Key or path) or an iterable."""
    if ks is None:
        return []
    if isinstance(ks, (Key, str, bytes, os.PathLike)):
        ks = [ks]
    return [as_key(k) for k in ks]
