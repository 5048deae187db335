"""Every model: exact parameter counts, shapes on CIFAR and MNIST inputs, weight decay."""

import numpy as np
import pytest
import tensorflow as tf

from convnet import models, ops

# (total, non-trainable) as Keras counts them: BN has 4 numbers a channel, 2 of them
# non-trainable moving statistics. From the table; the CIFAR ResNets
# (option A shortcuts) are what this code gives, matching the paper's 0.27M ... 1.7M.
PARAM_COUNTS = {
    "cifar10": (1068298, 0),
    "baseline": (198506, 12),
    "lenet5": (62006, 0),
    "alexnet": (9639178, 704),
    "vgg16": (15262026, 8448),
    "resnet18": (11183562, 9600),
    "resnet20": (271098, 1376),
    "resnet32": (466426, 2272),
    "resnet56": (857082, 4064),
    "resnet110": (1736058, 8096),
    "inception": (916586, 0),
    # fast94: whiten 2*2*3*24 (frozen) + 24 bias = 312; group1 3*3*24*64 + 3*3*64*64 + 2 BN x 3*64
    # = 51,072; group2 3*3*64*256 + 3*3*256*256 + 2 x 3*256 = 738,816; group3 2 x 3*3*256*256
    # + 2 x 3*256 = 1,181,184; dense 256*10 = 2,560. Non-trainable: the whitening kernel 288
    # + 2 moving statistics x (64 + 64 + 4 x 256). fast93: group2 221,952, group3 295,680,
    # dense 1,280; non-trainable 288 + 2 x (64 + 64 + 4 x 128). (See convnet/models/fast.py.)
    "fast93": (570296, 1568),
    "fast94": (1973944, 2592),
    "densenet100_12": (793150, 23988),
    "densenet100_24": (3068482, 47976),
    "densenet121": (7039818, 83520),
    "densenet169": (12651594, 158272),
    "densenet201": (18333258, 228928),
    "densenet161": (26702122, 219744),
}
# Models that make sense on 28x28x1 MNIST digits.
MNIST_MODELS = ("baseline", "lenet5", "alexnet", "resnet18", "resnet20", "vgg16", "inception",
                "densenet100_12")


def _built(name, shape=(32, 32, 3), num_classes=10, weight_decay=None):
    model = models.build_model(name, num_classes, weight_decay)
    size = model.image_size or shape[0]
    model(tf.zeros([1, size, size, shape[-1]]))
    return model


def test_every_registered_model_has_an_asserted_count():
    assert sorted(PARAM_COUNTS) == sorted(models.MODELS)


@pytest.mark.parametrize("name", sorted(PARAM_COUNTS))
def test_parameter_counts(name):
    model = _built(name)
    total, non_trainable = PARAM_COUNTS[name]
    assert models.count_params(model) == total
    assert models.count_params(model) - models.count_trainable_params(model) == non_trainable


@pytest.mark.parametrize("name", ["baseline", "lenet5", "alexnet", "resnet20", "inception",
                                  "densenet100_12"])
def test_training_and_inference_forward_with_a_dynamic_batch(name):
    model = _built(name)
    fn = tf.function(lambda x, training: model(x, training=training), reduce_retracing=True)
    for batch, training in ((1, False), (3, True), (5, False)):
        logits = fn(tf.random.normal([batch, 32, 32, 3]), training)
        assert logits.shape == (batch, 10)
        assert np.isfinite(logits.numpy()).all()


@pytest.mark.parametrize("name", MNIST_MODELS)
def test_models_accept_28x28_grey_inputs(name):
    model = _built(name, shape=(28, 28, 1), num_classes=10)
    assert model(tf.zeros([2, 28, 28, 1])).shape == (2, 10)


def test_cifar10_model_layout_and_decay():
    model = _built("cifar10")
    shapes = {v.name.split(":")[0]: tuple(v.shape) for v in model.variables}
    assert shapes["cifar10/local3/kernel"] == (6 * 6 * 64, 384)
    assert shapes["cifar10/softmax_linear/kernel"] == (192, 10)
    decayed = {v.name.split(":")[0]: ops.weight_decay_of(v) for v in model.trainable_variables
               if ops.weight_decay_of(v) is not None}
    assert decayed == {"cifar10/local3/kernel": 0.004, "cifar10/local4/kernel": 0.004}
    assert float(tf.reduce_max(tf.abs(model.conv1.bias))) == 0.0
    for layer in (model.conv2, model.local3, model.local4):
        assert float(tf.reduce_min(layer.bias)) == pytest.approx(0.1)


def test_weight_decay_applies_to_every_kernel_of_zoo_models():
    model = _built("resnet20", weight_decay=1e-4)
    kernels = [v for v in model.trainable_variables if "kernel" in v.name]
    assert kernels and all(ops.weight_decay_of(v) == 1e-4 for v in kernels)
    assert all(ops.weight_decay_of(v) is None for v in model.trainable_variables
               if "kernel" not in v.name)
    plain = _built("resnet20")
    assert float(ops.weight_decay_loss(plain)) == 0.0


def test_unknown_model_and_bad_arguments():
    with pytest.raises(ValueError, match="unknown --model='nope': choose from alexnet"):
        models.build_model("nope")
    with pytest.raises(ValueError, match="at least 2 classes"):
        models.build_model("baseline", num_classes=1)
    with pytest.raises(ValueError, match="6n\\+2"):
        models.resnet.cifar_resnet(21)
