"""Which signal should a search optimise by default? ``nas calibrate`` on the two embedded harder
tasks (issue 31), and the default chosen by its own rule on both.

For each task (``cluttered``: one digit among clutter; ``pairs``: which of two digits is larger,
nas/train/pairs.py), ``mobile`` space, FLOPs <= 20M as the demo searches:

1. ``nas calibrate`` with its defaults, timed (issue 31's goal: within 15 minutes on this 2-core
   machine); trainings are kept in the calibration study, so a rerun resumes.
2. The same calibration extended to ``EXTENDED`` random genotypes (the first ones are the same
   genotypes: calibrate draws them from a fixed seed), for intervals half as wide.

Per task: Kendall tau of every signal at every budget against the mean validation accuracy of two
10-epoch seeds, with its 95% bootstrap interval, the partial tau with log10 FLOPs held fixed, the
compute per candidate, the seed-vs-seed ceiling and log10 FLOPs alone; and the calibrate rule's
recommendation. The default: among the (signal, budget) pairs within the calibrate margin of the
best on *both* tasks, the cheapest; it must not rank worse than today's (validation accuracy after
1 epoch) on either.

    python -m bench.signals              # ~40 min on 2 cores the first time; resumes
    python -m bench.signals default      # only step 1 (the timed default calibrations)
    python -m bench.signals cost         # what the signals cost in a search (share of a trial)
"""

from __future__ import annotations

import io
import time

import pandas as pd

from bench.common import parts_asked, quick, save
from nas.report.calibration import recommend, runs_frame, signal_table
from nas.study.calibrate import CalibrateConfig, run_calibration
from nas.study.calibrate_config import default_study_name

TASKS = ("cluttered", "pairs")
FLOPS_MAX = 20e6
EXTENDED = 32
TODAY = ("val_accuracy", 1.0)


def calibrate(task: str, samples: int) -> tuple[pd.DataFrame, float, float, int]:
    """(table, ceiling, seconds, runs trained now) of a calibration with ``samples`` random genotypes."""
    # the study `nas calibrate --dataset TASK --flops-max 20M` makes: either one resumes the other
    cfg = CalibrateConfig(dataset=task, flops_max=FLOPS_MAX, samples=samples, device="cpu")
    if quick():
        cfg = CalibrateConfig(dataset=task, flops_max=FLOPS_MAX, samples=3, budgets=(0.2,), target_epochs=0.5,
                              study=default_study_name("mobile", task) + "-quick", device="cpu")
    before = time.perf_counter()
    log = io.StringIO()
    handle = run_calibration(cfg, out=log)
    seconds = time.perf_counter() - before
    trained = log.getvalue().count("validation accuracy")
    runs = runs_frame(handle.study)
    from nas.arch.space_file import load_space
    from nas.study.calibrate import _data, genotypes_to_calibrate

    keys = {g.key() for _, g in genotypes_to_calibrate(load_space(cfg.space), _data(cfg), cfg.samples, cfg.flops_max)}
    table, ceiling = signal_table(runs[runs["key"].isin(keys)], cfg.target_epochs)
    return table, ceiling, seconds, trained


def runs_of(task: str) -> pd.DataFrame:
    from nas.study.store.storage import load_handle

    return runs_frame(load_handle(None, default_study_name("mobile", task)).study)


