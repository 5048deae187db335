"""convnet.ops against tf.nn references and independent numpy computations."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.nn import ops
from convnet.runtime import precision

from helpers import xla_compiled_calls

RNG = np.random.default_rng(0)


def numpy_conv2d(x, k, stride, padding):
    """Direct NHWC convolution (cross-correlation) with TF's SAME padding rule."""
    n, h, w, c = x.shape
    kh, kw, _, o = k.shape
    if padding == "SAME":
        oh, ow = -(-h // stride), -(-w // stride)
        ph = max((oh - 1) * stride + kh - h, 0)
        pw = max((ow - 1) * stride + kw - w, 0)
        x = np.pad(x, [(0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)])
    else:
        oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.tensordot(patch, k, axes=([1, 2, 3], [0, 1, 2]))
    return out


def numpy_pool(x, size, stride, padding, reduce):
    n, h, w, c = x.shape
    if padding == "SAME":
        oh, ow = -(-h // stride), -(-w // stride)
        ph = max((oh - 1) * stride + size - h, 0)
        pw = max((ow - 1) * stride + size - w, 0)
        x = np.pad(x, [(0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)],
                   constant_values=np.nan)
    else:
        oh, ow = (h - size) // stride + 1, (w - size) // stride + 1
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j, :] = reduce(x[:, i * stride:i * stride + size,
                                     j * stride:j * stride + size, :], axis=(1, 2))
    return out


def numpy_lrn(x, r, bias, alpha, beta):
    c = x.shape[-1]
    out = np.empty_like(x)
    for d in range(c):
        lo, hi = max(0, d - r), min(c, d + r + 1)
        s = (x[..., lo:hi] ** 2).sum(-1)
        out[..., d] = x[..., d] / (bias + alpha * s) ** beta
    return out


@pytest.mark.parametrize("stride,padding", [(1, "SAME"), (2, "SAME"), (1, "VALID"), (2, "VALID")])
def test_conv2d_matches_numpy(stride, padding):
    x = RNG.normal(size=(2, 7, 6, 3)).astype(np.float32)
    k = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
    b = RNG.normal(size=4).astype(np.float32)
    got = ops.conv2d(x, k, b, strides=stride, padding=padding).numpy()
    np.testing.assert_allclose(got, numpy_conv2d(x, k, stride, padding) + b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("size,stride,padding", [(3, 2, "SAME"), (2, 2, "VALID"), (3, 1, "SAME")])
def test_max_pool_matches_numpy(size, stride, padding):
    x = RNG.normal(size=(2, 7, 8, 3)).astype(np.float32)
    got = ops.max_pool(x, size, stride, padding=padding).numpy()
    np.testing.assert_allclose(got, numpy_pool(x, size, stride, padding, np.nanmax), rtol=1e-6)


@pytest.mark.parametrize("size,stride,padding", [(2, 2, "VALID"), (3, 2, "SAME")])
def test_avg_pool_matches_numpy_counting_real_pixels_only(size, stride, padding):
    x = RNG.normal(size=(2, 6, 7, 3)).astype(np.float32)
    got = ops.avg_pool(x, size, stride, padding=padding).numpy()
    np.testing.assert_allclose(got, numpy_pool(x, size, stride, padding, np.nanmean),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16])
@pytest.mark.parametrize("shape,stride,channels", [((2, 8, 8, 4), 2, 8), ((2, 7, 5, 3), 2, 8),
                                                   ((1, 6, 6, 5), 1, 6), ((1, 9, 9, 2), 3, 2)])
def test_subsample_and_pad_is_numpy_slicing_and_padding_and_so_is_its_gradient(
        shape, stride, channels, dtype):
    x = RNG.standard_normal(shape).astype(np.float32)
    extra = channels - shape[-1]
    before = extra // 2
    expected = np.pad(x[:, ::stride, ::stride], [(0, 0), (0, 0), (0, 0), (before, extra - before)])
    inputs = tf.cast(x, dtype)
    upstream = tf.cast(RNG.standard_normal(expected.shape).astype(np.float32), dtype)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = ops.subsample_and_pad(inputs, stride, channels)
    gradient = tape.gradient(out, inputs, output_gradients=upstream)
    rounded = tf.cast(tf.cast(expected, dtype), tf.float32).numpy()  # bfloat16: x rounded once
    np.testing.assert_array_equal(tf.cast(out, tf.float32).numpy(), rounded)
    # The gradient: the upstream values at the kept pixels' kept channels, zero elsewhere.
    expected_gradient = np.zeros(shape, np.float32)
    expected_gradient[:, ::stride, ::stride] = tf.cast(
        upstream, tf.float32).numpy()[..., before:before + shape[-1]]
    np.testing.assert_array_equal(tf.cast(gradient, tf.float32).numpy(), expected_gradient)


def test_subsample_and_pad_refuses_fewer_channels_and_passes_an_identity_through():
    x = tf.ones([1, 4, 4, 3])
    assert ops.subsample_and_pad(x, 1, 3) is x
    with pytest.raises(ValueError, match="channels >= the input's 3, got stride 2, channels 2"):
        ops.subsample_and_pad(x, 2, 2)


def test_global_avg_pool():
    x = RNG.normal(size=(3, 4, 5, 6)).astype(np.float32)
    np.testing.assert_allclose(ops.global_avg_pool(x).numpy(), x.mean(axis=(1, 2)), rtol=1e-5)


@pytest.mark.parametrize("radius,bias,alpha,beta", [
    (ops.LRN_DEPTH_RADIUS, ops.LRN_BIAS, ops.LRN_ALPHA, ops.LRN_BETA),
    (2, 2.0, 1e-2, 0.5),
    (0, 1.0, 0.1, 1.0),
])
def test_lrn_matches_tf_reference_and_numpy(radius, bias, alpha, beta):
    x = (RNG.normal(size=(2, 3, 3, 16)) * 20).astype(np.float32)
    got = ops.lrn(x, radius, bias, alpha=alpha, beta=beta).numpy()
    reference = tf.nn.local_response_normalization(x, radius, bias, alpha, beta).numpy()
    np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, numpy_lrn(x.astype(np.float64), radius, bias, alpha, beta),
                               rtol=1e-4, atol=1e-6)


