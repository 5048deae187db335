"""Lookahead averaging of a model's weights, written back into the model.

Every `every` steps from `start_step` on, each float variable of the model
(trainable weights and the BatchNorm moving statistics alike) moves to an
average kept beside it, and the average is copied back into the model:

    average <- decay * average + (1 - decay) * weight;   weight <- average
    decay    = base ** every * (step / total_steps) ** power

so early on the weights move freely (decay near 0) and towards the end they
are averaged strongly. The first update (at the first multiple of `every` at or
after `start_step`) only starts the average (decay 0). `finish` copies the
average into the model a last time (decay 1), at the end of training. This is
the scheme of airbench (Jordan 2024, arXiv 2404.00498: base 0.95, every 5 steps,
power 3, from epoch 3), a Lookahead (Zhang et al. 2019) whose slow weights are
an EMA with a warming-up decay.

The averages and a `started` flag are variables, so checkpoints hold them and
a resumed run continues exactly.
"""

from collections.abc import Sequence

import tensorflow as tf

from convnet.optim import ema


class Lookahead(tf.Module):
    """Weight averaging every `every` steps, written back into the variables.

    Args:
      total_steps: the training horizon (the schedule's steps), > 0.
      every: steps between updates, > 0.
      base: per-step decay base (the decay at the horizon is base ** every).
      power: exponent of the decay's warm-up, (step / total_steps) ** power.
      start_step: no update before this step.
    """

    def __init__(self, total_steps: int, every: int = 5, base: float = 0.95,
                 *, power: float = 3.0, start_step: int = 0, name: str = "lookahead"):
        super().__init__(name=name)
        if total_steps <= 0:
            raise ValueError(f"lookahead needs positive total steps, got {total_steps}")
        if every <= 0:
            raise ValueError(f"--lookahead_every must be positive, got {every}")
        if not 0.0 <= base <= 1.0:
            raise ValueError(f"--lookahead_base must be in [0, 1], got {base}")
        if power < 0 or start_step < 0:
            raise ValueError(f"lookahead power and start step must be >= 0, got {power}, "
                             f"{start_step}")
        self.total_steps, self.every, self.base = total_steps, every, base
        self.power, self.start_step = power, start_step
        self.averages = []
        self.started = tf.Variable(False, trainable=False, name="started")

    def build(self, variables: Sequence[tf.Variable]) -> None:
        """Creates one average a variable (call once, eagerly, before the first `apply`)."""
        if self.averages:
            return
        with self.name_scope:
            self.averages = ema.shadow_copies(variables)

    def decay(self, step) -> tf.Tensor:
        """base ** every * (step / total_steps) ** power, a float32 scalar."""
        progress = tf.cast(step, tf.float32) / float(self.total_steps)
        return (self.base ** self.every) * tf.pow(progress, self.power)

    def apply(self, variables: Sequence[tf.Variable], step) -> None:
        """After the update that made the global step `step`: averages and writes back when
        `step` is a multiple of `every` at or after `start_step`."""
        step = tf.cast(step, tf.int64)
        due = tf.logical_and(step >= self.start_step, step % self.every == 0)

        def update():
            decay = tf.where(self.started, self.decay(step), 0.0)
            self._move(variables, decay)
            self.started.assign(True)
            return tf.constant(True)

        tf.cond(due, update, lambda: tf.constant(False))

    def finish(self, variables: Sequence[tf.Variable]) -> None:
        """Copies the averages into `variables` (decay 1), if averaging has started."""
        tf.cond(self.started, lambda: self._move(variables, tf.constant(1.0)) or tf.constant(True),
                lambda: tf.constant(False))

    def _move(self, variables, decay) -> None:
        if len(variables) != len(self.averages):
            raise ValueError(f"lookahead holds {len(self.averages)} averages, got "
                             f"{len(variables)} variables")
        for average, var in zip(self.averages, variables, strict=True):
            value = decay * average + (1.0 - decay) * tf.cast(var, average.dtype)
            average.assign(value)
            var.assign(tf.cast(value, var.dtype))
