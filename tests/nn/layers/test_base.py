"""convnet.nn.layers.base: Layer (build once, then forward), Sequential, observe_calls."""

import pytest
import tensorflow as tf

from convnet.nn import layers
from convnet.nn.layers import base as layers_base


def test_sequential_passes_training_and_keeps_batch_dynamic():
    net = layers.Sequential([layers.Conv2D(4, 3), layers.LRN(), layers.MaxPool(),
                             layers.AvgPool(2, 2, "SAME"), layers.Flatten(),
                             layers.Dense(3), layers.Dropout(0.5)])
    net(tf.zeros([1, 8, 8, 3]))
    fn = tf.function(lambda x: net(x), input_signature=[tf.TensorSpec([None, 8, 8, 3])])
    assert fn(tf.zeros([6, 8, 8, 3])).shape == (6, 3)
    assert layers.GlobalAvgPool()(tf.zeros([2, 5, 5, 7])).shape == (2, 7)


def test_build_runs_once_in_the_name_scope_and_observe_calls_reports_every_call():
    net = layers.Sequential([layers.Dense(3, name="d")], name="net")
    seen = []
    with layers_base.observe_calls(lambda layer, out: seen.append((layer.name, out.shape))):
        net(tf.zeros([2, 4]))
        net(tf.zeros([5, 4]))
    assert seen == [("d", (2, 3)), ("net", (2, 3)), ("d", (5, 3)), ("net", (5, 3))]
    # Built once, in the scope of the layer that owns the variables.
    assert [v.name for v in net.variables] == ["d/bias:0", "d/kernel:0"]
    assert layers_base.Layer._call_observer is None  # pylint: disable=protected-access
    with pytest.raises(NotImplementedError):
        layers_base.Layer()(tf.zeros([1]))


@pytest.mark.parametrize("value", [-0.1, "0.1", float("nan")])
def test_check_weight_decay_names_the_argument(value):
    with pytest.raises(ValueError, match="bias_wd must be None or a number >= 0"):
        layers_base.check_weight_decay(value, "bias_wd")
    assert layers_base.check_weight_decay(None, "wd") is None
    assert layers_base.check_weight_decay(0, "wd") == 0
