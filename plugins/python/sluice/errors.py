"""The exceptions the binding raises, one per kind of failure.

Every library failure becomes a :class:`SluiceError` subclass carrying what
the C library said: ``code`` (the negative ``SLUICE_E*`` status),
``status`` (its name, e.g. ``"SLUICE_EPOLICY"``), ``file`` and ``line``
(the file concerned, when there is one) and ``message`` (the library's
one-line reason). ``str(exc)`` reads ``file:line: message`` like the
``sluice`` command's errors.

Which class is raised:

- the call's domain first: loading or reloading a policy raises
  :class:`PolicyError`, anything about the ledger :class:`LedgerError`,
  key files :class:`KeyFileError`, Redis :class:`RedisError`;
- checks and sessions raise by code: :class:`NoPolicyError` (the engine
  has no policy: fail closed, release nothing), :class:`InputTooLargeError`,
  :class:`MisuseError` (a call out of order, e.g. feeding a stopped
  session, or using a closed engine), :class:`LimitError`,
  :class:`InternalError`, or :class:`SluiceError` itself.

A block is a verdict, never an exception.
"""

from . import _lib

_STATUS_NAMES = {
    0: "SLUICE_OK", -1: "SLUICE_ENOMEM", -2: "SLUICE_EINVAL",
    -3: "SLUICE_EIO", -4: "SLUICE_EPOLICY", -5: "SLUICE_ETOOBIG",
    -6: "SLUICE_EMISUSE", -7: "SLUICE_ENOPOLICY", -8: "SLUICE_EINTERNAL",
    -9: "SLUICE_ELIMIT",
}


class SluiceError(Exception):
    """A failure reported by libsluice (or a misuse the binding caught).

    Attributes: code (int, negative), status (e.g. "SLUICE_EIO"), file
    (str, "" when none), line (int, 0 when none), message (str).
    """

    def __init__(self, message, code=_lib.SLUICE_EINVAL, file="", line=0):
        self.code = code
        self.status = _STATUS_NAMES.get(code, str(code))
        self.file = file
        self.line = line
        self.message = message
        super().__init__(message)

    def __str__(self):
        where = self.file
        if where and self.line:
            where = "%s:%d" % (where, self.line)
        return "%s: %s" % (where, self.message) if where else self.message


class LibraryNotFoundError(ImportError):
    """libsluice.so could not be loaded (see sluice._lib for where it looks)."""


class PolicyError(SluiceError):
    """A policy could not be loaded: malformed, unreadable, untrusted."""


class NoPolicyError(PolicyError):
    """The engine has no policy: the output must not be released."""


class LedgerError(SluiceError):
    """The ledger could not be opened, written, read or verified."""


class KeyFileError(SluiceError):
    """A key file could not be generated, read or parsed."""


class RedisError(SluiceError):
    """Redis could not be reached or refused what was asked."""


class InputTooLargeError(SluiceError, ValueError):
    """An input is over the engine's max_input (or another limit)."""


class MisuseError(SluiceError):
    """A call out of order: a stopped or finished session, a closed object."""


class LimitError(SluiceError):
    """A matcher resource limit was hit."""


class InternalError(SluiceError):
    """A library below Sluice (ICU, Hyperscan, PCRE2) failed."""


_BY_CODE = {
    _lib.SLUICE_ENOPOLICY: NoPolicyError,
    _lib.SLUICE_ETOOBIG: InputTooLargeError,
    _lib.SLUICE_EMISUSE: MisuseError,
    _lib.SLUICE_ELIMIT: LimitError,
    _lib.SLUICE_EINTERNAL: InternalError,
    _lib.SLUICE_EPOLICY: PolicyError,
}


def error_from(code, err=None, domain=None):
    """Build the exception for a negative status `code`.

    `err` is the sluice_error the call filled (or None: the message is then
    sluice_strerror's); `domain` the class for the call's domain, which
    wins over the code's class (a NoPolicyError stays one).
    """
    message = file = ""
    line = 0
    if err is not None:
        message = _lib.dec(err.message) or ""
        file = _lib.dec(err.file) or ""
        line = err.line
    if not message:
        message = _lib.dec(_lib.lib().sluice_strerror(code))
    cls = _BY_CODE.get(code, SluiceError)
    if domain is not None and not (cls is NoPolicyError):
        cls = domain
    return cls(message, code, file, line)


def misuse(message):
    """A MisuseError raised by the binding itself (no C call involved)."""
    return MisuseError(message, _lib.SLUICE_EMISUSE)
