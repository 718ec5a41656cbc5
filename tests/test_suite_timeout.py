"""The suite's per-test timeout (issue 36): a hanging test fails within its limit, prints the
stack of every thread, and the tests after it still run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT

HANGING = '''
import threading, time

def test_hangs():
    threading.Thread(target=time.sleep, args=(60,), name="a-helper-thread", daemon=True).start()
    time.sleep(60)

def test_after():
    pass
'''


def test_the_configured_timeout_fails_a_hanging_test_with_every_stack_and_the_suite_goes_on(tmp_path: Path) -> None:
    import tomllib

    configured = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["timeout"]
    assert 0 < configured <= 600  # a hang fails in minutes, not at CI's limit
    (tmp_path / "test_hang.py").write_text(HANGING)
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "timeout", "--timeout=3", "-q", "-p", "no:cacheprovider",
                          str(tmp_path / "test_hang.py")], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert "1 failed, 1 passed" in out.stdout, out.stdout[-2000:]
    assert "Timeout" in out.stdout and "a-helper-thread" in out.stdout  # every thread's stack
