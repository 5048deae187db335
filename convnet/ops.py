"""`convnet.ops`, the op vocabulary of research code (`from convnet import ops`): the public
functions and constants of `convnet.nn.ops`, re-exported under their documented name."""

from convnet.nn.ops import (
    CUDNN_MIN_EPSILON,
    LRN_ALPHA,
    LRN_BETA,
    LRN_BIAS,
    LRN_DEPTH_RADIUS,
    WEIGHT_DECAY_ATTR,
    avg_pool,
    batch_norm,
    bias_add,
    conv2d,
    dense,
    dropout,
    flatten,
    fused_batch_norm,
    gelu,
    global_avg_pool,
    lrn,
    max_pool,
    moments,
    plain_ops,
    plain_ops_on,
    portable_normal_cdf,
    variable_from_value,
    variable_with_weight_decay,
    weight_decay_loss,
    weight_decay_of,
)

__all__ = [
    "WEIGHT_DECAY_ATTR", "LRN_DEPTH_RADIUS", "LRN_BIAS", "LRN_ALPHA", "LRN_BETA",
    "CUDNN_MIN_EPSILON", "variable_with_weight_decay", "variable_from_value", "weight_decay_of",
    "weight_decay_loss", "conv2d", "bias_add", "max_pool", "avg_pool", "global_avg_pool", "lrn",
    "flatten", "dense", "gelu", "portable_normal_cdf", "plain_ops", "plain_ops_on", "dropout",
    "batch_norm", "fused_batch_norm", "moments",
]
