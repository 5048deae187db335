"""convnet.nn.layers.elementwise: Dropout, Scale and Activation."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.nn.layers.elementwise import Activation, Dropout, Scale


def test_dropout_only_in_training_and_reproducible_from_seed():
    x = tf.ones([2, 500])
    a, b = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    assert a(x, training=False) is x
    np.testing.assert_array_equal(a(x, training=True).numpy(), b(x, training=True).numpy())


def test_scale_multiplies_by_a_constant_in_the_input_dtype():
    layer = Scale(1 / 9)
    x = tf.random.normal([2, 10])
    np.testing.assert_allclose(layer(x).numpy(), x.numpy() / 9, rtol=1e-6)
    assert not layer.variables
    assert layer(tf.ones([1, 2], tf.float16)).dtype == tf.float16


def test_gelu_activation_is_the_exact_erf_gelu():
    x = np.linspace(-5, 5, 101).astype(np.float32)
    layer = Activation(lambda t: tf.nn.gelu(t, approximate=False))
    erf = np.vectorize(__import__("math").erf)
    np.testing.assert_allclose(layer(tf.constant(x)).numpy(), x * 0.5 * (1 + erf(x / np.sqrt(2))),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: Dropout(1.5),
    lambda: Scale(float("nan")),
    lambda: Scale("1/9"),
])
def test_constructor_arguments_are_validated_eagerly(make):
    with pytest.raises(ValueError):
        make()
