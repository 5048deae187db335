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
# The kernel init of PyTorch's Conv2d and Linear: uniform(+-1/sqrt(fan_in)).
TORCH_UNIFORM = "torch_uniform"


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
    raise ValueError(f"stddev must be a non-negative number, None, 'he', 'glorot' or "
                     f"{TORCH_UNIFORM!r}, got {init!r}")


def _check_init(init: Init) -> Init:
    """Validates a kernel init (see `initial_kernel`) eagerly."""
    if init != TORCH_UNIFORM:
        initial_stddev(init, 1, 1)
    return init


def initial_kernel(init: Init, shape: Sequence[int], fan_in: int, fan_out: int) -> tf.Tensor:
    """Initial float32 kernel of `shape`.

    Args:
      init: 'torch_uniform' for uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) -- the
        default of PyTorch's Conv2d and Linear (kaiming_uniform with a=sqrt(5)) --
        else a truncated normal with the stddev `initial_stddev` gives.
    """
    if init == TORCH_UNIFORM:
        bound = 1.0 / math.sqrt(fan_in)
        return tf.random.uniform(shape, -bound, bound)
    return tf.random.truncated_normal(shape, stddev=initial_stddev(init, fan_in, fan_out))


def identity_kernel(kernel_size: Sequence[int], in_channels: int, filters: int) -> tf.Tensor:
    """[kh, kw, in, filters] kernel whose output o < in_channels copies input channel o.

    The one tap is at (kh // 2, kw // 2), as PyTorch's `nn.init.dirac_` puts it, so
    with SAME padding the copy is exact for odd sizes; for even sizes it is the
    lower-right of the four central taps. Outputs o >= in_channels are zero.
    """
    kh, kw = kernel_size
    eye = tf.eye(in_channels, filters)  # [in, filters], 1 where in == out
    return tf.scatter_nd([[kh // 2, kw // 2]], eye[None], [kh, kw, in_channels, filters])


def _check_wd(wd: Optional[float], name: str) -> Optional[float]:
    if wd is not None and (not isinstance(wd, (int, float)) or not wd >= 0):
        raise ValueError(f"{name} must be None or a number >= 0, got {wd!r}")
    return wd


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
    """Convolution [b,h,w,c] -> [b,h',w',filters].

    Args:
      filters: output channels.
      kernel_size: int or (kh, kw).
      strides: int or (sh, sw).
      padding: 'SAME' or 'VALID'.
      stddev: kernel init: a truncated-normal stddev, None/'he'/'glorot' (see
        `initial_stddev`), or 'torch_uniform' (PyTorch's default, see `initial_kernel`).
      wd: kernel weight decay (None for none).
      bias_init: constant initial bias, or None for no bias.
      activation: optional function applied to the output (e.g. `tf.nn.relu`).
      identity_init: after the kernel is drawn, output channels o < in_channels
        get the identity ("dirac") filter copying input channel o (`identity_kernel`:
        one tap at (kh // 2, kw // 2), as PyTorch's `nn.init.dirac_`); the others
        keep their draw. So with filters >= in_channels, SAME padding, stride 1
        and an odd kernel, the first in_channels outputs equal the input (plus
        the bias) at initialisation.
      kernel_trainable: False freezes the kernel: a non-trainable variable, in
        `variables` and checkpoints but not `trainable_variables`, so that
        neither the optimizer nor weight decay touch it (then `wd` must be None).
        Set it by assignment, e.g. `convnet.whitening.patch_whitening_kernel`.
      bias_wd: bias weight decay (None for none, the default).
    """

    def __init__(self, filters: int, kernel_size=3, strides=1, padding: str = "SAME",
                 stddev: Init = None, wd: Optional[float] = None,
                 bias_init: Optional[float] = 0.0, activation: ActivationFn = None,
                 name: Optional[str] = None, identity_init: bool = False,
                 kernel_trainable: bool = True, bias_wd: Optional[float] = None):
        super().__init__(name=name)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"filters must be a positive int, got {filters!r}")
        self.filters = filters
        self.kernel_size = ops._pair(kernel_size, "kernel_size")
        self.strides = ops._pair(strides, "strides")
        self.padding = ops._check_padding(padding)
        self.stddev = _check_init(stddev)
        self.wd = _check_wd(wd, "wd")
        self.bias_wd = _check_wd(bias_wd, "bias_wd")
        if not kernel_trainable and wd is not None:
            raise ValueError(f"a frozen kernel (kernel_trainable=False) cannot be decayed, "
                             f"got wd={wd}: pass wd=None")
        if bias_init is None and bias_wd is not None:
            raise ValueError(f"bias_wd={bias_wd} but bias_init=None: there is no bias to decay")
        self.bias_init, self.activation = bias_init, activation
        self.identity_init, self.kernel_trainable = bool(identity_init), bool(kernel_trainable)

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        kh, kw = self.kernel_size
        shape = [kh, kw, in_channels, self.filters]
        initial = initial_kernel(self.stddev, shape, kh * kw * in_channels, kh * kw * self.filters)
        if self.identity_init:
            identity = identity_kernel(self.kernel_size, in_channels, self.filters)
            replaced = tf.range(self.filters) < in_channels  # [filters]
            initial = tf.where(replaced, identity, initial)
        self.kernel = ops.variable_from_value("kernel", initial, self.wd, self.kernel_trainable)
        self.bias = None
        if self.bias_init is not None:
            self.bias = ops.variable_from_value(
                "bias", tf.fill([self.filters], float(self.bias_init)), self.bias_wd)

    def forward(self, inputs, training):
        bias = None if self.bias is None else tf.cast(self.bias, inputs.dtype)
        out = ops.conv2d(inputs, tf.cast(self.kernel, inputs.dtype), bias,
                         self.strides, self.padding)
        return self.activation(out) if self.activation else out


class Dense(Layer):
    """Fully connected [b, ...] -> [b, units] (the input is flattened first).

    Args mirror `Conv2D`: `stddev` as in `initial_kernel`, `wd` decays the kernel,
    `bias_wd` the bias (None: no decay), `bias_init=None` for no bias.
    """

    def __init__(self, units: int, stddev: Init = None, wd: Optional[float] = None,
                 bias_init: Optional[float] = 0.0, activation: ActivationFn = None,
                 name: Optional[str] = None, bias_wd: Optional[float] = None):
        super().__init__(name=name)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"units must be a positive int, got {units!r}")
        if bias_init is None and bias_wd is not None:
            raise ValueError(f"bias_wd={bias_wd} but bias_init=None: there is no bias to decay")
        self.units, self.stddev = units, _check_init(stddev)
        self.wd, self.bias_wd = _check_wd(wd, "wd"), _check_wd(bias_wd, "bias_wd")
        self.bias_init, self.activation = bias_init, activation

    def build(self, input_shape):
        fan_in = tf.TensorShape(input_shape[1:]).num_elements()
        if fan_in is None:
            raise ValueError(f"Dense needs a static non-batch input shape, got {input_shape}")
        initial = initial_kernel(self.stddev, [fan_in, self.units], fan_in, self.units)
        self.kernel = ops.variable_from_value("kernel", initial, self.wd)
        self.bias = None
        if self.bias_init is not None:
            self.bias = ops.variable_from_value(
                "bias", tf.fill([self.units], float(self.bias_init)), self.bias_wd)

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


class Scale(Layer):
    """Multiplies its input by a fixed number, e.g. `Scale(1 / 9)` on logits (airbench).

    The factor is a constant, not a variable: it is neither trained nor checkpointed.
    """

    def __init__(self, factor: float, name: Optional[str] = None):
        super().__init__(name=name)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) \
                or not math.isfinite(factor):
            raise ValueError(f"factor must be a finite number, got {factor!r}")
        self.factor = float(factor)

    def forward(self, inputs, training):
        return inputs * tf.cast(self.factor, inputs.dtype)


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
    (PyTorch's `momentum=m` is this `momentum=1 - m`.)

    Args:
      momentum: weight of the old moving statistics, in [0, 1).
      epsilon: added to the variance, > 0 (1e-12 works in float32: the statistics
        and the normalisation are always computed in float32).
      center / scale: learn beta (offset, zero init) / gamma (scale, one init).
      beta_wd / gamma_wd: weight decay of beta / gamma (None: none, the default).
    """

    def __init__(self, momentum: float = 0.9, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, name: Optional[str] = None,
                 beta_wd: Optional[float] = None, gamma_wd: Optional[float] = None):
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
        self.beta_wd, self.gamma_wd = _check_wd(beta_wd, "beta_wd"), _check_wd(gamma_wd, "gamma_wd")

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
