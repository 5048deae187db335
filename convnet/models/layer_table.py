"""A model's layers as a table, like Keras' `model.summary()`: the logic of `convnet.summary`.

Each layer that owns variables or changes the shape, its output shape and
parameter count, then total / trainable / non-trainable counts (BN moving
statistics are non-trainable). `convnet.training.memory` sizes activations from the
same table.
"""


import tensorflow as tf

from convnet import models
from convnet.nn import layers


def _is_leaf(layer: layers.Layer) -> bool:
    children = layer._flatten(  # pylint: disable=protected-access
        predicate=lambda m: isinstance(m, layers.Layer) and m is not layer, recursive=False)
    return not any(isinstance(m, layers.Layer) for m in children)


def layer_table(model: layers.Layer, input_shape) -> list[tuple[str, str, tuple, int]]:
    """Runs one example through `model`; returns (name, type, output shape, params) per leaf
    layer."""
    rows = []

    def observe(layer, output):
        if _is_leaf(layer):
            name = layer.name_scope.name.rstrip("/")
            params = sum(int(v.shape.num_elements()) for v in layer.variables)
            rows.append((name, type(layer).__name__, (None, *output.shape[1:]), params))

    with layers.observe_calls(observe):
        model(tf.zeros([1, *input_shape]), training=False)
    return rows


def format_summary(model: layers.Layer, input_shape) -> str:
    """The layer table as Keras prints it, then total / trainable / non-trainable counts."""
    rows = layer_table(model, input_shape)
    lines = [f"Model: {model.name}   input: {(None, *input_shape)}", "-" * 88,
             f"{'Layer (type)':<48}{'Output Shape':<26}{'Param #':>14}", "=" * 88]
    for name, kind, shape, params in rows:
        lines.append(f"{name + ' (' + kind + ')':<48}{str(shape):<26}{params:>14,}")
    total = models.count_params(model)
    trainable = models.count_trainable_params(model)
    lines += ["=" * 88, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}"]
    return "\n".join(lines)
