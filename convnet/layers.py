"""`tf.Module` layers over `convnet.ops`, creating their variables on first call.

Every layer is called as `layer(x, training=False)` on an NHWC (or [batch, n])
tensor with a dynamic batch dimension. Constructor arguments are validated
eagerly with `ValueError`; variables are created lazily, once the input shape
is known, inside the layer's name scope. Weights are cast to the input dtype
in the forward pass, so a layer fed float16/bfloat16 computes in that dtype
while its variables stay float32.
"""

import contextlib
import math
from typing import Callable, Optional, Sequence, Union

import tensorflow as tf

from convnet import ops

ActivationFn = Optional[Callable[[tf.Tensor], tf.Tensor]]
Init = Union[None, float, str]

# Standard deviation of a unit normal truncated at +-2 (what Keras divides by).
_TRUNCATED_STDDEV = 0.87962566103423978


def initial_stddev(init: Init, fan_in: int, fan_out: int) -> float:
    """Truncated-normal stddev for a kernel.

    Args:
      init: a float (used as is, the tutorial's way), None or 'he' (variance
        2/fan_in after truncation, for ReLU layers), or 'glorot' (variance
        2/(fan_in + fan_out), for linear, sigmoid and logit layers).
    """
    if init is None or init == "he":
        return math.sqrt(2.0 / fan_in) / _TRUNCATED_STDDEV
    if init == "glorot":
        return math.sqrt(2.0 / (fan_in + fan_out)) / _TRUNCATED_STDDEV
    if isinstance(init, (int, float)) and init >= 0:
        return float(init)
    raise ValueError(f"stddev must be a non-negative number, None, 'he' or 'glorot', got {init!r}")


class Layer(tf.Module):
    """Base class: builds variables on the first call, then runs `forward`."""

    # When set (see `observe_calls`), called as observer(layer, output) after each call.
    _call_observer: Optional[Callable[["Layer", tf.Tensor], None]] = None

    def __init__(self, name: Optional[str] = None):
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


class Conv2D(Layer):
    """Convolution [b,h,w,c] -> [b,h',w',filters] with truncated-normal kernel.

    Args:
      filters: output channels.
      kernel_size: int or (kh, kw).
      strides: int or (sh, sw).
      padding: 'SAME' or 'VALID'.
      stddev: kernel init: a truncated-normal stddev, or None/'he'/'glorot' (see
        `initial_stddev`).
      wd: kernel weight decay (None for none). Biases are never decayed.
      bias_init: constant initial bias, or None for no bias.
      activation: optional function applied to the output (e.g. `tf.nn.relu`).
    """

    def __init__(self, filters: int, kernel_size=3, strides=1, padding: str = "SAME",
                 stddev: Optional[float] = None, wd: Optional[float] = None,
                 bias_init: Optional[float] = 0.0, activation: ActivationFn = None,
                 name: Optional[str] = None):
        super().__init__(name=name)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"filters must be a positive int, got {filters!r}")
        self.filters = filters
        self.kernel_size = ops._pair(kernel_size, "kernel_size")
        self.strides = ops._pair(strides, "strides")
        self.padding = ops._check_padding(padding)
        self.stddev, self.wd, self.bias_init, self.activation = stddev, wd, bias_init, activation

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        kh, kw = self.kernel_size
        stddev = initial_stddev(self.stddev, kh * kw * in_channels, kh * kw * self.filters)
        self.kernel = ops.variable_with_weight_decay(
            "kernel", [kh, kw, in_channels, self.filters], stddev, self.wd)
        self.bias = None
        if self.bias_init is not None:
            self.bias = tf.Variable(tf.fill([self.filters], float(self.bias_init)), name="bias")

    def forward(self, inputs, training):
        bias = None if self.bias is None else tf.cast(self.bias, inputs.dtype)
        out = ops.conv2d(inputs, tf.cast(self.kernel, inputs.dtype), bias,
                         self.strides, self.padding)
        return self.activation(out) if self.activation else out


class Dense(Layer):
    """Fully connected [b, ...] -> [b, units] (the input is flattened first).

    Args mirror `Conv2D`: `stddev` as in `initial_stddev`, `wd` decays the kernel only.
    """

    def __init__(self, units: int, stddev: Optional[float] = None, wd: Optional[float] = None,
                 bias_init: Optional[float] = 0.0, activation: ActivationFn = None,
                 name: Optional[str] = None):
        super().__init__(name=name)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"units must be a positive int, got {units!r}")
        self.units, self.stddev, self.wd = units, stddev, wd
        self.bias_init, self.activation = bias_init, activation

    def build(self, input_shape):
        fan_in = tf.TensorShape(input_shape[1:]).num_elements()
        if fan_in is None:
            raise ValueError(f"Dense needs a static non-batch input shape, got {input_shape}")
        stddev = initial_stddev(self.stddev, fan_in, self.units)
        self.kernel = ops.variable_with_weight_decay("kernel", [fan_in, self.units], stddev, self.wd)
        self.bias = None
        if self.bias_init is not None:
            self.bias = tf.Variable(tf.fill([self.units], float(self.bias_init)), name="bias")

    def forward(self, inputs, training):
        bias = None if self.bias is None else tf.cast(self.bias, inputs.dtype)
        out = ops.dense(inputs, tf.cast(self.kernel, inputs.dtype), bias)
        return self.activation(out) if self.activation else out


