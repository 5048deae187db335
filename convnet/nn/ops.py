"""The layer vocabulary: pure functions on tensors plus weight-decay variables.

In the spirit of `tf.nn`: every op takes NHWC float tensors with a dynamic batch
dimension and returns a tensor; variables are created only by
`variable_with_weight_decay` and `variable_from_value` (which `convnet.layers` uses).

Weight decay is explicit and carried by the variable itself: a decayed variable
has a `weight_decay` attribute (a Python float), and `weight_decay_loss` sums
`wd * tf.nn.l2_loss(w)` over the variables it is given. There are no global
collections, so nothing breaks under `tf.function` retracing.
"""

import contextlib
import math
import threading
from collections.abc import Iterable, Sequence

import tensorflow as tf

__all__ = [
    "WEIGHT_DECAY_ATTR", "LRN_DEPTH_RADIUS", "LRN_BIAS", "LRN_ALPHA", "LRN_BETA",
    "CUDNN_MIN_EPSILON", "variable_with_weight_decay", "variable_from_value", "weight_decay_of",
    "weight_decay_loss", "conv2d", "bias_add", "max_pool", "avg_pool", "global_avg_pool", "lrn",
    "flatten", "dense", "gelu", "portable_normal_cdf", "plain_ops", "plain_ops_on", "dropout",
    "batch_norm", "fused_batch_norm", "moments", "subsample_and_pad",
]

# The attribute that marks a variable as decayed (value: the decay coefficient).
WEIGHT_DECAY_ATTR = "weight_decay"

# Local response normalization constants of the cuda-convnet / TF tutorial model.
LRN_DEPTH_RADIUS = 4
LRN_BIAS = 1.0
LRN_ALPHA = 0.001 / 9.0
LRN_BETA = 0.75

IntOrPair = int | Sequence[int]


