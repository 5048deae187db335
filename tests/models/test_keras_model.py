"""convnet.models.keras_model: a Keras model through convnet's step, checkpoints, evaluator
and loader, its step checked against Keras's own `model.fit` step on the same batch."""

import numpy as np
import pytest
import tensorflow as tf

import convnet
from convnet import models
from convnet.checkpoints import state as state_lib
from convnet.data.sources.arrays import ArraySource
from convnet.models.keras_model import KerasModel, is_keras_model
from convnet.nn import ops
from convnet.optim import optimizers, schedules
from convnet.training.step import TrainStep

keras = pytest.importorskip("keras")

L2 = 5e-4  # Keras adds L2 * sum(w ** 2): convnet's wd * l2_loss(w) with wd = 2 * L2


def keras_cnn(num_classes=10, weight_decay=None):
    """A small Keras CNN with BatchNorm and an L2 regularizer: [b, 16, 16, 3] -> logits."""
    return keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(8, 3, padding="same", kernel_regularizer=keras.regularizers.L2(L2)),
        keras.layers.BatchNormalization(momentum=0.9), keras.layers.ReLU(),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(8, 3, padding="same"), keras.layers.BatchNormalization(),
        keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(num_classes)], name="keras_cnn")


class SubclassedCnn(keras.Model):
    def __init__(self, num_classes=10, weight_decay=None):
        super().__init__(name="subclassed")
        self.conv = keras.layers.Conv2D(4, 3)
        self.norm = keras.layers.BatchNormalization()
        self.head = keras.layers.Dense(num_classes)

    def call(self, x, training=False):
        x = tf.nn.relu(self.norm(self.conv(x), training=training))
        return self.head(tf.reduce_mean(x, axis=[1, 2]))


def _batch(seed=0, size=16):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=[size, 16, 16, 3]).astype(np.float32),
            rng.integers(0, 10, size=[size]).astype(np.int32))


def test_one_step_is_keras_fits_step_gradients_decay_and_batchnorm_statistics():
    images, labels = _batch()
    keras.utils.set_random_seed(1)
    theirs = keras_cnn()
    ours = keras_cnn()
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=keras.optimizers.SGD(0.1),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    theirs.train_on_batch(images, labels)

    model = KerasModel(ours, num_classes=10)
    state = state_lib.build(model, [16, 16, 3],
                            optimizer=optimizers.make_optimizer("sgd", 0.0, False))
    kernel = ours.layers[0].kernel.value
    assert ops.weight_decay_of(kernel) == pytest.approx(2 * L2)
    assert ops.weight_decay_of(ours.layers[-1].kernel.value) is None
    step = TrainStep(state, schedules.Constant(0.1), batch_size=len(labels))
    step(iter(tf.data.Dataset.from_tensors((images, labels)).repeat()), 1)

    for mine, keras_weight in zip(ours.weights, theirs.weights, strict=True):
        np.testing.assert_allclose(mine.numpy(), keras_weight.numpy(), rtol=2e-5, atol=2e-6,
                                   err_msg=mine.path)
    moving = [w for w in ours.weights if "moving" in w.path]
    assert len(moving) == 4 and not np.allclose(moving[0].numpy(), 0.0)  # they moved


def test_a_factory_returning_a_keras_model_is_wrapped_and_other_things_refused():
    model = models.build_model(f"{__name__}:keras_cnn", num_classes=10)
    assert isinstance(model, KerasModel) and is_keras_model(model.keras_model)
    assert not is_keras_model(model) and not is_keras_model("x")
    subclassed = KerasModel(SubclassedCnn(num_classes=3), num_classes=3, weight_decay=1e-3)
    logits = subclassed(tf.zeros([2, 16, 16, 3]))
    assert logits.shape == (2, 3) and logits.dtype == tf.float32
    assert len(subclassed.trainable_variables) == 6  # conv, norm's two, head
    assert [ops.weight_decay_of(v) for v in subclassed.trainable_variables] == [
        1e-3, None, None, None, 1e-3, None]  # --weight_decay: every kernel
    with pytest.raises(ValueError, match="gives 10 logits, the data has 3 classes"):
        KerasModel(keras_cnn(), num_classes=3)(tf.zeros([1, 16, 16, 3]))
    with pytest.raises(ValueError, match="has no convnet form"):
        KerasModel(keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(),
                                     keras.layers.Dense(2, kernel_regularizer="l1")]),
                   num_classes=2)(tf.zeros([1, 4, 4, 3]))
    with pytest.raises(TypeError, match="KerasModel wraps a keras.Model, got str"):
        KerasModel("x")


