"""The grouped loop (``--group K``): K candidates in training at once in one process, each told
the moment it finishes, and the group topped up with a new ask.

The trials train on a :class:`~nas.train.group.CandidatePool` (one thread and CUDA stream per
candidate on a GPU; one thread on the CPU, where they train one after another, each exactly as
alone). The loop's own thread asks, tells and reports; it asks only to fill the group's free
places, only while the study still wants trials (evaluated + running, every worker's, below the
total), and while it asks, candidates of its own are running: the sampler sees them as pending,
as it sees another worker's. A trial is told as soon as its candidate finishes, so a killed
worker loses only what was still training, as a serial one does; a candidate that fails
(non-finite loss, out of memory, an exception) is failed with its reason and the others go on.

Ctrl-C, an outage or an error ends the loop: candidates that finished are told first, the
trials still training are failed (as interrupted, so a rerun replaces them; on an error, their
heartbeats stop and liveness retries them), and the pool stops their training at its next step
(:func:`nas.train.side_by_side.check_stop`).
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass

import torch

from ...train.group import CandidatePool
from ...train.thread_loan import lend_thread
from .prefetch import Asked
from .steps import Loop, Outcome, TrialContext, flusher


@dataclass
class Training:
    """A trial whose candidate the pool is training."""

    asked: Asked
    context: TrialContext


class GroupedLoop(Loop):
    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        settings = self.settings
        self.pool = CandidatePool(torch.device(settings.device), settings.group, settings.group_concurrent)
        self.training: dict[Future[Outcome], Training] = {}

    def body(self) -> None:
        while True:
            snapshot, done, running = self.counts()  # running counts this loop's own trials
            if self.finished(done):
                while self.training:
                    self.collect()
                return
            places = self.settings.group - len(self.training)
            wanted = self.settings.total - done - running
            for _ in range(min(places, wanted)):
                self.start(self.ask_beside_training(), snapshot)
                if self.finished(done):
                    break
            if self.training:
                self.collect()
            else:  # the study's last trials run elsewhere
                self.wait_for_others(snapshot)

    def ask_beside_training(self) -> Asked:
        """An ask; on the CPU the trainer lends it a thread meanwhile (nas.train.thread_loan)."""
        if not self.training:
            return self.ask()
        with lend_thread():
            return self.ask()

    def start(self, asked: Asked, snapshot: list) -> None:  # noqa: ANN401 - FrozenTrials
        context = TrialContext(asked.trial, snapshot, flush=flusher(self.handle, asked.trial_id))
        self.training[self.pool.submit(self.outcome, asked, context)] = Training(asked, context)

    def collect(self) -> None:
        """Wait until a candidate finishes; tell every one finished by then."""
        finished, _ = wait(list(self.training), return_when=FIRST_COMPLETED)
        self.tell_finished(finished)

    def tell_finished(self, finished: set[Future[Outcome]] | list[Future[Outcome]]) -> None:
        """Tell each finished trial (in trial order); an outage raised by one evaluation is
        raised again once the others are told."""
        failure: BaseException | None = None
        for future in sorted(finished, key=lambda f: self.training[f].asked.trial.number):
            entry = self.training.pop(future)
            if future.exception() is not None:  # from the storage (outage): the trial is not finished
                failure = failure or future.exception()
                continue
            outcome = future.result()
            self.tell(entry.asked.trial, entry.context, outcome)
            self.held.release(entry.asked)
            self.report(entry.asked.trial.number, entry.context, outcome.state)
        if failure is not None:
            raise failure

    def interrupted(self) -> None:
        """Ctrl-C: candidates that finished meanwhile are told; the rest are failed."""
        try:
            self.tell_finished([f for f in self.training if f.done() and f.exception() is None])
        except Exception:  # noqa: BLE001 - a tell the storage refused: its result went to the recovery file
            pass
        super().interrupted()

    def close(self) -> None:
        self.pool.close()
