"""The signed decision ledger: writing it from engines, reading, verifying.

A :class:`Ledger` wraps a ``sluice_ledger`` (thread-safe; appends are
serialized inside the library). Give it to :class:`sluice.Engine` and
every verdict is recorded, with the verdict's ``record`` saying which
record (sequence number and leaf hash). docs/ledger.md describes the
records, checkpoints and receipts; this module only binds them.

Lifetime: engines borrow the ledger, so the Python Engine keeps a
reference to its Ledger, and the C handle is freed only when no engine
uses it any more. :meth:`Ledger.close` writes the final record and
checkpoint at once; an engine still attached then fails closed (blocks).

The static methods (verify, records, prove, checkpoint, verify_receipt)
work on a directory or a receipt and keep nothing between calls; they need
only the public key.
"""

import ctypes
import json
import threading
from dataclasses import dataclass

from . import _lib
from .errors import LedgerError, error_from
from .keys import as_key


@dataclass
class VerifyReport:
    """What a ledger or receipt verification found (ok: all checked)."""
    ok: bool
    writers: int
    segments: int
    records: int
    checkpoints: int
    tail_records: int
    torn_bytes: int
    anchors: int
    writer: str
    seq: int
    file: str
    offset: int
    reason: str
    warning: str

    @classmethod
    def _from(cls, rep):
        d = _lib.dec
        return cls(bool(rep.ok), rep.writers, rep.segments, rep.records,
                   rep.checkpoints, rep.tail_records, rep.torn_bytes,
                   rep.anchors, d(rep.writer), rep.seq, d(rep.file),
                   rep.offset, d(rep.reason), d(rep.warning))


