"""`import sluice` from the source tree, and after `pip install` of the
package into a fresh venv with the library installed under a prefix (as
`make install PREFIX=...` lays it out), found through the system library
path; a missing library gives a clear LibraryNotFoundError."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

PKG = os.path.join(ROOT, "plugins", "python")
LIB = os.environ.get("SLUICE_LIBRARY") or os.path.join(ROOT, "build",
                                                       "libsluice.so")


def run_py(python, code, env, cwd):
    return subprocess.run([python, "-c", code], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("SLUICE_LIBRARY", "PYTHONPATH", "LD_LIBRARY_PATH")}
    env.update(extra)
    return env


def test_import_works_with_pythonpath_and_sluice_library(tmp_path):
    env = clean_env(PYTHONPATH=PKG, SLUICE_LIBRARY=LIB)
    r = run_py(sys.executable, "import sluice; print(sluice.version())",
               env, str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().count(".") == 2


def test_a_missing_library_raises_library_not_found(tmp_path):
    env = clean_env(PYTHONPATH=PKG,
                    SLUICE_LIBRARY=str(tmp_path / "nope.so"))
    r = run_py(sys.executable,
               "import sluice\n"
               "try:\n    sluice.Engine()\n"
               "except sluice.LibraryNotFoundError as e:\n"
               "    print('clear:', e)\n", env, str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "clear:" in r.stdout and "nope.so" in r.stdout


@pytest.mark.skipif(os.environ.get("SLUICE_PY_ASAN") == "1",
                    reason="a venv's python under the ASan preload is slow")
def test_pip_install_offline_then_import_from_the_system_path(tmp_path):
    # make install PREFIX=P puts P/lib/libsluice.so.0 and a libsluice.so link
    prefix = tmp_path / "pfx"
    (prefix / "lib").mkdir(parents=True)
    shutil.copy(LIB, prefix / "lib" / "libsluice.so.0")
    os.symlink("libsluice.so.0", prefix / "lib" / "libsluice.so")
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages",
                    str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--no-build-isolation",
         "--no-index", PKG], capture_output=True, text=True, timeout=300,
        cwd=str(tmp_path), env=clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1"))
    assert pip.returncode == 0, pip.stdout + pip.stderr
    # from outside the source tree, only the installed package is found
    env = clean_env(LD_LIBRARY_PATH=str(prefix / "lib"))
    r = run_py(str(venv / "bin" / "python"),
               "import sluice, os\n"
               "print(sluice.__file__)\n"
               "print(sluice.library_path())\n"
               "e = sluice.Engine(os.path.join(%r, 'policies', 'baseline'))\n"
               "print(e.check('call 13812345678').output)\n" % ROOT,
               env, str(tmp_path))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert str(venv) in lines[0]
    assert lines[1] == "libsluice.so.0"
    assert lines[2] == "call [redacted]"
