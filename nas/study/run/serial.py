"""The serial loop, the default on the CPU: ask, evaluate, tell, one trial at a time, all in the
loop's own thread. There the trainer fills the cores, so nothing is gained by asking beside it
(nas.study.sampling.samplers: DEFAULT_OVERLAP_SAMPLING)."""

from __future__ import annotations

from .prefetch import Asked
from .steps import Loop, TrialContext, flusher


class SerialLoop(Loop):
    def body(self) -> None:
        while True:
            snapshot, done, running = self.counts()
            if self.finished(done):
                return
            if done + running >= self.settings.total:
                self.wait_for_others(snapshot)
                continue
            self.step(self.ask(), snapshot)

    def step(self, asked: Asked, snapshot: list) -> None:  # noqa: ANN401 - FrozenTrials
        context = TrialContext(asked.trial, snapshot, flush=flusher(self.handle, asked.trial_id))
        outcome = self.outcome(asked, context)
        self.tell(asked.trial, context, outcome)
        self.held.release(asked)
        self.report(asked.trial.number, context, outcome.state)
