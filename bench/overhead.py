"""Per-trial overhead: time spent outside training, the storage's writes, and the samplers' cost.

Part 1 runs the demo search settings (mobile space, mnist5k, the default epochs, 40 trials, SQLite
and a journal file) with timers around the trainer: overhead = (loop wall time - time inside
train_candidate) / loop wall time, where the loop runs from the first ask to the last tell (the
one-time start-up, loading data and opening the study, is reported separately): sampling, genotype
decoding, FLOPs estimate, de-duplication lookups, liveness and storage writes. The split inside
train_candidate (model build, data transfer, BN recalibration, evaluation versus the training loop)
is beside it. Each run's trained candidates are then trained again back to back with nothing beside
them: the loop's time over that is the whole cost of everything but training, the trainer's slowdown
included (sampling in another mode proposes other candidates, so loop times alone do not compare
across rows).

Part 1b ("idle"): the same search with a trainer that sleeps a demo trial's time and holds no
CPU, as a GPU's trainer leaves the cores idle: what overlapped sampling hides where it competes
with nothing.

Part 2, storage: the same search with an instant trainer (TPE), per storage (SQLite, journal
file, and PostgreSQL where NAS_BENCH_POSTGRES_URL or NAS_TEST_POSTGRES_URL names a server), with
the write buffer (nas.study.store.write_buffer) holding a trial's writes and, side by side, writing
every field at once as Optuna does: milliseconds and storage writes (transactions) per trial.

Part 3, a long study: 1,000 trials with the instant trainer on a journal file; the loop's time
per trial over the last 50, as a fraction of a demo trial's time in the trainer (part 1).

Part 4 times ``study.ask()`` for each sampler on the mobile space with an instant synthetic
objective (in-memory storage), around 100, 500 and 1,000 trials; a sampler is stopped when its
run exceeds a time cap, and the trials it reached are reported.

Part 5 ("search"): the CPU default (serial, journal file) with GP's local search as
nas.study.sampling.acquisition runs it and as Optuna runs it (the same proposals), alternating, each in a
fresh process.

Part 6 ("tpe"): LeanTPESampler against Optuna's TPESampler (the same proposals): asks at 100, 500
and 1,000 trials, and part 3's 1,000-trial study with each.

Part 7 ("thread"): the GPU default's stand-in (a trainer that sleeps 0.25 s, overlapped) with the
saves and tells on the study thread (nas.study.run.prefetch) or in the loop's own thread, alternating,
on a journal file and on SQLite, each search in a fresh process.

Part 8 ("ehvi"): GP's 128-sample EHVI estimate as the default computes it (nas.study.sampling.lean_ehvi)
and as Optuna's code does (the same values), and the EHVI in closed form (bench.exact_ehvi, not
adopted: more trials, §12): asks at 40 and 100 trials, and the CPU default's search with each,
alternating, each in a fresh process.

Part 9 ("demo"): the search ``make search`` runs (the cluttered task, the space's reference
architectures first), the CPU default and TPE, serial, journal file, alternating, each in a fresh
process. Parts 1-8 use mnist5k, the demo's dataset when part 1 was written; the demo has searched
the cluttered task since.

    python -m bench.overhead
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from unittest.mock import patch

import numpy as np
import optuna

from bench.common import parts_asked, quick, save
from bench.sampler_choice import ExactEHVIGP, OptunasEHVIGP, OptunasLocalSearchGP, gp_variant
from bench.variants import OptunasWrites, SavesInLoopThread
from nas.model.cost import estimate_cost
from nas.study.store import storage as storage_module
from nas.study.store import write_buffer
from nas.study.store.records import StudyRecord, TrialRecord
from nas.study.sampling.samplers import DEFAULT_SAMPLER, LeanGPSampler, make_sampler
from nas.study.search import SearchConfig, run_search
from nas.arch.space_file import load_space
from nas.train.trainer import train_candidate


def demo_search(name: str, trainer, n_trials: int, sampler: str, overlap: bool = False,  # noqa: ANN001
                url: str | None = None, **settings: object) -> tuple[list[optuna.trial.FrozenTrial], float, float]:
    """The demo search settings (mobile, mnist5k, FLOPs budget 20M; ``settings`` replace any
    SearchConfig field) in a fresh study folder ``results/<name>``, with ``trainer``: its trials by
    number, the search loop's seconds (first ask to last tell, over all workers: start-up and the
    final report excluded) and the whole call's seconds."""
    shutil.rmtree(f"results/{name}", ignore_errors=True)
    Path(f"results/{name}").mkdir(parents=True)
    cfg = SearchConfig(**{"space": "mobile", "dataset": "mnist5k", "study": name, "trials": n_trials, "flops_max": 20e6,
                          "progress": False, "write_files": False, "sampler": sampler, "overlap_sampling": overlap,
                          "storage": url.format(name=name) if url else None,
                          "signal": "val_accuracy",  # the trained loop (1 epoch), as measured since §2 began
                          **settings})
    start = time.perf_counter()
    study = run_search(cfg, out=io.StringIO(), trainer=trainer)
    wall = time.perf_counter() - start
    trials = sorted(study.trials, key=lambda t: t.number)
    timed = [t for t in trials if t.datetime_start and t.datetime_complete]
    loop = max(t.datetime_complete for t in timed) - min(t.datetime_start for t in timed)
    return trials, loop.total_seconds(), wall


