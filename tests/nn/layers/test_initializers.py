"""convnet.nn.layers.initializers: truncated-normal stddevs, PyTorch's uniform, identity kernels."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.nn.layers.initializers import (
    TORCH_UNIFORM,
    check_init,
    identity_kernel,
    initial_stddev,
)
from convnet.nn.layers.linear import Conv2D, Dense


def test_torch_uniform_init_bounds_and_spread():
    conv = Conv2D(256, 3, stddev=TORCH_UNIFORM)
    conv(tf.zeros([1, 4, 4, 64]))
    bound = np.float32(1 / np.sqrt(3 * 3 * 64))  # the bound as float32 holds it
    kernel = conv.kernel.numpy()
    assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.99 * bound
    assert abs(kernel.std() - bound / np.sqrt(3)) / (bound / np.sqrt(3)) < 0.02
    dense = Dense(50, stddev=TORCH_UNIFORM, bias_init=None)
    dense(tf.zeros([1, 400]))
    assert dense.bias is None and len(dense.trainable_variables) == 1
    assert np.abs(dense.kernel.numpy()).max() <= np.float32(1 / np.sqrt(400))


def test_initial_stddev_he_glorot_and_a_number():
    truncated = 0.87962566103423978
    assert initial_stddev(None, 288, 64) == initial_stddev("he", 288, 64)
    assert initial_stddev("he", 288, 64) == pytest.approx(np.sqrt(2 / 288) / truncated)
    assert initial_stddev("glorot", 100, 50) == pytest.approx(np.sqrt(2 / 150) / truncated)
    assert initial_stddev(0.04, 100, 50) == 0.04


def test_identity_kernel_has_one_central_tap_per_copied_channel():
    kernel = identity_kernel([3, 3], 2, 3).numpy()
    expected = np.zeros([3, 3, 2, 3], np.float32)
    expected[1, 1, 0, 0] = expected[1, 1, 1, 1] = 1.0
    np.testing.assert_array_equal(kernel, expected)


@pytest.mark.parametrize("make", [
    lambda: Conv2D(4, stddev="torch"),
    lambda: Conv2D(4, stddev=-1.0),
    lambda: Dense(4, stddev="uniform"),
    lambda: check_init("torch"),
])
def test_kernel_inits_are_validated_eagerly(make):
    with pytest.raises(ValueError):
        make()
