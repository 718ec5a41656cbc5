"""GP's expected hypervolume improvement for two objectives computed exactly instead of
estimated from 128 quasi-random samples: a candidate of BENCHMARKS.md §12, **not adopted**.

Optuna's ``LogEHVI`` draws 128 Sobol samples of each candidate's two objectives from the GPs'
posteriors and averages the hypervolume each sample adds over the boxes that tile the region the
current front does not dominate (``optuna._gp.acqf.logehvi``). The two objectives are modelled by
two independent GPs, so within a box the expected product of the two clamped improvements is the
product of their expectations, and each has a closed form: for ``Y ~ N(mu, s^2)`` and a box
``[l, l + w]``,

    E[min(max(Y - l, 0), w)] = s * (h((mu - l) / s) - h((mu - l - w) / s)),  h(z) = z Phi(z) + phi(z),

``h`` being the expected improvement of a standard normal, whose logarithm Optuna computes stably
(``standard_logei``). That is the value the estimate converges to (tests/test_exact_ehvi.py), and
it costs a few operations per candidate and box instead of 128 samples of each: scoring 512
candidates took 1.2 against 14.8 ms at 40 trials (a scratch timing), GP's ask 33.7 against 45.7 ms
at 40 trials and 58.1 against 63.2 at 100 (``python -m bench.overhead ehvi``, §2).

It was not adopted because it searched worse: over 40 seeds on §12's five problems it needed
+1.9 +/- 0.7 more trials to reach random search's 100-trial front (x1.06; +4.3 and +4.7 on the
two mobile tables), more than the ~2% of a CPU demo trial its cheaper ask saves. Where the two
differ most: with 128 samples a candidate whose gain is rarer than about 1 in 128 gets the
estimate's floor (~e^-26) whatever its chances, where the exact value still ranks such candidates
(e^-8 against e^-80, say). Why that steered the search worse here was not measured.

Only ``LogEHVI`` (and the one inside ``LogCEHVI``, the constrained case) over two objectives is
replaced; a study with running trials (``qLogEHVI``) or another number of objectives keeps
Optuna's estimate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from optuna._gp import acqf as optuna_acqf

from nas.study.sampling.lean_ehvi import replace_ehvi

READS = ("_gpr_list", "_non_dominated_box_lower_bounds", "_non_dominated_box_intervals", "_stabilizing_noise")
"""What is read from Optuna's ``LogEHVI``: the GPs, the boxes and the posterior's jitter."""


class ExactLogEHVI(optuna_acqf.BaseAcquisitionFunc):
    """log EHVI of one candidate point over two independent GP posteriors, in closed form."""

    def __init__(self, estimate: Any) -> None:  # noqa: ANN401 - an optuna._gp.acqf.LogEHVI
        self.gprs = list(estimate._gpr_list)
        self.lower = estimate._non_dominated_box_lower_bounds  # (boxes, 2), maximization
        width = estimate._non_dominated_box_intervals
        self.bounded = torch.isfinite(width)  # the outermost boxes are open upwards
        self.upper = self.lower + torch.where(self.bounded, width, torch.zeros_like(width))
        self.noise = estimate._stabilizing_noise
        super().__init__(estimate.length_scales, estimate.search_space)

    def eval_acqf(self, x: torch.Tensor) -> torch.Tensor:
        posteriors = [gpr.posterior(x) for gpr in self.gprs]
        mean = torch.stack([m for m, _ in posteriors], dim=-1).unsqueeze(-2)  # (..., 1, 2)
        sd = torch.stack([torch.sqrt(v + self.noise) for _, v in posteriors], dim=-1).unsqueeze(-2)
        log_h_low = optuna_acqf.standard_logei((mean - self.lower) / sd)  # (..., boxes, 2)
        log_h_high = torch.where(self.bounded, optuna_acqf.standard_logei((mean - self.upper) / sd),
                                 -torch.inf)
        # log(h_low - h_high) = log h_low + log(1 - h_high / h_low); -inf where the box adds nothing
        log_gain = log_h_low + torch.log(-torch.expm1(log_h_high - log_h_low)) + sd.log()
        return torch.special.logsumexp(log_gain.sum(dim=-1), dim=-1)


def exact(estimate: Any) -> Any:  # noqa: ANN401
    """``estimate`` (an acquisition function Optuna's GP sampler built) with its two-objective
    EHVI computed exactly, or ``estimate`` itself where this module does not apply."""
    return replace_ehvi(estimate, ExactLogEHVI, _readable)


def _readable(estimate: Any) -> bool:  # noqa: ANN401
    return (all(hasattr(estimate, name) for name in READS) and len(estimate._gpr_list) == 2
            and hasattr(optuna_acqf, "standard_logei")
            and np.shape(estimate._non_dominated_box_lower_bounds)[-1:] == (2,))