@pytest.mark.slow
def test_a_keras_model_trains_resumes_evaluates_with_tta_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=[96, 16, 16, 3], dtype=np.uint8)
    y = rng.integers(0, 10, size=[96])
    source = ArraySource(train=(x[:64], y[:64]), test=(x[64:], y[64:]))
    train_dir = str(tmp_path / "run")
    first = convnet.fit(model=keras_cnn, source=source, train_dir=train_dir, max_steps=4,
                        batch_size=16, save_checkpoint_steps=2, log_frequency=2)
    assert first.checkpoint.endswith("ckpt-4")
    resumed = convnet.fit(model=keras_cnn, source=source, train_dir=train_dir, max_steps=6,
                          batch_size=16, log_frequency=2)
    assert resumed.step == 6
    scores = convnet.evaluate(train_dir, source=source, tta="flip")
    assert scores.num_examples == 32
    loaded = convnet.load(train_dir)
    probabilities = loaded.probabilities(x[64:72])
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def keras_any_size_cnn(num_classes=10, weight_decay=None):
    """A Keras CNN of any input size (global pooling): 224 + 32 + 90 = 346 values."""
    del weight_decay
    return keras.Sequential([
        keras.Input((None, None, 3)), keras.layers.Conv2D(8, 3),
        keras.layers.BatchNormalization(), keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(num_classes)],
        name="keras_any_size_cnn")


@pytest.mark.slow
def test_convnet_compare_trains_and_tables_a_keras_model_by_import_path(tmp_path):
    from convnet import recipes
    from convnet.reports import comparison

    name = "tests.models.test_keras_model:keras_any_size_cnn"  # run from the checkout
    rows = comparison.compare([name], str(tmp_path / "cmp"), 3, configs_dir=recipes.DIRECTORY,
                              data_args={"data_source": "synthetic", "download": False},
                              eval_examples=200)
    assert [row["model"] for row in rows] == [name] and rows[0]["params"] == 346
    assert rows[0]["steps"] == 3 and [step for step, _ in rows[0]["accuracy"]] == [1, 2, 3]
    assert 0.0 <= rows[0]["test_accuracy"] <= 1.0
    table = open(tmp_path / "cmp" / "comparison.md", encoding="utf-8").read()
    assert f"| {name} | 346 |" in table


def test_the_layers_compute_in_the_steps_precision_unless_the_model_chose_its_own():
    keras.utils.set_random_seed(0)
    model = models.build_model(f"{__name__}:keras_cnn", num_classes=10)
    model.build(tf.TensorShape([None, 16, 16, 3]))
    images, _ = _batch()
    exact = model(images, training=False).numpy()
    low = model(tf.cast(images, tf.bfloat16), training=False)  # as TrainStep casts them
    conv = model.keras_model.layers[0]
    assert low.dtype == tf.float32 and conv.compute_dtype == "bfloat16"
    assert conv.kernel.dtype == "float32"  # mixed: the variables stay float32
    assert not np.array_equal(low.numpy(), exact)  # computed in bfloat16 ...
    np.testing.assert_allclose(low.numpy(), exact, rtol=0.1, atol=0.1)  # ... to its precision
    np.testing.assert_array_equal(model(images, training=False).numpy(), exact)  # and back
    assert conv.compute_dtype == "float32"
    own = keras_cnn()
    own.layers[-1].dtype_policy = "mixed_bfloat16"  # a policy of the model's own: kept
    chosen = KerasModel(own, num_classes=10)
    chosen.build(tf.TensorShape([None, 16, 16, 3]))
    chosen(tf.cast(images, tf.bfloat16), training=False)
    assert own.layers[0].compute_dtype == "float32"
    assert own.layers[-1].compute_dtype == "bfloat16"
