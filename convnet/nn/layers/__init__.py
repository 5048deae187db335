"""`tf.Module` layers over `convnet.ops`, creating their variables on first call.

Every layer is called as `layer(x, training=False)` on an NHWC (or [batch, n])
tensor with a dynamic batch dimension. Constructor arguments are validated
eagerly with `ValueError`; variables are created lazily, once the input shape
is known, inside the layer's name scope. Weights are cast to the input dtype
in the forward pass, so a layer fed float16/bfloat16 computes in that dtype
while its variables stay float32.

This module is the one name models and users import (`from convnet import layers`);
each concept lives in its own module, re-exported here:

    layers_base            Layer, Sequential, observe_calls, check_weight_decay
    layers_initializers    initial_stddev, initial_kernel, identity_kernel, TORCH_UNIFORM
    layers_linear          Conv2D, Dense
    layers_normalization   BatchNorm, LRN
    layers_pooling         MaxPool, AvgPool, GlobalAvgPool, Flatten
    layers_elementwise     Activation, Scale, Dropout
"""

from convnet.nn.layers.base import (
                                 ActivationFn,
                                 Layer,
                                 Sequential,
                                 check_weight_decay,
                                 observe_calls,
)
from convnet.nn.layers.elementwise import Activation, Dropout, Scale
from convnet.nn.layers.initializers import (
                                 TORCH_UNIFORM,
                                 Init,
                                 identity_kernel,
                                 initial_kernel,
                                 initial_stddev,
)
from convnet.nn.layers.linear import Conv2D, Dense
from convnet.nn.layers.normalization import LRN, BatchNorm
from convnet.nn.layers.pooling import AvgPool, Flatten, GlobalAvgPool, MaxPool

__all__ = [
    "ActivationFn", "Init", "TORCH_UNIFORM", "initial_stddev", "initial_kernel", "identity_kernel",
    "Layer", "Sequential", "observe_calls", "check_weight_decay",
    "Conv2D", "Dense",
    "BatchNorm", "LRN",
    "MaxPool", "AvgPool", "GlobalAvgPool", "Flatten",
    "Activation", "Scale", "Dropout",
]
