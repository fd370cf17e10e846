"""Every ```python block of docs/python.md runs, in order, as written.

The blocks share one namespace (later ones use `engine` from earlier
ones) and run from the repository root, where the page's relative paths
point. The framework examples are plain functions over iterables, so this
needs neither transformers, FastAPI nor an OpenAI client.
"""

import os
import re

import pytest

from conftest import ROOT

DOC = os.path.join(ROOT, "docs", "python.md")


def blocks():
    if not os.path.exists(DOC):
        return []
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"```python\n(.*?)```", text, re.S)


BLOCKS = blocks()
NAMESPACE = {}


def test_the_page_has_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_python_md_example_runs(i, monkeypatch):
    monkeypatch.chdir(ROOT)
    if i > 0 and not NAMESPACE.get("_ok_%d" % (i - 1)):
        pytest.skip("an earlier example failed")
    code = compile(BLOCKS[i], "%s[block %d]" % (DOC, i + 1), "exec")
    exec(code, NAMESPACE)
    NAMESPACE["_ok_%d" % i] = True
