"""convnet.nn.layers.linear: Conv2D and Dense: lazy variables, agreement with convnet.ops,
options."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.nn import ops
from convnet.nn.layers.initializers import identity_kernel
from convnet.nn.layers.linear import Conv2D, Dense


def test_conv2d_creates_variables_on_first_call_and_equals_ops():
    layer = Conv2D(5, 3, strides=2, padding="VALID", stddev=0.1, wd=0.01, bias_init=0.5,
                          activation=tf.nn.relu, name="c")
    assert not layer.variables
    x = tf.random.normal([2, 9, 9, 4])
    y = layer(x)
    assert layer.kernel.shape == (3, 3, 4, 5) and layer.bias.shape == (5,)
    assert ops.weight_decay_of(layer.kernel) == 0.01 and ops.weight_decay_of(layer.bias) is None
    np.testing.assert_allclose(layer.bias.numpy(), 0.5)
    expected = tf.nn.relu(ops.conv2d(x, layer.kernel, layer.bias, strides=2, padding="VALID"))
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-6)
    assert layer.kernel.name.startswith("c/kernel")


def test_conv2d_without_bias_and_he_init():
    layer = Conv2D(64, 3, bias_init=None)
    layer(tf.zeros([1, 8, 8, 32]))
    assert layer.bias is None and len(layer.trainable_variables) == 1
    # He init: stddev sqrt(2 / (3*3*32)) after truncation.
    expected = np.sqrt(2 / 288)
    assert abs(layer.kernel.numpy().std() - expected) / expected < 0.05


def test_dense_flattens_input():
    layer = Dense(7, stddev=0.1, name="d")
    x = tf.random.normal([3, 2, 2, 5])
    y = layer(x)
    assert layer.kernel.shape == (20, 7)
    np.testing.assert_allclose(y.numpy(), (tf.reshape(x, [3, 20]) @ layer.kernel).numpy()
                               + layer.bias.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: Conv2D(0, 3),
    lambda: Conv2D(4, 3, padding="full"),
    lambda: Dense(-1),
    lambda: Conv2D(4, wd=-0.1),
    lambda: Conv2D(4, bias_wd=-0.1),
    lambda: Conv2D(4, bias_init=None, bias_wd=0.1),
    lambda: Conv2D(4, kernel_trainable=False, wd=0.1),
    lambda: Dense(4, bias_init=None, bias_wd=0.1),
])
def test_constructor_arguments_are_validated_eagerly(make):
    with pytest.raises(ValueError):
        make()


# --- options of the airbench networks (identity init, frozen kernel, bias decay) ---


@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_identity_init_conv_returns_its_input_channels(kernel_size):
    layer = Conv2D(7, kernel_size, identity_init=True, bias_init=None)
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
    layer = Conv2D(3, 2, padding="VALID", identity_init=True, bias_init=None)
    x = tf.random.normal([1, 5, 5, 3])
    y = layer(x).numpy()
    # Tap (1, 1): output pixel (i, j) copies input pixel (i + 1, j + 1).
    np.testing.assert_allclose(y, x.numpy()[:, 1:, 1:, :], atol=1e-6)


def test_identity_init_with_fewer_filters_than_inputs_copies_the_first_ones():
    layer = Conv2D(2, 3, identity_init=True, bias_init=None)
    x = tf.random.normal([1, 4, 4, 5])
    np.testing.assert_allclose(layer(x).numpy(), x.numpy()[..., :2], atol=1e-6)
    expected = tf.nn.conv2d(x, identity_kernel([3, 3], 5, 2), 1, "SAME")
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), atol=1e-6)


def test_frozen_kernel_is_a_variable_but_not_trainable_and_is_checkpointed(tmp_path):
    layer = Conv2D(4, 2, padding="VALID", kernel_trainable=False, bias_wd=0.1, name="w")
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
    restored = Conv2D(4, 2, padding="VALID", kernel_trainable=False, name="w")
    restored(x)
    tf.train.Checkpoint(layer=restored).read(path).assert_consumed()
    np.testing.assert_array_equal(restored.kernel.numpy(), value.numpy())
    np.testing.assert_allclose(restored(x).numpy(),
                               tf.nn.conv2d(x, value, 1,
                                            "VALID").numpy(), rtol=1e-5, atol=1e-5)


def test_bias_weight_decay_enters_the_loss():
    conv = Conv2D(3, 1, stddev=0.0, wd=0.5, bias_init=2.0, bias_wd=0.25)
    dense = Dense(2, stddev=0.0, bias_init=1.0, bias_wd=0.5)
    conv(tf.zeros([1, 2, 2, 1]))
    dense(tf.zeros([1, 3]))
    # 0.25 * (3 * 2**2) / 2 + 0.5 * (2 * 1**2) / 2 (kernels are zero).
    assert float(ops.weight_decay_loss(list(conv.variables) + list(dense.variables))) == 2.0