def paired_difference(task: str, samples: int, a: tuple[str, float], b: tuple[str, float]) -> dict[str, float]:
    """tau(a) - tau(b) against the target, with a 95% paired bootstrap interval over architectures."""
    import numpy as np

    from nas.report.calibration import BOOTSTRAP, kendall_tau
    from nas.train.signals import SIGNALS

    runs = runs_of(task)
    cfg = CalibrateConfig(dataset=task, flops_max=FLOPS_MAX, samples=samples)
    from nas.arch.space_file import load_space
    from nas.study.calibrate import _data, genotypes_to_calibrate

    keys = [g.key() for _, g in genotypes_to_calibrate(load_space(cfg.space), _data(cfg), samples, FLOPS_MAX)]
    target = runs[runs["budget"] == cfg.target_epochs].groupby("key")["val_accuracy"].mean().reindex(keys)

    def values(signal: str, budget: float) -> np.ndarray:
        rows_ = runs[(runs["seed"] == 0) & (runs["budget"] != cfg.target_epochs)]
        if not SIGNALS[signal].at_init:
            rows_ = rows_[rows_["budget"] == budget]
        v = rows_.dropna(subset=[signal]).drop_duplicates("key").set_index("key")[signal].reindex(keys).to_numpy(float)
        return v if SIGNALS[signal].higher_is_better else -v

    x, y, t = values(*a), values(*b), target.to_numpy(float)
    ok = ~(np.isnan(x) | np.isnan(y) | np.isnan(t))
    x, y, t = x[ok], y[ok], t[ok]
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(BOOTSTRAP):
        i = rng.integers(0, len(t), len(t))
        diffs.append(kendall_tau(x[i], t[i]) - kendall_tau(y[i], t[i]))
    return {"difference": round(kendall_tau(x, t) - kendall_tau(y, t), 4),
            "low": round(float(np.nanpercentile(diffs, 2.5)), 4), "high": round(float(np.nanpercentile(diffs, 97.5)), 4)}


def rows(table: pd.DataFrame) -> list[dict[str, object]]:
    return [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in table.to_dict("records")]


def choose_default(tables: dict[str, pd.DataFrame], margin: float) -> dict[str, object]:
    """The cheapest (signal, budget) within ``margin`` of each task's best, not worse than today's."""
    merged = None
    for task, table in tables.items():
        t = table[~table["baseline"]].set_index(["signal", "budget_epochs"])
        part = pd.DataFrame({f"tau_{task}": t["tau"], f"gap_{task}": t["tau"] - t["tau"].max(),
                             f"seconds_{task}": t["seconds_per_candidate"]})
        merged = part if merged is None else merged.join(part, how="inner")
    assert merged is not None
    merged["seconds"] = merged[[c for c in merged if c.startswith("seconds_")]].mean(axis=1)
    today = merged.loc[TODAY]
    ok = merged[(merged[[c for c in merged if c.startswith("gap_")]] >= -margin).all(axis=1)]
    ok = ok[(ok[[f"tau_{t}" for t in tables]] >= today[[f"tau_{t}" for t in tables]].to_numpy()).all(axis=1)]
    pick = ok.sort_values("seconds").index[0] if len(ok) else TODAY
    return {"signal": pick[0], "budget_epochs": pick[1], "candidates_within_margin_on_both": [list(i) for i in ok.index],
            "table": merged.reset_index().round(4).to_dict("records")}


def signal_cost() -> dict[str, object]:
    """What the signals cost in a search, as a share of a trial's wall time (issue 31's goal: <= 5%):
    the demo's search (NASWOT: the signal is the whole evaluation) and the same search trained 1
    epoch a candidate (validation accuracy; the zero-cost signals are recorded on the side)."""
    import shutil

    from nas.report.results import trials_frame
    from nas.study.search import SearchConfig, run_search
    from nas.train.config import TrainConfig

    out: dict[str, object] = {}
    for name, signal, trials in (("naswot", None, 60), ("val_accuracy@1", "val_accuracy", 40)):
        study_name = f"bench-signal-cost-{signal or 'default'}"
        shutil.rmtree(f"results/{study_name}", ignore_errors=True)
        cfg = SearchConfig(space="mobile", dataset="cluttered", study=study_name, trials=8 if quick() else trials,
                           flops_max=FLOPS_MAX, progress=False, write_files=False, signal=signal,
                           train=TrainConfig(epochs=1.0), device="cpu")
        study = run_search(cfg, out=io.StringIO())
        frame = trials_frame(study)
        done = frame[frame["state"] == "COMPLETE"]
        walls = [(t.datetime_complete - t.datetime_start).total_seconds() for t in study.trials
                 if t.datetime_complete and t.datetime_start and t.state.name == "COMPLETE"]
        wall = sum(walls) / len(walls)
        zero_cost = float(done["zero_cost_seconds"].mean())
        out[name] = {"trials": len(walls), "trial_wall_s": round(wall, 4), "zero_cost_s": round(zero_cost, 4),
                     "share": round(zero_cost / wall, 4), "train_s": round(float(done["train_time"].mean()), 4)
                     if done["train_time"].notna().any() else None}
        print(f"{name}: a trial {wall * 1000:.0f} ms (start to tell), zero-cost signals {zero_cost * 1000:.0f} ms "
              f"= {100 * zero_cost / wall:.1f}% of it")
    return out