def test_lrn_gradient_matches_tf_reference():
    x = tf.constant((RNG.normal(size=(2, 4, 4, 64)) * 30).astype(np.float32))
    upstream = tf.constant(RNG.normal(size=(2, 4, 4, 64)).astype(np.float32))
    grads = []
    for fn in (ops.lrn, tf.nn.local_response_normalization):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(fn(x, 4, 1.0, alpha=0.001 / 9, beta=0.75) * upstream)
        grads.append(tape.gradient(y, x).numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_dense_flattens_and_matches_numpy():
    x = RNG.normal(size=(3, 2, 2, 5)).astype(np.float32)
    k = RNG.normal(size=(20, 7)).astype(np.float32)
    b = RNG.normal(size=7).astype(np.float32)
    np.testing.assert_allclose(ops.dense(x, k, b).numpy(), x.reshape(3, 20) @ k + b, rtol=1e-5,
                               atol=1e-5)


def test_dropout_identity_outside_training_and_scaled_inside():
    x = tf.ones([4, 1000])
    assert ops.dropout(x, 0.5, training=False) is x
    assert ops.dropout(x, 0.0, training=True) is x
    y = ops.dropout(x, 0.25, training=True, seed=tf.constant([1, 2])).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert 0.70 < kept.mean() < 0.80
    again = ops.dropout(x, 0.25, training=True, seed=tf.constant([1, 2])).numpy()
    np.testing.assert_array_equal(y, again)
    with pytest.raises(ValueError, match="dropout rate"):
        ops.dropout(x, 1.0, training=True)


def test_batch_norm_and_moments_match_numpy():
    x = RNG.normal(2.0, 3.0, size=(8, 3, 3, 4)).astype(np.float32)
    mean, variance = ops.moments(x)
    np.testing.assert_allclose(mean.numpy(), x.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(variance.numpy(), x.var(axis=(0, 1, 2)), rtol=1e-4)
    gamma, beta = np.float32([1, 2, 3, 4]), np.float32([0, -1, 1, 0.5])
    got = ops.batch_norm(x, mean, variance, offset=beta, scale=gamma, epsilon=1e-3).numpy()
    expected = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-3) * gamma + beta
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_variable_with_weight_decay_is_truncated_normal_and_carries_wd():
    tf.random.set_seed(1)
    w = ops.variable_with_weight_decay("w", [200, 100], stddev=0.5, wd=0.004)
    values = w.numpy()
    assert np.abs(values).max() <= 2 * 0.5
    # Truncating at 2 stddev leaves a stddev of 0.88 * 0.5.
    assert abs(values.std() - 0.88 * 0.5) < 0.01
    assert ops.weight_decay_of(w) == 0.004
    plain = ops.variable_with_weight_decay("b", [3], stddev=0.1, wd=None)
    assert ops.weight_decay_of(plain) is None
    with pytest.raises(ValueError, match="wd"):
        ops.variable_with_weight_decay("c", [3], stddev=0.1, wd=-1.0)


def test_variable_from_value_carries_wd_and_refuses_decay_on_a_frozen_variable():
    w = ops.variable_from_value("w", [1.0, 2.0], wd=0.5)
    assert w.trainable and ops.weight_decay_of(w) == 0.5
    frozen = ops.variable_from_value("f", tf.ones([2, 2]), wd=None, trainable=False)
    assert not frozen.trainable and ops.weight_decay_of(frozen) is None
    with pytest.raises(ValueError, match="not trainable"):
        ops.variable_from_value("g", [1.0], wd=0.1, trainable=False)
    with pytest.raises(ValueError, match="wd"):
        ops.variable_from_value("h", [1.0], wd=-0.1)


def test_weight_decay_loss_sums_decayed_variables_only():
    a = ops.variable_with_weight_decay("a", [3, 4], 1.0, wd=0.004)
    b = ops.variable_with_weight_decay("b", [5], 1.0, wd=0.5)
    c = ops.variable_with_weight_decay("c", [6], 1.0, wd=None)
    expected = 0.004 * (a.numpy() ** 2).sum() / 2 + 0.5 * (b.numpy() ** 2).sum() / 2
    np.testing.assert_allclose(ops.weight_decay_loss([a, b, c]).numpy(), expected, rtol=1e-5)
    assert float(ops.weight_decay_loss([c])) == 0.0

    module = tf.Module()
    module.weights = [a, c]
    np.testing.assert_allclose(ops.weight_decay_loss(module).numpy(),
                               0.004 * (a.numpy() ** 2).sum() / 2, rtol=1e-5)


def test_ops_accept_a_dynamic_batch_dimension():
    k = tf.random.normal([3, 3, 4, 8])

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 4], tf.float32)])
    def net(x):
        y = ops.lrn(ops.max_pool(tf.nn.relu(ops.conv2d(x, k)), 3, 2))
        y = ops.avg_pool(y, 2, 2)
        return ops.dense(y, tf.ones([2 * 2 * 8, 3])), ops.global_avg_pool(y)

    for batch in (1, 5):
        logits, pooled = net(tf.random.normal([batch, 8, 8, 4]))
        assert logits.shape == (batch, 3) and pooled.shape == (batch, 8)


