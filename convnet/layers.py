"""`convnet.layers`, the layers of research code (`from convnet import layers`): the public
names of `convnet.nn.layers`, re-exported under their documented name."""

from convnet.nn.layers import (
    LRN,
    TORCH_UNIFORM,
    Activation,
    ActivationFn,
    AvgPool,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Init,
    Layer,
    MaxPool,
    Scale,
    Sequential,
    check_weight_decay,
    identity_kernel,
    initial_kernel,
    initial_stddev,
    observe_calls,
)

__all__ = [
    "ActivationFn", "Init", "TORCH_UNIFORM", "initial_stddev", "initial_kernel",
    "identity_kernel", "Layer", "Sequential", "observe_calls", "check_weight_decay", "Conv2D",
    "Dense", "BatchNorm", "LRN", "MaxPool", "AvgPool", "GlobalAvgPool", "Flatten", "Activation",
    "Scale", "Dropout",
]
