"""Learning-rate schedules: the step (updates applied) to the learning rate of a batch's mean loss.

A schedule is called with the step (an int64 tensor or int) and returns a
float32 scalar. `Epochs` is the one conversion of epochs to steps in convnet
(`examples_per_epoch / batch_size` steps an epoch): the schedules, the run's
length, lookahead's start, variable groups' freezing and the evaluations after
each epoch all take it.
"""

import dataclasses
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

# Tutorial constants (cifar10.py).
NUM_EXAMPLES_PER_EPOCH = 50000
NUM_EPOCHS_PER_DECAY = 350.0
LEARNING_RATE_DECAY_FACTOR = 0.1

SCHEDULES = ("constant", "exponential", "piecewise", "cosine", "warmup_linear")
# warmup_linear defaults: airbench's (Jordan 2024): from 0.2x up to 1x over the first 23% of
# the steps, then linearly down to 0.07x at the last.
WARMUP_FRACTION, WARMUP_START_FACTOR, END_FACTOR = 0.23, 0.2, 0.07


@dataclasses.dataclass(frozen=True)
class Epochs:
    """Epochs of a training split counted in steps of `batch_size` examples.

    `scale` stretches them: an epoch of a setting lasts `scale` epochs of data (--time_budget
    fits a run's settings to its budget by that one factor; 1: as given).
    """
    examples_per_epoch: int = NUM_EXAMPLES_PER_EPOCH
    batch_size: int = 128
    scale: float = 1.0

    def __post_init__(self):
        if self.examples_per_epoch <= 0 or self.batch_size <= 0 or not self.scale > 0:
            raise ValueError(f"epochs need positive examples an epoch, batch size and scale, "
                             f"got {self.examples_per_epoch}, {self.batch_size} and "
                             f"{self.scale}")

    @property
    def steps_per_epoch(self) -> float:
        """Steps an epoch (fractional: the last batch of an epoch runs into the next)."""
        return self.examples_per_epoch / self.batch_size * self.scale

    def to_steps(self, epochs: float) -> float:
        """`epochs` in steps, fractional; each caller rounds as its meaning asks."""
        return epochs * self.steps_per_epoch


def check_learning_rate(value: float) -> None:
    if value <= 0:
        raise ValueError(f"learning rate must be positive, got {value}")


class ExponentialStaircase:
    """lr(step) = initial * factor ** floor(step / decay_steps), as the tutorial's decay."""

    def __init__(self, initial: float, decay_steps: int, factor: float):
        check_learning_rate(initial)
        if decay_steps <= 0:
            raise ValueError(f"decay steps must be positive, got {decay_steps}")
        if not 0 < factor <= 1:
            raise ValueError(f"decay factor must be in (0, 1], got {factor}")
        self.initial, self.decay_steps, self.factor = initial, decay_steps, factor

    def __call__(self, step) -> tf.Tensor:
        exponent = tf.math.floordiv(tf.cast(step, tf.int64), self.decay_steps)
        return self.initial * tf.pow(tf.constant(self.factor, tf.float32),
                                     tf.cast(exponent, tf.float32))


class Constant:
    """lr(step) = value."""

    def __init__(self, value: float):
        check_learning_rate(value)
        self.initial = value

    def __call__(self, step) -> tf.Tensor:
        return tf.constant(self.initial, tf.float32)


class Piecewise:
    """lr(step) = initial * factor ** (number of boundaries <= step)."""

    def __init__(self, initial: float, boundaries: Sequence[int], factor: float):
        check_learning_rate(initial)
        if (not boundaries or list(boundaries) != sorted(boundaries)
                or any(b <= 0 for b in boundaries)):
            raise ValueError(f"boundaries must be positive and increasing, got {boundaries}")
        self.initial, self.factor = initial, factor
        self.boundaries = tf.constant(list(boundaries), tf.int64)

    def __call__(self, step) -> tf.Tensor:
        passed = tf.reduce_sum(tf.cast(self.boundaries <= tf.cast(step, tf.int64), tf.float32))
        return self.initial * tf.pow(tf.constant(self.factor, tf.float32), passed)


