"""Verdicts as Python values, and reading them out of a sluice_verdict.

A :class:`Verdict` is a plain dataclass: once built it owns no C memory,
so it may be kept, pickled, compared and passed between threads freely.
:func:`read_verdict` copies everything out of a ``sluice_verdict`` (the
caller frees that right after).

Spans are byte offsets in the original UTF-8, as the C API and the
``sluice`` command give them; for a ``str`` input they also carry
``char_start``/``char_end``, indices into that str.

Policy details (id, version, hash, signed, signer) are the same for every
verdict of one policy, so they are read once per policy and cached here:
the cache holds a reference on each policy it knows (at most
:data:`POLICY_CACHE_SIZE`), so an address is never reused while cached.
"""

import ctypes
import json
import threading
from dataclasses import dataclass, field
from typing import List, Optional

from . import _lib
from .policy import PolicyInfo

ACTIONS = ("allow", "flag", "label", "redact", "block")
CACHE_STATUS = ("off", "miss", "hit", "unavailable", "skip")
POLICY_CACHE_SIZE = 8


@dataclass
class Span:
    """One match: [start, end) bytes of the original input, the rule that
    fired, its action, the term as the policy wrote it (None for regex
    matches) and, for str inputs, [char_start, char_end) in that str."""
    start: int
    end: int
    rule: str
    action: str
    term: Optional[str] = None
    char_start: Optional[int] = None
    char_end: Optional[int] = None


@dataclass
class Record:
    """Where the verdict was recorded in the ledger: its sequence number
    and record hash (RFC 6962 leaf hash, 64 lower-case hex digits)."""
    seq: int
    hash: str


@dataclass
class Label:
    """The explicit AI-generated label the output carries (GB 45438):
    its text and where it sits ("start" or "end")."""
    text: str
    position: str


@dataclass
class Verdict:
    """The result of one check.

    action: "allow", "flag", "label", "redact" or "block".
    rules, categories: what fired (after allow lists), in policy order.
    spans: list of Span, ordered by start.
    output: the text to release (the input, redacted, labelled, or the
        refusal); output_bytes the same bytes undecoded. For a session's
        verdict: the refusal when blocked, else "" (the text went out
        through feed()).
    policy: PolicyInfo of the policy that decided.
    record: Record when the verdict is in the ledger, else None.
    label: Label when the output carries the explicit label, else None;
        aigc: the implicit label (the AIGC metadata dict), else None.
    reason: why a verdict was forced ("ledger_unavailable", ...), or None.
    invalid_utf8: invalid UTF-8 sequences read as U+FFFD.
    spans_truncated: more spans matched than max_spans kept.
    released: sessions only: what finish() released (the tail held back
        to the end), to send after everything feed() returned; None for
        whole-text checks.
    cache: with a Redis verdict cache, "miss", "hit", "unavailable" or
        "skip"; None without one.
    """
    action: str
    rules: List[str]
    categories: List[str]
    spans: List[Span]
    output: str
    policy: PolicyInfo
    record: Optional[Record] = None
    label: Optional[Label] = None
    aigc: Optional[dict] = None
    reason: Optional[str] = None
    invalid_utf8: int = 0
    spans_truncated: bool = False
    output_bytes: bytes = field(default=b"", repr=False)
    released: Optional[str] = None
    cache: Optional[str] = None

    @property
    def blocked(self):
        """True when the output must not be released (the refusal is)."""
        return self.action == "block"

    def to_dict(self):
        """The verdict with the keys of `sluice check --json`: action,
        rules, categories, spans [{start, end, rule}], output, label and
        aigc when present, policy {id, version, hash, signed}, record
        {seq, hash} when recorded, invalid_utf8 when nonzero."""
        d = {
            "action": self.action,
            "rules": list(self.rules),
            "categories": list(self.categories),
            "spans": [{"start": s.start, "end": s.end, "rule": s.rule}
                      for s in self.spans],
            "output": self.output,
        }
        if self.label is not None:
            d["label"] = {"text": self.label.text,
                          "position": self.label.position}
        if self.aigc is not None:
            d["aigc"] = self.aigc
        d["policy"] = {"id": self.policy.id, "version": self.policy.version,
                       "hash": self.policy.hash,
                       "signed": self.policy.signed}
        if self.record is not None:
            d["record"] = {"seq": self.record.seq, "hash": self.record.hash}
        if self.invalid_utf8:
            d["invalid_utf8"] = self.invalid_utf8
        return d

    def to_json(self):
        """to_dict() as one line of JSON (UTF-8 kept as is)."""
        return json.dumps(self.to_dict(), ensure_ascii=False,
                          separators=(",", ":"))


