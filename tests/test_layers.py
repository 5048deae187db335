"""convnet.layers: lazy variables, agreement with convnet.ops, BatchNorm statistics."""

import numpy as np
import pytest
import tensorflow as tf

from convnet import layers, ops


def test_conv2d_creates_variables_on_first_call_and_equals_ops():
    layer = layers.Conv2D(5, 3, strides=2, padding="VALID", stddev=0.1, wd=0.01, bias_init=0.5,
                          activation=tf.nn.relu, name="c")
    assert not layer.variables
    x = tf.random.normal([2, 9, 9, 4])
    y = layer(x)
    assert layer.kernel.shape == (3, 3, 4, 5) and layer.bias.shape == (5,)
    assert ops.weight_decay_of(layer.kernel) == 0.01 and ops.weight_decay_of(layer.bias) is None
    np.testing.assert_allclose(layer.bias.numpy(), 0.5)
    expected = tf.nn.relu(ops.conv2d(x, layer.kernel, layer.bias, 2, "VALID"))
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-6)
    assert layer.kernel.name.startswith("c/kernel")


def test_conv2d_without_bias_and_he_init():
    layer = layers.Conv2D(64, 3, bias_init=None)
    layer(tf.zeros([1, 8, 8, 32]))
    assert layer.bias is None and len(layer.trainable_variables) == 1
    # He init: stddev sqrt(2 / (3*3*32)) after truncation.
    expected = np.sqrt(2 / 288)
    assert abs(layer.kernel.numpy().std() - expected) / expected < 0.05


def test_dense_flattens_input():
    layer = layers.Dense(7, stddev=0.1, name="d")
    x = tf.random.normal([3, 2, 2, 5])
    y = layer(x)
    assert layer.kernel.shape == (20, 7)
    np.testing.assert_allclose(y.numpy(), (tf.reshape(x, [3, 20]) @ layer.kernel).numpy()
                               + layer.bias.numpy(), rtol=1e-5, atol=1e-6)


def test_batch_norm_training_updates_moving_statistics():
    layer = layers.BatchNorm(momentum=0.9, epsilon=1e-3)
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(16, 4, 4, 3)).astype(np.float32)
    y = layer(tf.constant(x), training=True).numpy()
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-4)
    n = 16 * 4 * 4
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 + 0.1 * var * n / (n - 1),
                               rtol=1e-5)
    inference = layer(tf.constant(x), training=False).numpy()
    expected = (x - layer.moving_mean.numpy()) / np.sqrt(layer.moving_variance.numpy() + 1e-3)
    np.testing.assert_allclose(inference, expected, rtol=1e-4, atol=1e-4)
    assert len(layer.trainable_variables) == 2 and len(layer.variables) == 4


def test_dropout_only_in_training_and_reproducible_from_seed():
    x = tf.ones([2, 500])
    a, b = layers.Dropout(0.5, seed=3), layers.Dropout(0.5, seed=3)
    assert a(x, training=False) is x
    np.testing.assert_array_equal(a(x, training=True).numpy(), b(x, training=True).numpy())


def test_sequential_passes_training_and_keeps_batch_dynamic():
    net = layers.Sequential([layers.Conv2D(4, 3), layers.LRN(), layers.MaxPool(),
                             layers.AvgPool(2, 2, "SAME"), layers.Flatten(),
                             layers.Dense(3), layers.Dropout(0.5)])
    net(tf.zeros([1, 8, 8, 3]))
    fn = tf.function(lambda x: net(x), input_signature=[tf.TensorSpec([None, 8, 8, 3])])
    assert fn(tf.zeros([6, 8, 8, 3])).shape == (6, 3)
    assert layers.GlobalAvgPool()(tf.zeros([2, 5, 5, 7])).shape == (2, 7)


@pytest.mark.parametrize("make", [
    lambda: layers.Conv2D(0, 3),
    lambda: layers.Conv2D(4, 3, padding="full"),
    lambda: layers.Dense(-1),
    lambda: layers.Dropout(1.5),
    lambda: layers.BatchNorm(momentum=1.0),
    lambda: layers.MaxPool(ksize=(1, 2, 3)),
])
def test_constructor_arguments_are_validated_eagerly(make):
    with pytest.raises(ValueError):
        make()


# --- options of the airbench networks (identity init, frozen kernel, bias decay, Scale) ---


