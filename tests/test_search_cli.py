"""The search as users run it: real processes, real training, kills and bad input."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nas import UserError
from nas.results import load_study
from nas.study.run.steps import evaluated_count

from conftest import ROOT, run_cli
from search_helpers import write_space

RUN = [sys.executable, str(ROOT / "run_search.py")]


def search_cmd(space: Path, trials: int, study: str = "k", *extra: str) -> list[str]:
    return [*RUN, "search", "--space", str(space), "--dataset", "digits", "--trials", str(trials),
            "--epochs", "1", "--study", study, "--no-progress", "--sampler", "random", *extra]


def completed(log: Path, study: str = "k") -> dict[int, float]:
    """Accuracy by trial number of the completed trials in the journal file ``log``, read
    afresh (another process may be writing it)."""
    if not log.exists():
        return {}
    try:
        trials = load_study(study, f"journal:{log}").get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    except UserError:  # the study is not created yet
        return {}
    return {t.number: t.values[0] for t in trials}


def wait_for(log: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> dict[int, float]:
    start = time.time()
    while time.time() - start < timeout:
        done = completed(log)
        if len(done) >= n:
            return done
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "search exited early"
        time.sleep(0.2)
    raise AssertionError("search too slow")


def load(tmp_path: Path, study: str = "k") -> optuna.Study:
    return load_study(study, f"journal:{tmp_path / 'results' / study / 'journal.log'}")


def run_or_dump(cmd: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """``cmd`` run to its end; if it outlives ``timeout`` (under the suite's per-test limit), it
    is stopped with SIGABRT, which makes Python print every thread's stack (PYTHONFAULTHANDLER),
    and the test fails showing them: a hung search says where it hangs."""
    import os

    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate(timeout=60)
        raise AssertionError(f"{' '.join(cmd[2:])} ran over {timeout:g} s; its threads:\n{err[-6000:]}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_real_search_end_to_end_prints_front_and_writes_csv(tmp_path):
    space = write_space(tmp_path)
    out = run_or_dump(search_cmd(space, 4), tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Pareto front" in out.stdout and "1 multiply-add = 1 flop" in out.stdout
    study = load(tmp_path)
    accs = [t.user_attrs["accuracy"] for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(accs) == 4 and max(accs) > 0.3  # really trained: far above 10% chance
    assert (tmp_path / "results/k/pareto.csv").read_text().count("\n") >= 2


def start_search(tmp_path: Path, wait_completed: int):
    """A search in the background, returned once ``wait_completed`` trials are done. Its total
    (400) is far beyond what it reaches before the test signals it; SIGINT is restored to its
    default in the child, since a runner started in the background passes it on ignored."""
    space = write_space(tmp_path)
    log = tmp_path / "results/k/journal.log"
    proc = subprocess.Popen(search_cmd(space, 400), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    return space, log, proc, wait_for(log, wait_completed, proc)


def test_sigkill_loses_no_completed_trial_and_rerun_completes_total(tmp_path):
    space, log, proc, before = start_search(tmp_path, 3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    after = completed(log)
    assert all(after[n] == v for n, v in before.items())  # nothing finished was lost
    total = len(after) + 2
    out = run_or_dump(search_cmd(space, total), tmp_path)
    assert out.returncode == 0, out.stderr
    study = load(tmp_path)
    assert evaluated_count(study) == total
    final = completed(log)
    assert all(final[n] == v for n, v in after.items())


def test_ctrl_c_marks_running_trial_failed_and_rerun_resumes(tmp_path):
    space, log, proc, before = start_search(tmp_path, 2)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert "rerun the same command to resume" in output
    assert "Traceback" not in output
    study = load(tmp_path)
    assert all(t.state != TrialState.RUNNING for t in study.trials)
    interrupted = [t for t in study.trials if "interrupted" in str(t.user_attrs.get("fail_reason"))]
    assert len(interrupted) <= 1
    assert all(completed(log)[n] == v for n, v in before.items())
    n_done = evaluated_count(study)
    out = run_or_dump(search_cmd(space, n_done + 1), tmp_path)
    assert out.returncode == 0
    assert evaluated_count(load(tmp_path)) == n_done + 1


@pytest.mark.parametrize("args,message", [
    (["--space", "nope.yaml"], "search-space file not found"),
    (["--dataset", "imagenet"], "unknown dataset"),
    (["--dataset", "cifar10:/no/such/folder"], "data_batch_1"),
    (["--flops-max", "1k"], "impossible"),
    (["--flops-max", "lots"], "expected a number"),
    (["--storage", "notaurl"], "not a storage URL"),
    (["--storage", "postgresql+nosuchdriver://u@h/db"], "cannot open storage"),
    (["--sampler", "bayes"], "invalid choice"),
    (["--trials", "0"], "--trials must be >= 1"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    base = ["search", "--space", str(write_space(tmp_path)), "--dataset", "digits", "--trials", "2",
            "--study", "e", "--no-progress"]
    code, _, err = run_cli(*base, *args)
    assert code == 2, err
    assert message in err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not list((tmp_path / "results").glob("*/trials.csv"))


def test_results_dir_flag_and_environment_variable_choose_where_studies_live(tmp_path, monkeypatch):
    """Issue 33: ``--results-dir`` (and ``$NAS_RESULTS_DIR``) instead of ./results always."""
    from conftest import run_cli
    from search_helpers import write_space

    monkeypatch.chdir(tmp_path)
    space = write_space(tmp_path)
    code, _, err = run_cli("search", "--space", str(space), "--dataset", "digits", "--trials", "2",
                           "--epochs", "0.2", "--study", "elsewhere", "--no-progress", "--sampler", "random",
                           "--results-dir", str(tmp_path / "runs"))
    assert code == 0, err
    assert (tmp_path / "runs/elsewhere/journal.log").is_file() and not (tmp_path / "results").exists()
    assert "NAS_RESULTS_DIR" not in os.environ  # the flag lasts as long as the command
    code, out, _ = run_cli("studies", "--results-dir", str(tmp_path / "runs"))
    assert code == 0 and "elsewhere" in out
    code, _, err = run_cli("pareto", "--study", "elsewhere")
    assert code == 2 and "elsewhere" in err  # not under ./results
    monkeypatch.setenv("NAS_RESULTS_DIR", str(tmp_path / "runs"))
    code, out, err = run_cli("pareto", "--study", "elsewhere")
    assert code == 0, err
