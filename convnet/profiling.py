"""--profile_steps=START,END: the TensorFlow profiler around training steps START+1..END.

The trace goes to train_dir/plugins/profile/<time>/ (TensorBoard's profile
tab, with the optional tensorboard-plugin-profile). The training loop runs
several steps a call of the compiled step, so it ends a call at START and at
END (`boundaries`): the trace holds exactly those calls. A run resumed inside
the range traces from its first step to END.
"""

from typing import Optional, Sequence, Tuple

import tensorflow as tf

from convnet import console


class StepProfiler:
    """Starts the profiler before the call that begins at START (or later, before END) and
    stops it after the call that ends at END."""

    def __init__(self, steps: Optional[Tuple[int, int]], log_dir: str, enabled: bool = True):
        self.steps = steps if enabled else None
        self.log_dir = log_dir
        self.active = False
        self.done = False

    def boundaries(self) -> Sequence[int]:
        """The steps a call of the training step must end at."""
        return self.steps or ()

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
