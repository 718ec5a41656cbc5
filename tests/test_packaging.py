"""The built wheel works outside the checkout: shipped spaces by name, a search, from anywhere.

The environment is a fresh venv whose only view of the dependencies is a .pth line to this
environment's site-packages; site-packages' own .pth files (this checkout's editable install
among them) are not processed there, so ``nas`` can only come from the wheel.
"""

import site
import subprocess
import sys
import sysconfig

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_wheel_runs_space_and_a_two_trial_search_from_another_directory(tmp_path):
    wheels = tmp_path / "wheels"
    run = lambda *cmd, **kw: subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)  # noqa: E731
    out = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT))
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next(wheels.glob("nas_toolkit-*.whl"))

    env = tmp_path / "env"
    out = run(sys.executable, "-m", "venv", "--without-pip", str(env))
    assert out.returncode == 0, out.stderr
    purelib = run(str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    deps = site.getsitepackages() + [sysconfig.get_paths()["purelib"]]
    with open(f"{purelib}/deps.pth", "w") as fh:
        fh.write("\n".join(dict.fromkeys(deps)) + "\n")
    out = run(sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "-q",
              "--no-deps", str(wheel))
    assert out.returncode == 0, out.stderr[-2000:]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    nas = str(env / "bin" / "nas")
    where = run(str(env / "bin" / "python"), "-c", "import nas; print(nas.__file__)", cwd=elsewhere)
    assert where.stdout.startswith(purelib), where.stdout + where.stderr
    out = run(nas, "space", "--space", "mobile", cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    assert "distinct architectures" in out.stdout and "spaces/mobile.yaml" in out.stdout
    out = run(nas, "search", "--dataset", "digits", "--trials", "2", "--epochs", "0.2", "--study", "w",
              "--no-progress", "--sampler", "random", cwd=elsewhere)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Pareto front" in out.stdout
    assert (elsewhere / "results" / "w" / "trials.csv").exists()