def trial_overhead(n_trials: int, sampler: str, overlap: bool = False, storage: str | None = None,
                   **settings: object) -> dict[str, float]:
    inside: list[tuple[float, float]] = []
    calls: list[tuple[tuple, dict]] = []

    def timed(*args, **kw):  # noqa: ANN002, ANN003
        calls.append((args, kw))
        start = time.perf_counter()
        result = train_candidate(*args, **kw)
        inside.append((time.perf_counter() - start, result.train_time))
        return result

    _, loop, wall = demo_search("bench-overhead", timed, n_trials, sampler, overlap, storage, **settings)
    in_trainer = sum(t for t, _ in inside)
    in_loop = sum(tl for _, tl in inside)
    # The same candidates trained back to back, nothing beside them: what the search would cost
    # if everything but training were free (sampling in different modes proposes different
    # candidates, so loop times alone do not compare).
    start = time.perf_counter()
    for args, kw in calls:
        train_candidate(*args, **kw)
    alone = time.perf_counter() - start
    return {"same_candidates_back_to_back_s": alone, "loop_over_back_to_back": loop / alone,
            "trainer_over_back_to_back": in_trainer / alone,
            "trials": n_trials, "overlap_sampling": overlap, "wall_s": wall, "loop_s_per_trial": loop / n_trials,
            "in_train_candidate_s_per_trial": in_trainer / n_trials, "startup_and_finish_s": wall - loop, "loop_s": loop,
            "in_train_candidate_s": in_trainer, "in_training_loop_s": in_loop,
            "overhead_outside_trainer_fraction": (loop - in_trainer) / loop,
            "build_data_recal_eval_fraction": (in_trainer - in_loop) / loop}


def all_samplers() -> dict[str, Callable[[], optuna.samplers.BaseSampler]]:
    samplers = {name: lambda name=name: make_sampler(name, 0, 2) for name in ("random", "tpe", "nsga2", "gp", "auto")}
    samplers["tpe, Optuna's TPESampler (each trial converted at every ask)"] = optunas_tpe
    samplers["gp, Optuna's acquisition search"] = lambda: optuna.samplers.GPSampler(seed=0, n_startup_trials=10)
    samplers["gp, Optuna's local search from LeanGPSampler's starts"] = lambda: OptunasLocalSearchGP(
        seed=0, n_startup_trials=10)
    samplers["gp, EHVI in closed form (not adopted)"] = lambda: ExactEHVIGP(seed=0, n_startup_trials=10)
    return samplers


def optunas_tpe(seed: int = 0) -> optuna.samplers.TPESampler:
    """Our TPE's settings on Optuna's own class (LeanTPESampler's baseline: the same proposals)."""
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10, multivariate=True)


