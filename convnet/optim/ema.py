"""The exponential moving average (EMA) of the weights, evaluated in their place.

One shadow variable a weight, updated once a step (the global step, updates
applied, sets the early decay); `copy_to` writes the averages into the model.
"""

from collections.abc import Sequence

import tensorflow as tf

MOVING_AVERAGE_DECAY = 0.9999  # the tutorial's (cifar10.py)


class WeightEMA(tf.Module):
    """Exponential moving average of variables, as `tf.train.ExponentialMovingAverage`.

    With `num_updates` (the global step) the decay used is
    min(decay, (1 + step) / (10 + step)), so early averages follow the weights.
    Shadows start equal to the variables.
    """

    def __init__(self, decay: float = MOVING_AVERAGE_DECAY, name: str = "ema"):
        super().__init__(name=name)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.shadows: list[tf.Variable] = []

    def build(self, variables: Sequence[tf.Variable]) -> None:
        if self.shadows:
            return
        with self.name_scope:
            self.shadows = shadow_copies(variables)

    def effective_decay(self, step) -> tf.Tensor:
        step = tf.cast(step, tf.float32)
        return tf.minimum(self.decay, (1.0 + step) / (10.0 + step))

    def apply(self, variables: Sequence[tf.Variable], step) -> None:
        """Moves each shadow towards its variable (cross-replica context under a strategy)."""
        decay = self.effective_decay(step)
        extended = tf.distribute.get_strategy().extended
        for shadow, var in zip(self.shadows, variables, strict=True):
            extended.update(shadow, _move_towards, args=(var, 1.0 - decay), group=False)

    def copy_to(self, variables: Sequence[tf.Variable]) -> None:
        """Overwrites `variables` with their averages (for evaluation)."""
        if len(variables) != len(self.shadows):
            raise ValueError(f"EMA holds {len(self.shadows)} averages, got {len(variables)} "
                             f"variables")
        for shadow, var in zip(self.shadows, variables, strict=True):
            var.assign(shadow)


def _move_towards(shadow: tf.Variable, var: tf.Variable, rate: tf.Tensor) -> None:
    shadow.assign_sub(rate * (shadow - var))


def shadow_copies(variables: Sequence[tf.Variable]) -> list[tf.Variable]:
    """A non-trainable copy of each variable, named after it (in the caller's name scope)."""
    return [tf.Variable(v.read_value(), trainable=False,
                        name=v.name.split(":")[0].replace("/", "_")) for v in variables]