class Ledger:
    """One writer's chain in a ledger directory.

    Ledger(dir, key, writer=None, digest_key=None, origin=None,
    durable=False, checkpoint_records=0, checkpoint_ms=0, segment_bytes=0,
    segment_seconds=0, no_thread=False): `key` is the signer key (a Key or
    a PREFIX.key path); `digest_key` (Key or path) keys the content
    digests, derived from `key` when None; `durable` makes each check wait
    for its record's checkpoint to be synced (SLUICE_LEDGER_DURABLE).
    Raises LedgerError (or KeyFileError for a key that does not load).
    """

    def __init__(self, dir, key, writer=None, digest_key=None, origin=None,
                 durable=False, checkpoint_records=0, checkpoint_ms=0,
                 segment_bytes=0, segment_seconds=0, no_thread=False):
        self._h = None
        self._lock = threading.Lock()
        self._closed = False
        self.dir = dir
        L = _lib.lib()
        signer = as_key(key)
        dkey = as_key(digest_key) if digest_key is not None else None
        opts = _lib.LedgerOptions()
        opts.version = _lib.LEDGER_OPTIONS_VERSION
        opts.dir = _lib.enc(dir)
        opts.writer = _lib.enc(writer)
        opts.signer = signer._handle()
        opts.digest_key = dkey._handle() if dkey is not None else None
        opts.origin = _lib.enc(origin)
        opts.mode = 1 if durable else 0
        opts.checkpoint_records = checkpoint_records
        opts.checkpoint_ms = checkpoint_ms
        opts.segment_bytes = segment_bytes
        opts.segment_seconds = segment_seconds
        opts.no_thread = 1 if no_thread else 0
        out = ctypes.c_void_p()
        err = _lib.Error()
        rc = L.sluice_ledger_open(ctypes.byref(out), ctypes.byref(opts),
                                  ctypes.byref(err))
        if rc:
            raise error_from(rc, err, LedgerError)
        self._h = out.value

    def _handle(self):
        if self._h is None:
            raise LedgerError("the ledger was freed")
        return self._h

    def sync(self):
        """Write and sync a checkpoint now. Raises LedgerError."""
        err = _lib.Error()
        rc = _lib.lib().sluice_ledger_sync(self._handle(), ctypes.byref(err))
        if rc:
            raise error_from(rc, err, LedgerError)

    def close(self):
        """Append the close record and sync the final checkpoint (once).

        Later checks of an engine still using the ledger block (fail
        closed). Raises LedgerError if the final writes failed.
        """
        with self._lock:
            if self._closed or self._h is None:
                return
            self._closed = True
        err = _lib.Error()
        rc = _lib.lib().sluice_ledger_close(self._h, ctypes.byref(err))
        if rc:
            raise error_from(rc, err, LedgerError)

    @property
    def closed(self):
        """True once close() was called."""
        return self._closed

    def stats(self):
        """The handle's counters as a dict (records, synced, checkpoints,
        syncs, session, recovered_bytes, unrecorded, failed)."""
        st = _lib.LedgerStats()
        _lib.lib().sluice_ledger_get_stats(self._handle(), ctypes.byref(st))
        return {name: getattr(st, name) for name, _ in st._fields_}

    def _free(self):
        h, self._h = self._h, None
        if h is not None:
            _lib.lib().sluice_ledger_free(h)

    def __del__(self):
        try:
            self._free()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- reading and verifying (no handle needed) --------------------------

    @staticmethod
    def verify(dir, key, anchor=None, writer=None, allow_tail=False,
               allow_pruned=False):
        """Verify a ledger directory with the public (or signer) key.

        Returns a VerifyReport (report.ok says the result); raises
        LedgerError when the verification could not run (no directory,
        bad options or anchor file).
        """
        k = as_key(key)
        opts = _lib.VerifyOptions()
        opts.version = _lib.VERIFY_OPTIONS_VERSION
        opts.key = k._handle()
        opts.anchor = _lib.enc(anchor)
        opts.writer = _lib.enc(writer)
        opts.allow_tail = 1 if allow_tail else 0
        opts.allow_pruned = 1 if allow_pruned else 0
        rep = _lib.VerifyReport()
        err = _lib.Error()
        rc = _lib.lib().sluice_ledger_verify(_lib.enc(dir), ctypes.byref(opts),
                                             ctypes.byref(rep),
                                             ctypes.byref(err))
        if rc:
            raise error_from(rc, err, LedgerError)
        return VerifyReport._from(rep)

    @staticmethod
    def records(dir, writer=None):
        """Every record of `writer` (None: all writers), in order, each as
        the dict of its JSON (`sluice ledger show`). Signatures are not
        checked here (verify does). Raises LedgerError."""
        L = _lib.lib()
        out = []
        failure = []

        def collect(rec, payload):
            ptr = ctypes.c_void_p()
            n = ctypes.c_size_t()
            rc = L.sluice_record_json(rec, ctypes.byref(ptr), ctypes.byref(n))
            if rc:
                failure.append(rc)
                return 1
            out.append(json.loads(_lib.take_malloced(ptr.value, n.value)))
            return 0

        fn = _lib.RECORD_FN(collect)
        err = _lib.Error()
        rc = L.sluice_ledger_foreach(_lib.enc(dir), _lib.enc(writer), fn,
                                     None, ctypes.byref(err))
        if failure:
            raise error_from(failure[0], None, LedgerError)
        if rc:
            raise error_from(rc, err, LedgerError)
        return out

    @staticmethod
    def prove(dir, seq, writer=None):
        """A receipt (JSON text) for record `seq`. Raises LedgerError (no
        such record, not yet covered by a checkpoint)."""
        ptr = ctypes.c_void_p()
        n = ctypes.c_size_t()
        err = _lib.Error()
        rc = _lib.lib().sluice_ledger_prove(_lib.enc(dir), _lib.enc(writer),
                                            seq, ctypes.byref(ptr),
                                            ctypes.byref(n), ctypes.byref(err))
        if rc:
            raise error_from(rc, err, LedgerError)
        return _lib.take_malloced(ptr.value, n.value).decode("utf-8")

    @staticmethod
    def checkpoint(dir, writer=None):
        """The latest signed checkpoint note of `writer`, as text."""
        ptr = ctypes.c_void_p()
        n = ctypes.c_size_t()
        err = _lib.Error()
        rc = _lib.lib().sluice_ledger_checkpoint(
            _lib.enc(dir), _lib.enc(writer), ctypes.byref(ptr),
            ctypes.byref(n), ctypes.byref(err))
        if rc:
            raise error_from(rc, err, LedgerError)
        return _lib.take_malloced(ptr.value, n.value).decode("utf-8")

    @staticmethod
    def verify_receipt(receipt, key):
        """Check a receipt (str or bytes) with the public key alone;
        returns a VerifyReport (writer and seq name the record)."""
        data = _lib.enc(receipt)
        k = as_key(key)
        rep = _lib.VerifyReport()
        err = _lib.Error()
        rc = _lib.lib().sluice_receipt_verify(data, len(data), k._handle(),
                                              ctypes.byref(rep),
                                              ctypes.byref(err))
        if rc:
            raise error_from(rc, err, LedgerError)
        return VerifyReport._from(rep)
