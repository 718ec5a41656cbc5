"""Per-trial overhead: time spent outside training, and the samplers' own time per trial.

Part 1 runs the demo search settings (mobile space, mnist5k, the default epochs) for a few trials with
timers around the trainer: overhead = (loop wall time - time inside train_candidate) / loop
wall time, where the loop runs from the first ask to the last tell (the search's one-time
start-up, loading data and opening the study, is reported separately), i.e. sampling, genotype decoding, FLOPs estimate, de-duplication lookups, liveness
and storage writes (SQLite, as the demo). The split inside train_candidate (model build, data
transfer, BN recalibration, evaluation versus the training loop) is reported beside it.

Part 2 times ``study.ask()`` for each sampler on the mobile space with an instant synthetic
objective (in-memory storage), around 100, 500 and 1,000 trials; a sampler is stopped when its
run exceeds a time cap, and the trials it reached are reported.

    python -m bench.overhead
"""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import numpy as np
import optuna

from bench.common import quick, save
from nas.model.cost import estimate_cost
from nas.study.records import StudyRecord, TrialRecord
from nas.study.samplers import make_sampler
from nas.study.search import SearchConfig, run_search
from nas.train.trainer import train_candidate
from nas.arch.space_file import load_space
from nas.train.trainer import TrainConfig


def trial_overhead(n_trials: int, sampler: str) -> dict[str, float]:
    inside: list[tuple[float, float]] = []

    def timed(*args, **kw):  # noqa: ANN002, ANN003
        start = time.perf_counter()
        result = train_candidate(*args, **kw)
        inside.append((time.perf_counter() - start, result.train_time))
        return result

    shutil.rmtree("results/bench-overhead", ignore_errors=True)
    cfg = SearchConfig(space="mobile", dataset="mnist5k", study="bench-overhead",
                       trials=n_trials, train=TrainConfig(), flops_max=20e6, progress=False,
                       write_files=False, sampler=sampler)
    start = time.perf_counter()
    study = run_search(cfg, out=io.StringIO(), trainer=timed)
    wall = time.perf_counter() - start
    trials = sorted(study.trials, key=lambda t: t.number)
    # The search loop proper: first ask to last tell (start-up and the final CSV excluded).
    loop = (trials[-1].datetime_complete - trials[0].datetime_start).total_seconds()
    in_trainer = sum(t for t, _ in inside)
    in_loop = sum(tl for _, tl in inside)
    return {"trials": n_trials, "wall_s": wall, "startup_and_finish_s": wall - loop, "loop_s": loop,
            "in_train_candidate_s": in_trainer, "in_training_loop_s": in_loop,
            "overhead_outside_trainer_fraction": (loop - in_trainer) / loop,
            "build_data_recal_eval_fraction": (in_trainer - in_loop) / loop}


def sampler_times(cap_s: float) -> dict[str, dict[str, float]]:
    space = load_space("mobile")
    rng = np.random.default_rng(0)
    out: dict[str, dict[str, float]] = {}
    for name in ("random", "tpe", "nsga2", "gp"):
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(name, 0, 2))
        times = []
        start = time.perf_counter()
        for i in range(1000):
            t0 = time.perf_counter()
            trial = study.ask()
            g = space.sample(trial, 1, 10)
            times.append(time.perf_counter() - t0)
            flops = estimate_cost(g).flops
            study.tell(trial, [0.9 + 0.02 * np.log10(flops / 1e6) + rng.normal(0, 0.005), flops])
            if time.perf_counter() - start > cap_s:
                break
        reached = len(times)
        row = {"trials_reached": reached}
        for mark in (100, 500, 1000):
            if reached >= mark:
                row[f"ask_ms_at_{mark}"] = 1000 * float(np.mean(times[mark - 10:mark]))
        out[name] = row
        print(f"sampler {name:7s}: " + ", ".join(f"{k} {v:.1f}" for k, v in row.items() if k != "trials_reached")
              + f" (reached {reached} trials)")
    return out


