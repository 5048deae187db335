"""Model FLOPs: multiply-adds of the Conv2D and Dense layers, FLOPs on one example.

Training FLOPs per example = 3 x forward FLOPs (forward, then the gradients with
respect to the activations and to the weights, each costing about one forward),
where forward FLOPs = 2 x the multiply-adds of every Conv2D and Dense layer.
Pooling, LRN, batch norm, activations and the update are not counted; the first
layer's input gradient is, though it is never computed (5% too much for the
tutorial model). It is the usual model-FLOPs convention, not a count of what the
kernels execute.
"""

import math
from collections.abc import Sequence

import tensorflow as tf

from convnet.models.keras_model import KerasModel
from convnet.nn import layers

# Training costs about 3 forward passes: forward, activation gradients, weight gradients.
TRAINING_FLOPS_PER_FORWARD = 3


def layer_macs(model: layers.Layer, input_shape: Sequence[int]) -> list[tuple[str, int]]:
    """(layer name, multiply-adds on one example) of each Conv2D and Dense, in call order.

    Runs one example of `input_shape` ([H, W, C]) through `model` in inference mode. A
    `KerasModel`'s Keras Conv2D and Dense layers are counted alike.
    """
    if isinstance(model, KerasModel):
        return _keras_layer_macs(model.keras_model, input_shape)
    rows = []

    def observe(layer, output):
        if isinstance(layer, layers.Conv2D):
            kernel_h, kernel_w, in_channels, filters = layer.kernel.shape
            macs = output.shape[1] * output.shape[2] * filters * kernel_h * kernel_w * in_channels
        elif isinstance(layer, layers.Dense):
            macs = layer.kernel.shape[0] * layer.kernel.shape[1]
        else:
            return
        rows.append((layer.name_scope.name.rstrip("/"), int(macs)))

    with layers.observe_calls(observe):
        model(tf.zeros([1, *input_shape]), training=False)
    return rows


def _keras_layer_macs(keras_model, input_shape: Sequence[int]) -> list[tuple[str, int]]:
    """`layer_macs` of a Keras model: each Conv2D's and Dense's call is recorded (an instance
    attribute over its `call`, removed after) while one example runs through it."""
    import keras  # only for Keras models: the rest of the bench does not need it

    rows: list[tuple[str, int]] = []
    counted = [layer for layer in keras_model._flatten_layers(include_self=False)
               if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]

    def recording(layer, call):
        def recorded(*args, **kwargs):
            output = call(*args, **kwargs)
            kernel = layer.kernel.shape
            if isinstance(layer, keras.layers.Conv2D):
                macs = math.prod(output.shape[1:]) * math.prod(kernel[:-1])
            else:
                macs = math.prod(output.shape[1:-1]) * kernel[0] * kernel[1]
            rows.append((layer.path, int(macs)))
            return output
        return recorded

    for layer in counted:
        layer.call = recording(layer, layer.call)
    try:
        keras_model(tf.zeros([1, *input_shape]), training=False)
    finally:
        for layer in counted:
            del layer.call
    return rows


def model_flops(model: layers.Layer, input_shape: Sequence[int]) -> dict[str, int]:
    """{'forward_per_example', 'training_per_example'}: FLOPs on one [H, W, C] example."""
    forward = 2 * sum(macs for _, macs in layer_macs(model, input_shape))
    return {"forward_per_example": forward,
            "training_per_example": TRAINING_FLOPS_PER_FORWARD * forward}