def _pair(value: IntOrPair, name: str) -> list:
    """Returns [h, w] from an int or a pair, checking that both are positive."""
    pair = [value, value] if isinstance(value, int) else list(value)
    if len(pair) != 2 or any((not isinstance(v, int)) or v <= 0 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return pair


def _check_padding(padding: str) -> str:
    padding = padding.upper()
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    return padding


def variable_with_weight_decay(
    name: str,
    shape: Sequence[int],
    stddev: float,
    *, wd: float | None,
    dtype: tf.DType = tf.float32,
    seed: int | None = None,
    trainable: bool = True,
) -> tf.Variable:
    """Creates a variable initialised from a truncated normal, with optional decay.

    Args:
      name: variable name.
      shape: variable shape.
      stddev: standard deviation of the truncated normal (values beyond 2 stddev
        are redrawn, as in `tf.random.truncated_normal`).
      wd: L2 weight-decay coefficient; the loss term is `wd * tf.nn.l2_loss(w)`,
        i.e. `wd * sum(w**2) / 2`. None means no decay (not even a zero term).
      dtype: variable dtype.
      seed: optional op seed for the initial value.
      trainable: whether the variable is trainable.

    Returns:
      A `tf.Variable`; when `wd` is not None it carries `weight_decay == wd`.
    """
    if stddev < 0:
        raise ValueError(f"stddev must be >= 0, got {stddev}")
    initial = tf.random.truncated_normal(shape, stddev=stddev, dtype=dtype, seed=seed)
    return variable_from_value(name, initial, wd, trainable=trainable)


def variable_from_value(name: str, initial_value, wd: float | None,
                        *, trainable: bool = True) -> tf.Variable:
    """Creates a variable from `initial_value`, carrying decay `wd` (None: none).

    A non-trainable variable cannot be decayed (its decay term would be a
    constant that `weight_decay_loss` of a module never sees): that is a ValueError.
    """
    if wd is not None and wd < 0:
        raise ValueError(f"wd must be None or >= 0, got {wd}")
    if wd is not None and not trainable:
        raise ValueError(f"variable {name!r} is not trainable, so it cannot carry weight "
                         f"decay (got wd={wd}): pass wd=None")
    var = tf.Variable(initial_value, name=name, trainable=trainable)
    if wd is not None:
        setattr(var, WEIGHT_DECAY_ATTR, float(wd))
    return var


def weight_decay_of(variable: tf.Variable) -> float | None:
    """Returns the decay coefficient a variable carries, or None."""
    return getattr(variable, WEIGHT_DECAY_ATTR, None)


def weight_decay_loss(variables_or_module: tf.Module | Iterable[tf.Variable]) -> tf.Tensor:
    """Sum of `wd * tf.nn.l2_loss(w)` over the decayed variables given.

    Args:
      variables_or_module: a `tf.Module` (its `trainable_variables` are used) or
        an iterable of variables. Variables without a decay coefficient are skipped.

    Returns:
      A float32 scalar (0.0 when no variable is decayed).
    """
    if isinstance(variables_or_module, tf.Module):
        variables = variables_or_module.trainable_variables
    else:
        variables = variables_or_module
    terms = []
    for var in variables:
        wd = weight_decay_of(var)
        if wd is not None:
            terms.append(tf.cast(wd * tf.nn.l2_loss(var), tf.float32))
    if not terms:
        return tf.constant(0.0, tf.float32)
    return tf.add_n(terms)


def conv2d(
    inputs: tf.Tensor,
    kernel: tf.Tensor,
    bias: tf.Tensor | None = None,
    *, strides: IntOrPair = 1,
    padding: str = "SAME",
) -> tf.Tensor:
    """2-D convolution with optional bias.

    Args:
      inputs: [batch, height, width, in_channels].
      kernel: [kh, kw, in_channels, out_channels].
      bias: optional [out_channels].
      strides: int or (sh, sw).
      padding: 'SAME' or 'VALID'.

    Returns:
      [batch, out_height, out_width, out_channels].

    With stride 1 the gradient with respect to `inputs` is computed as a forward
    convolution of the output gradient with the flipped, transposed kernel
    (`_stride1_conv`): the same numbers as TensorFlow's Conv2DBackpropInput, 2-7x
    faster on a CPU (measured on the airbench networks' shapes); in bfloat16 on a CPU, the
    gradient with respect to `kernel` of an output of at most 4x4 positions is one matmul
    a tap (`_stride1_filter_gradient`: 1.6-3.8x faster than Conv2DBackpropFilter there).
    """
    sh, sw = _pair(strides, "strides")
    padding = _check_padding(padding)
    kernel = tf.convert_to_tensor(kernel)
    if (sh, sw) == (1, 1) and kernel.shape.rank == 4 and kernel.shape[:2].is_fully_defined():
        out = _stride1_conv(padding, int(kernel.shape[0]), int(kernel.shape[1]))(inputs, kernel)
    else:
        out = tf.nn.conv2d(inputs, kernel, strides=[1, sh, sw, 1], padding=padding)
    if bias is not None:
        out = bias_add(out, bias)
    return out


def bias_add(inputs: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    """inputs [..., channels] + bias [channels], of one dtype.

    In float16 and bfloat16 the bias gradient is summed in float32, then rounded once:
    TensorFlow's BiasAddGrad kernel on a CPU accumulates bfloat16 in bfloat16, and its
    running sum stops growing once the addends fall below half its spacing (16,384
    gradients near 0.5 summed to about 1,050 instead of 8,100), so a bfloat16 bias moved
    by a fraction of its gradient; tf.reduce_sum stalls the same way in float16. Summing a
    float32 copy took about 3x a bfloat16 reduce_sum (46 vs 16 ms for [2000, 31, 31, 24]).
    """
    inputs = tf.convert_to_tensor(inputs)
    if inputs.dtype in (tf.float16, tf.bfloat16):
        return _bias_add_summed(inputs, tf.convert_to_tensor(bias))
    return tf.nn.bias_add(inputs, bias)


@tf.custom_gradient
def _bias_add_summed(inputs, bias):
    def gradient(output_gradient):
        batch_axes = tf.range(tf.rank(output_gradient) - 1)
        summed = tf.reduce_sum(tf.cast(output_gradient, tf.float32), axis=batch_axes)
        return output_gradient, tf.cast(summed, bias.dtype)

    return tf.nn.bias_add(inputs, bias), gradient


def _input_gradient_padding(padding: str, kh: int, kw: int):
    """The padding of the output gradient that makes the input gradient of a stride-1
    convolution a VALID forward convolution: the forward padding, mirrored."""
    if padding == "VALID":
        return [[0, 0], [kh - 1, kh - 1], [kw - 1, kw - 1], [0, 0]]
    return [pad[::-1] for pad in _same_padding(kh, kw)]


def _same_padding(kh: int, kw: int):
    """The padding of a stride-1 SAME convolution: the extra row/column goes after."""
    top, left = (kh - 1) // 2, (kw - 1) // 2
    return [[0, 0], [top, kh - 1 - top], [left, kw - 1 - left], [0, 0]]


def _stride1_conv(padding: str, kh: int, kw: int):
    """A stride-1 convolution whose input gradient is a forward convolution."""
    gradient_padding = _input_gradient_padding(padding, kh, kw)
    symmetric = all(before == after for before, after in gradient_padding)

    @tf.custom_gradient
    def conv(inputs, kernel):
        out = tf.nn.conv2d(inputs, kernel, strides=1, padding=padding)

        def grad(upstream):
            flipped = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])
            if symmetric and padding == "SAME":
                d_inputs = tf.nn.conv2d(upstream, flipped, strides=1, padding="SAME")
            else:
                d_inputs = tf.nn.conv2d(upstream, flipped, strides=1, padding=gradient_padding)
            return d_inputs, _stride1_filter_gradient(inputs, kernel, upstream, padding=padding)

        return out, grad

    return conv