@pytest.mark.parametrize("call", [
    lambda: ops.conv2d(tf.zeros([1, 4, 4, 1]), tf.zeros([3, 3, 1, 1]), padding="FULL"),
    lambda: ops.max_pool(tf.zeros([1, 4, 4, 1]), ksize=0),
    lambda: ops.avg_pool(tf.zeros([1, 4, 4, 1]), strides=(1, 2, 3)),
    lambda: ops.lrn(tf.zeros([1, 4, 4, 2]), depth_radius=-1),
])
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("kernel_size", [(1, 1), (2, 2), (3, 3), (2, 3), (5, 5)])
def test_stride1_conv_gradients_equal_tensorflows(padding, kernel_size):
    # The input gradient is a forward convolution with the flipped, transposed kernel.
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(2, 9, 8, 3)), tf.float32)
    w = tf.constant(rng.normal(size=(*kernel_size, 3, 4)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, w])
        ours = ops.conv2d(x, w, padding=padding)
        theirs = tf.nn.conv2d(x, w, 1, padding)
        loss_ours, loss_theirs = tf.reduce_sum(ours ** 2), tf.reduce_sum(theirs ** 2)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for got, want in zip(tape.gradient(loss_ours, [x, w]), tape.gradient(loss_theirs, [x, w]),
                         strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-4)


