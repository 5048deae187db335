"""convnet.models.base: the model contract (class attributes, constructor keywords, data init)."""

import pytest
import tensorflow as tf

from convnet import models
from convnet.models import base
from convnet.nn import layers


class TwoLogits(base.Model):
    """The smallest model honouring the contract."""

    def __init__(self, num_classes=10, weight_decay=None):
        super().__init__(num_classes, weight_decay, name="two_logits")
        with self.name_scope:
            self.logits = layers.Dense(num_classes, wd=weight_decay, name="logits")

    def forward(self, inputs, training):
        return self.logits(inputs, training=training)


class DataInit(TwoLogits):
    init_examples = 4

    def initialize_from_data(self, images):
        self(images[:1])
        self.logits.bias.assign(tf.fill(self.logits.bias.shape, 1.0))


def test_defaults_and_the_keywords_are_kept():
    model = TwoLogits(num_classes=3, weight_decay=0.5)
    assert (model.num_classes, model.weight_decay, model.image_size) == (3, 0.5, None)
    assert model.init_examples is None and not base.has_data_init(model)
    assert model(tf.zeros([2, 4, 4, 1])).shape == (2, 3)
    assert [v.name for v in model.variables] == ["two_logits/logits/bias:0",
                                                 "two_logits/logits/kernel:0"]
    assert models.has_data_init is base.has_data_init and models.Model is base.Model


def test_the_data_init_hook_is_optional_and_detected():
    model = DataInit(num_classes=2)
    assert base.has_data_init(model) and model.init_examples == 4
    model.initialize_from_data(tf.zeros([4, 3, 3, 1]))
    assert float(tf.reduce_min(model.logits.bias)) == 1.0


@pytest.mark.parametrize("num_classes, weight_decay, message", [
    (1, None, "a classifier needs at least 2 classes, got num_classes=1"),
    (True, None, "at least 2 classes"),
    (2.5, None, "at least 2 classes"),
    (10, -1e-4, "weight_decay must be None or a number >= 0"),
    (10, "1e-4", "weight_decay must be None or a number >= 0"),
])
def test_constructor_keywords_are_validated_eagerly(num_classes, weight_decay, message):
    with pytest.raises(ValueError, match=message):
        TwoLogits(num_classes, weight_decay)
    with pytest.raises(ValueError, match=message):
        models.build_model("simple3", num_classes, weight_decay)


def test_class_attributes_are_checked_when_the_class_is_defined():
    with pytest.raises(TypeError, match="Crop.image_size must be None or a positive int"):
        type("Crop", (TwoLogits,), {"image_size": "24"})
    with pytest.raises(TypeError, match="NoCount defines initialize_from_data, so init_examples"):
        type("NoCount", (TwoLogits,), {"initialize_from_data": lambda self, images: None})
    assert type("Crop", (TwoLogits,), {"image_size": 24}).image_size == 24


class Pooled(base.SequentialModel):
    default_name = "pooled"

    def body_layers(self):
        return [layers.GlobalAvgPool(),
                layers.Dense(self.num_classes, wd=self.weight_decay, name="logits")]


def test_a_sequential_model_is_its_layers_in_order_under_its_name():
    model = Pooled(num_classes=3, weight_decay=0.01)
    images = tf.random.normal([2, 5, 5, 4])
    logits = model(images)
    dense = model.body.layers[1]
    expected = tf.reduce_mean(images, axis=[1, 2]) @ dense.kernel + dense.bias
    assert logits.shape == (2, 3)
    tf.debugging.assert_near(logits, expected, atol=1e-5)
    assert sorted(v.name for v in model.variables) == ["pooled/logits/bias:0",
                                                       "pooled/logits/kernel:0"]
    assert Pooled(name="other").name == "other"


def test_a_sequential_model_without_layers_says_so():
    class Empty(base.SequentialModel):
        pass

    with pytest.raises(NotImplementedError, match="Empty must define body_layers"):
        Empty()
