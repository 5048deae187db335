"""convnet.nn.layers.pooling: max/average/global pooling and Flatten."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.nn import ops
from convnet.nn.layers.pooling import AvgPool, Flatten, GlobalAvgPool, MaxPool


def test_pools_equal_ops_and_flatten_keeps_the_batch():
    x = tf.random.normal([2, 7, 7, 3])
    np.testing.assert_array_equal(MaxPool()(x).numpy(), ops.max_pool(x, 3, 2,
                                                                     padding="SAME").numpy())
    np.testing.assert_array_equal(AvgPool()(x).numpy(), ops.avg_pool(x, 2, 2,
                                                                     padding="VALID").numpy())
    assert MaxPool()(x).shape == (2, 4, 4, 3) and AvgPool()(x).shape == (2, 3, 3, 3)
    assert GlobalAvgPool()(tf.zeros([2, 5, 5, 7])).shape == (2, 7)
    assert Flatten()(x).shape == (2, 7 * 7 * 3)


@pytest.mark.parametrize("make", [
    lambda: MaxPool(ksize=(1, 2, 3)),
    lambda: AvgPool(padding="full"),
])
def test_constructor_arguments_are_validated_eagerly(make):
    with pytest.raises(ValueError):
        make()
