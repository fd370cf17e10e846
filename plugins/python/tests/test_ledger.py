"""Verdicts recorded in the signed ledger from Python: records, verify,
receipts, and fail-closed / fail-open when recording stops."""

import pytest

import sluice


def test_each_check_is_recorded_and_the_ledger_verifies(baseline,
                                                        tmp_path, keys):
    d = str(tmp_path / "ledger")
    with sluice.Engine(baseline, ledger=d, ledger_key=keys[0]) as e:
        v1 = e.check("call 13812345678", request_id="req-1", tenant="acme")
        v2 = e.check("hello")
        assert v1.record and v2.record
        assert v2.record.seq == v1.record.seq + 1
        assert len(v1.record.hash) == 64
        with e.session(request_id="req-s") as s:
            s.feed("what the f")
            s.feed("uck")
            vs = s.finish()
        assert vs.record.seq == v2.record.seq + 1
        e.ledger.sync()
        rep = sluice.Ledger.verify(d, keys[1])
        assert rep.ok, rep.reason
        assert rep.records >= 3
    recs = [r for r in sluice.Ledger.records(d)
            if r.get("type") == "verdict"]
    assert len(recs) == 3
    assert "req-1" in str(recs[0]) and "acme" in str(recs[0])
    assert "13812345678" not in str(recs)       # no content in the ledger


def test_a_receipt_verifies_with_the_public_key(baseline, tmp_path,
                                                keys):
    d = str(tmp_path / "ledger")
    led = sluice.Ledger(d, keys[0])
    with sluice.Engine(baseline, ledger=led) as e:
        v = e.check("hello")
    led.sync()
    receipt = sluice.Ledger.prove(d, v.record.seq)
    rep = sluice.Ledger.verify_receipt(receipt, keys[1])
    assert rep.ok and rep.seq == v.record.seq
    assert sluice.Ledger.checkpoint(d).startswith("sluice/pytest/default\n")
    led.close()
    with pytest.raises(sluice.LedgerError):
        sluice.Ledger.prove(d, 10 ** 6)


def test_a_closed_ledger_blocks_fail_closed(baseline, tmp_path, keys):
    led = sluice.Ledger(str(tmp_path / "l"), keys[0])
    with sluice.Engine(baseline, ledger=led) as e:
        led.close()
        v = e.check("hello")
        assert v.action == "block" and v.reason == "ledger_unavailable"
        assert v.record is None


def test_a_closed_ledger_lets_verdicts_stand_fail_open(baseline,
                                                       tmp_path, keys):
    led = sluice.Ledger(str(tmp_path / "l"), keys[0])
    with sluice.Engine(baseline, ledger=led, fail_mode="open") as e:
        led.close()
        v = e.check("hello")
        assert v.action == "allow" and v.output == "hello"
        assert v.reason == "ledger_unavailable_fail_open"


def test_a_bad_fail_mode_is_a_value_error(baseline):
    with pytest.raises(ValueError):
        sluice.Engine(baseline, fail_mode="sometimes")


def test_the_digest_matches_the_records(baseline, tmp_path, keys):
    d = str(tmp_path / "ledger")
    with sluice.Engine(baseline, ledger=d, ledger_key=keys[0]) as e:
        e.check("some output")
    key = sluice.Key.load(keys[0])
    digest = key.digest("some output").hex()
    recs = [r for r in sluice.Ledger.records(d) if r.get("type") == "verdict"]
    assert digest in str(recs[0])
