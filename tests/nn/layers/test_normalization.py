"""convnet.nn.layers.normalization: BatchNorm statistics (Keras' and airbench's settings), LRN."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.nn import ops
from convnet.nn.layers.normalization import LRN, BatchNorm


def test_batch_norm_training_updates_moving_statistics():
    layer = BatchNorm(momentum=0.9, epsilon=1e-3)
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


def test_batch_norm_airbench_settings_match_numpy():
    """scale=False, beta only, momentum 0.6 (PyTorch 0.4), epsilon 1e-12 in float32."""
    layer = BatchNorm(momentum=0.6, epsilon=1e-12, center=True, scale=False,
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
    layer = BatchNorm(epsilon=1e-12, scale=False)
    x = tf.concat([tf.fill([4, 2, 2, 1], 3.0), tf.random.normal([4, 2, 2, 1])], axis=-1)
    y = layer(x, training=True).numpy()
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y[..., 0], 0.0, atol=1e-6)


def test_lrn_defaults_are_the_tutorials_and_equal_ops():
    x = tf.random.normal([2, 4, 4, 16])
    expected = ops.lrn(x, 4, 1.0, alpha=0.001 / 9.0, beta=0.75)
    np.testing.assert_allclose(LRN()(x).numpy(), expected.numpy(), rtol=1e-6)
    assert not LRN().variables


@pytest.mark.parametrize("make", [
    lambda: BatchNorm(momentum=1.0),
    lambda: BatchNorm(epsilon=0.0),
    lambda: BatchNorm(center=False, beta_wd=0.1),
    lambda: BatchNorm(scale=False, gamma_wd=0.1),
    lambda: BatchNorm(beta_wd=-1.0),
    lambda: LRN(depth_radius=-1),
])
def test_constructor_arguments_are_validated_eagerly(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize("dtype", [tf.bfloat16, tf.float64])
def test_batch_norm_keeps_the_input_dtype_with_float32_statistics(dtype):
    # bfloat16 goes through the fused kernel, float64 through the composite ops.
    layer = BatchNorm(momentum=0.5, epsilon=1e-12, scale=False)
    x = np.random.default_rng(2).normal(2.0, 3.0, size=(8, 4, 4, 3))
    low = tf.constant(x, dtype)
    y = layer(low, training=True)
    assert y.dtype == dtype and layer.moving_mean.dtype == tf.float32
    seen = tf.cast(low, tf.float64).numpy()
    mean, var = seen.mean(axis=(0, 1, 2)), seen.var(axis=(0, 1, 2))
    tol = 2e-2 if dtype == tf.bfloat16 else 1e-6
    np.testing.assert_allclose(tf.cast(y, tf.float64).numpy(),
                               (seen - mean) / np.sqrt(var + 1e-12), rtol=tol, atol=tol)
    n = 8 * 4 * 4
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.5 + 0.5 * var * n / (n - 1),
                               rtol=1e-5)
