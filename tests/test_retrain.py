"""retrain: final training on train+val scored on the held-out test split; resumable; agrees
with pareto --final; export reuses its weights."""

import csv

import pytest
import torch
from optuna.trial import TrialState

from nas import Genotype, UserError
from nas.report.final import final_frame, final_front, load_retrain, runs_frame
from nas.study.store.records import TrialRecord
from nas.study.retrain import Candidate, run_retrain
from nas.study.store.storage import load_handle

from conftest import run_cli
from search_helpers import FakeTrainer, cli_search, config, search


class CountingTrainer(FakeTrainer):
    """A fake trainer that sees which data it gets and can be interrupted on its n-th call."""

    def __init__(self, interrupt_at: int = 0) -> None:
        super().__init__()
        self.interrupt_at = interrupt_at

    def __call__(self, genotype, data, cfg, device, report=None, keep_model=False):
        if self.interrupt_at and len(self.trained) + 1 == self.interrupt_at:
            raise KeyboardInterrupt
        result = super().__call__(genotype, data, cfg, device, report, keep_model)
        result.val_accuracy -= 0.01 * cfg.seed  # seeds differ, so the sd is not zero
        return result


def test_retrain_scores_on_test_resumes_after_a_kill_and_trains_each_run_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = search(config(tmp_path, trials=5), FakeTrainer())
    handle = load_handle(None, "t")
    chosen = [Candidate(f"trial {t.number}", Genotype.from_json(t.user_attrs["genotype"]), t.number)
              for t in study.trials[:2]]
    first = CountingTrainer(interrupt_at=3)
    with pytest.raises(KeyboardInterrupt):
        run_retrain(handle, chosen, epochs=4, seeds=2, out=open("/dev/null", "w"), trainer=first)
    assert len(first.trained) == 2
    second = CountingTrainer()
    retrain = run_retrain(handle, chosen, epochs=4, seeds=2, out=open("/dev/null", "w"), trainer=second).study
    assert len(second.trained) == 2  # only the two runs that were missing
    data = second.datasets[0]
    assert "test" in data.name and len(data.y_val) == data.n_test  # scored on the held-out split
    complete = [TrialRecord.from_trial(t) for t in retrain.trials if t.state == TrialState.COMPLETE]
    assert sorted((r.key, r.seed) for r in complete) == sorted((c.genotype.key(), s) for c in chosen for s in (0, 1))
    final = final_frame(retrain)
    assert len(final) == 2 and (final["seeds"] == 2).all() and (final["test_acc_sd"] > 0).all()
    again = CountingTrainer()
    run_retrain(handle, chosen, epochs=4, seeds=2, out=open("/dev/null", "w"), trainer=again)
    assert again.trained == []  # everything done: nothing retrained


def test_cli_retrain_csv_agrees_with_pareto_final_and_export_reuses_the_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli_search(tmp_path, "r", 4)
    code, out, err = run_cli("retrain", "--study", "r", "--arch", "front", "--final-epochs", "0.3", "--seeds", "2")
    assert code == 0, err
    assert "Final front" in out and "held-out test split" in out
    with open(tmp_path / "results/r/retrain.csv") as fh:
        written = {row["key"]: row for row in csv.DictReader(fh)}
    code, out, err = run_cli("pareto", "--study", "r", "--final", "--csv", str(tmp_path / "final.csv"),
                             "--plot", str(tmp_path / "final.png"))
    assert code == 0, err
    with open(tmp_path / "final.csv") as fh:
        front = list(csv.DictReader(fh))
    assert front and (tmp_path / "final.png").stat().st_size > 10_000
    for row in front:  # every front point is a retrained architecture with the same numbers
        assert row["key"] in written
        assert float(row["test_acc_mean"]) == pytest.approx(float(written[row["key"]]["test_acc_mean"]))
        assert row["seeds"] == written[row["key"]]["seeds"] == "2"
    retrain = load_retrain(load_handle(None, "r"))
    runs = runs_frame(retrain)
    assert runs["weights"].notna().all() and len(runs) == 2 * len(written)
    # issue 33: the retrain study is found by name and listed with its test scores
    from nas import results

    assert results.load_study("r-retrain").metric_names == ["test_accuracy"]
    code, out, err = run_cli("studies")
    best = max(front, key=lambda row: float(row["test_acc_mean"]))
    line = next(line for line in out.splitlines() if line.startswith("r-retrain "))
    assert code == 0 and " retrain " in line and f"test {float(best['test_acc_mean']):.4f}" in line, out
    number = int(front[0]["source_trial"].split(".")[0])
    code, out, err = run_cli("export", "--study", "r", "--arch", str(number), "--retrained",
                             "--format", "json,state_dict", "--out", str(tmp_path / "exp"))
    assert code == 0, err
    card = (tmp_path / "exp/model_card.md").read_text()
    assert "held-out test split" in card and "over 2 seeds" in card
    run = runs[(runs["source_trial"] == number) & (runs["seed"] == 0)].iloc[0]
    saved = torch.load(tmp_path / "exp/weights.pt", weights_only=True)
    original = torch.load(run["weights"], weights_only=True)
    assert all(torch.equal(saved[k], original[k]) for k in original)
    assert final_front(final_frame(retrain))["key"].tolist() == [r["key"] for r in front]


def test_retrain_refuses_a_study_made_before_test_splits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = search(config(tmp_path, trials=2), FakeTrainer())
    for key in ("test_fraction", "test_split"):
        study.set_user_attr(key, None)
    code, _, err = run_cli("retrain", "--study", "t", "--arch", "best")
    assert code == 2 and "before held-out test splits existed" in err and err.count("\n") == 1


def test_cli_retrain_knee_against_nearest_reference_prints_the_demos_comparison(tmp_path, monkeypatch):
    """What `make search` ends with: the knee of a small real search beside the space's
    reference nearest in FLOPs, both retrained with 2 seeds and scored on the test split."""
    monkeypatch.chdir(tmp_path)
    cli_search(tmp_path, "d", 4)
    code, out, err = run_cli("retrain", "--study", "d", "--arch", "knee", "nearest-reference",
                             "--final-epochs", "0.3", "--seeds", "2")
    assert code == 0, err
    assert "Found against hand-designed" in out and "held-out test split" in out
    runs = [line for line in out.splitlines() if ": test accuracy " in line]  # a line per run, counted down
    assert len(runs) == 4 and "[1/4, ~" in runs[0] and " left]" in runs[0] and runs[-1].endswith("[4/4]")
    table = [line for line in out.splitlines() if "+/-" in line and line.rstrip().endswith("k")]
    labels = [line.split("  ")[0].strip() for line in table]
    assert len(table) == 2 and labels[0].startswith("knee, trial ") and labels[1] == "reference small"
    retrain = load_retrain(load_handle(None, "d"))
    assert retrain.metric_names == ["test_accuracy"]  # what dashboards show
    final = final_frame(retrain)
    assert len(final) == 2 and (final["seeds"] == 2).all()
    for line, (_, row) in zip(table, final.set_index("label").loc[labels].reset_index().iterrows()):
        assert f"{100 * row['test_acc_mean']:.2f} +/- {100 * row['test_acc_sd']:.2f} %" in line
    verdict = [line for line in out.splitlines() if " against reference small: " in line]
    assert len(verdict) == 1 and verdict[0].startswith("knee, trial ") and "points of test accuracy" in verdict[0]