def storage_cost(n_trials: int) -> dict[str, float]:
    """Milliseconds per trial of the search loop with an instant trainer (TPE), per storage
    kind, against the sampler alone on in-memory storage: what the storage writes cost."""
    from nas.train.trainer import TrainResult

    def instant(*args, **kw):  # noqa: ANN002, ANN003
        return TrainResult(val_accuracy=0.9, train_loss=0.1, train_time=0.0, total_time=0.0,
                           images_per_sec=1.0, epochs=1.0, device="cpu")

    out: dict[str, float] = {}
    for kind, url in (("sqlite", None), ("journal", "journal:results/bench-storage-journal/journal.log")):
        name = f"bench-storage-{kind}"
        shutil.rmtree(f"results/{name}", ignore_errors=True)
        Path(f"results/{name}").mkdir(parents=True)
        cfg = SearchConfig(space="mobile", dataset="mnist5k", study=name, trials=n_trials,
                           flops_max=20e6, progress=False, write_files=False, sampler="tpe", storage=url)
        study = run_search(cfg, out=io.StringIO(), trainer=instant)
        trials = sorted(study.trials, key=lambda t: t.number)
        loop = (trials[-1].datetime_complete - trials[0].datetime_start).total_seconds()
        out[f"{kind}_ms_per_trial"] = 1000 * loop / len(trials)
        shutil.rmtree(f"results/{name}", ignore_errors=True)
    space = load_space("mobile")
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler("tpe", 0, 2))
    start = time.perf_counter()
    for _ in range(n_trials):
        trial = study.ask()
        space.sample(trial, 1, 10)
        study.tell(trial, [0.9, 6.0])
    out["sampler_only_in_memory_ms_per_trial"] = 1000 * (time.perf_counter() - start) / n_trials
    print("per-trial cost of the loop with an instant trainer (TPE): " + ", ".join(
        f"{k.replace('_ms_per_trial', '')} {v:.0f} ms" for k, v in out.items()), flush=True)
    return out


def demo_overhead() -> dict[str, float] | None:
    """The same fraction read back from the demo study (``make search``: 40 trials, GP), if one
    exists: a real search's trials carry their start/end times and time inside the trainer."""
    db = Path("results/demo/study.db")
    if not db.exists():
        return None
    study = optuna.load_study(study_name="demo", storage=f"sqlite:///{db}")
    trials = sorted((t for t in study.trials if t.datetime_start and t.datetime_complete), key=lambda t: t.number)
    if len(trials) < 2:
        return None
    loop = (trials[-1].datetime_complete - trials[0].datetime_start).total_seconds()
    records = [TrialRecord.from_trial(t) for t in trials]
    inside = sum(r.total_time or 0.0 for r in records if r.trained)
    return {"trials": len(trials), "sampler": StudyRecord.from_study(study).sampler, "loop_s": loop,
            "overhead_outside_trainer_fraction": (loop - inside) / loop}


def main() -> None:
    overhead = {}
    for sampler in ("gp", "tpe"):
        o = overhead[sampler] = trial_overhead(3 if quick() else 20, sampler)
        print(f"[{sampler}] per-trial overhead outside the trainer: {100 * o['overhead_outside_trainer_fraction']:.2f}% "
              f"of the search loop's wall time (goal < 2%); inside the trainer, model build + data + "
              f"BN recalibration + evaluation: {100 * o['build_data_recal_eval_fraction']:.1f}%; "
              f"one-time start-up and final report: {o['startup_and_finish_s']:.1f}s", flush=True)
    storage = storage_cost(10 if quick() else 40)
    demo = demo_overhead()
    if demo:
        print(f"[demo study, {demo['sampler']}, {demo['trials']} trials] outside the trainer: "
              f"{100 * demo['overhead_outside_trainer_fraction']:.1f}% of the search loop", flush=True)
    samplers = sampler_times(10 if quick() else 45)
    save("overhead", {"trial_overhead": overhead, "storage_cost": storage, "demo_study": demo, "sampler_ask_time": samplers,
                      "command": "python -m bench.overhead"})


if __name__ == "__main__":
    main()