def sampler_times(cap_s: float, samplers: dict[str, Callable[[], optuna.samplers.BaseSampler]] | None = None
                  ) -> dict[str, dict[str, float]]:
    space = load_space("mobile")
    rng = np.random.default_rng(0)
    out: dict[str, dict[str, float]] = {}
    for name, new_sampler in (samplers or all_samplers()).items():
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=new_sampler())
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
        for mark in (40, 100, 500, 1000):
            if reached >= mark:
                row[f"ask_ms_at_{mark}"] = 1000 * float(np.mean(times[mark - 10:mark]))
        out[name] = row
        print(f"sampler {name:32s}: " + ", ".join(f"{k} {v:.1f}" for k, v in row.items() if k != "trials_reached")
              + f" (reached {reached} trials)")
    return out


def _instant(*args, **kw):  # noqa: ANN002, ANN003
    """A trainer that returns at once: what is left of a trial is the loop's own cost."""
    from nas.train.trainer import TrainResult

    return TrainResult(val_accuracy=0.9, train_loss=0.1, train_time=0.0, total_time=0.0,
                       images_per_sec=1.0, epochs=1.0, device="cpu")


def _sleeping(genotype, *args, seconds: float, **kw):  # noqa: ANN001, ANN002, ANN003
    """A trainer that holds no CPU for a demo trial's time, as a GPU's leaves the cores idle; its
    accuracy is a fixed pseudo-random function of the genotype (a constant one would send the
    sampler after the smallest network and fill the study with duplicates)."""
    import hashlib

    from nas.train.trainer import TrainResult

    time.sleep(seconds)
    accuracy = 0.85 + 0.1 * int(hashlib.sha256(genotype.key().encode()).hexdigest()[:8], 16) / 16**8
    return TrainResult(val_accuracy=accuracy, train_loss=0.1, train_time=seconds, total_time=seconds,
                       images_per_sec=1.0, epochs=1.0, device="cpu")


IDLE_TRAINER_S = 0.70  # a demo trial's time in the trainer on this CPU (the loop part)


