"""Normalization layers: `BatchNorm` (learned, moving statistics) and the tutorial's `LRN`."""


import tensorflow as tf

from convnet.nn import ops
from convnet.nn.layers.base import Layer, check_weight_decay


class LRN(Layer):
    """Local response normalization with the tutorial's constants by default."""

    def __init__(self, depth_radius: int = ops.LRN_DEPTH_RADIUS, bias: float = ops.LRN_BIAS,
                 alpha: float = ops.LRN_ALPHA, *, beta: float = ops.LRN_BETA,
                 name: str | None = None):
        super().__init__(name=name)
        if depth_radius < 0:
            raise ValueError(f"depth_radius must be >= 0, got {depth_radius}")
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def forward(self, inputs, training):
        return ops.lrn(inputs, self.depth_radius, self.bias, alpha=self.alpha, beta=self.beta)


class BatchNorm(Layer):
    """Batch normalization over the last axis.

    Training uses the batch statistics and updates the moving ones
    (`moving = momentum * moving + (1 - momentum) * batch`, unbiased variance as
    Keras does); inference uses the moving statistics. The moving statistics are
    non-trainable variables (2 numbers a channel; gamma and beta are 2 more).
    The default momentum 0.9 is Torch's (momentum 0.1 there), which the ResNet and
    DenseNet reference implementations trained with; Keras' 0.99 lags far behind
    the weights in short runs, so that inference mode is wrong for hundreds of steps.
    (PyTorch's `momentum=m` is this `momentum=1 - m`.)

    The normalisation and its gradient run as one fused kernel
    (`ops.fused_batch_norm`, 4-5x faster on a CPU than the composite ops); the
    outputs keep the inputs' dtype (bfloat16 under mixed_bfloat16).

    Args:
      momentum: weight of the old moving statistics, in [0, 1).
      epsilon: added to the variance, > 0 (1e-12 works in float32: the statistics
        and the normalisation are always computed in float32).
      center: learn beta (an offset, zero init).
      scale: learn gamma (a scale, one init).
      beta_wd: weight decay of beta (None: none, the default).
      gamma_wd: weight decay of gamma (None: none, the default).
    """

    def __init__(self, momentum: float = 0.9, epsilon: float = 1e-3, center: bool = True,
                 *, scale: bool = True, name: str | None = None,
                 beta_wd: float | None = None, gamma_wd: float | None = None):
        super().__init__(name=name)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}")
        if not center and beta_wd is not None:
            raise ValueError(f"beta_wd={beta_wd} but center=False: there is no beta to decay")
        if not scale and gamma_wd is not None:
            raise ValueError(f"gamma_wd={gamma_wd} but scale=False: there is no gamma to decay")
        self.momentum, self.epsilon, self.center, self.scale = momentum, epsilon, center, scale
        self.beta_wd = check_weight_decay(beta_wd, "beta_wd")
        self.gamma_wd = check_weight_decay(gamma_wd, "gamma_wd")

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.gamma = (ops.variable_from_value("gamma", tf.ones([channels]), self.gamma_wd)
                      if self.scale else None)
        self.beta = (ops.variable_from_value("beta", tf.zeros([channels]), self.beta_wd)
                     if self.center else None)
        # Under tf.distribute each replica updates its own copy (no cross-replica
        # call inside the step, so XLA can compile it); reads average them.
        synced = dict(trainable=False, synchronization=tf.VariableSynchronization.ON_READ,
                      aggregation=tf.VariableAggregation.MEAN)
        self.moving_mean = tf.Variable(tf.zeros([channels]), name="moving_mean", **synced)
        self.moving_variance = tf.Variable(tf.ones([channels]), name="moving_variance", **synced)

    def forward(self, inputs, training):
        if self._fused(inputs):
            if training:
                out, mean, unbiased = ops.fused_batch_norm(inputs, self.beta, self.gamma,
                                                           epsilon=self.epsilon)
                self._update_moving(mean, unbiased)
            else:
                out = ops.fused_batch_norm(inputs, self.beta, self.gamma, epsilon=self.epsilon,
                                           mean=self.moving_mean, variance=self.moving_variance)[0]
            return out
        x = tf.cast(inputs, tf.float32)
        if training:
            mean, variance = ops.moments(x)
            count = tf.cast(tf.size(x) // tf.shape(x)[-1], tf.float32)
            unbiased = variance * count / tf.maximum(count - 1.0, 1.0)
            self._update_moving(mean, unbiased)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        out = ops.batch_norm(x, mean, variance, offset=self.beta, scale=self.gamma,
                             epsilon=self.epsilon)
        return tf.cast(out, inputs.dtype)

    def _update_moving(self, mean, unbiased_variance):
        self.moving_mean.assign(self.momentum * self.moving_mean + (1 - self.momentum) * mean)
        self.moving_variance.assign(
            self.momentum * self.moving_variance + (1 - self.momentum) * unbiased_variance)

    def _fused(self, inputs) -> bool:
        """One FusedBatchNormV3 kernel (`ops.fused_batch_norm`) unless cuDNN would refuse
        the epsilon (below 1.001e-5 with a GPU visible) or the input is float64 or of
        rank < 2; then the composite `moments` + `batch_norm`, in float32."""
        if inputs.dtype not in (tf.float32, tf.bfloat16, tf.float16):
            return False
        if inputs.shape.rank is None or inputs.shape.rank < 2:
            return False
        return self.epsilon >= ops.CUDNN_MIN_EPSILON or not tf.config.list_logical_devices("GPU")