@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_identity_init_conv_returns_its_input_channels(kernel_size):
    layer = layers.Conv2D(7, kernel_size, identity_init=True, bias_init=None)
    x = tf.random.normal([2, 6, 6, 4])
    y = layer(x).numpy()
    np.testing.assert_allclose(y[..., :4], x.numpy(), atol=1e-6)
    # The other filters keep their random draw, so their outputs are not copies.
    kernel = layer.kernel.numpy()
    assert np.abs(kernel[..., 4:]).min() > 0 and kernel[..., 4:].std() > 0.05
    expected = np.zeros([kernel_size, kernel_size, 4, 4], np.float32)
    for o in range(4):
        expected[kernel_size // 2, kernel_size // 2, o, o] = 1.0
    np.testing.assert_array_equal(kernel[..., :4], expected)


def test_identity_init_even_kernel_puts_the_tap_at_k_over_2_like_torch_dirac():
    layer = layers.Conv2D(3, 2, padding="VALID", identity_init=True, bias_init=None)
    x = tf.random.normal([1, 5, 5, 3])
    y = layer(x).numpy()
    # Tap (1, 1): output pixel (i, j) copies input pixel (i + 1, j + 1).
    np.testing.assert_allclose(y, x.numpy()[:, 1:, 1:, :], atol=1e-6)


def test_identity_init_with_fewer_filters_than_inputs_copies_the_first_ones():
    layer = layers.Conv2D(2, 3, identity_init=True, bias_init=None)
    x = tf.random.normal([1, 4, 4, 5])
    np.testing.assert_allclose(layer(x).numpy(), x.numpy()[..., :2], atol=1e-6)
    expected = tf.nn.conv2d(x, layers.identity_kernel([3, 3], 5, 2), 1, "SAME")
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), atol=1e-6)


def test_torch_uniform_init_bounds_and_spread():
    conv = layers.Conv2D(256, 3, stddev=layers.TORCH_UNIFORM)
    conv(tf.zeros([1, 4, 4, 64]))
    bound = 1 / np.sqrt(3 * 3 * 64)
    kernel = conv.kernel.numpy()
    assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.99 * bound
    assert abs(kernel.std() - bound / np.sqrt(3)) / (bound / np.sqrt(3)) < 0.02
    dense = layers.Dense(50, stddev=layers.TORCH_UNIFORM, bias_init=None)
    dense(tf.zeros([1, 400]))
    assert dense.bias is None and len(dense.trainable_variables) == 1
    assert np.abs(dense.kernel.numpy()).max() <= 1 / np.sqrt(400)


def test_frozen_kernel_is_a_variable_but_not_trainable_and_is_checkpointed(tmp_path):
    layer = layers.Conv2D(4, 2, padding="VALID", kernel_trainable=False, bias_wd=0.1, name="w")
    x = tf.random.normal([2, 5, 5, 3])
    layer(x)
    assert [v.name for v in layer.trainable_variables] == ["w/bias:0"]
    assert {v.name for v in layer.variables} == {"w/bias:0", "w/kernel:0"}
    assert ops.weight_decay_of(layer.bias) == 0.1 and ops.weight_decay_of(layer.kernel) is None
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))
    kernel_grad, bias_grad = tape.gradient(loss, [layer.kernel, layer.bias])
    assert kernel_grad is None and bias_grad is not None  # the tape never watched the kernel
    value = tf.random.normal(layer.kernel.shape)
    layer.kernel.assign(value)
    path = tf.train.Checkpoint(layer=layer).write(str(tmp_path / "ckpt"))
    restored = layers.Conv2D(4, 2, padding="VALID", kernel_trainable=False, name="w")
    restored(x)
    tf.train.Checkpoint(layer=restored).read(path).assert_consumed()
    np.testing.assert_array_equal(restored.kernel.numpy(), value.numpy())
    np.testing.assert_allclose(restored(x).numpy(),
                               tf.nn.conv2d(x, value, 1, "VALID").numpy(), rtol=1e-5, atol=1e-5)


def test_bias_weight_decay_enters_the_loss():
    conv = layers.Conv2D(3, 1, stddev=0.0, wd=0.5, bias_init=2.0, bias_wd=0.25)
    dense = layers.Dense(2, stddev=0.0, bias_init=1.0, bias_wd=0.5)
    conv(tf.zeros([1, 2, 2, 1]))
    dense(tf.zeros([1, 3]))
    # 0.25 * (3 * 2**2) / 2 + 0.5 * (2 * 1**2) / 2 (kernels are zero).
    assert float(ops.weight_decay_loss(list(conv.variables) + list(dense.variables))) == 2.0


