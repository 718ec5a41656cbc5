"""Accuracy-versus-FLOPs plots of a study (matplotlib, no display needed).

Every plot says what its table says: the knee the commands print is ringed, front points carry
their trial numbers, FLOPs ticks read as the tables do (300k, 1M). ``.html`` is one
self-contained page: the plot as inline SVG whose points show trial, architecture, score and
FLOPs when hovered (native SVG tooltips: no JavaScript, no extra dependency), then the table."""

from __future__ import annotations

import html
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


def _save(fig, path: Path, title: str, table: pd.DataFrame, columns: list[str],  # noqa: ANN001
          tips: dict[str, str] | None = None) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".html":
        import matplotlib

        buf = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none"}):  # text stays text: searchable, small
            fig.savefig(buf, format="svg")
        svg = _with_tooltips(buf.getvalue(), tips or {})
        path.write_text(f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
                        f"<h3>{html.escape(title)}</h3>{svg}"
                        f"<p>Hover a point for its trial, architecture, score and FLOPs.</p>"
                        f"{table.to_html(index=False, columns=[c for c in columns if c in table])}")
    else:
        fig.savefig(path)
    plt.close(fig)
    return path


def _with_tooltips(svg: str, tips: dict[str, str]) -> str:
    """Inline SVG (the XML header dropped) whose elements with the ids in ``tips`` show the text
    when hovered: an SVG <title> child, what every browser shows as a tooltip."""
    svg = svg[svg.index("<svg"):]
    for gid, text in tips.items():
        anchor = f'<g id="{gid}">'
        svg = svg.replace(anchor, f"{anchor}<title>{html.escape(text)}</title>", 1)
    return svg


def _flops_axis(ax) -> None:  # noqa: ANN001
    """Log axis ticks at 1, 2, 5 x 10^k, written as the tables write FLOPs (300k, 1.2M)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _short(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _short(v: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:g}{unit}"
    return f"{v:g}"


def _points(ax, frame: pd.DataFrame, x: str, y: str, tips: dict[str, str], prefix: str, **style) -> None:  # noqa: ANN001
    """One marker per row, each with an id whose tooltip names the trial (``.html``)."""
    label = style.pop("label", None)
    for i, (_, r) in enumerate(frame.iterrows()):
        (marker,) = ax.plot([r[x]], [r[y]], linestyle="none", **style, label=label if i == 0 else None)
        gid = f"{prefix}{i}"
        marker.set_gid(gid)
        number = f"trial {int(r['number'])}: " if "number" in r and pd.notna(r.get("number")) else (
            f"{r['label']}: " if "label" in r else "")
        arch = f"\n{r['arch']}" if "arch" in r and pd.notna(r.get("arch")) else ""
        tips[gid] = f"{number}{y} {r[y]:.4g}, {_short(float(r[x]))} {'FLOPs' if x == 'flops' else x}{arch}"


def _label_trials(ax, front: pd.DataFrame, x: str, y: str) -> None:  # noqa: ANN001
    for _, r in front.iterrows():
        ax.annotate(str(int(r["number"])), (r[x], r[y]), fontsize=6, xytext=(3, 3), textcoords="offset points")


def plot_final(search: pd.DataFrame, final: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Side by side: the search's brief-validation front, and the final test front (mean +/- sd
    over seeds) of the retrained architectures; the search's knee is marked on both."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    _check_suffix(path)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=120, sharex=True)
    tips: dict[str, str] = {}
    brief = pareto_frame(search)
    done = search[(search["state"] == "COMPLETE") & search["score"].notna() & search["feasible"]]
    _points(left, done, "flops", "score", tips, "s", marker="o", ms=3.5, color="tab:blue", alpha=0.5,
            label="evaluated")
    knee_key = None
    if not brief.empty:
        left.step(brief["flops"], brief["score"], where="post", color="tab:red", lw=1.2)
        left.scatter(brief["flops"], brief["score"], s=30, color="tab:red", label="search front", zorder=3)
        _label_trials(left, brief, "flops", "score")
        k = knee(brief)
        knee_key = k["key"]
        left.scatter([k["flops"]], [k["score"]], s=160, facecolors="none", edgecolors="black", lw=1.5,
                     label=f"knee (trial {int(k['number'])})", zorder=4)
    left.set_ylabel("search score (validation accuracy, or the --signal searched)")
    left.set_title("search: the score it ranked by")
    final = final.sort_values("epochs").groupby("key", sort=False).tail(1)  # each network at its largest budget
    front = final_front(final)
    right.errorbar(final["flops"], final["test_acc_mean"], yerr=final["test_acc_sd"], fmt="none",
                   ecolor="tab:blue", alpha=0.6)
    _points(right, final, "flops", "test_acc_mean", tips, "f", marker="o", ms=4, color="tab:blue", alpha=0.6,
            label="retrained (mean +/- sd over seeds)")
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
        _flops_axis(ax)
        ax.set_xlabel(f"FLOPs — {FLOPS_CONVENTION}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=7)
    fig.suptitle(title)
    return _save(fig, path, title, front, ["label", "epochs", "test_acc_mean", "test_acc_sd", "seeds", "flops",
                                           "params"], tips)


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
    tips: dict[str, str] = {}
    x = cost_column(by)
    frame = frame[frame[x].notna()] if x in frame else frame.iloc[:0]
    done = frame[(frame["state"] == "COMPLETE") & frame["score"].notna()]
    feasible = done[done["feasible"]]
    over = frame[~frame["feasible"]] if "feasible" in frame else frame.iloc[:0]
    failed = frame[frame["state"] == "FAIL"]
    _points(ax, feasible, x, "score", tips, "p", marker="o", ms=4, color="tab:blue", alpha=0.6, label="evaluated")
    front = pareto_frame(frame, by)
    if not front.empty:
        ax.step(front[x], front["score"], where="post", color="tab:red", lw=1.2)
        ax.scatter(front[x], front["score"], s=36, color="tab:red", label="Pareto front", zorder=3)
        _label_trials(ax, front, x, "score")
        k = knee(front, by)
        ax.scatter([k[x]], [k["score"]], s=160, facecolors="none", edgecolors="black", lw=1.5,
                   label=f"knee (trial {int(k['number'])})", zorder=4)
    floor = (feasible["score"].min() if not feasible.empty else 0.0)
    if not over.empty:
        ax.scatter(over[x], [floor] * len(over), marker="|", s=60, color="grey",
                   label="over budget (not trained)")
    if not failed.empty and failed[x].notna().any():
        ax.scatter(failed[x], [floor] * len(failed), marker="x", s=40, color="black", label="failed")
    if by == "flops":
        _flops_axis(ax)
    else:
        ax.set_xscale("log")
    ax.set_xlabel(f"FLOPs — {FLOPS_CONVENTION}" if by == "flops"
                  else f"latency (ms) — {latency_convention or 'measured'}")
    ax.set_ylabel("score (validation accuracy, or the --signal searched)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path, title, front, ["number", "score", "accuracy", "flops", "params"]
                 + (["latency_ms"] if by == "latency" else []) + ["arch"], tips)
