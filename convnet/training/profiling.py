"""--profile_steps=START,END: the TensorFlow profiler around training steps START+1..END.

The trace goes to train_dir/plugins/profile/<time>/ (TensorBoard's profile
tab, with the optional tensorboard-plugin-profile). The training loop runs
several steps a call of the compiled step; inside the range it runs one step a
call (`boundaries`), each inside a step marker (`step_marker`), so the trace
holds exactly steps START+1..END and the profile's overview page can split the
time by step. A run resumed inside the range traces from its first step to END.
"""

import contextlib
from collections.abc import Sequence
from contextlib import AbstractContextManager as ContextManager

import tensorflow as tf

from convnet.runtime import console


class StepProfiler:
    """Starts the profiler before the call that begins at START (or later, before END) and
    stops it after the call that ends at END."""

    def __init__(self, steps: tuple[int, int] | None, log_dir: str, enabled: bool = True):
        self.steps = steps if enabled else None
        self.log_dir = log_dir
        self.active = False
        self.done = False

    def boundaries(self) -> Sequence[int]:
        """The steps a call of the training step must end at: START and each step to END."""
        if not self.steps:
            return ()
        start, end = self.steps
        return range(start, end + 1)

    def step_marker(self, step: int) -> ContextManager:
        """Around the call of the step that begins at `step`: the profiler's step marker
        (`tf.profiler.experimental.Trace` with step_num = step + 1) while it traces."""
        if not self.active:
            return contextlib.nullcontext()
        return tf.profiler.experimental.Trace("train", step_num=step + 1, _r=1)

    def before(self, step: int) -> None:
        """Called before a call of the step that begins at `step`."""
        if self.steps and not self.active and not self.done:
            start, end = self.steps
            if start <= step < end:
                tf.profiler.experimental.start(self.log_dir)
                self.active = True
                console.log(f"profiling steps {step + 1}..{end} into {self.log_dir}")

    def after(self, step: int) -> None:
        """Called after a call of the step that ended at `step`."""
        if self.active and step >= self.steps[1]:
            self.stop()

    def stop(self) -> None:
        """Stops the profiler (writing the trace) if it runs."""
        if self.active:
            tf.profiler.experimental.stop()
            self.active, self.done = False, True

    close = stop  # contextlib.closing
