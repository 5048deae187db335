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
