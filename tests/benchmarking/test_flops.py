"""convnet.benchmarking.flops: model FLOPs against a hand count and TensorFlow's profiler."""

import pytest
import tensorflow as tf

from convnet import models
from convnet.benchmarking import flops


def test_tutorial_flops_match_a_hand_count():
    # Multiply-adds a 24x24x3 example: output height * width * filters * kernel volume.
    conv1 = 24 * 24 * 64 * (5 * 5 * 3)  # SAME, stride 1: 24x24x64        2,764,800
    conv2 = 12 * 12 * 64 * (5 * 5 * 64)  # after pool1 (3/2 SAME): 12x12  14,745,600
    local3 = (6 * 6 * 64) * 384  # after pool2: 6x6x64 = 2,304 inputs          884,736
    local4 = 384 * 192  #                                                       73,728
    logits = 192 * 10  #                                                         1,920
    model = models.build_model("cifar10")
    rows = flops.layer_macs(model, (24, 24, 3))
    assert rows == [("cifar10/conv1", conv1), ("cifar10/conv2", conv2),
                    ("cifar10/local3", local3), ("cifar10/local4", local4),
                    ("cifar10/softmax_linear", logits)]
    forward = 2 * (conv1 + conv2 + local3 + local4 + logits)
    assert forward == 36_941_568
    assert flops.model_flops(model, (24, 24, 3)) == {"forward_per_example": forward,
                                                     "training_per_example": 3 * forward}


def _profiled_flops(model, input_shape, op_types):
    """float_ops of TensorFlow's profiler over one example's forward graph, by op type (the
    1x1 convolutions of ops.subsample_and_pad move data: the model's FLOPs leave them out)."""
    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, *input_shape]))
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=function.graph, options=options)
    types = {op.name: op.type for op in function.graph.get_operations()}
    return sum(node.float_ops for node in profile.children if types.get(node.name) in op_types
               and "subsample_and_pad" not in node.name)


@pytest.mark.parametrize("name,input_shape", [("lenet5", (32, 32, 3)), ("resnet20", (32, 32, 3))])
def test_forward_flops_agree_with_the_tensorflow_profiler(name, input_shape):
    model = models.build_model(name)
    model(tf.zeros([1, *input_shape]))
    assert flops.model_flops(model, input_shape)["forward_per_example"] == _profiled_flops(
        model, input_shape, {"Conv2D", "MatMul"})


def test_tutorial_conv_flops_agree_with_the_profiler():
    # (Its LRN is a banded matmul, which the profiler counts and the model FLOPs do not.)
    model = models.build_model("cifar10")
    model(tf.zeros([1, 24, 24, 3]))
    conv_macs = sum(macs for name, macs in flops.layer_macs(model, (24, 24, 3)) if "conv" in name)
    assert 2 * conv_macs == _profiled_flops(model, (24, 24, 3), {"Conv2D"})


def test_a_keras_models_conv_and_dense_layers_are_counted():
    keras = pytest.importorskip("keras")
    from convnet.models.keras_model import KerasModel
    net = keras.Sequential([
        keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, padding="same"),
        keras.layers.BatchNormalization(), keras.layers.Conv2D(6, 3, strides=2),
        keras.layers.Flatten(), keras.layers.Dense(5)], name="k")
    model = KerasModel(net, num_classes=5)
    # 8x8x4 outputs of a 3x3x3 kernel; 3x3x6 outputs (valid, stride 2) of 3x3x4; 54 -> 5.
    expected = [8 * 8 * 4 * 27, 3 * 3 * 6 * 36, 54 * 5]
    assert [macs for _, macs in flops.layer_macs(model, (8, 8, 3))] == expected
    assert [macs for _, macs in flops.layer_macs(model, (8, 8, 3))] == expected  # calls restored
    assert model(tf.zeros([2, 8, 8, 3])).shape == (2, 5)