def test_scale_multiplies_by_a_constant_in_the_input_dtype():
    layer = layers.Scale(1 / 9)
    x = tf.random.normal([2, 10])
    np.testing.assert_allclose(layer(x).numpy(), x.numpy() / 9, rtol=1e-6)
    assert not layer.variables
    assert layer(tf.ones([1, 2], tf.float16)).dtype == tf.float16


def test_gelu_activation_is_the_exact_erf_gelu():
    x = np.linspace(-5, 5, 101).astype(np.float32)
    layer = layers.Activation(lambda t: tf.nn.gelu(t, approximate=False))
    erf = np.vectorize(__import__("math").erf)
    np.testing.assert_allclose(layer(tf.constant(x)).numpy(), x * 0.5 * (1 + erf(x / np.sqrt(2))),
                               rtol=1e-5, atol=1e-6)


def test_batch_norm_airbench_settings_match_numpy():
    """scale=False, beta only, momentum 0.6 (PyTorch 0.4), epsilon 1e-12 in float32."""
    layer = layers.BatchNorm(momentum=0.6, epsilon=1e-12, center=True, scale=False,
                             beta_wd=5e-3, name="bn")
    rng = np.random.default_rng(1)
    x = rng.normal(0.5, 3.0, size=(8, 3, 3, 5)).astype(np.float32)
    y = layer(tf.constant(x), training=True).numpy()
    assert layer.gamma is None and [v.name for v in layer.trainable_variables] == ["bn/beta:0"]
    assert ops.weight_decay_of(layer.beta) == 5e-3
    assert len(layer.variables) == 3
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=(0, 1, 2)), x64.var(axis=(0, 1, 2))
    np.testing.assert_allclose(y, (x64 - mean) / np.sqrt(var + 1e-12), rtol=1e-4, atol=1e-4)
    n = 8 * 3 * 3
    moving_mean = 0.4 * mean
    moving_var = 0.6 + 0.4 * var * n / (n - 1)
    np.testing.assert_allclose(layer.moving_mean.numpy(), moving_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), moving_var, rtol=1e-5)
    # A second batch: moving = 0.6 * moving + 0.4 * batch.
    x2 = rng.normal(-1.0, 0.5, size=(8, 3, 3, 5)).astype(np.float32)
    layer(tf.constant(x2), training=True)
    x2_64 = x2.astype(np.float64)
    moving_mean = 0.6 * moving_mean + 0.4 * x2_64.mean(axis=(0, 1, 2))
    moving_var = 0.6 * moving_var + 0.4 * x2_64.var(axis=(0, 1, 2)) * n / (n - 1)
    np.testing.assert_allclose(layer.moving_mean.numpy(), moving_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), moving_var, rtol=1e-5)
    layer.beta.assign([0.1, 0.2, 0.3, 0.4, 0.5])
    inference = layer(tf.constant(x), training=False).numpy()
    expected = (x64 - moving_mean) / np.sqrt(moving_var + 1e-12) + [0.1, 0.2, 0.3, 0.4, 0.5]
    np.testing.assert_allclose(inference, expected, rtol=1e-4, atol=1e-4)


def test_batch_norm_epsilon_1e_12_keeps_a_constant_channel_finite():
    layer = layers.BatchNorm(epsilon=1e-12, scale=False)
    x = tf.concat([tf.fill([4, 2, 2, 1], 3.0), tf.random.normal([4, 2, 2, 1])], axis=-1)
    y = layer(x, training=True).numpy()
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y[..., 0], 0.0, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: layers.Conv2D(4, stddev="torch"),
    lambda: layers.Conv2D(4, stddev=-1.0),
    lambda: layers.Conv2D(4, wd=-0.1),
    lambda: layers.Conv2D(4, bias_wd=-0.1),
    lambda: layers.Conv2D(4, bias_init=None, bias_wd=0.1),
    lambda: layers.Conv2D(4, kernel_trainable=False, wd=0.1),
    lambda: layers.Dense(4, bias_init=None, bias_wd=0.1),
    lambda: layers.Dense(4, stddev="uniform"),
    lambda: layers.Scale(float("nan")),
    lambda: layers.Scale("1/9"),
    lambda: layers.BatchNorm(epsilon=0.0),
    lambda: layers.BatchNorm(center=False, beta_wd=0.1),
    lambda: layers.BatchNorm(scale=False, gamma_wd=0.1),
    lambda: layers.BatchNorm(beta_wd=-1.0),
])
def test_airbench_options_are_validated_eagerly(make):
    with pytest.raises(ValueError):
        make()