def main() -> None:
    parts = parts_asked(("default", "extended", "cost"))
    if parts == ["cost"]:
        save("signals_cost", signal_cost())
        return
    out: dict[str, object] = {"flops_max": FLOPS_MAX, "tasks": {}}
    tables: dict[str, pd.DataFrame] = {}
    margin = CalibrateConfig().margin
    for task in TASKS:
        entry: dict[str, object] = {}
        table, ceiling, seconds, trained = calibrate(task, CalibrateConfig().samples)
        chosen = recommend(table, margin, ceiling)
        entry["default"] = {"samples": CalibrateConfig().samples, "seconds": round(seconds, 1),
                            "runs_trained_now": trained, "fresh": trained == len(runs_of(task)), "ceiling": round(ceiling, 4),
                            "recommended": chosen.to_attrs(), "signals": rows(table)}
        print(f"{task}: calibrate defaults: {seconds:.0f} s ({trained} runs trained now); ceiling {ceiling:+.2f}; "
              f"recommended {chosen.signal}@{chosen.budget_epochs:g} (tau {chosen.tau:+.2f})")
        tables[task] = table
        if "extended" in parts and not quick():
            table, ceiling, seconds, trained = calibrate(task, EXTENDED)
            chosen = recommend(table, margin, ceiling)
            entry["extended"] = {"samples": EXTENDED, "seconds": round(seconds, 1), "runs_trained_now": trained,
                                 "ceiling": round(ceiling, 4), "recommended": chosen.to_attrs(),
                                 "signals": rows(table)}
            print(f"{task}: {EXTENDED} samples: ceiling {ceiling:+.2f}; recommended {chosen.signal}@"
                  f"{chosen.budget_epochs:g} (tau {chosen.tau:+.2f})")
            tables[task] = table
        for _, r in tables[task].sort_values("tau", ascending=False).iterrows():
            print(f"  {r['signal']:<13} {r['budget_epochs']:>4g}  tau {r['tau']:+.2f} [{r['tau_low']:+.2f}, "
                  f"{r['tau_high']:+.2f}]  partial {r['partial_tau_given_flops']:+.2f}  {r['seconds_per_candidate']:.2f} s")
        out["tasks"][task] = entry  # type: ignore[index]
    out["default"] = choose_default(tables, margin)
    pick = (out["default"]["signal"], out["default"]["budget_epochs"])  # type: ignore[index]
    samples = CalibrateConfig().samples if ("extended" not in parts or quick()) else EXTENDED
    for task in TASKS:
        diff = paired_difference(task, samples, pick, TODAY)
        out["tasks"][task]["default_minus_today"] = diff  # type: ignore[index]
        print(f"{task}: tau({pick[0]}@{pick[1]:g}) - tau(val_accuracy@1) = {diff['difference']:+.2f} "
              f"[{diff['low']:+.2f}, {diff['high']:+.2f}] (95% paired bootstrap)")
    print(f"default by the calibrate rule on both tasks: {out['default']['signal']}@"  # type: ignore[index]
          f"{out['default']['budget_epochs']:g}")  # type: ignore[index]
    save("signals", out)
    if "cost" in parts:
        save("signals_cost", signal_cost())


if __name__ == "__main__":
    main()
