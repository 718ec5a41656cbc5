"""Accuracy-versus-FLOPs plots of a study (matplotlib, no display needed)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pandas as pd

from ..model.cost import FLOPS_CONVENTION
from ..errors import UserError
from .results import pareto_frame


def plot_front(frame: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Trials and front on log-FLOPs axes; over-budget and failed trials drawn apart.

    ``.png``/``.svg``/``.pdf`` are written by matplotlib; ``.html`` embeds the PNG in one file.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf", ".html"):
        raise UserError(f"--plot {path}: use a .png, .svg, .pdf or .html file name")
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    done = frame[(frame["state"] == "COMPLETE") & frame["accuracy"].notna()]
    feasible = done[done["feasible"]]
    over = frame[~frame["feasible"]] if "feasible" in frame else frame.iloc[:0]
    failed = frame[frame["state"] == "FAIL"]
    ax.scatter(feasible["flops"], feasible["accuracy"], s=18, color="tab:blue", alpha=0.6, label="trained")
    front = pareto_frame(frame)
    if not front.empty:
        ax.step(front["flops"], front["accuracy"], where="post", color="tab:red", lw=1.2)
        ax.scatter(front["flops"], front["accuracy"], s=36, color="tab:red", label="Pareto front", zorder=3)
    floor = (feasible["accuracy"].min() if not feasible.empty else 0.0)
    if not over.empty:
        ax.scatter(over["flops"], [floor] * len(over), marker="|", s=60, color="grey",
                   label="over budget (not trained)")
    if not failed.empty and failed["flops"].notna().any():
        ax.scatter(failed["flops"], [floor] * len(failed), marker="x", s=40, color="black", label="failed")
    ax.set_xscale("log")
    ax.set_xlabel(f"FLOPs — {FLOPS_CONVENTION}")
    ax.set_ylabel("validation accuracy")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".html":
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        img = base64.b64encode(buf.getvalue()).decode()
        path.write_text(f"<!doctype html><meta charset='utf-8'><title>{title}</title>"
                        f"<h3>{title}</h3><img src='data:image/png;base64,{img}'>"
                        f"{front.to_html(index=False, columns=['number', 'accuracy', 'flops', 'params', 'arch'])}")
    else:
        fig.savefig(path)
    plt.close(fig)
    return path
