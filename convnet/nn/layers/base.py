"""The `Layer` base class of `convnet.layers`, `Sequential`, and call observation.

A layer is a `tf.Module` called as `layer(x, training=False)`; it creates its
variables in `build(input_shape)` on the first call, inside its name scope, then
runs `forward(inputs, training)`.
"""

import contextlib
from collections.abc import Callable, Sequence

import tensorflow as tf

ActivationFn = Callable[[tf.Tensor], tf.Tensor] | None


def check_weight_decay(wd: float | None, name: str) -> float | None:
    """Validates a weight-decay argument `name` (None or a number >= 0); returns it."""
    if wd is not None and (not isinstance(wd, (int, float)) or not wd >= 0):
        raise ValueError(f"{name} must be None or a number >= 0, got {wd!r}")
    return wd


class Layer(tf.Module):
    """Base class: builds variables on the first call, then runs `forward`."""

    # When set (see `observe_calls`), called as observer(layer, output) after each call.
    _call_observer: Callable[["Layer", tf.Tensor], None] | None = None

    def __init__(self, name: str | None = None):
        super().__init__(name=name)
        self.built = False

    def __call__(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        if not self.built:
            with self.name_scope:
                self.build(inputs.shape)
            self.built = True
        outputs = self.forward(inputs, training)
        if Layer._call_observer is not None:
            Layer._call_observer(self, outputs)
        return outputs

    def build(self, input_shape: tf.TensorShape) -> None:
        """Creates variables; `input_shape` has a dynamic batch dimension."""

    def forward(self, inputs: tf.Tensor, training: bool) -> tf.Tensor:
        raise NotImplementedError


@contextlib.contextmanager
def observe_calls(observer: Callable[[Layer, tf.Tensor], None]):
    """Within the block, every layer call reports (layer, output) to `observer`."""
    previous, Layer._call_observer = Layer._call_observer, observer
    try:
        yield
    finally:
        Layer._call_observer = previous


class Sequential(Layer):
    """Applies layers in order, passing `training` to each."""

    def __init__(self, layers: Sequence[Layer], name: str | None = None):
        super().__init__(name=name)
        self.layers = list(layers)

    def forward(self, inputs, training):
        x = inputs
        for layer in self.layers:
            x = layer(x, training=training)
        return x
