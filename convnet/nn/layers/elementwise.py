"""Elementwise layers: `Activation`, `Scale` (a constant factor) and `Dropout`."""

import math
from collections.abc import Callable

import tensorflow as tf

from convnet.nn import ops
from convnet.nn.layers.base import Layer


class Activation(Layer):
    """Applies an elementwise function, e.g. `Activation(tf.nn.relu)`."""

    def __init__(self, function: Callable[[tf.Tensor], tf.Tensor], name: str | None = None):
        super().__init__(name=name)
        self.function = function

    def forward(self, inputs, training):
        return self.function(inputs)


class Scale(Layer):
    """Multiplies its input by a fixed number, e.g. `Scale(1 / 9)` on logits (airbench).

    The factor is a constant, not a variable: it is neither trained nor checkpointed.
    """

    def __init__(self, factor: float, name: str | None = None):
        super().__init__(name=name)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) \
                or not math.isfinite(factor):
            raise ValueError(f"factor must be a finite number, got {factor!r}")
        self.factor = float(factor)

    def forward(self, inputs, training):
        return inputs * tf.cast(self.factor, inputs.dtype)


class Dropout(Layer):
    """Inverted dropout, active only when `training` is True.

    The mask comes from a `tf.random.Generator` owned by the layer, so it is
    checkpointed with the model and reproducible from `seed`.
    """

    def __init__(self, rate: float, seed: int | None = None, name: str | None = None):
        super().__init__(name=name)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate, self.seed = rate, seed

    def build(self, input_shape):
        if self.seed is None:
            self.generator = tf.random.Generator.from_non_deterministic_state()
        else:
            self.generator = tf.random.Generator.from_seed(self.seed)

    def forward(self, inputs, training):
        if not training or self.rate == 0.0:
            return inputs
        seed = self.generator.make_seeds(1)[:, 0]
        return ops.dropout(inputs, self.rate, True, seed=seed)