# A bfloat16 stride-1 convolution whose output has at most this many positions (4x4) takes its
# filter gradient as one matmul a tap (`_filter_gradient_by_taps`) on a CPU.
TAPS_MAX_OUTPUT_POSITIONS = 16


def _stride1_filter_gradient(inputs, kernel, upstream, *, padding: str):
    """The gradient of a stride-1 convolution's loss with respect to its kernel
    [kh, kw, in, out], given its inputs and the output gradient `upstream` [N, H', W', out].

    TensorFlow's Conv2DBackpropFilter, except for bfloat16 outputs of at most
    TAPS_MAX_OUTPUT_POSITIONS positions on a CPU: there oneDNN's bfloat16 kernel runs at
    60-130 GFLOP/s where a matmul reaches 400, and one matmul a tap was 1.6-3.8x faster on a
    2-core AVX-512 CPU (3x3 kernels, min of 7: [128, 4, 4, 512] 43.6 -> 27.0 ms, [128, 2, 2,
    512] 35.5 -> 9.4, [2000, 3, 3, 256] 186.9 -> 76.0); at 8x8 and above, and in float32, the
    kernel is as fast or faster. The same numbers up to bfloat16 rounding (each tap's sum is
    accumulated in float32 and rounded once, as the kernel's)."""
    positions = upstream.shape[1:3]
    if (inputs.dtype == tf.bfloat16 and positions.is_fully_defined()
            and positions[0] * positions[1] <= TAPS_MAX_OUTPUT_POSITIONS
            and kernel.shape.is_fully_defined() and not _has_gpu()):
        return _filter_gradient_by_taps(inputs, upstream, padding, kernel_shape=kernel.shape)
    return tf.raw_ops.Conv2DBackpropFilter(
        input=inputs, filter_sizes=tf.shape(kernel), out_backprop=upstream,
        strides=[1, 1, 1, 1], padding=padding)


def _filter_gradient_by_taps(inputs, upstream, padding: str, *, kernel_shape) -> tf.Tensor:
    """Conv2DBackpropFilter of a stride-1 convolution as kh x kw matmuls: the kernel's tap
    (i, j) gets window (i, j) of the (padded) inputs, [N H' W', in] transposed, times the
    output gradient [N H' W', out]. Returns [kh, kw, in, out]."""
    kh, kw, channels_in, channels_out = (int(d) for d in kernel_shape)
    height, width = (int(d) for d in upstream.shape[1:3])
    if padding == "SAME":
        inputs = tf.pad(inputs, _same_padding(kh, kw))
    gradient = tf.reshape(upstream, [-1, channels_out])
    taps = [tf.matmul(tf.reshape(inputs[:, i:i + height, j:j + width, :], [-1, channels_in]),
                      gradient, transpose_a=True)
            for i in range(kh) for j in range(kw)]
    return tf.reshape(tf.stack(taps), [kh, kw, channels_in, channels_out])


