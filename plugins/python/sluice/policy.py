"""Compiled policies: loading directories, policy.yaml files and bundles.

A :class:`Policy` wraps a ``sluice_policy``: compiled, immutable and
reference-counted, so one Policy may be set on any number of engines and
used from any number of threads. The Python object holds one reference and
drops it when closed or collected; engines and verdicts hold their own.

Trust (docs/bundles.md): with trust keys, only bundles signed by one of
them load (signed); a policy directory, or a bundle signed by another key,
is refused unless ``allow_unsigned``. Without trust keys a signed bundle
is refused too unless ``allow_unsigned`` (it then loads as unsigned).
"""

import ctypes
import os
from dataclasses import dataclass

from . import _lib
from .errors import PolicyError, error_from
from .keys import as_keys


@dataclass
class PolicyInfo:
    """Which policy made a verdict: id, version, hash (lower-case hex
    BLAKE2b-256, docs/policy-hash.md), signed, and the signer key's name
    (None when unsigned)."""
    id: str
    version: int
    hash: str
    signed: bool
    signer: object = None


def policy_options(trust=None, allow_unsigned=False, max_terms=0,
                   max_list_bytes=0, max_rules=0, max_bundle_bytes=0):
    """Build sluice_policy_options; returns (struct, keys to keep alive)."""
    keys = as_keys(trust)
    opts = _lib.PolicyOptions()
    opts.version = _lib.POLICY_OPTIONS_VERSION
    opts.max_terms = max_terms
    opts.max_list_bytes = max_list_bytes
    opts.max_rules = max_rules
    opts.max_bundle_bytes = max_bundle_bytes
    opts.allow_unsigned = 1 if allow_unsigned else 0
    arr = None
    if keys:
        arr = (ctypes.c_void_p * len(keys))(*[k._handle() for k in keys])
        opts.trust = ctypes.cast(arr, ctypes.POINTER(ctypes.c_void_p))
        opts.ntrust = len(keys)
    return opts, (keys, arr)


class Policy:
    """A compiled policy (one reference to a sluice_policy).

    Policy(path, trust=None, allow_unsigned=False, **limits) loads a policy
    directory, its policy.yaml, or a signed bundle file (recognized by its
    content). Policy.from_bundle(data) loads a bundle held in memory.
    Limits: max_terms, max_list_bytes, max_rules, max_bundle_bytes (0: the
    library's defaults). Raises PolicyError with the file, line and reason.
    """

    __slots__ = ("_h", "__weakref__")

    def __init__(self, path, trust=None, allow_unsigned=False, **limits):
        self._h = None
        L = _lib.lib()
        opts, keep = policy_options(trust, allow_unsigned, **limits)
        out = ctypes.c_void_p()
        err = _lib.Error()
        rc = L.sluice_policy_load(ctypes.byref(out), _lib.enc(path),
                                  ctypes.byref(opts), ctypes.byref(err))
        del keep
        if rc:
            raise error_from(rc, err, PolicyError)
        self._h = out.value

    @classmethod
    def from_bundle(cls, data, name=None, trust=None, allow_unsigned=False,
                    **limits):
        """Load a bundle from bytes (e.g. fetched from a store); `name`
        names it in error messages (default "bundle")."""
        L = _lib.lib()
        opts, keep = policy_options(trust, allow_unsigned, **limits)
        data = bytes(data)
        out = ctypes.c_void_p()
        err = _lib.Error()
        rc = L.sluice_policy_load_bundle(ctypes.byref(out), data, len(data),
                                         _lib.enc(name), ctypes.byref(opts),
                                         ctypes.byref(err))
        del keep
        if rc:
            raise error_from(rc, err, PolicyError)
        return cls._wrap(out.value)

    @classmethod
    def _wrap(cls, handle):
        """A Policy owning the reference `handle` (internal)."""
        p = cls.__new__(cls)
        p._h = handle
        return p

    def _handle(self):
        if self._h is None:
            raise PolicyError("the policy was closed")
        return self._h

    @property
    def id(self):
        """The policy id (policy.yaml's `policy:`)."""
        return _lib.dec(_lib.lib().sluice_policy_id(self._handle()))

    @property
    def version(self):
        """The policy version (an integer that grows with each release)."""
        return _lib.lib().sluice_policy_version(self._handle())

    @property
    def hash(self):
        """Lower-case hex BLAKE2b-256 over the sources."""
        return _lib.dec(_lib.lib().sluice_policy_hash(self._handle()))

    @property
    def signed(self):
        """True when loaded from a bundle whose signature checked."""
        return bool(_lib.lib().sluice_policy_signed(self._handle()))

    @property
    def signer(self):
        """The signing key's name, or None when unsigned."""
        return _lib.dec(_lib.lib().sluice_policy_signer(self._handle(), None))

    @property
    def rules(self):
        """The rule ids, in policy order."""
        L = _lib.lib()
        h = self._handle()
        return [_lib.dec(L.sluice_policy_rule_id(h, i))
                for i in range(L.sluice_policy_rule_count(h))]

    @property
    def term_count(self):
        """Literal terms compiled, over all rules."""
        return _lib.lib().sluice_policy_term_count(self._handle())

    @property
    def compile_ms(self):
        """Milliseconds the compilation took."""
        return _lib.lib().sluice_policy_compile_ms(self._handle())

    def info(self):
        """A PolicyInfo (id, version, hash, signed, signer)."""
        return PolicyInfo(self.id, self.version, self.hash, self.signed,
                          self.signer)

    def close(self):
        """Drop this object's reference (engines keep their own)."""
        h, self._h = self._h, None
        if h is not None:
            _lib.lib().sluice_policy_unref(h)

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __repr__(self):
        if self._h is None:
            return "<sluice.Policy closed>"
        return "<sluice.Policy %s v%d %s%s>" % (
            self.id, self.version, self.hash[:12],
            " signed" if self.signed else "")


def as_policy(p, **load):
    """A Policy from a Policy, bundle bytes, or a path (loaded with `load`).

    Returns (policy, owned): owned is True when the Policy was made here.
    """
    if isinstance(p, Policy):
        return p, False
    if isinstance(p, (bytes, bytearray, memoryview)):
        return Policy.from_bundle(p, **load), True
    if isinstance(p, (str, os.PathLike)):
        return Policy(p, **load), True
    raise TypeError("policy: a path, bundle bytes or a sluice.Policy, not %s"
                    % type(p).__name__)