def in_fresh_process(function: str, *args: object) -> dict:
    """``bench.overhead.<function>(*args)`` run in a new Python process, its JSON result. GP's
    one-time start-up (lazy imports, ~0.5-0.9 s) is paid once per process: a configuration run
    after another in the same process skips it and looks ~1.5 points better (BENCHMARKS.md §2)."""
    import json
    import subprocess

    code = f"import json, sys; from bench.overhead import {function}; print(json.dumps({function}(*json.loads(sys.argv[1]))))"
    done = subprocess.run([sys.executable, "-c", code, json.dumps(args)], check=True, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    return json.loads(done.stdout.strip().splitlines()[-1])


def idle_search(n_trials: int, trainer_s: float, overlap: bool, kind: str) -> dict[str, float]:
    trials, loop, _ = demo_search("bench-idle", partial(_sleeping, seconds=trainer_s), n_trials,
                                  DEFAULT_SAMPLER, overlap, storage_urls()[kind])
    shutil.rmtree("results/bench-idle", ignore_errors=True)
    trained = sum(TrialRecord.from_trial(t).trained for t in trials)
    return {"loop_s_per_trial": loop / n_trials, "trained": trained,
            "overhead_outside_trainer_fraction": (loop - trained * trainer_s) / loop}


def idle_cpu_overhead(n_trials: int, trainer_s: float = IDLE_TRAINER_S) -> dict[str, dict[str, float]]:
    """The demo search with a trainer that sleeps ``trainer_s`` (no CPU held, as on a GPU machine;
    0.25 s is a graphed demo trial on an H100, §14): time outside the trainer with sampling
    between trainings and beside them, per storage; each in a fresh process."""
    out: dict[str, dict[str, float]] = {}
    for kind in ("sqlite", "journal"):
        for overlap in (False, True):
            label = f"{DEFAULT_SAMPLER}, {'overlapped' if overlap else 'serial'}, {kind}, idle-CPU trainer {trainer_s} s"
            o = out[label] = in_fresh_process("idle_search", n_trials, trainer_s, overlap, kind)
            print(f"[{label}] outside the trainer: {100 * o['overhead_outside_trainer_fraction']:.2f}% "
                  f"(goal < 2%); loop {o['loop_s_per_trial']:.3f} s per trial, {o['trained']} trained", flush=True)
    return out


def storage_urls() -> dict[str, str]:
    """Each storage by name, explicitly (the default is the journal file since run 3 of §2)."""
    urls = {"sqlite": "sqlite:///results/{name}/study.db", "journal": "journal:results/{name}/journal.log"}
    postgres = os.environ.get("NAS_BENCH_POSTGRES_URL") or os.environ.get("NAS_TEST_POSTGRES_URL")
    if postgres:
        urls["postgresql"] = postgres
    return urls


def instant_search(name: str, url: str | None, n_trials: int, sampler: str, hold: bool = True) -> dict[str, float]:
    """A search with the instant trainer: loop milliseconds per trial and storage writes per
    trial (each a transaction), the write buffer holding writes or not (Optuna's one per field)."""
    buffers: list[write_buffer.WriteBuffer] = []

    def recorded(inner, **kw):  # noqa: ANN001, ANN003, ANN202
        buffers.append((write_buffer.WriteBuffer if hold else OptunasWrites)(inner, **kw))
        return buffers[-1]

    with patch.object(storage_module, "WriteBuffer", recorded):
        trials, loop, _ = demo_search(name, _instant, n_trials, sampler, url=url)
    url = url.format(name=name) if url else None
    last = trials[-min(50, len(trials)):]
    tail = (last[-1].datetime_complete - last[0].datetime_start).total_seconds() / len(last)
    if url and url.startswith("postgresql"):
        optuna.delete_study(study_name=name, storage=url)
    shutil.rmtree(f"results/{name}", ignore_errors=True)
    return {"ms_per_trial": 1000 * loop / len(trials), "ms_per_trial_last_50": 1000 * tail,
            "writes_per_trial": sum(b.transactions for b in buffers) / len(trials)}


def storage_cost(n_trials: int) -> dict[str, dict[str, float]]:
    """Per storage, side by side: Optuna's one write per field against the write buffer (TPE,
    instant trainer), and the sampler alone on in-memory storage."""
    out: dict[str, dict[str, float]] = {}
    for kind, url in storage_urls().items():
        for hold in (False, True):
            label = f"{kind}, {'one write per save' if hold else 'one write per field'}"
            out[label] = instant_search(f"bench-storage-{kind}", url, n_trials, "tpe", hold)
            print(f"[{label}] {out[label]['ms_per_trial']:.1f} ms per trial, "
                  f"{out[label]['writes_per_trial']:.1f} writes per trial", flush=True)
    space = load_space("mobile")
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler("tpe", 0, 2))
    start = time.perf_counter()
    for _ in range(n_trials):
        trial = study.ask()
        space.sample(trial, 1, 10)
        study.tell(trial, [0.9, 6.0])
    out["sampler alone, in memory"] = {"ms_per_trial": 1000 * (time.perf_counter() - start) / n_trials}
    print(f"[sampler alone, in memory] {out['sampler alone, in memory']['ms_per_trial']:.1f} ms per trial", flush=True)
    return out


def long_study(n_trials: int, sampler: str, trial_seconds: float) -> dict[str, float]:
    """The loop's cost per trial at the end of a long study (instant trainer, journal file, as
    several workers would use), as a fraction of a demo trial's time in the trainer."""
    row = instant_search("bench-long", storage_urls()["journal"], n_trials, sampler)
    row["fraction_of_demo_trial"] = row["ms_per_trial_last_50"] / 1000 / (trial_seconds + row["ms_per_trial_last_50"] / 1000)
    print(f"[{sampler}, {n_trials} trials, journal] last 50 trials: {row['ms_per_trial_last_50']:.1f} ms per trial "
          f"outside the trainer = {100 * row['fraction_of_demo_trial']:.2f}% of a demo trial "
          f"({trial_seconds:.2f} s in the trainer)", flush=True)
    return row