def subsample_and_pad(inputs: tf.Tensor, stride: int, channels: int) -> tf.Tensor:
    """ResNet's parameter-free (option A) shortcut: every `stride`-th pixel of `inputs`
    [N, H, W, C] from the first, its channels zero-padded to `channels` (half the extra
    before, the odd one after): [N, ceil(H / stride), ceil(W / stride), channels].

    Computed as a 1x1 stride-`stride` convolution with a fixed 0/1 kernel: for finite
    inputs the same values as slicing `inputs[:, ::stride, ::stride]` and `tf.pad` (a product
    by 1 and sums of zeros), and the same input gradient, but in bfloat16 on a CPU about 3x
    faster than the strided slice and its StridedSliceGrad (8.6 -> 2.8 ms forward and
    backward for [128, 32, 32, 16] -> 32 channels; docs/results/engine, round 3).
    """
    inputs = tf.convert_to_tensor(inputs)
    have = int(inputs.shape[-1])
    if stride < 1 or channels < have:
        raise ValueError(f"subsample_and_pad needs stride >= 1 and channels >= the input's "
                         f"{have}, got stride {stride}, channels {channels}")
    if stride == 1 and channels == have:
        return inputs
    with tf.name_scope("subsample_and_pad"):  # moves data: no FLOPs of the model's
        selection = tf.one_hot(tf.range(have) + (channels - have) // 2, channels,
                               dtype=inputs.dtype)
        return tf.nn.conv2d(inputs, selection[None, None], strides=stride, padding="VALID")


def max_pool(inputs: tf.Tensor, ksize: IntOrPair = 3, strides: IntOrPair = 2,
             *, padding: str = "SAME") -> tf.Tensor:
    """Max pooling over [batch, h, w, c]; the tutorial uses 3x3 windows, stride 2, SAME."""
    kh, kw = _pair(ksize, "ksize")
    sh, sw = _pair(strides, "strides")
    return tf.nn.max_pool2d(inputs, [1, kh, kw, 1], [1, sh, sw, 1], _check_padding(padding))


def avg_pool(inputs: tf.Tensor, ksize: IntOrPair = 2, strides: IntOrPair = 2,
             *, padding: str = "VALID") -> tf.Tensor:
    """Average pooling over [batch, h, w, c] (SAME padding averages real pixels only)."""
    kh, kw = _pair(ksize, "ksize")
    sh, sw = _pair(strides, "strides")
    return tf.nn.avg_pool2d(inputs, [1, kh, kw, 1], [1, sh, sw, 1], _check_padding(padding))


def global_avg_pool(inputs: tf.Tensor) -> tf.Tensor:
    """Mean over height and width: [batch, h, w, c] -> [batch, c]."""
    return tf.reduce_mean(inputs, axis=[1, 2])


def _depth_window(channels: int, depth_radius: int) -> tf.Tensor:
    """[channels, channels] 0/1 matrix, 1 where |i - j| <= depth_radius."""
    index = tf.range(channels)
    distance = tf.abs(index[:, None] - index[None, :])
    return tf.cast(distance <= depth_radius, tf.float32)


def lrn(inputs: tf.Tensor, depth_radius: int = LRN_DEPTH_RADIUS, bias: float = LRN_BIAS,
        *, alpha: float = LRN_ALPHA, beta: float = LRN_BETA) -> tf.Tensor:
    """Local response normalization across channels (cuda-convnet "rnorm").

    out[b,y,x,d] = in[b,y,x,d] / (bias + alpha * sum_{|d'-d|<=depth_radius} in[b,y,x,d']**2) ** beta

    Equal to `tf.nn.local_response_normalization` (tested), but the window sum is
    a matmul with a banded [C, C] matrix, so autodiff gives a gradient about 4x
    faster on CPU than TensorFlow's LRNGrad kernel. Needs bias > 0. Computed in
    float32, returned in the input dtype.
    """
    if depth_radius < 0:
        raise ValueError(f"depth_radius must be >= 0, got {depth_radius}")
    if bias <= 0:
        raise ValueError(f"bias must be > 0, got {bias}")
    inputs = tf.convert_to_tensor(inputs)
    x = tf.cast(inputs, tf.float32)
    channels = x.shape[-1]
    if channels is None:
        raise ValueError("lrn needs a static channel dimension")
    window_sums = tf.reshape(
        tf.matmul(tf.reshape(tf.square(x), [-1, channels]), _depth_window(channels, depth_radius)),
        tf.shape(x))
    # x * (bias + alpha * s) ** -beta, via exp/log: cheaper than pow on CPU.
    out = x * tf.exp(-beta * tf.math.log(bias + alpha * window_sums))
    return tf.cast(out, inputs.dtype)


