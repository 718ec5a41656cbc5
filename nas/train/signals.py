"""The signals a brief candidate is scored by, and what each of them means. Torch-free: the study's
records and the CLI's choices read this table.

A search ranks candidates by a cheap signal in place of the accuracy they would reach after real
training. Which signal ranks best is a property of the user's data, not a constant (issue 31;
``nas calibrate`` measures it), so every brief candidate records all of them, at no extra
training:

* after the brief run: validation accuracy and loss (BN recalibrated), and the training-speed
  estimates of Ru et al. ("Speedy Performance Estimation for Neural Architecture Search",
  NeurIPS 2021): the mean training loss over the run (their TSE, divided by the steps so that
  budgets compare), over its last quarter (TSE-E), and exponentially weighted toward its end
  (TSE-EMA);
* at initialisation, before any training (zero-cost, as surveyed by White et al., "A Deeper Look
  at Zero-Cost Proxies", 2022): synflow (Tanaka et al. 2020), NASWOT (Mellor et al. 2021), the
  gradient norm and snip (Lee et al. 2019), on one training batch (:mod:`nas.train.zero_cost`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class SignalKind:
    name: str
    higher_is_better: bool
    at_init: bool  # computed before training: the same at every budget
    meaning: str


SIGNALS: dict[str, SignalKind] = {s.name: s for s in (
    SignalKind("val_accuracy", True, False, "validation accuracy after the brief run"),
    SignalKind("val_loss", False, False, "validation cross-entropy after the brief run"),
    SignalKind("tse", False, False, "mean training loss over every step of the run (TSE)"),
    SignalKind("tse_late", False, False, "mean training loss over the run's last quarter (TSE-E)"),
    SignalKind("tse_ema", False, False, "training loss weighted 0.9 per tenth of the run toward its end (TSE-EMA)"),
    SignalKind("synflow", True, True, "synaptic flow at initialisation (log10)"),
    SignalKind("naswot", True, True, "log-determinant of the activation-pattern kernel at initialisation"),
    SignalKind("grad_norm", True, True, "norm of the loss gradient at initialisation"),
    SignalKind("snip", True, True, "sum of |weight x gradient| at initialisation (log10)"),
)}
ACCURACY = "val_accuracy"  # what every study optimised before signals: its objective keeps the name "accuracy"
# NASWOT at initialisation: `nas calibrate`'s rule on both embedded harder tasks (35 mobile
# genotypes each, FLOPs <= 20M, against two 10-epoch seeds) picks it: Kendall tau +0.59 on
# cluttered and +0.58 on pairs, the best signal on both, where validation accuracy after 1 epoch
# (the earlier default) ranks at +0.37 and +0.47, and it costs ~0.1 s a candidate instead of a
# ~1 s epoch (BENCHMARKS.md §4b, python -m bench.signals). A search given a training budget
# (--epochs, --time-budget), successive halving and the reward mode rank on ACCURACY instead.
DEFAULT_SIGNAL = "naswot"


@dataclass
class Signals:
    """Every signal of one candidate (None where not measured: a zero-cost signal that failed,
    or the trained ones of a candidate scored at initialisation only)."""

    val_accuracy: float | None = None
    val_loss: float | None = None
    tse: float | None = None
    tse_late: float | None = None
    tse_ema: float | None = None
    synflow: float | None = None
    naswot: float | None = None
    grad_norm: float | None = None
    snip: float | None = None
    zero_cost_seconds: float | None = None  # what the four zero-cost signals cost together

    def value(self, name: str) -> float | None:
        return getattr(self, name)

    def oriented(self, name: str) -> float | None:
        """``name``'s value with higher meaning better (a loss negated)."""
        value = self.value(name)
        return None if value is None else (value if SIGNALS[name].higher_is_better else -value)

    def to_dict(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, stored: dict[str, Any] | None) -> "Signals":
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in (stored or {}).items() if k in known and v is not None})


def objective_name(signal: str) -> str:
    """The name a study gives its first objective for ``signal`` (what dashboards show): the
    validation accuracy keeps the name studies always gave it; a lower-is-better signal is told
    negated, and says so."""
    if signal == ACCURACY:
        return "accuracy"
    return signal if SIGNALS[signal].higher_is_better else f"-{signal}"


def loss_signals(step_losses: list[float]) -> dict[str, float]:
    """TSE, TSE over the last quarter, and TSE-EMA from the per-step training losses of a run."""
    n = len(step_losses)
    if n == 0:
        return {}
    late = step_losses[n - max(1, n // 4):]
    windows = [step_losses[i * n // 10:(i + 1) * n // 10] for i in range(10)]
    means = [sum(w) / len(w) for w in windows if w]
    weights = [0.9 ** (len(means) - 1 - i) for i in range(len(means))]
    return {"tse": sum(step_losses) / n, "tse_late": sum(late) / len(late),
            "tse_ema": sum(w * m for w, m in zip(weights, means)) / sum(weights)}


def parse_signal(text: str) -> tuple[str, float | None]:
    """``NAME`` or ``NAME@EPOCHS`` (``tse@2``): a signal and, where given, its budget."""
    from ..errors import UserError, allowed

    name, _, budget = text.partition("@")
    if name not in SIGNALS:
        raise UserError(f"--signal {text!r}: allowed: {allowed(tuple(SIGNALS) + ('auto',))}, optionally "
                        f"with a budget in epochs, e.g. tse@2")
    if not budget:
        return name, None
    try:
        epochs = float(budget)
    except ValueError:
        raise UserError(f"--signal {text!r}: the budget after @ must be a number of epochs") from None
    if SIGNALS[name].at_init and epochs != 0:
        raise UserError(f"--signal {text!r}: {name} is measured at initialisation, before any training; "
                        f"give --signal {name} (no budget)")
    if epochs < 0 or (epochs == 0 and not SIGNALS[name].at_init):
        raise UserError(f"--signal {text!r}: the budget must be positive (0 only for a signal at "
                        f"initialisation: {', '.join(s for s in SIGNALS if SIGNALS[s].at_init)})")
    return name, epochs


def describe_signal(signal: str, epochs: float | None) -> str:
    """What a score means, for headers and reports: "naswot at initialisation (nothing trained)",
    "val_accuracy after 1 epoch", "tse (negated) after 2 epochs"."""
    kind = SIGNALS[signal]
    name = signal if kind.higher_is_better else f"{signal} (negated)"
    if kind.at_init:
        return f"{name} at initialisation (nothing trained)"
    return name if epochs is None else f"{name} after {epochs:g} epoch{'s' if epochs != 1 else ''}"