def numpy_filter_gradient(x, upstream, kernel_size, padding):
    """dK[a, b, c, o] = sum over n, i, j of x_padded[n, i + a, j + b, c] upstream[n, i, j, o]."""
    kh, kw = kernel_size
    if padding == "SAME":
        x = np.pad(x, [(0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)])
    _, oh, ow, _ = upstream.shape
    return np.stack([np.stack([np.tensordot(x[:, a:a + oh, b:b + ow, :], upstream,
                                            axes=([0, 1, 2], [0, 1, 2]))
                               for b in range(kw)]) for a in range(kh)])


@pytest.mark.parametrize("padding, input_size, kernel_size, by_taps", [
    ("SAME", 4, (3, 3), True), ("SAME", 3, (2, 2), True), ("VALID", 6, (3, 3), True),
    ("SAME", 2, (3, 2), True), ("SAME", 5, (3, 3), False), ("VALID", 9, (3, 3), False)])
def test_bfloat16_filter_gradients_of_small_outputs_are_taps_and_match_numpy(
        padding, input_size, kernel_size, by_taps):
    # At most 16 output positions (4x4): one matmul a tap instead of Conv2DBackpropFilter.
    rng = np.random.default_rng(1)
    x = tf.cast(rng.normal(size=(3, input_size, input_size, 5)), tf.bfloat16)
    w = tf.cast(rng.normal(size=(*kernel_size, 5, 6)), tf.bfloat16)

    def kernel_gradient(inputs, kernel):
        with tf.GradientTape() as tape:
            tape.watch(kernel)
            y = ops.conv2d(inputs, kernel, padding=padding)
        return y, tape.gradient(y, kernel, output_gradients=upstream)

    out_h, out_w = ((input_size, input_size) if padding == "SAME" else
                    (input_size - kernel_size[0] + 1, input_size - kernel_size[1] + 1))
    assert (out_h * out_w <= ops.TAPS_MAX_OUTPUT_POSITIONS) == by_taps
    upstream = tf.cast(rng.normal(size=(3, out_h, out_w, 6)), tf.bfloat16)
    graph = tf.function(kernel_gradient).get_concrete_function(x, w).graph
    kernels = [op for op in graph.get_operations() if op.type == "Conv2DBackpropFilter"]
    assert bool(kernels) != by_taps
    _, got = kernel_gradient(x, w)
    assert got.dtype == tf.bfloat16 and got.shape == w.shape
    if not by_taps and precision.choose(gpu_capabilities=[]).precision != "mixed_bfloat16":
        pytest.skip("TensorFlow's own bfloat16 Conv2DBackpropFilter on a CPU without bfloat16 "
                    "instructions rounds its sums to bfloat16 (errors of 0.2-0.8 on sums of 75 "
                    "products); --precision=auto picks float32 there")
    want = numpy_filter_gradient(tf.cast(x, tf.float64).numpy(),
                                 tf.cast(upstream, tf.float64).numpy(), kernel_size, padding)
    np.testing.assert_allclose(tf.cast(got, tf.float64).numpy(), want, rtol=1e-2, atol=2e-2)