def flatten(inputs: tf.Tensor) -> tf.Tensor:
    """[batch, d1, d2, ...] -> [batch, d1*d2*...], batch kept dynamic."""
    inputs = tf.convert_to_tensor(inputs)
    static = inputs.shape[1:]
    if static.is_fully_defined():
        return tf.reshape(inputs, [-1, static.num_elements()])
    return tf.reshape(inputs, [tf.shape(inputs)[0], -1])


def dense(inputs: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | None = None) -> tf.Tensor:
    """Fully connected layer: flattens [batch, ...] then multiplies by kernel [in, out]."""
    out = tf.matmul(flatten(inputs), kernel)
    if bias is not None:
        out = bias_add(out, bias)
    return out


def gelu(inputs: tf.Tensor, xla: bool | None = None) -> tf.Tensor:
    """The exact GELU, x * Phi(x) with Phi the standard normal CDF (PyTorch's default,
    `tf.nn.gelu(approximate=False)`), elementwise on any shape; the outputs keep the
    inputs' dtype.

    Computed in float32 (float64 for float64 inputs), with a hand-written gradient
    dy * (Phi(x) + x * phi(x)) that recomputes Phi from the saved inputs, as one
    XLA-compiled loop (`jit_compile`: the casts, erf, exp and products fused into a single
    pass over the tensor, rounded once); TensorFlow's own kernels take a pass an op, 8 of
    them in float32 between bfloat16 casts. The forward pass is fused the same way unless
    `xla=False`, or (`xla=None`, the default) while `plain_ops()` is on: an exported
    inference graph needs TensorFlow's plain ops (tf2onnx and the TFLite converter cannot
    convert an XLA-compiled call); there Phi is `portable_normal_cdf`, built of the elementary
    ops every converter and runtime has (TFLite and ONNX have no Erf/Erfc kernel), equal to the
    exact one within 1.5e-7. Forward and backward of four activation shapes at batch
    2,000 ([2000, 31, 31, 64] to [2000, 7, 7, 128]) on a 2-core CPU: 0.5x the time of
    TensorFlow's ops in float32 and bfloat16 fused both ways, 0.7-0.8x with the backward
    alone.
    """
    inputs = tf.convert_to_tensor(inputs)
    if not inputs.dtype.is_floating:
        raise TypeError(f"gelu needs floating-point inputs, got {inputs.dtype.name}")
    if xla is None:
        if plain_ops_on():
            return _gelu_portable(inputs)
        xla = True
    return (_gelu_xla if xla else _gelu)(inputs)


_PLAIN_OPS = threading.local()


@contextlib.contextmanager
def plain_ops():
    """While on (in this thread), the ops that default to an XLA-compiled call (`gelu`)
    trace TensorFlow's plain ops instead: what a function traced for export needs (the
    exporters of `convnet.serving` trace inside it). Nests; restores the previous state."""
    previous = plain_ops_on()
    _PLAIN_OPS.on = True
    try:
        yield
    finally:
        _PLAIN_OPS.on = previous


def plain_ops_on() -> bool:
    """Whether `plain_ops()` is on in this thread."""
    return getattr(_PLAIN_OPS, "on", False)


_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _gelu_compute_dtype(dtype: tf.DType) -> tf.DType:
    return tf.float64 if dtype == tf.float64 else tf.float32


