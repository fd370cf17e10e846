"""sluice: moderate LLM outputs (English and Chinese) with libsluice.

A pure-Python binding (ctypes, standard library only) over libsluice.so,
the C library of Sluice: checks against signed, versioned policies, with
redaction, blocking, labels, streaming sessions and a signed ledger.

    import sluice
    engine = sluice.Engine("policies/baseline")
    v = engine.check("我的身份证号是11010519491231002X")
    v.action, v.output            # ('redact', '我的身份证号是[已隐藏]')

    for piece in sluice.moderate_stream(token_iterator, engine):
        send(piece)               # redacted; the refusal last on a block

docs/python.md is the guide. The library is found through
$SLUICE_LIBRARY, next to the package, on the system library path, or in a
source checkout's build/ (sluice._lib says exactly where it looks).
"""

from . import _lib
from .engine import Engine, Session
from .errors import (InputTooLargeError, InternalError, KeyFileError,
                     LedgerError, LibraryNotFoundError, LimitError,
                     MisuseError, NoPolicyError, PolicyError, RedisError,
                     SluiceError)
from .keys import Key
from .ledger import Ledger, VerifyReport
from .policy import Policy, PolicyInfo
from .redis import Redis
from .stream import amoderate_stream, moderate_stream
from .verdict import ACTIONS, Label, Record, Span, Verdict

__version__ = "0.1.0"


def version():
    """The loaded libsluice's version string, e.g. "0.1.0"."""
    return _lib.dec(_lib.lib().sluice_version())


def library_path():
    """Where libsluice.so was loaded from (loads it if not yet loaded)."""
    return _lib.library_path()


__all__ = [
    "ACTIONS", "Engine", "InputTooLargeError", "InternalError", "Key",
    "KeyFileError", "Label", "Ledger", "LedgerError", "LibraryNotFoundError",
    "LimitError", "MisuseError", "NoPolicyError", "Policy", "PolicyError",
    "PolicyInfo", "Record", "Redis", "RedisError", "Session", "SluiceError",
    "Span", "Verdict", "VerifyReport", "amoderate_stream", "library_path",
    "moderate_stream", "version",
]
