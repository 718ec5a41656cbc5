"""The fence around Optuna's GP sampler internals: :class:`LeanGPSampler`, Optuna's GP with a
smaller acquisition search, our discrete local search (:mod:`nas.study.sampling.acquisition`) and
a cheaper EHVI (:mod:`nas.study.sampling.lean_ehvi`), and without a torch function mode.

Optuna offers no public setting for any of it, so the attributes and methods it reads or overrides
are private to Optuna's GPSampler; each is checked before use, and where a release has moved one,
Optuna's own settings and search stay in force (only the speed is lost; tests/test_search.py and
tests/test_acquisition.py fail so that we notice). Tested with Optuna 5.0.
"""

from __future__ import annotations

import optuna


class LeanGPSampler(optuna.samplers.GPSampler):
    """Optuna's GP sampler with a smaller search over its acquisition function: 512 random points
    scored (Optuna: 2,048) and 2 local searches, from the best of them and from a point of the
    current front (Optuna: 10). The acquisition search is most of GP's ask on our mixed
    categorical/ordinal spaces (88% at 100 trials, BENCHMARKS.md §2): this makes the ask x4.3
    cheaper at 100 trials (85 against 368 ms, §2) and 60-trial replays x3.7-4.3 faster; in the
    replays of §12 it reached random search's 100-trial front in 28, 34, 30, 41 and 37 trials
    against Optuna's settings' 44, 56, 25, 44 and 48 (5 seeds each; differences under ~10 trials are
    noise). Optuna offers no public setting for this, so the two attributes it reads are set here;
    if a release renames them, Optuna's own (slower) settings stay in force, and
    tests/test_search.py fails so that we notice. The local search from those two starts is
    :mod:`nas.study.sampling.acquisition`'s: Optuna's moves with a quarter of the acquisition evaluations
    (the replays of §12 give the same trials), and the EHVI it maximizes is Optuna's estimate
    computed with less work (:mod:`nas.study.sampling.lean_ehvi`: the same values, bit for bit)."""

    PRELIMINARY_POINTS = 512
    LOCAL_SEARCHES = 2

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        settings = {"_n_preliminary_samples": self.PRELIMINARY_POINTS, "_n_local_search": self.LOCAL_SEARCHES}
        if all(hasattr(self, name) for name in settings) and hasattr(getattr(self, "_rng", None), "rng"):
            for name, value in settings.items():
                setattr(self, name, value)

    @property
    def lean(self) -> bool:
        """Whether the smaller acquisition search is in force (False: Optuna renamed what it sets
        or reads, and its own settings and search stay in force)."""
        return getattr(self, "_n_local_search", None) == self.LOCAL_SEARCHES

    def _optimize_acqf(self, acqf, best_params):  # noqa: ANN001, ANN202
        """The acquisition search of :mod:`nas.study.sampling.acquisition` (Optuna's moves with a quarter of
        the evaluations: the ask x0.86 at 40 trials, the demo's time outside the trainer 6.0
        against 7.4%, BENCHMARKS.md §2) where the space is all discrete, as a
        space file's always is; Optuna's otherwise, or if a release changed what ours reads
        (tests/test_search.py then fails). Optuna names this method as the one to override."""
        from .acquisition import optimize_discrete_acqf, searchable

        if not self.lean or not searchable(acqf):
            return super()._optimize_acqf(acqf, best_params)
        return optimize_discrete_acqf(self.ehvi(acqf), best_params, self._n_preliminary_samples,
                                      self._n_local_search, self._rng.rng)

    def ehvi(self, acqf):  # noqa: ANN001, ANN201
        """The acquisition function with its EHVI computed as :mod:`nas.study.sampling.lean_ehvi`
        does (Optuna's values with less work); benchmarks override it."""
        from .lean_ehvi import lean

        return lean(acqf)

    def _sample_relative_impl(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        """Optuna's proposal with torch's Python-level function overrides off.

        Optuna runs this inside ``with torch.device("cpu")`` (its fix for a CUDA default device,
        optuna#6113), a torch function mode that routes every tensor operation through Python
        (pytorch#92701): a GP ask makes ~14,000 small operations, and the mode made it x1.3-1.6
        as long here (BENCHMARKS.md §2). With the overrides off the factories make CPU tensors
        whatever the default device, which is what Optuna's wrapper is for, and the proposals are
        the same (tests/test_search.py). If Optuna renames this method, only the speed is lost."""
        import torch

        with torch._C.DisableTorchFunction():
            return super()._sample_relative_impl(*args, **kwargs)