class Activation(Layer):
    """Applies an elementwise function, e.g. `Activation(tf.nn.relu)`."""

    def __init__(self, function: Callable[[tf.Tensor], tf.Tensor], name: Optional[str] = None):
        super().__init__(name=name)
        self.function = function

    def forward(self, inputs, training):
        return self.function(inputs)


class MaxPool(Layer):
    """Max pooling; defaults are the tutorial's 3x3 windows, stride 2, SAME."""

    def __init__(self, ksize=3, strides=2, padding: str = "SAME", name: Optional[str] = None):
        super().__init__(name=name)
        self.ksize = ops._pair(ksize, "ksize")
        self.strides = ops._pair(strides, "strides")
        self.padding = ops._check_padding(padding)

    def forward(self, inputs, training):
        return ops.max_pool(inputs, self.ksize, self.strides, self.padding)


class AvgPool(MaxPool):
    """Average pooling; defaults 2x2, stride 2, VALID (DenseNet transitions)."""

    def __init__(self, ksize=2, strides=2, padding: str = "VALID", name: Optional[str] = None):
        super().__init__(ksize, strides, padding, name=name)

    def forward(self, inputs, training):
        return ops.avg_pool(inputs, self.ksize, self.strides, self.padding)


class GlobalAvgPool(Layer):
    """[b, h, w, c] -> [b, c]."""

    def forward(self, inputs, training):
        return ops.global_avg_pool(inputs)


class Flatten(Layer):
    """[b, d1, d2, ...] -> [b, d1*d2*...]."""

    def forward(self, inputs, training):
        return ops.flatten(inputs)


class LRN(Layer):
    """Local response normalization with the tutorial's constants by default."""

    def __init__(self, depth_radius: int = ops.LRN_DEPTH_RADIUS, bias: float = ops.LRN_BIAS,
                 alpha: float = ops.LRN_ALPHA, beta: float = ops.LRN_BETA,
                 name: Optional[str] = None):
        super().__init__(name=name)
        if depth_radius < 0:
            raise ValueError(f"depth_radius must be >= 0, got {depth_radius}")
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def forward(self, inputs, training):
        return ops.lrn(inputs, self.depth_radius, self.bias, self.alpha, self.beta)


class Dropout(Layer):
    """Inverted dropout, active only when `training` is True.

    The mask comes from a `tf.random.Generator` owned by the layer, so it is
    checkpointed with the model and reproducible from `seed`.
    """

    def __init__(self, rate: float, seed: Optional[int] = None, name: Optional[str] = None):
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


class BatchNorm(Layer):
    """Batch normalization over the last axis.

    Training uses the batch statistics and updates the moving ones
    (`moving = momentum * moving + (1 - momentum) * batch`, unbiased variance as
    Keras does); inference uses the moving statistics. The moving statistics are
    non-trainable variables (2 numbers a channel; gamma and beta are 2 more).
    The default momentum 0.9 is Torch's (momentum 0.1 there), which the ResNet and
    DenseNet reference implementations trained with; Keras' 0.99 lags far behind
    the weights in short runs, so that inference mode is wrong for hundreds of steps.
    """

    def __init__(self, momentum: float = 0.9, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, name: Optional[str] = None):
        super().__init__(name=name)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}")
        self.momentum, self.epsilon, self.center, self.scale = momentum, epsilon, center, scale

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.gamma = tf.Variable(tf.ones([channels]), name="gamma") if self.scale else None
        self.beta = tf.Variable(tf.zeros([channels]), name="beta") if self.center else None
        # Under tf.distribute each replica updates its own copy (no cross-replica
        # call inside the step, so XLA can compile it); reads average them.
        synced = dict(trainable=False, synchronization=tf.VariableSynchronization.ON_READ,
                      aggregation=tf.VariableAggregation.MEAN)
        self.moving_mean = tf.Variable(tf.zeros([channels]), name="moving_mean", **synced)
        self.moving_variance = tf.Variable(tf.ones([channels]), name="moving_variance", **synced)

    def forward(self, inputs, training):
        x = tf.cast(inputs, tf.float32)
        if training:
            mean, variance = ops.moments(x)
            count = tf.cast(tf.size(x) // tf.shape(x)[-1], tf.float32)
            unbiased = variance * count / tf.maximum(count - 1.0, 1.0)
            self.moving_mean.assign(self.momentum * self.moving_mean + (1 - self.momentum) * mean)
            self.moving_variance.assign(
                self.momentum * self.moving_variance + (1 - self.momentum) * unbiased)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        out = ops.batch_norm(x, mean, variance, self.beta, self.gamma, self.epsilon)
        return tf.cast(out, inputs.dtype)


class Sequential(Layer):
    """Applies layers in order, passing `training` to each."""

    def __init__(self, layers: Sequence[Layer], name: Optional[str] = None):
        super().__init__(name=name)
        self.layers = list(layers)

    def forward(self, inputs, training):
        x = inputs
        for layer in self.layers:
            x = layer(x, training=training)
        return x