def demo_overhead() -> dict[str, float] | None:
    """The same fraction read back from the demo study (``make search``: 40 trials, GP), if one
    exists: a real search's trials carry their start/end times and time inside the trainer."""
    from nas.errors import UserError
    from nas.results import load_study

    try:
        study = load_study("demo")  # results/demo/journal.log, or an older demo's study.db
    except UserError:
        return None
    trials = sorted((t for t in study.trials if t.datetime_start and t.datetime_complete), key=lambda t: t.number)
    if len(trials) < 2:
        return None
    loop = (trials[-1].datetime_complete - trials[0].datetime_start).total_seconds()
    records = [TrialRecord.from_trial(t) for t in trials]
    inside = sum(r.total_time or 0.0 for r in records if r.trained)
    return {"trials": len(trials), "sampler": StudyRecord.from_study(study).sampler, "loop_s": loop,
            "overhead_outside_trainer_fraction": (loop - inside) / loop}


def loop_overhead(n: int) -> dict[str, dict[str, float]]:
    overhead: dict[str, dict[str, float]] = {}
    runs = [(sampler, overlap, "sqlite") for sampler in dict.fromkeys((DEFAULT_SAMPLER, "tpe"))
            for overlap in (False, True)]  # side by side: sampling between trainings, or beside them
    runs += [(DEFAULT_SAMPLER, overlap, "journal") for overlap in (False, True)]
    for sampler, overlap, kind in runs:
        label = f"{sampler}, {'overlapped' if overlap else 'serial'}, {kind}"
        o = overhead[label] = in_fresh_process("trial_overhead", n, sampler, overlap, storage_urls()[kind])
        print(f"[{label}] outside the trainer: {100 * o['overhead_outside_trainer_fraction']:.2f}% of the "
              f"search loop's wall time (goal < 2%); loop {o['loop_s_per_trial']:.3f} s per trial, in the "
              f"trainer {o['in_train_candidate_s_per_trial']:.3f} s (of which model build + data + BN "
              f"recalibration + evaluation {100 * o['build_data_recal_eval_fraction']:.1f}% of the loop); "
              f"the same candidates trained back to back: loop x{o['loop_over_back_to_back']:.3f}, in the trainer "
              f"x{o['trainer_over_back_to_back']:.3f}; "
              f"one-time start-up and final report: {o['startup_and_finish_s']:.1f}s", flush=True)
    return overhead


def warm_search(n: int, warm: bool, trainer_s: float) -> dict[str, float]:
    """One search of :func:`warm_up_effect`, GP's warm-up forced on or off."""
    from nas.study.run import loop
    from nas.study.sampling.samplers import warm_up

    with patch.object(loop, "start_gp_early", lambda settings, sampler: warm_up(sampler) if warm else None):
        if trainer_s == 0:  # the real CPU trainer, serial (the CPU default)
            return trial_overhead(n, DEFAULT_SAMPLER, False, storage_urls()["journal"])
        return idle_search(n, trainer_s, True, "journal")  # a trainer that sleeps, overlapped (the GPU default)



def alternating(function: str, variants: dict[str, tuple], repeats: int) -> dict[str, list[dict[str, float]]]:
    """``bench.overhead.<function>(*args)`` for each variant's ``args``, the variants alternating,
    ``repeats`` rounds, each search in a fresh process (GP's start-up is paid once per process):
    a side-by-side comparison of settings that propose the same or comparable candidates."""
    out: dict[str, list[dict[str, float]]] = {}
    for _ in range(repeats):
        for label, args in variants.items():
            o = in_fresh_process(function, *args)
            out.setdefault(label, []).append(o)
            whole = (f", x{o['loop_over_back_to_back']:.3f} the same candidates back to back"
                     if "loop_over_back_to_back" in o else "")
            print(f"[{label}] outside the trainer: {100 * o['overhead_outside_trainer_fraction']:.2f}%; loop "
                  f"{o['loop_s_per_trial']:.3f} s per trial{whole}", flush=True)
    return out