@pytest.mark.parametrize("dtype, rtol", [(tf.bfloat16, 1e-2), (tf.float16, 1e-3)])
def test_bias_add_gradient_in_low_precision_is_the_whole_sum(dtype, rtol):
    # TensorFlow's BiasAddGrad on a CPU accumulates bfloat16 in bfloat16 and stalls (a sum
    # of 1.9M gradients near 0.01 came to 0.1x its value); reduce_sum does so in float16.
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(16, 32, 32, 4)).astype(np.float32)
    bias = np.array([0.5, -1.0, 2.0, 0.0], np.float32)
    upstream = tf.cast(rng.normal(0.5, 1.0, size=inputs.shape), dtype)
    low_bias = tf.constant(bias, dtype)
    with tf.GradientTape() as tape:
        tape.watch(low_bias)
        out = ops.bias_add(tf.constant(inputs, dtype), low_bias)
        loss = tf.reduce_sum(tf.cast(out, tf.float32) * tf.cast(upstream, tf.float32))
    assert out.dtype == dtype
    np.testing.assert_allclose(tf.cast(out, tf.float32).numpy(),
                               tf.cast(tf.constant(inputs, dtype), tf.float32).numpy() + bias,
                               rtol=rtol, atol=rtol)
    expected = tf.cast(upstream, tf.float64).numpy().sum(axis=(0, 1, 2))
    np.testing.assert_allclose(tf.cast(tape.gradient(loss, low_bias), tf.float64).numpy(),
                               expected, rtol=rtol)


def test_bias_add_in_float32_is_tensorflows():
    inputs = tf.random.stateless_normal([2, 3, 3, 4], seed=[1, 2])
    bias = tf.constant([0.5, -1.0, 2.0, 0.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(bias)
        ours, theirs = ops.bias_add(inputs, bias), tf.nn.bias_add(inputs, bias)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(tape.gradient(ours, bias).numpy(),
                                  tape.gradient(theirs, bias).numpy())


def _normal_cdf(x):
    from math import erf
    return 0.5 * (1.0 + np.vectorize(erf)(x / np.sqrt(2.0)))


@pytest.mark.parametrize("xla", [False, True])
@pytest.mark.parametrize("dtype, tol", [(tf.float32, 1e-5), (tf.float64, 1e-12),
                                        (tf.bfloat16, 2e-2), (tf.float16, 2e-3)])
def test_gelu_and_its_gradient_match_numpy(dtype, tol, xla):
    # gelu(x) = x * Phi(x); d/dx = Phi(x) + x * phi(x), phi the standard normal density.
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0.0, 2.0, size=200), [-8.0, -3.0, 0.0, 3.0, 8.0]])
    upstream = rng.normal(size=x.shape)
    x_low = tf.constant(x, dtype)
    x64 = tf.cast(x_low, tf.float64).numpy()  # the values the op sees
    with tf.GradientTape() as tape:
        tape.watch(x_low)
        y = ops.gelu(x_low, xla=xla)
    gradient = tape.gradient(y, x_low, output_gradients=tf.constant(upstream, dtype))
    assert y.dtype == dtype and gradient.dtype == dtype
    density = np.exp(-0.5 * x64 ** 2) / np.sqrt(2.0 * np.pi)
    np.testing.assert_allclose(tf.cast(y, tf.float64).numpy(), x64 * _normal_cdf(x64),
                               rtol=tol, atol=tol)
    upstream64 = tf.cast(tf.constant(upstream, dtype), tf.float64).numpy()
    np.testing.assert_allclose(tf.cast(gradient, tf.float64).numpy(),
                               upstream64 * (_normal_cdf(x64) + x64 * density),
                               rtol=tol, atol=tol)