class Cosine:
    """lr(step) = initial * (1 + cos(pi * min(step, total) / total)) / 2."""

    def __init__(self, initial: float, total_steps: int):
        check_learning_rate(initial)
        if total_steps <= 0:
            raise ValueError(f"cosine schedule needs positive total steps, got {total_steps}")
        self.initial, self.total_steps = initial, total_steps

    def __call__(self, step) -> tf.Tensor:
        progress = tf.minimum(tf.cast(step, tf.float32), self.total_steps) / self.total_steps
        return self.initial * 0.5 * (1.0 + tf.cos(np.pi * progress))


class WarmupLinear:
    """lr(step) = initial x the piecewise-linear interpolation of (0, start_factor),
    (warmup_steps, 1), (total_steps, end_factor); flat at end_factor after total_steps.
    warmup_steps = int(warmup_fraction * total_steps)."""

    def __init__(self, initial: float, total_steps: int, warmup_fraction: float = WARMUP_FRACTION,
                 *, start_factor: float = WARMUP_START_FACTOR, end_factor: float = END_FACTOR):
        check_learning_rate(initial)
        if total_steps <= 0:
            raise ValueError(f"warmup_linear needs positive total steps, got {total_steps}")
        if not 0 <= warmup_fraction < 1:
            raise ValueError(f"--lr_warmup_fraction must be in [0, 1), got {warmup_fraction}")
        if start_factor < 0 or end_factor < 0:
            raise ValueError(f"--lr_start_factor and --lr_end_factor must be >= 0, got "
                             f"{start_factor}, {end_factor}")
        self.initial, self.total_steps = initial, total_steps
        self.warmup_steps = int(warmup_fraction * total_steps)
        self.start_factor, self.end_factor = start_factor, end_factor

    def __call__(self, step) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        warmup, total = float(self.warmup_steps), float(self.total_steps)
        rising = self.start_factor + (1.0 - self.start_factor) * step / max(warmup, 1.0)
        falling = 1.0 + (self.end_factor - 1.0) * tf.minimum(step - warmup, total - warmup) / (
            total - warmup)
        return self.initial * tf.where(step < warmup, rising, falling)


def decay_steps_for(epochs: Epochs, num_epochs_per_decay: float) -> int:
    """Steps between decays: int(the epochs in steps), 136,718 at batch 128 (the tutorial's)."""
    return max(1, int(epochs.to_steps(num_epochs_per_decay)))


def make_schedule(name: str, learning_rate: float, epochs: Epochs = Epochs(),
                  *, num_epochs_per_decay: float = NUM_EPOCHS_PER_DECAY,
                  decay_factor: float = LEARNING_RATE_DECAY_FACTOR,
                  boundary_epochs: Sequence[float] = (), total_steps: int = 0,
                  warmup_fraction: float = WARMUP_FRACTION,
                  start_factor: float = WARMUP_START_FACTOR, end_factor: float = END_FACTOR):
    """Builds one of SCHEDULES; epochs become steps through `epochs`.

    exponential: x`decay_factor` every `num_epochs_per_decay` epochs (the tutorial's);
    piecewise: x`decay_factor` at each of `boundary_epochs`; cosine: to 0 at `total_steps`;
    warmup_linear: see `WarmupLinear`, over `total_steps`.
    """
    if name == "constant":
        return Constant(learning_rate)
    if name == "exponential":
        return ExponentialStaircase(learning_rate, decay_steps_for(epochs, num_epochs_per_decay),
                                    decay_factor)
    if name == "piecewise":
        if not boundary_epochs:
            raise ValueError("--lr_schedule=piecewise needs --lr_boundary_epochs, e.g. 150,225")
        return Piecewise(learning_rate, [max(1, int(epochs.to_steps(e))) for e in boundary_epochs],
                         decay_factor)
    if name == "cosine":
        return Cosine(learning_rate, total_steps)
    if name == "warmup_linear":
        return WarmupLinear(learning_rate, total_steps, warmup_fraction, start_factor=start_factor,
                            end_factor=end_factor)
    raise ValueError(f"unknown --lr_schedule={name!r}: choose from {', '.join(SCHEDULES)}")