_policy_cache = {}
_policy_cache_lock = threading.Lock()


def _policy_info(L, pp):
    """PolicyInfo for the policy at address pp (alive: a verdict holds it)."""
    hit = _policy_cache.get(pp)
    if hit is not None:
        return hit[0]
    info = PolicyInfo(_lib.dec(L.sluice_policy_id(pp)),
                      L.sluice_policy_version(pp),
                      _lib.dec(L.sluice_policy_hash(pp)),
                      bool(L.sluice_policy_signed(pp)),
                      _lib.dec(L.sluice_policy_signer(pp, None)))
    with _policy_cache_lock:
        if pp in _policy_cache:
            return _policy_cache[pp][0]
        while len(_policy_cache) >= POLICY_CACHE_SIZE:
            old = next(iter(_policy_cache))
            L.sluice_policy_unref(_policy_cache.pop(old)[1])
        _policy_cache[pp] = (info, L.sluice_policy_ref(pp))
    return info


def _char_offsets(data, start, end):
    """[start, end) bytes of UTF-8 `data` as str indices."""
    try:
        a = len(data[:start].decode("utf-8", "surrogatepass"))
        b = a + len(data[start:end].decode("utf-8", "surrogatepass"))
    except UnicodeDecodeError:
        a = len(data[:start].decode("utf-8", "replace"))
        b = a + len(data[start:end].decode("utf-8", "replace"))
    return a, b


def read_verdict(L, v, data=None, recorded=False, state=None):
    """Copy a sluice_verdict (address v, still owned by the caller) into a
    Verdict. `data`: the UTF-8 input when it came as a str (for char
    offsets); `recorded`: the engine has a ledger (read the record);
    `state`: a StateInfo when the check went through Redis.

    One sluice_verdict_read() call gives every scalar field; rules,
    categories and spans are read one by one only when a rule fired."""
    info = _lib.VerdictInfo()
    info.version = _lib.VerdictInfo.VERSION
    if L.sluice_verdict_read(v, ctypes.byref(info)) != 0:
        raise RuntimeError("sluice_verdict_read: the library and the "
                           "binding disagree on sluice_verdict_info")
    n = info.output_len
    ob = ctypes.string_at(info.output, n) if n else b""
    rules = [r.decode("utf-8", "replace") for r in
             (L.sluice_verdict_rule(v, i) for i in range(info.nrules))]
    cats = [c.decode("utf-8", "replace") for c in
            (L.sluice_verdict_category(v, i)
             for i in range(info.ncategories))]
    spans = []
    ns = info.nspans
    if ns:
        sp = _lib.Span()
        ref = ctypes.byref(sp)
        for i in range(ns):
            if L.sluice_verdict_span(v, i, ref) != 0:
                continue
            s = Span(sp.start, sp.end, _lib.dec(sp.rule),
                     ACTIONS[sp.action] if 0 <= sp.action < 5 else "?",
                     _lib.dec(sp.term))
            if data is not None:
                s.char_start, s.char_end = _char_offsets(data, sp.start,
                                                         sp.end)
            spans.append(s)
    out = Verdict(
        action=ACTIONS[info.action],
        rules=rules, categories=cats, spans=spans,
        output=ob.decode("utf-8", "surrogatepass" if data is not None
                         else "replace") if ob else "",
        policy=_policy_info(L, info.policy),
        output_bytes=ob)
    if info.label is not None:
        out.label = Label(_lib.dec(info.label),
                          "start" if info.label_position == 0 else "end")
    if info.aigc:
        ptr = ctypes.c_void_p()
        alen = ctypes.c_size_t()
        if L.sluice_verdict_aigc_json(v, ctypes.byref(ptr),
                                      ctypes.byref(alen)) == 0 and ptr.value:
            out.aigc = json.loads(_lib.take_malloced(ptr.value, alen.value))
    if info.reason is not None:
        out.reason = _lib.dec(info.reason)
    out.invalid_utf8 = info.invalid_utf8
    if ns and info.spans_truncated:
        out.spans_truncated = True
    if recorded and info.recorded:
        out.record = Record(info.record_seq, bytes(info.record_hash).hex())
    if state is not None and state.cache:
        out.cache = CACHE_STATUS[state.cache] \
            if 0 <= state.cache < len(CACHE_STATUS) else "?"
    return out
