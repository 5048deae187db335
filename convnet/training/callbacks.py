"""Callbacks: the jobs of the training loop, the Trainer's own and yours, as objects in one list.

The loop (convnet.training.Trainer) runs the compiled step in rounds of several updates, with
no Python between them. A callback says at which step it must run next (`next_step`), and every
round ends at the first such step of any callback, so its `on_step` sees the state exactly at
that step; `on_round` sees every round. The Trainer's periodic jobs (the log line, histograms,
checkpoints, evaluations, the steps where progressive resizing or a variable group's training
ends: convnet.training.periodic_jobs) are callbacks; yours follow them in the same list
(`Trainer(config, callbacks=[...])`, `convnet.fit(..., callbacks=[...])`):

    class StopBelow(Callback):
        every = 100                          # on_step at steps 100, 200, ... and the last

        def on_step(self, progress):
            if progress.loss < 0.5:
                progress.stop(f"loss {progress.loss:.3f} < 0.5")

A callback that stops the run ends it after the round: the Trainer saves a checkpoint at that
step (a rerun of the same command resumes from it) and still runs its end-of-run evaluation.
"""

import dataclasses

from convnet.checkpoints.state import State
from convnet.training.step import StepResult


@dataclasses.dataclass
class Progress:
    """What a callback sees: the run's position and the last round's outputs.

    step: updates applied so far (the state's step).
    max_steps: the step the run ends at.
    steps_per_epoch: training steps an epoch of the data (fractional).
    state: the model, optimizer, moving averages and step (`convnet.checkpoints.state.State`);
        reading them is free, changing them changes the run.
    train_dir: where the run writes.
    round_steps: updates the last round applied (0 before the first round).
    loss: the last round's last loss (float32 cross-entropy plus weight decay), or None.
    learning_rate: the learning rate at the last round's first step, or None.
    seconds: wall seconds the last round took.
    result: the last round's `StepResult` (metrics: cross-entropy, top-1 hits and examples), or
        None before the first round.
    """
    step: int
    max_steps: int
    steps_per_epoch: float
    state: State
    train_dir: str
    round_steps: int = 0
    loss: float | None = None
    learning_rate: float | None = None
    seconds: float = 0.0
    result: StepResult | None = None
    stop_reason: str | None = None

    @property
    def epoch(self) -> float:
        """Epochs of the data trained so far."""
        return self.step / self.steps_per_epoch

    def stop(self, reason: str) -> None:
        """Ends the run after this round, with `reason` in its last line."""
        self.stop_reason = reason


class Callback:
    """A job of the training loop. Override what you need; every method does nothing by default.

    `every` (steps): `on_step` runs at every multiple of it and at the last step; None: no
    `on_step` (`next_step` may say otherwise).
    """

    every: int | None = None

    def next_step(self, step: int, max_steps: int) -> int | None:
        """The first step after `step` at which `on_step` must run (the round ends there), or
        None for none. Default: the next multiple of `every`, or `max_steps` if sooner."""
        if not self.every:
            return None
        return min(next_multiple(step, self.every), max_steps)

    def on_train_begin(self, progress: Progress) -> None:
        """Before the first round (`progress.step`: the step the run starts or resumes at)."""

    def on_round(self, progress: Progress) -> None:
        """After every round of the compiled step, in the list's order."""

    def on_step(self, progress: Progress) -> None:
        """After the round that ended at the step `next_step` named (if it applied updates)."""

    def on_train_end(self, progress: Progress) -> None:
        """After the last round and the run's final checkpoint (before its end evaluation)."""


def next_multiple(step: int, every: int) -> int:
    """The first multiple of `every` after `step`."""
    return (step // every + 1) * every


def round_end(callbacks, step: int, max_steps: int, *, extra=()) -> tuple[int, list]:
    """(the step the next round ends at: the first `next_step` of any callback after `step`,
    an `extra` boundary, or max_steps; each callback's `next_step`)."""
    due = [callback.next_step(step, max_steps) for callback in callbacks]
    ends = [max_steps, *(at for at in due if at is not None and at > step),
            *(at for at in extra if at > step)]
    return min(ends), due


def check(callbacks) -> list:
    """The callbacks as a list, each checked to be a `Callback` (a clear error otherwise)."""
    checked = list(callbacks or ())
    for callback in checked:
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks: {callback!r} is not a convnet.training.Callback "
                            f"(subclass it and override on_step, on_round, ...)")
        if callback.every is not None and (not isinstance(callback.every, int)
                                           or isinstance(callback.every, bool)
                                           or callback.every < 1):
            raise ValueError(f"callbacks: {type(callback).__name__}.every must be a positive "
                             f"int (steps) or None, got {callback.every!r}")
    return checked


__all__ = ["Callback", "Progress", "next_multiple", "round_end", "check"]
