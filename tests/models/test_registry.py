"""Every model: exact parameter counts, shapes on CIFAR and MNIST inputs, weight decay."""

import numpy as np
import pytest
import tensorflow as tf

from convnet import models
from convnet.models.densenet import DENSENET_CONFIGS
from convnet.nn import ops

from helpers import train_steps

# The expected parameter counts live in the registry (`models.MODELS[name].params` and
# `.non_trainable`, as Keras counts them: BN has 4 numbers a channel, 2 of them non-trainable
# moving statistics), each derived in its model's docstring. The CIFAR ResNets (option A
# shortcuts) are what this code gives, matching the paper's 0.27M ... 1.7M.

# Models that make sense on 28x28x1 MNIST digits.
MNIST_MODELS = ("baseline", "lenet5", "alexnet", "resnet18", "resnet20", "vgg16", "inception",
                "densenet100_12")
# Registered models small enough to train a few steps in every run of this file.
SMOKE_MAX_PARAMS = 200_000  # lenet5, simple3, baseline: ~5-10 s each on 2 busy cores
SMALL_MODELS = sorted(name for name, entry in models.MODELS.items()
                      if entry.params <= SMOKE_MAX_PARAMS)


def _built(name, shape=(32, 32, 3), num_classes=10, weight_decay=None):
    model = models.build_model(name, num_classes, weight_decay)
    size = model.image_size or shape[0]
    model(tf.zeros([1, size, size, shape[-1]]))
    return model


def _labelled_batch(size, num_classes, batch=8):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(batch, size, size, 3)).astype(np.float32)
    return tf.constant(images), tf.constant(rng.integers(0, num_classes, batch).astype(np.int32))


def test_every_registered_model_has_an_asserted_count():
    for name, entry in models.MODELS.items():
        assert isinstance(entry, models.ModelEntry), name
        assert isinstance(entry.params, int) and 0 <= entry.non_trainable < entry.params, name
    assert set(DENSENET_CONFIGS) <= set(models.MODELS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_parameter_counts(name):
    model = _built(name)
    entry = models.MODELS[name]
    assert models.count_params(model) == entry.params
    assert models.count_params(model) - models.count_trainable_params(model) == entry.non_trainable
    assert isinstance(model, models.Model) and model.num_classes == 10


@pytest.mark.parametrize("name", ["baseline", "lenet5", "alexnet", "resnet20", "inception",
                                  "densenet100_12"])
@pytest.mark.slow
def test_training_and_inference_forward_with_a_dynamic_batch(name):
    model = _built(name)
    fn = tf.function(lambda x, training: model(x, training=training), reduce_retracing=True)
    for batch, training in ((1, False), (3, True), (5, False)):
        logits = fn(tf.random.normal([batch, 32, 32, 3]), training)
        assert logits.shape == (batch, 10)
        assert np.isfinite(logits.numpy()).all()


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_small_models_train_a_few_steps_with_any_class_count(name):
    """Every registered model this small: the contract's keywords, a training step, one image."""
    tf.random.set_seed(0)
    model = models.build_model(name, num_classes=7, weight_decay=1e-4)
    images, labels = _labelled_batch(model.image_size or 32, 7)
    if models.has_data_init(model):
        model.initialize_from_data(images)
    model(images[:1])
    losses = train_steps(model, images, labels, tf.keras.optimizers.Adam(1e-3), 5)
    assert np.isfinite(losses).all() and losses[-1] < losses[0], losses
    assert any(ops.weight_decay_of(v) == 1e-4 for v in model.trainable_variables)
    assert model(images[:1]).shape == (1, 7) and model.num_classes == 7


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


def test_a_factory_that_breaks_the_contract_is_named(monkeypatch):
    entry = models.ModelEntry(lambda num_classes, weight_decay: object(), 1)
    monkeypatch.setitem(models.MODELS, "broken", entry)
    with pytest.raises(TypeError, match="--model=broken: the factory returned a object, not a "
                                        "convnet.models.Model"):
        models.build_model("broken")