def warm_up_effect(n: int, repeats: int = 2) -> dict[str, list[dict[str, float]]]:
    """GP's start-up paid in a warm-up thread beside the first trials (nas.study.sampling.samplers.warm_up)
    or at the first GP ask in the loop, alternating, ``repeats`` runs each: with the CPU trainer,
    serial (the CPU default; there the loop's time over the same candidates trained back to back
    is the whole cost), and with a trainer that sleeps 0.25 s, overlapped (the GPU default)."""
    out: dict[str, list[dict[str, float]]] = {}
    for trainer_s, setting in ((0.0, "CPU trainer, serial"), (0.25, "0.25 s idle trainer, overlapped")):
        out |= alternating("warm_search", {f"{setting}, {warm} warm-up": (n, warm == "with", trainer_s)
                                           for warm in ("with", "without")}, repeats)
    return out


def acquisition_search_run(n: int, acquisition_search: str) -> dict[str, float]:
    """One search of :func:`acquisition_search_effect`: the CPU default (serial, journal file)
    with GP's acquisition searched by ``acquisition_search`` ("coordinate": ours, "optuna")."""
    from nas.study.sampling import samplers

    kind = LeanGPSampler if acquisition_search == "coordinate" else OptunasLocalSearchGP
    with patch.object(samplers, "LeanGPSampler", kind):
        return trial_overhead(n, DEFAULT_SAMPLER, False, storage_urls()["journal"])


def acquisition_search_effect(n: int, repeats: int = 2) -> dict[str, list[dict[str, float]]]:
    """The CPU default with GP's local search as nas.study.sampling.acquisition runs it and as Optuna
    does (the same proposals), alternating, ``repeats`` runs each, each in a fresh process."""
    return alternating("acquisition_search_run", {f"{DEFAULT_SAMPLER}, serial, journal, {kind} local search": (n, kind)
                                                  for kind in ("coordinate", "optuna")}, repeats)


EHVI_VARIANTS = {"estimated (default)": LeanGPSampler, "estimated by Optuna's code (the same values)": OptunasEHVIGP,
                 "in closed form (not adopted)": ExactEHVIGP}


def ehvi_run(n: int, variant: str) -> dict[str, float]:
    """One search of :func:`ehvi_effect`: the CPU default with GP's EHVI computed as ``variant``."""
    from nas.study.sampling import samplers

    with patch.object(samplers, "LeanGPSampler", EHVI_VARIANTS[variant]):
        return trial_overhead(n, DEFAULT_SAMPLER, False, storage_urls()["journal"])


def ehvi_effect(n: int, cap_s: float, repeats: int = 2) -> dict[str, object]:
    """GP's EHVI estimated as the default does (nas.study.sampling.lean_ehvi), by Optuna's own code (the
    same values, bit for bit) and in closed form (bench.exact_ehvi, not adopted: other values):
    the ask at 40 and 100 trials (one process), and the CPU default's search with each,
    alternating, ``repeats`` runs each, each in a fresh process (the closed form proposes other
    candidates: read its loop against its own candidates trained back to back)."""
    out: dict[str, object] = {"ask": sampler_times(cap_s, {
        f"gp, EHVI {variant}": partial(gp_variant(cls), 0) for variant, cls in EHVI_VARIANTS.items()})}
    variants = {f"{DEFAULT_SAMPLER}, serial, journal, EHVI {variant}": (n, variant) for variant in EHVI_VARIANTS}
    return out | alternating("ehvi_run", variants, repeats)


