"""Errors raise the binding's exception classes with the library's message,
file and line; a bad policy or reload leaves the engine's policy as it was."""

import os

import pytest

import sluice


def write_policy(d, body):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "policy.yaml"), "w") as f:
        f.write(body)
    return d


def test_a_missing_policy_raises_policy_error_naming_the_path(tmp_path):
    with pytest.raises(sluice.PolicyError) as ei:
        sluice.Engine(str(tmp_path / "nowhere"))
    assert "nowhere" in str(ei.value)
    assert ei.value.code < 0 and ei.value.status.startswith("SLUICE_E")


def test_an_unknown_key_is_refused_with_file_and_line(tmp_path):
    d = write_policy(str(tmp_path / "bad"),
                     "policy: bad\nversion: 1\nrulez: []\n")
    with pytest.raises(sluice.PolicyError) as ei:
        sluice.Policy(d)
    e = ei.value
    assert e.file.endswith("policy.yaml") and e.line == 3
    assert "rulez" in e.message
    assert str(e).startswith(e.file + ":3: ")


def test_a_bad_regex_is_refused(tmp_path):
    d = write_policy(str(tmp_path / "re"),
                     "policy: re\nversion: 1\nrules:\n"
                     "  - {id: r, action: block, regex: '(unclosed'}\n")
    with pytest.raises(sluice.PolicyError) as ei:
        sluice.Policy(d)
    assert ei.value.line == 4


def test_a_failed_reload_keeps_the_old_policy(baseline, tmp_path):
    bad = write_policy(str(tmp_path / "bad"), "policy: x\nversion: [\n")
    with sluice.Engine(baseline) as e:
        with pytest.raises(sluice.PolicyError):
            e.reload(bad)
        assert e.policy.id == "baseline"
        assert e.check("call 13812345678").action == "redact"


def test_an_engine_without_policy_fails_closed():
    with sluice.Engine() as e:
        with pytest.raises(sluice.NoPolicyError) as ei:
            e.check("anything")
        assert ei.value.code == -7
        assert isinstance(ei.value, sluice.PolicyError)
        with pytest.raises(sluice.NoPolicyError):
            e.session()
        with pytest.raises(sluice.NoPolicyError):
            list(sluice.moderate_stream(["x"], e))


def test_an_input_over_max_input_raises(baseline):
    with sluice.Engine(baseline, max_input=16) as e:
        with pytest.raises(sluice.InputTooLargeError) as ei:
            e.check("x" * 17)
        assert isinstance(ei.value, ValueError)
        assert e.check("x" * 16).action == "allow"


def test_a_closed_engine_raises_misuse(baseline):
    e = sluice.Engine(baseline)
    e.close()
    e.close()
    with pytest.raises(sluice.MisuseError):
        e.check("hello")


def test_unknown_metadata_is_a_type_error(engine):
    with pytest.raises(TypeError):
        engine.check("hello", user="bob")
    assert engine.check("hello", request_id="r1", tenant="t", subject="s",
                        model="m").action == "allow"


def test_text_must_be_str_or_bytes(engine):
    with pytest.raises(TypeError):
        engine.check(42)


def test_an_unsigned_directory_is_refused_with_trust_keys(baseline_path,
                                                          keys):
    with pytest.raises(sluice.PolicyError):
        sluice.Engine(baseline_path, trust=keys[1])
    with sluice.Engine(baseline_path, trust=keys[1],
                       allow_unsigned=True) as e:
        assert e.check("hi").policy.signed is False


def test_a_bundle_signed_by_another_key_is_refused(cli, baseline_path,
                                                  tmp_path, keys):
    import subprocess
    other = sluice.Key.generate(str(tmp_path / "other"), name="other")
    bundle = str(tmp_path / "b.bundle")
    subprocess.run([cli, "build", baseline_path, "-o", bundle, "--sign",
                    keys[0]], check=True, capture_output=True)
    with sluice.Engine(bundle, trust=keys[1]) as e:
        v = e.check("hello")
        assert v.policy.signed and v.policy.signer == "pytest"
    with pytest.raises(sluice.PolicyError) as ei:
        sluice.Engine(bundle, trust=other[1])
    assert ei.value.message
    data = bytearray(open(bundle, "rb").read())
    with sluice.Engine(bytes(data), trust=keys[1]) as e:
        assert e.policy.signed
    data[len(data) // 2] ^= 0x20
    with pytest.raises(sluice.PolicyError):
        sluice.Policy.from_bundle(bytes(data), trust=keys[1])


def test_key_files_that_do_not_load_raise_key_file_error(tmp_path, keys):
    with pytest.raises(sluice.KeyFileError) as ei:
        sluice.Key.load(str(tmp_path / "missing.key"))
    assert "missing.key" in str(ei.value)
    with pytest.raises(sluice.KeyFileError):
        sluice.Key.parse("not a key")
    with pytest.raises(sluice.KeyFileError):
        sluice.Key.generate(str(tmp_path / "k"))     # never overwrites
    k = sluice.Key.load(keys[1])
    assert k.kind == "verifier" and k.name == "pytest"
    with pytest.raises(sluice.KeyFileError):
        k.digest("text")


def test_a_ledger_with_a_public_key_raises_ledger_error(tmp_path, keys):
    with pytest.raises(sluice.LedgerError) as ei:
        sluice.Ledger(str(tmp_path / "l"), keys[1])
    assert ei.value.message


def test_verifying_a_missing_ledger_raises_ledger_error(tmp_path, keys):
    with pytest.raises(sluice.LedgerError):
        sluice.Ledger.verify(str(tmp_path / "none"), keys[1])


def test_a_bad_redis_address_raises_redis_error():
    with pytest.raises(sluice.RedisError):
        sluice.Redis("host:notaport")


def test_every_error_is_a_sluice_error():
    for cls in (sluice.PolicyError, sluice.NoPolicyError, sluice.LedgerError,
                sluice.KeyFileError, sluice.RedisError, sluice.MisuseError,
                sluice.InputTooLargeError, sluice.LimitError,
                sluice.InternalError):
        assert issubclass(cls, sluice.SluiceError)
