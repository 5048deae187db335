"""The weight EMA against a numpy implementation."""

import numpy as np
import tensorflow as tf

from convnet.optim import ema as ema_lib


def test_ema_matches_numpy_with_num_updates():
    var = tf.Variable([1.0, 2.0])
    ema = ema_lib.WeightEMA(0.9999)
    ema.build([var])
    shadow = np.array([1.0, 2.0])
    for step in range(1, 6):
        var.assign_add([1.0, -1.0])
        ema.apply([var], step)
        decay = min(0.9999, (1 + step) / (10 + step))
        shadow = shadow - (1 - decay) * (shadow - var.numpy())
    np.testing.assert_allclose(ema.shadows[0].numpy(), shadow, rtol=1e-6)
    target = tf.Variable([0.0, 0.0])
    ema.copy_to([target])
    np.testing.assert_allclose(target.numpy(), shadow, rtol=1e-6)


def test_shadow_copies_are_named_non_trainable_copies():
    var = tf.Variable([3.0], name="block/kernel")
    module = tf.Module(name="owner")
    with module.name_scope:
        [copy] = ema_lib.shadow_copies([var])
    assert not copy.trainable and copy.name == "owner/block_kernel:0"
    var.assign([4.0])
    np.testing.assert_array_equal(copy.numpy(), [3.0])
