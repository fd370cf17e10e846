"""pytest fixtures for the sluice binding's tests.

Environment (tests/integration/30-python.sh sets all of them):
  SLUICE_LIBRARY  libsluice.so to load (default: the package's own search)
  ROOT            repository root (default: found from this file)
  SLUICE          the sluice command, for comparisons (default:
                  $BUILD/sluice, else ROOT/build/sluice)
  SLUICE_DATA     shared test data (default: ROOT/../shared/data); tests
                  that need it skip when it is missing
  SLUICE_PY_CHECKS  checks in the memory test (default 100000)
  SLUICE_PY_ASAN  1: the library is ASan-instrumented (RSS is then not a
                  measure of leaks; the memory test only runs the checks)
"""

import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import sluice  # noqa: E402

ROOT = os.environ.get("ROOT") or os.path.abspath(
    os.path.join(HERE, "..", "..", ".."))


def _cli():
    cand = os.environ.get("SLUICE")
    if not cand and os.environ.get("BUILD"):
        cand = os.path.join(os.environ["BUILD"], "sluice")
    if not cand:
        cand = os.path.join(ROOT, "build", "sluice")
    return cand if os.access(cand, os.X_OK) else None


@pytest.fixture(scope="session")
def root():
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def cli():
    """Path of the sluice command; the test skips without it."""
    c = _cli()
    if c is None:
        pytest.skip("the sluice command is not built (set SLUICE)")
    return c


@pytest.fixture(scope="session")
def data_dir():
    """The shared data directory; the test skips when it is missing."""
    d = os.environ.get("SLUICE_DATA") or os.path.join(ROOT, "..", "shared",
                                                      "data")
    if not os.path.isdir(d):
        pytest.skip("no shared test data at %s (set SLUICE_DATA)" % d)
    return d


@pytest.fixture(scope="session")
def baseline_path():
    return os.path.join(ROOT, "policies", "baseline")


@pytest.fixture(scope="session")
def baseline(baseline_path):
    """policies/baseline compiled once (a Policy), for engines of tests."""
    p = sluice.Policy(baseline_path)
    yield p
    p.close()


@pytest.fixture(scope="session")
def engine(baseline):
    """One Engine on policies/baseline, shared by the whole run."""
    e = sluice.Engine(baseline)
    yield e
    e.close()


@pytest.fixture(scope="session")
def examples():
    """examples/outputs.jsonl as a list of {"id", "text"}."""
    import json
    with open(os.path.join(ROOT, "examples", "outputs.jsonl"),
              encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture
def keys(tmp_path):
    """A fresh signer key pair under tmp_path: (PREFIX.key, PREFIX.pub)."""
    return sluice.Key.generate(str(tmp_path / "k"), name="pytest")


def asan():
    """True when the loaded library is ASan-instrumented."""
    return os.environ.get("SLUICE_PY_ASAN") == "1"


def have(cmd):
    return shutil.which(cmd) is not None
