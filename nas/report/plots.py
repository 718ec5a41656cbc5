"""Accuracy-versus-FLOPs plots of a study (matplotlib, no display needed)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pandas as pd

from ..units import FLOPS_CONVENTION
from ..errors import UserError
from .final import final_front
from .results import cost_column, knee, pareto_frame


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in (".png", ".svg", ".pdf", ".html"):
        raise UserError(f"--plot {path}: use a .png, .svg, .pdf or .html file name")


def _save(fig, path: Path, title: str, table: pd.DataFrame, columns: list[str]) -> Path:  # noqa: ANN001
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".html":
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        img = base64.b64encode(buf.getvalue()).decode()
        path.write_text(f"<!doctype html><meta charset='utf-8'><title>{title}</title>"
                        f"<h3>{title}</h3><img src='data:image/png;base64,{img}'>"
                        f"{table.to_html(index=False, columns=columns)}")
    else:
        fig.savefig(path)
    plt.close(fig)
    return path


def plot_final(search: pd.DataFrame, final: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Side by side: the search's brief-validation front, and the final test front (mean +/- sd
    over seeds) of the retrained architectures; the search's knee is marked on both."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    _check_suffix(path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=120, sharex=True)
    brief = pareto_frame(search)
    done = search[(search["state"] == "COMPLETE") & search["score"].notna() & search["feasible"]]
    left.scatter(done["flops"], done["score"], s=14, color="tab:blue", alpha=0.5, label="trained (brief)")
    knee_key = None
    if not brief.empty:
        left.step(brief["flops"], brief["score"], where="post", color="tab:red", lw=1.2)
        left.scatter(brief["flops"], brief["score"], s=30, color="tab:red", label="brief front", zorder=3)
        k = knee(brief)
        knee_key = k["key"]
        left.scatter([k["flops"]], [k["score"]], s=160, facecolors="none", edgecolors="black", lw=1.5,
                     label=f"knee (trial {int(k['number'])})", zorder=4)
    left.set_ylabel("score of brief training (validation accuracy, or the --signal searched)")
    left.set_title("search: brief training, validation split")
    front = final_front(final)
    right.errorbar(final["flops"], final["test_acc_mean"], yerr=final["test_acc_sd"], fmt="o", ms=4,
                   color="tab:blue", alpha=0.6, label="retrained (mean +/- sd over seeds)")
    if not front.empty:
        right.step(front["flops"], front["test_acc_mean"], where="post", color="tab:red", lw=1.2)
        right.scatter(front["flops"], front["test_acc_mean"], s=30, color="tab:red", label="final front", zorder=3)
    chosen = final[final["key"] == knee_key]
    if not chosen.empty:
        right.scatter(chosen["flops"], chosen["test_acc_mean"], s=160, facecolors="none", edgecolors="black",
                      lw=1.5, label="the search's knee", zorder=4)
    right.set_ylabel("test accuracy (final training)")
    right.set_title("retrain: train+val, held-out test split")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel(f"FLOPs — {FLOPS_CONVENTION}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=7)
    fig.suptitle(title)
    return _save(fig, path, title, front, ["label", "test_acc_mean", "test_acc_sd", "seeds", "flops", "params"])


def plot_front(frame: pd.DataFrame, path: str | Path, title: str = "", by: str = "flops",
               latency_convention: str | None = None) -> Path:
    """Trials and front on log-FLOPs (or log-latency) axes; over-budget and failed trials apart.

    ``.png``/``.svg``/``.pdf`` are written by matplotlib; ``.html`` embeds the PNG in one file.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    _check_suffix(path)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    x = cost_column(by)
    frame = frame[frame[x].notna()] if x in frame else frame.iloc[:0]
    done = frame[(frame["state"] == "COMPLETE") & frame["score"].notna()]
    feasible = done[done["feasible"]]
    over = frame[~frame["feasible"]] if "feasible" in frame else frame.iloc[:0]
    failed = frame[frame["state"] == "FAIL"]
    ax.scatter(feasible[x], feasible["score"], s=18, color="tab:blue", alpha=0.6, label="trained")
    front = pareto_frame(frame, by)
    if not front.empty:
        ax.step(front[x], front["score"], where="post", color="tab:red", lw=1.2)
        ax.scatter(front[x], front["score"], s=36, color="tab:red", label="Pareto front", zorder=3)
    floor = (feasible["score"].min() if not feasible.empty else 0.0)
    if not over.empty:
        ax.scatter(over[x], [floor] * len(over), marker="|", s=60, color="grey",
                   label="over budget (not trained)")
    if not failed.empty and failed[x].notna().any():
        ax.scatter(failed[x], [floor] * len(failed), marker="x", s=40, color="black", label="failed")
    ax.set_xscale("log")
    ax.set_xlabel(f"FLOPs — {FLOPS_CONVENTION}" if by == "flops"
                  else f"latency (ms) — {latency_convention or 'measured'}")
    ax.set_ylabel("score (validation accuracy, or the --signal searched)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path, title, front, ["number", "score", "accuracy", "flops", "params"]
                 + (["latency_ms"] if by == "latency" else []) + ["arch"])
