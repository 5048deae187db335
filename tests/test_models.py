"""The tutorial model: exact parameter count, shapes, weight decay, registry."""

import pytest
import tensorflow as tf

from convnet import models, ops

TUTORIAL_PARAMS = 1068298


def test_cifar10_model_has_the_tutorial_parameter_count():
    model = models.build_model("cifar10")
    logits = model(tf.zeros([2, 24, 24, 3]))
    assert logits.shape == (2, 10)
    assert models.count_params(model) == TUTORIAL_PARAMS
    shapes = {v.name.split(":")[0]: tuple(v.shape) for v in model.variables}
    assert shapes["cifar10/local3/kernel"] == (6 * 6 * 64, 384)
    assert shapes["cifar10/softmax_linear/kernel"] == (192, 10)


def test_only_the_hidden_fully_connected_kernels_are_decayed():
    model = models.build_model("cifar10")
    model(tf.zeros([1, 24, 24, 3]))
    decayed = {v.name.split(":")[0]: ops.weight_decay_of(v) for v in model.trainable_variables
               if ops.weight_decay_of(v) is not None}
    assert decayed == {"cifar10/local3/kernel": 0.004, "cifar10/local4/kernel": 0.004}


def test_initial_biases_follow_the_tutorial():
    model = models.build_model("cifar10")
    model(tf.zeros([1, 24, 24, 3]))
    assert float(tf.reduce_max(tf.abs(model.conv1.bias))) == 0.0
    for layer in (model.conv2, model.local3, model.local4):
        assert float(tf.reduce_min(layer.bias)) == pytest.approx(0.1)


def test_single_image_and_dynamic_batch():
    model = models.build_model("cifar10", num_classes=7)
    model(tf.zeros([1, 24, 24, 3]))
    fn = tf.function(lambda x: model(x), input_signature=[tf.TensorSpec([None, 24, 24, 3])])
    assert fn(tf.zeros([1, 24, 24, 3])).shape == (1, 7)
    assert fn(tf.zeros([33, 24, 24, 3])).shape == (33, 7)


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown --model='nope': choose from cifar10"):
        models.build_model("nope")
