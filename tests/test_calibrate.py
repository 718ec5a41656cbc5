"""``nas calibrate`` (nas.study.calibrate, nas.report.calibration) and ``search --signal``: the
calibration trains what it says, resumes after a kill, recommends by its rule, and the search
follows it; every refusal is one line, exit 2, nothing written (issue 31)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from conftest import run_cli
from nas.train.config import TrainResult
from nas.train.signals import Signals
from search_helpers import write_space


class CalibrationTrainer:
    """No training: each architecture has a fixed quality (from its key); the longer budget and
    the target see it plainly, the 'tse' signal sees it at any budget, the validation accuracy
    of a brief run only through noise. Can raise Ctrl-C at a given call."""

    def __init__(self, interrupt_at: int = 0) -> None:
        self.calls: list[tuple[str, float, int]] = []
        self.interrupt_at = interrupt_at

    def __call__(self, genotype, data, cfg, device, report=None, keep_model=False):  # noqa: ANN001, ANN204
        self.calls.append((genotype.key(), cfg.epochs, cfg.seed))
        if self.interrupt_at and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        quality = int(genotype.key()[:6], 16) / 0xFFFFFF
        noise = (int(genotype.key()[6:12], 16) / 0xFFFFFF - 0.5) * (0.02 if cfg.epochs >= 4 else 2.0)
        seed_noise = 0.01 * cfg.seed
        acc = quality + noise + seed_noise
        signals = Signals(val_accuracy=acc, val_loss=1 - acc, tse=1 - quality, tse_late=1 - quality,
                          tse_ema=1 - quality, synflow=noise, naswot=noise, grad_norm=noise, snip=noise,
                          zero_cost_seconds=0.001 if cfg.zero_cost else None)
        return TrainResult(val_accuracy=acc, train_loss=0.1, train_time=0.01 * cfg.epochs, total_time=0.02,
                           images_per_sec=1e5, epochs=cfg.epochs, device="cpu", signals=signals)


def calibrate_config(tmp_path: Path, **kw):  # noqa: ANN201
    from nas.study.calibrate import CalibrateConfig

    base = dict(space=str(write_space(tmp_path)), dataset="digits", samples=6, budgets=(1.0, 2.0),
                target_epochs=4.0, seeds=2, study="cal")
    return CalibrateConfig(**{**base, **kw})


def test_calibration_resumes_after_a_kill_and_recommends_the_cheapest_near_the_best(tmp_path: Path,
                                                                                     monkeypatch) -> None:
    from nas.report.calibration import recommend, runs_frame, signal_table
    from nas.study.calibrate import run_calibration

    monkeypatch.chdir(tmp_path)
    cfg = calibrate_config(tmp_path)
    first = CalibrationTrainer(interrupt_at=9)
    with pytest.raises(KeyboardInterrupt):
        run_calibration(cfg, out=io.StringIO(), trainer=first)
    again = CalibrationTrainer()
    handle = run_calibration(cfg, out=io.StringIO(), trainer=again)
    architectures = len({key for key, _, _ in again.calls + first.calls})
    runs = architectures * 4  # 2 brief budgets + 2 target seeds each
    assert len(first.calls) - 1 + len(again.calls) == runs  # the interrupted run only was trained again
    assert len(set(first.calls[:-1]) & set(again.calls)) == 0
    table, ceiling = signal_table(runs_frame(handle.study), cfg.target_epochs)
    chosen = recommend(table, cfg.margin, ceiling)
    assert chosen.signal in ("tse", "tse_late", "tse_ema") and chosen.budget_epochs == 1.0  # exact and cheapest
    assert chosen.tau == pytest.approx(chosen.best_tau, abs=cfg.margin) and chosen.tau > 0.9
    brief_acc = table[(table["signal"] == "val_accuracy") & (table["budget_epochs"] == 1.0)].iloc[0]
    assert brief_acc["tau"] < chosen.tau  # the noisy signal ranks worse
    assert ceiling > 0.9 and chosen.architectures == architectures
    assert handle.study.metric_names == ["val_accuracy"]  # what dashboards show


def test_cli_calibrate_then_search_signal_auto_follows_it(tmp_path: Path, monkeypatch) -> None:
    from nas.report.calibration import CalibrationRecord
    from nas.study import calibrate
    from nas.study.store.storage import load_handle

    monkeypatch.chdir(tmp_path)
    trainer = CalibrationTrainer()
    monkeypatch.setattr(calibrate, "train_candidate", trainer)
    space = str(write_space(tmp_path))
    code, out, err = run_cli("calibrate", "--space", space, "--dataset", "digits", "--samples", "5",
                             "--budgets", "1,2", "--target-epochs", "4", "--study", "cal")
    assert code == 0, err
    assert "recommended: tse" in out or "recommended: tse_" in out
    assert (tmp_path / "results/cal/calibration.csv").exists() and (tmp_path / "results/cal/calibration.png").exists()
    record = CalibrationRecord.from_study(load_handle(None, "cal").study)
    assert record is not None and record.budget_epochs == 1.0
    code, out, err = run_cli("search", "--space", space, "--dataset", "digits", "--trials", "3", "--study", "s",
                             "--no-progress", "--sampler", "random", "--signal", "auto", "--calibration", "cal")
    assert code == 0, err
    assert f"--signal auto: {record.signal} after 1 epochs" in err
    study = load_handle(None, "s").study
    assert study.user_attrs["signal"] == record.signal and study.metric_names == [f"-{record.signal}", "log10_flops"]
    scores = [t.values[0] for t in study.trials if t.values]
    assert scores and all(s < 0 for s in scores)  # a loss, negated: higher is better


@pytest.mark.parametrize(("args", "message"), [
    (["--signal", "bogus"], "--signal 'bogus': allowed:"),
    (["--signal", "tse@soon"], "the budget after @ must be a number"),
    (["--signal", "tse@0"], "the budget must be positive"),
    (["--signal", "naswot@2"], "naswot is measured at initialisation, before any training"),
    (["--signal", "synflow", "--epochs", "2"], "--signal synflow is measured at initialisation: nothing is trained"),
    (["--signal", "tse@2", "--epochs", "1"], "sets the budget (2 epochs); drop --epochs"),
    (["--signal", "auto", "--calibration", "nope"], "--calibration 'nope': no such calibration study"),
    (["--signal", "tse", "--calibration", "cal"], "--calibration goes with --signal auto"),
    (["--signal", "tse", "--flops-target", "1M"], "the reward mode weighs validation accuracy"),
    (["--signal", "synflow", "--fidelity", "sh"], "measured at initialisation, the same at every rung"),
    (["--signal", "tse@2", "--fidelity", "sh"], "with --fidelity sh the rungs set the budgets"),
])
def test_signal_refusals_exit_2_with_one_line_and_write_nothing(tmp_path: Path, monkeypatch, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    space = str(write_space(tmp_path))
    code, out, err = run_cli("search", "--space", space, "--dataset", "digits", "--trials", "2", "--study", "e",
                             "--no-progress", *args)
    assert code == 2, err
    assert message in err and err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "results").exists()


def test_calibrate_refusals(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    space = str(write_space(tmp_path))
    for args, message in ((["--budgets", "1,x"], "--budgets '1,x'"), (["--target-epochs", "1"], "must exceed"),
                          (["--seeds", "1"], "--seeds must be >= 2"), (["--samples", "1"], "--samples must be >= 2")):
        code, _, err = run_cli("calibrate", "--space", space, "--dataset", "digits", *args)
        assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "results").exists()


def test_the_default_signal_and_when_training_ranks_instead(tmp_path: Path, monkeypatch) -> None:
    """Without --signal a search ranks by NASWOT and trains nothing; a training budget, successive
    halving or the reward mode rank by validation accuracy; a resume keeps the study's signal."""
    from nas.study.search_config import SearchConfig
    from nas.study.store.records import TrialRecord
    from nas.study.store.storage import load_handle
    from nas.train.rungs import Rungs
    from nas.train.signals import DEFAULT_SIGNAL

    assert DEFAULT_SIGNAL == "naswot" and SearchConfig().signal == "naswot"
    assert SearchConfig(fidelity=Rungs()).signal == SearchConfig(flops_target=1e6).signal == "val_accuracy"
    monkeypatch.chdir(tmp_path)
    space = str(write_space(tmp_path))
    code, out, err = run_cli("search", "--space", space, "--dataset", "digits", "--trials", "3", "--study", "z",
                             "--no-progress", "--sampler", "random")
    assert code == 0, err
    study = load_handle(None, "z").study
    assert study.user_attrs["signal"] == "naswot" and study.metric_names == ["naswot", "log10_flops"]
    for t in study.trials:
        r = TrialRecord.from_trial(t)
        assert not r.trained and r.accuracy is None and r.score == r.signals.naswot == t.values[0]
    assert "score = naswot at initialisation (nothing trained)" in out
    code, _, err = run_cli("search", "--space", space, "--dataset", "digits", "--trials", "4", "--study", "z",
                           "--no-progress", "--epochs", "0.2")
    assert code == 2 and "was searched ranking candidates by naswot; resume it with --signal naswot" in err
    assert err.count("\n") == 1 and len(load_handle(None, "z").study.trials) == 3  # nothing written
    code, _, err = run_cli("search", "--space", space, "--dataset", "digits", "--trials", "2", "--study", "e",
                           "--no-progress", "--epochs", "0.2", "--sampler", "random")
    assert code == 0, err
    trained = load_handle(None, "e").study
    assert trained.user_attrs["signal"] == "val_accuracy" and trained.metric_names[0] == "accuracy"
    assert all(TrialRecord.from_trial(t).trained for t in trained.trials)
