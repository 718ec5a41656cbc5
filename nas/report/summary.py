"""The end of a search: print the Pareto front (or the best rewards) and write the study's CSVs."""

from __future__ import annotations

from typing import TextIO

import optuna

from ..study.store.records import StudyRecord
from ..study.store.storage import study_dir
from ..train.signals import describe_signal
from .results import format_front, pareto_frame, study_cost, trials_frame


def report_search(study: optuna.Study, out: TextIO | None = None, write_files: bool = True) -> None:
    """Print the front and write ``trials.csv`` / ``pareto.csv`` under ``results/<study>/``."""
    frame = trials_frame(study)
    record = StudyRecord.from_study(study)
    by = study_cost(record.objectives)
    front = pareto_frame(frame, by)
    if record.objectives == ["reward"]:
        best = frame[frame["state"] == "COMPLETE"].sort_values("objective", ascending=False).head(5)
        on = record.reward_on or "flops"
        title = (f"best by MnasNet reward ACC x ({'latency' if on == 'latency' else 'FLOPs'}/T)^w, "
                 f"T = {record.reward_target()}, w = {record.reward_exponent:g}")
        print(format_front(best, on, record.latency, title=title), file=out)
    else:
        score = describe_signal(record.signal, None if record.fidelity else record.train_config.epochs)
        print(format_front(front, by, record.latency, score=score), file=out)
        if not front.empty:
            print(f"the score ({score}) only ranks the candidates; "
                  f"`retrain --study {study.study_name} --arch knee` (or front) trains them for real "
                  f"and scores them on the held-out test split", file=out)
    if write_files:
        folder = study_dir(study.study_name)
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / "trials.csv", index=False)
        front.to_csv(folder / "pareto.csv", index=False)
        print(f"wrote {folder / 'trials.csv'} and {folder / 'pareto.csv'}", file=out)