def test_gelu_agrees_with_tensorflows_exact_gelu_and_refuses_integers():
    x = tf.random.stateless_normal([4, 5, 5, 3], seed=[4, 2], stddev=3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours, theirs = ops.gelu(x), tf.nn.gelu(x, approximate=False)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(tape.gradient(ours, x).numpy(), tape.gradient(theirs, x).numpy(),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="floating-point"):
        ops.gelu(tf.constant([1, 2]))


def test_gelu_fuses_its_forward_unless_plain_ops_are_asked_for_and_always_its_backward():
    # Exporters trace inside plain_ops(): the TFLite and ONNX converters take plain ops
    # only; the gradient is always one XLA-compiled loop.
    x = tf.TensorSpec([2, 3], tf.bfloat16)

    def forward_and_backward(inputs, xla):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            y = ops.gelu(inputs, xla=xla)
        return tape.gradient(y, inputs)

    assert xla_compiled_calls(lambda t: ops.gelu(t), x) == 1
    assert xla_compiled_calls(lambda t: ops.gelu(t, xla=False), x) == 0
    assert not ops.plain_ops_on()
    with ops.plain_ops():
        with ops.plain_ops():
            assert ops.plain_ops_on()
        assert ops.plain_ops_on()  # nested: the outer one still holds
        assert xla_compiled_calls(lambda t: ops.gelu(t), x) == 0
        assert xla_compiled_calls(lambda t: ops.gelu(t, xla=True), x) == 1
    assert not ops.plain_ops_on()
    assert xla_compiled_calls(lambda t: forward_and_backward(t, False), x) == 1
    assert xla_compiled_calls(lambda t: forward_and_backward(t, True), x) == 2


def test_the_portable_normal_cdf_is_within_1_5e_7_of_the_exact_one_with_no_erf_op():
    # Abramowitz and Stegun 7.1.26 bounds erf's error by 1.5e-7; Phi = (1 + erf(x/sqrt2)) / 2
    # halves it. Exact: math.erf in float64 (an independent computation).
    x = np.concatenate([np.linspace(-12.0, 12.0, 4801), [-1e3, -40.0, 0.0, 40.0, 1e3]])
    exact = _normal_cdf(x)
    ours64 = ops.portable_normal_cdf(tf.constant(x, tf.float64)).numpy()
    assert np.max(np.abs(ours64 - exact)) <= 0.76e-7
    ours32 = ops.portable_normal_cdf(tf.constant(x, tf.float32)).numpy()
    assert np.max(np.abs(ours32 - exact)) <= 3e-7  # and float32 arithmetic (2 ulps of 1)
    assert ours32[4801] == 0.0 and ours32[-1] == 1.0 and np.all(np.diff(ours64[:4801]) >= 0)
    # Under plain_ops() (what exporters trace in) gelu uses it: no Erf/Erfc op in the graph,
    # the numbers of the exact GELU within float32 tolerance.
    inputs = tf.random.stateless_normal([2, 7, 7, 16], seed=[1, 2], stddev=3.0)
    with ops.plain_ops():
        graph = tf.function(ops.gelu).get_concrete_function(
            tf.TensorSpec(inputs.shape, tf.float32)).graph
        portable = ops.gelu(inputs)
    kinds = {op.type for op in graph.get_operations()}
    assert not kinds & {"Erf", "Erfc"} and "Exp" in kinds
    np.testing.assert_allclose(portable.numpy(), tf.nn.gelu(inputs, approximate=False).numpy(),
                               rtol=0, atol=1e-6)


def _batch_norm_numpy(x, beta, gamma, epsilon, upstream):
    """Forward, input and parameter gradients of training-mode batch norm, float64."""
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    rstd = 1.0 / np.sqrt(var + epsilon)
    xhat = (x - mean) * rstd
    y = xhat * gamma + beta
    g = upstream * gamma
    dx = rstd * (g - g.mean(axis=axes) - xhat * (g * xhat).mean(axis=axes))
    n = x.size // x.shape[-1]
    return y, mean, var * n / (n - 1), dx, upstream.sum(axis=axes), (upstream * xhat).sum(axis=axes)


@pytest.mark.parametrize("shape", [(6, 5, 5, 4), (40, 3), (3, 4, 4, 32), (3, 4, 4, 36)])
@pytest.mark.parametrize("dtype, tol", [(tf.float32, 1e-4), (tf.bfloat16, 3e-2)])
def test_fused_batch_norm_training_matches_numpy(shape, dtype, tol):
    rng = np.random.default_rng(5)
    x = tf.constant(rng.normal(1.5, 3.0, size=shape), dtype)
    beta = tf.constant(rng.normal(size=shape[-1]), tf.float32)
    gamma = tf.constant(rng.uniform(0.5, 2.0, size=shape[-1]), tf.float32)
    upstream = tf.constant(rng.normal(size=shape), dtype)
    with tf.GradientTape() as tape:
        tape.watch([x, beta, gamma])
        y, mean, unbiased = ops.fused_batch_norm(x, beta, gamma, epsilon=1e-12)
    dx, dbeta, dgamma = tape.gradient(y, [x, beta, gamma], output_gradients=upstream)
    assert y.dtype == dtype and y.shape == shape and mean.dtype == tf.float32
    f64 = lambda t: tf.cast(t, tf.float64).numpy()  # noqa: E731
    expected = _batch_norm_numpy(f64(x), f64(beta), f64(gamma), 1e-12, f64(upstream))
    for got, want in zip((y, mean, unbiased, dx, dbeta, dgamma), expected, strict=True):
        scale = max(1.0, np.abs(want).max())
        np.testing.assert_allclose(f64(got), want, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("channels,kernel_dtype", [(32, tf.bfloat16), (36, tf.float32),
                                                   (12, tf.float32)])
@pytest.mark.parametrize("training", [True, False])
def test_bfloat16_batch_norm_runs_in_float32_where_onednn_would_fall_back(
        channels, kernel_dtype, training):
    # oneDNN's bfloat16 kernel takes channels in blocks of 16; other counts run the float32
    # kernel between casts, forward and backward, and still return bfloat16.
    stats = {} if training else dict(mean=tf.zeros([channels]), variance=tf.ones([channels]))

    def forward_and_backward(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = ops.fused_batch_norm(x, None, None, epsilon=1e-3, **stats)[0]
        return y, tape.gradient(y, x)

    spec = tf.TensorSpec([2, 3, 3, channels], tf.bfloat16)
    graph = tf.function(forward_and_backward).get_concrete_function(spec).graph
    kernels = [op for op in graph.get_operations() if op.type.startswith("FusedBatchNorm")]
    assert kernels and {op.get_attr("T") for op in kernels} == {kernel_dtype}
    y, dx = forward_and_backward(tf.random.stateless_normal([2, 3, 3, channels], [1, 2],
                                                            dtype=tf.bfloat16))
    assert y.dtype == dx.dtype == tf.bfloat16


def test_fused_batch_norm_inference_uses_the_given_statistics():
    x = np.random.default_rng(6).normal(size=(3, 2, 2, 4)).astype(np.float32)
    mean, variance = np.array([0.5, -1.0, 0.0, 2.0], np.float32), np.array([1.0, 4.0, 0.25, 9.0],
                                                                           np.float32)
    y, m, v = ops.fused_batch_norm(x, None, None, epsilon=1e-3, mean=mean, variance=variance)
    np.testing.assert_allclose(y.numpy(), (x - mean) / np.sqrt(variance + 1e-3), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(m.numpy(), mean)
    with pytest.raises(ValueError, match="both mean and variance"):
        ops.fused_batch_norm(x, None, None, epsilon=1e-3, mean=mean)
    with pytest.raises(ValueError, match="rank >= 2"):
        ops.fused_batch_norm(tf.zeros([4]), None, None)