def long_run(n: int, lean_tpe: bool, trial_seconds: float) -> dict[str, float]:
    """One long study of :func:`tpe_effect`, TPE converting each trial once or at every ask."""
    from nas.study.sampling.lean_tpe import LeanTPESampler

    if lean_tpe:
        return long_study(n, DEFAULT_SAMPLER, trial_seconds)
    with patch.object(LeanTPESampler, "_get_internal_repr", optuna.samplers.TPESampler._get_internal_repr):
        return long_study(n, DEFAULT_SAMPLER, trial_seconds)


def tpe_effect(n: int, cap_s: float, trial_seconds: float) -> dict[str, object]:
    """LeanTPESampler against Optuna's TPESampler (the same proposals): the ask at 100, 500 and
    1,000 trials (one process), and the default's 1,000-trial study (each in a fresh process)."""
    out: dict[str, object] = {"ask": sampler_times(cap_s, {"tpe (LeanTPESampler)": lambda: make_sampler("tpe", 0, 2),
                                                           "tpe, Optuna's TPESampler": optunas_tpe})}
    for lean in (True, False):
        label = f"{DEFAULT_SAMPLER}, {n} trials, journal, {'LeanTPESampler' if lean else 'Optuna TPESampler'}"
        out[label] = o = in_fresh_process("long_run", n, lean, trial_seconds)
        print(f"[{label}] last 50 trials: {o['ms_per_trial_last_50']:.1f} ms per trial", flush=True)
    return out


def study_thread_run(n: int, on_thread: bool, kind: str, trainer_s: float) -> dict[str, float]:
    """One search of :func:`study_thread_effect`: overlapped, saves and tells on the study thread or not."""
    from nas.study.run import loop

    with patch.object(loop, "OverlappedLoop", loop.OverlappedLoop if on_thread else SavesInLoopThread):
        return idle_search(n, trainer_s, True, kind)


def study_thread_effect(n: int, trainer_s: float, repeats: int = 2) -> dict[str, list[dict[str, float]]]:
    """The GPU default's stand-in (a trainer that sleeps ``trainer_s``, overlapped) with the saves
    and tells on the study thread and in the loop's own thread, alternating, per storage; each
    search in a fresh process."""
    out: dict[str, list[dict[str, float]]] = {}
    for kind in ("journal", "sqlite"):
        out |= alternating("study_thread_run", {
            f"{DEFAULT_SAMPLER}, overlapped, {kind}, {trainer_s} s idle trainer, saves and tells "
            f"{'on the study thread' if on_thread else 'in the loop thread'}": (n, on_thread, kind, trainer_s)
            for on_thread in (True, False)}, repeats)
    return out


MAKE_SEARCH = {"dataset": "cluttered", "seed_archs": True}  # `make search`'s settings beyond the parts' own


def make_search_run(n: int, sampler: str) -> dict[str, float]:
    """One search of :func:`make_search_effect`: `make search`'s settings (cluttered task,
    reference architectures first, 40 trials, FLOPs budget 20M), serial, journal file."""
    return trial_overhead(n, sampler, False, storage_urls()["journal"], **MAKE_SEARCH)


def make_search_effect(n: int, repeats: int = 2) -> dict[str, list[dict[str, float]]]:
    """The search `make search` runs (the other parts keep mnist5k, their figures' dataset in
    BENCHMARKS.md §2), with the default sampler and with TPE, alternating, each in a fresh process."""
    return alternating("make_search_run", {f"{sampler}, serial, journal, make search's settings": (n, sampler)
                                           for sampler in (DEFAULT_SAMPLER, "tpe")}, repeats)