def _normal_cdf(x):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2, as PyTorch computes it: XLA's erf is one rational
    polynomial, 1.5-1.9x faster than its erfc forward; for x < -5.5 Phi rounds to 0 in
    float32, where the GELU itself is below 1e-7 in magnitude."""
    return 0.5 + 0.5 * tf.math.erf(x * _INV_SQRT2)


# Abramowitz and Stegun 7.1.26: erf(x) = 1 - (a1 t + ... + a5 t^5) exp(-x^2), t = 1 / (1 + p x)
# for x >= 0, with |error| <= 1.5e-7 (and erf(-x) = -erf(x)).
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def portable_normal_cdf(x: tf.Tensor) -> tf.Tensor:
    """Phi(x) from abs, exp, division and a polynomial (Abramowitz and Stegun 7.1.26 for erf):
    within 1.5e-7 of the exact Phi everywhere, from ops that TFLite and ONNX convert and run
    natively. Float32 or float64 `x`."""
    z = tf.abs(x) * _INV_SQRT2
    t = 1.0 / (1.0 + _ERF_P * z)
    poly = t * (_ERF_A[0] + t * (_ERF_A[1] + t * (_ERF_A[2] + t * (_ERF_A[3] + t * _ERF_A[4]))))
    half_erfc = 0.5 * poly * tf.exp(-z * z)  # (1 - erf(|x| / sqrt 2)) / 2 = Phi(-|x|)
    return tf.where(x >= 0, 1.0 - half_erfc, half_erfc)


def _gelu_portable(inputs):
    x = tf.cast(inputs, _gelu_compute_dtype(inputs.dtype))
    return tf.cast(x * portable_normal_cdf(x), inputs.dtype)


def _gelu_forward(inputs):
    x = tf.cast(inputs, _gelu_compute_dtype(inputs.dtype))
    return tf.cast(x * _normal_cdf(x), inputs.dtype)


@tf.function(jit_compile=True, autograph=False)
def _gelu_backward(inputs, output_gradient):
    compute = _gelu_compute_dtype(inputs.dtype)
    x = tf.cast(inputs, compute)
    derivative = _normal_cdf(x) + x * (_INV_SQRT_2PI * tf.exp(-0.5 * x * x))
    return tf.cast(tf.cast(output_gradient, compute) * derivative, inputs.dtype)


def _with_gelu_gradient(forward):
    @tf.custom_gradient
    def gelu_op(inputs):
        def gradient(output_gradient):
            return _gelu_backward(inputs, output_gradient)

        return forward(inputs), gradient

    return gelu_op


_gelu = _with_gelu_gradient(_gelu_forward)
_gelu_xla = _with_gelu_gradient(tf.function(_gelu_forward, jit_compile=True, autograph=False))


def dropout(inputs: tf.Tensor, rate: float, training: bool,
            *, seed: tf.Tensor | None = None) -> tf.Tensor:
    """Inverted dropout: zeroes a `rate` fraction and scales the rest by 1/(1-rate).

    Identity when `training` is False or `rate` is 0. With `seed` (an int32/int64
    [2] tensor) the mask is stateless and reproducible.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    if not training or rate == 0.0:
        return inputs
    if seed is not None:
        return tf.nn.experimental.stateless_dropout(inputs, rate=rate, seed=seed)
    return tf.nn.dropout(inputs, rate=rate)


def batch_norm(inputs: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor,
               *, offset: tf.Tensor | None, scale: tf.Tensor | None,
               epsilon: float = 1e-3) -> tf.Tensor:
    """(x - mean) / sqrt(variance + epsilon) * scale + offset, over the last axis.

    The statistics are given: use `moments` for batch statistics in training and
    moving averages in inference (`convnet.layers.BatchNorm` does both).
    """
    return tf.nn.batch_normalization(inputs, mean, variance, offset, scale, epsilon)


# cuDNN's smallest epsilon; TensorFlow's Python wrappers of FusedBatchNorm raise
# smaller ones to it. On a CPU the kernel takes any epsilon > 0.
CUDNN_MIN_EPSILON = 1.001e-5


