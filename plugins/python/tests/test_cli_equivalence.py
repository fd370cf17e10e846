"""Verdicts through Python equal the sluice command's for the same inputs.

Each corpus (the examples, every policy's own test inputs, a label policy,
samples of the shared data) is written as JSON lines, checked once by
`sluice check -p POLICY --jsonl FILE --json`, and each line's JSON is
compared with Verdict.to_dict() of Engine.check on the same text. The
policy's own expectations are checked too.
"""

import json
import os
import subprocess

import pytest

import sluice

from conftest import ROOT


def cli_verdicts(cli, policy, texts, tmp_path):
    """The command's verdicts (dicts, without "id") for texts, in order."""
    path = tmp_path / "in.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": str(i), "text": t},
                               ensure_ascii=False) + "\n")
    res = subprocess.run([cli, "check", "-p", policy, "--jsonl", str(path),
                          "--json"], capture_output=True, timeout=300)
    assert res.returncode == 0, res.stderr.decode()
    out = [json.loads(line) for line in res.stdout.decode().splitlines()
           if line.strip()]
    assert len(out) == len(texts)
    for i, d in enumerate(out):
        assert d.pop("id") == str(i)
    return out


def assert_same(engine, texts, want):
    diffs = []
    for t, w in zip(texts, want):
        got = engine.check(t).to_dict()
        if "aigc" in w:
            # ProduceID is random per verdict when there is no ledger.
            assert set(got["aigc"]) == set(w["aigc"])
            got["aigc"]["ProduceID"] = w["aigc"]["ProduceID"]
            got["aigc"]["PropagateID"] = w["aigc"]["PropagateID"]
        if got != w:
            diffs.append((t, w, got))
    assert not diffs, "first of %d differences: %r" % (len(diffs), diffs[0])


def load_cases(policy_dir):
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    cases = []
    tdir = os.path.join(policy_dir, "tests")
    for name in sorted(os.listdir(tdir)):
        if name.endswith(".yaml"):
            with open(os.path.join(tdir, name), encoding="utf-8") as f:
                cases += yaml.safe_load(f) or []
    return cases


POLICIES = sorted(d for d in os.listdir(os.path.join(ROOT, "policies"))
                  if os.path.isdir(os.path.join(ROOT, "policies", d, "tests")))


def test_examples_give_the_same_verdicts_as_the_cli(cli, engine, examples,
                                                    baseline_path, tmp_path):
    texts = [e["text"] for e in examples]
    assert_same(engine, texts, cli_verdicts(cli, baseline_path, texts,
                                            tmp_path))


@pytest.fixture(scope="module")
def cli_examples(cli, examples, baseline_path, tmp_path_factory):
    """The command's verdict for each example line, checked once."""
    return cli_verdicts(cli, baseline_path, [e["text"] for e in examples],
                        tmp_path_factory.mktemp("ex"))


@pytest.mark.parametrize("ex", range(18))
def test_each_example_has_the_verdict_the_cli_prints(engine, examples,
                                                     cli_examples, ex):
    if ex >= len(examples):
        pytest.skip("examples/outputs.jsonl has fewer lines")
    assert engine.check(examples[ex]["text"]).to_dict() == cli_examples[ex]


def test_a_text_argument_gives_the_verdict_the_cli_prints(cli, engine,
                                                          baseline_path):
    text = "我的身份证号是11010519491231002X"
    res = subprocess.run([cli, "check", "-p", baseline_path, "--json", text],
                         capture_output=True)
    assert res.returncode == 0, res.stderr.decode()
    assert engine.check(text).to_dict() == json.loads(res.stdout)


@pytest.mark.parametrize("policy", POLICIES)
def test_policy_test_inputs_give_the_same_verdicts_as_the_cli(
        cli, policy, tmp_path):
    pdir = os.path.join(ROOT, "policies", policy)
    texts = [c["input"] for c in load_cases(pdir)]
    with sluice.Engine(pdir) as e:
        assert_same(e, texts, cli_verdicts(cli, pdir, texts, tmp_path))


@pytest.mark.parametrize("policy", POLICIES)
def test_policy_test_cases_pass_through_python(policy):
    pdir = os.path.join(ROOT, "policies", policy)
    failed = []
    with sluice.Engine(pdir) as e:
        for c in load_cases(pdir):
            v = e.check(c["input"])
            want = c["expect"]
            got = {"action": v.action, "rules": v.rules,
                   "categories": v.categories, "output": v.output}
            for k in ("action", "rules", "categories", "output"):
                if k not in want:
                    continue
                w, g = want[k], got[k]
                if isinstance(w, list):
                    w, g = sorted(w), sorted(g)
                if w != g:
                    failed.append((c["name"], k, want[k], got[k]))
    assert not failed, failed[:3]


def test_label_policy_gives_the_same_verdicts_as_the_cli(cli, tmp_path):
    pdir = os.path.join(ROOT, "tests", "cli", "fixtures", "label")
    texts = ["hello", "这是换脸视频", "call 13812345678 about the deepfake",
             "炸药配方如下", "", "deepfake"]
    with sluice.Engine(pdir) as e:
        want = cli_verdicts(cli, pdir, texts, tmp_path)
        assert_same(e, texts, want)
        v = e.check("这是换脸视频")
        assert v.action == "label"
        assert v.label is not None and v.label.text == "本内容由人工智能生成"
        assert v.aigc["Label"] == "1"


def test_invalid_utf8_is_counted_as_the_cli_counts_it(cli, engine,
                                                     baseline_path):
    data = b"a\xffb \xe4\xb8 fuck"
    res = subprocess.run([cli, "check", "-p", baseline_path, "--json", "-"],
                         input=data, capture_output=True)
    want = json.loads(res.stdout)
    got = engine.check(data)
    assert got.invalid_utf8 == want["invalid_utf8"] == 2
    # The released bytes keep the invalid sequences as they came; the
    # command's JSON writes one U+FFFD per invalid byte, Python's decoder
    # one per invalid sequence, so the output is compared as bytes.
    assert got.output_bytes.startswith(b"a\xffb \xe4\xb8 ")
    assert want["output"].endswith(got.output_bytes[7:].decode())
    assert "fuck" not in want["output"]
    d = got.to_dict()
    del d["output"], want["output"]
    assert d == want


def _sample(path, n, field=None):
    """Up to n non-empty lines of a text, CSV or JSONL file, spread out."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    step = max(1, len(lines) // n)
    out = []
    for ln in lines[::step][:n]:
        if field and ln.startswith("{"):
            try:
                ln = json.loads(ln).get(field) or ""
            except ValueError:
                continue
        if ln:
            out.append(ln[:2000])
    return out


def test_shared_corpora_give_the_same_verdicts_as_the_cli(
        cli, engine, baseline_path, data_dir, tmp_path):
    texts = []
    for dirpath, _, files in sorted(os.walk(data_dir)):
        for name in sorted(files):
            if name.endswith((".txt", ".csv", ".jsonl", ".tsv")):
                texts += _sample(os.path.join(dirpath, name), 40, "text")
            if len(texts) > 1500:
                break
    if not texts:
        pytest.skip("no text files in %s" % data_dir)
    assert_same(engine, texts, cli_verdicts(cli, baseline_path, texts,
                                            tmp_path))