def view_run(n: int, sampler: str, view: bool) -> dict[str, float]:
    """Ask + sample times of one replayed mobile search: parameters stored as values seen through
    the ordinal view (issue 33), or stored as indexes with the bare sampler (v3)."""
    import statistics

    from nas.arch.space_file import load_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space("mobile")
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=make_sampler(sampler, 0, 2, view))
    asks = []
    for _ in range(n):
        start = time.perf_counter()
        trial = study.ask()
        g = space.sample(trial, 1, 10, "values" if view else "index")
        asks.append(time.perf_counter() - start)
        study.tell(trial, [float(g.stages[3].channels + g.stages[2].expansion), float(estimate_cost(g).flops)])
    late = asks[n - n // 5:]
    return {"median_ask_ms_last_fifth": 1000 * statistics.median(late), "mean_ask_ms": 1000 * statistics.mean(asks)}


def view_effect(n: int, repeats: int = 3) -> dict[str, list[dict[str, float]]]:
    """What the ordinal view costs an ask: values + view against indexes, bare, alternating in
    fresh processes, for TPE and GP."""
    out: dict[str, list[dict[str, float]]] = {}
    for _ in range(repeats):
        for sampler in ("tpe", "gp"):
            for view in (False, True):
                label = f"{sampler}, {'values + ordinal view' if view else 'indexes, bare (v3)'}"
                o = in_fresh_process("view_run", n, sampler, view)
                out.setdefault(label, []).append(o)
                print(f"[{label}] median ask, last fifth of {n} trials: {o['median_ask_ms_last_fifth']:.1f} ms; "
                      f"mean ask {o['mean_ask_ms']:.1f} ms", flush=True)
    return out


PARTS = ("loop", "idle", "storage", "long", "ask", "warmup", "search", "tpe", "thread", "ehvi", "demo", "view")


def main() -> None:
    """``python -m bench.overhead [PART ...] [trainer_s=S]``: all parts, or those named (loop,
    idle, storage, long, ask, warmup, search, tpe, thread, ehvi, demo, view), saved under a name of their own;
    ``trainer_s`` sets the idle part's trainer time (default 0.70 s, the CPU's demo trial) and the
    thread part's (default 0.25 s, a graphed demo trial on an H100)."""
    parts = parts_asked(PARTS)
    given = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
    trainer_s = float(given.get("trainer_s", IDLE_TRAINER_S))
    out: dict[str, object] = {}
    trial_seconds = 0.70  # a demo trial in the trainer (§2), where the loop part is not run
    if "loop" in parts:
        out["trial_overhead"] = loop = loop_overhead(3 if quick() else 40)
        trial_seconds = loop[f"{DEFAULT_SAMPLER}, serial, sqlite"]["in_train_candidate_s_per_trial"]
    if "idle" in parts:
        out["idle_cpu_trainer"] = idle_cpu_overhead(3 if quick() else 40, trainer_s)
    if "storage" in parts:
        out["storage_cost"] = storage_cost(10 if quick() else 40)
    if "long" in parts:
        out["long_study"] = long_study(60 if quick() else 1000, DEFAULT_SAMPLER, trial_seconds)
        demo = out["demo_study"] = demo_overhead()
        if demo:
            print(f"[demo study, {demo['sampler']}, {demo['trials']} trials] outside the trainer: "
                  f"{100 * demo['overhead_outside_trainer_fraction']:.1f}% of the search loop", flush=True)
    if "warmup" in parts:
        out["warm_up"] = warm_up_effect(3 if quick() else 40)
    if "search" in parts:
        out["acquisition_search"] = acquisition_search_effect(3 if quick() else 40)
    if "ask" in parts:
        out["sampler_ask_time"] = sampler_times(10 if quick() else 90)
    if "tpe" in parts:
        out["lean_tpe"] = tpe_effect(60 if quick() else 1000, 10 if quick() else 90, trial_seconds)
    if "thread" in parts:
        out["study_thread"] = study_thread_effect(3 if quick() else 40, 0.25 if "trainer_s" not in given else trainer_s)
    if "ehvi" in parts:
        out["exact_ehvi"] = ehvi_effect(3 if quick() else 40, 10 if quick() else 60)
    if "demo" in parts:
        out["make_search"] = make_search_effect(3 if quick() else 40)
    if "view" in parts:
        out["ordinal_view"] = view_effect(20 if quick() else 120)
    name = "overhead" if set(parts) == set(PARTS) else "overhead_" + "_".join(parts)
    if trainer_s != IDLE_TRAINER_S and "idle" in parts:
        name += f"_{trainer_s}s"
    save(name, {**out, "command": "python -m bench.overhead " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