def fused_batch_norm(inputs: tf.Tensor, offset: tf.Tensor | None, scale: tf.Tensor | None,
                     *, epsilon: float = 1e-3, mean: tf.Tensor | None = None,
                     variance: tf.Tensor | None = None) -> tuple:
    """Batch normalization over the last axis as one kernel (TensorFlow's FusedBatchNormV3).

    inputs: float32, bfloat16 or float16 [..., C] (rank >= 2); offset, scale, mean,
    variance: float32 [C] or None (offset 0, scale 1). With `mean` and `variance` None
    it normalises by the batch statistics (training), else by the given ones.

    Returns (outputs of the inputs' shape and dtype, batch mean [C], unbiased batch
    variance [C]); both statistics are float32, and are the given ones in inference.
    The statistics and the normalisation are computed in float32 whatever the input
    dtype, and the gradient is one fused kernel too: on a 2-core CPU the forward and
    backward pass took 4-5x less time than `moments` + `batch_norm` and their autodiff
    (38 vs 217 ms for bfloat16 [1024, 15, 15, 64]). On a CPU, bfloat16 inputs whose channel
    count is not a multiple of 16 are normalised by the float32 kernel between casts
    (`_bfloat16_falls_back`: oneDNN's bfloat16 kernel is 2-8x slower there).
    """
    inputs = tf.convert_to_tensor(inputs)
    if inputs.shape.rank is None or inputs.shape.rank < 2:
        raise ValueError(f"fused_batch_norm needs inputs of rank >= 2, got shape {inputs.shape}")
    channels = inputs.shape[-1]
    if channels is None:
        raise ValueError("fused_batch_norm needs a known channel count (the last axis)")
    training = mean is None
    if training != (variance is None):
        raise ValueError("give both mean and variance (inference) or neither (training)")
    if offset is None:
        offset = tf.zeros([channels], tf.float32)
    if scale is None:
        scale = tf.ones([channels], tf.float32)
    if training:
        mean = variance = tf.zeros([0], tf.float32)
    if _bfloat16_falls_back(inputs.dtype, channels):
        outputs, batch_mean, batch_variance = fused_batch_norm(
            tf.cast(inputs, tf.float32), offset, scale, epsilon=epsilon,
            mean=None if training else mean, variance=None if training else variance)
        return tf.cast(outputs, inputs.dtype), batch_mean, batch_variance
    # The kernel takes NHWC; any other rank is [N*..., 1, 1, C] (a free reshape).
    as_image = inputs.shape.rank == 4
    x = inputs if as_image else tf.reshape(inputs, [-1, 1, 1, channels])
    y, batch_mean, batch_variance = tf.raw_ops.FusedBatchNormV3(
        x=x, scale=scale, offset=offset, mean=mean, variance=variance, epsilon=epsilon,
        is_training=training, data_format="NHWC")[:3]
    return (y if as_image else tf.reshape(y, tf.shape(inputs))), batch_mean, batch_variance


# oneDNN's vectorised batch normalization of bfloat16 NHWC data takes channels in blocks of
# this many; other channel counts fall back to its generic kernel ('nspc_bnorm:any').
ONEDNN_BFLOAT16_CHANNEL_BLOCK = 16


def _bfloat16_falls_back(dtype: tf.DType, channels: int) -> bool:
    """Whether FusedBatchNormV3 of bfloat16 with `channels` channels would run oneDNN's
    generic kernel on this CPU: then `fused_batch_norm` computes in float32 (the kernel's
    own arithmetic; the inputs cast exactly, the outputs rounded once, as in bfloat16). Forward
    and backward of [64, 32, 32, C] on a 2-core AMX CPU, bfloat16 kernel vs float32 between
    casts: C=36 63.2 vs 7.8 ms, C=60 80.0 vs 17.9, C=108 116.4 vs 55.3, C=204 177.4 vs 98.0
    (DenseNet's concatenations: 12 channels a layer). Not with a GPU (cuDNN has no such gap)."""
    return (dtype == tf.bfloat16 and channels % ONEDNN_BFLOAT16_CHANNEL_BLOCK != 0
            and not _has_gpu())


def _has_gpu() -> bool:
    """Whether TensorFlow places ops on a GPU here: the CPU-only kernel choices (oneDNN's
    bfloat16 gaps) then do not apply."""
    return bool(tf.config.list_logical_devices("GPU"))


def moments(inputs: tf.Tensor) -> tuple:
    """Per-channel mean and (biased) variance over all axes but the last."""
    axes = list(range(len(inputs.shape) - 1))
    return tf.nn.moments(inputs, axes=axes)
