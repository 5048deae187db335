"""Test-time augmentation: tta_logits against numpy views of a linear model, and count_correct."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.evaluation import counting, tta

RNG = np.random.default_rng(0)
CLASSES = 10


class LinearModel(tf.Module):
    """logits = flatten(x) @ kernel + bias: a fixed linear function of the pixels.

    With `symmetric`, logits(x) = f(x) + f(mirror(x)): exactly invariant to flips
    (float addition commutes)."""

    def __init__(self, shape=(8, 8, 3), symmetric=False):
        super().__init__()
        size = int(np.prod(shape))
        self.kernel = tf.Variable(RNG.normal(size=(size, CLASSES)).astype(np.float32))
        self.bias = tf.Variable(RNG.normal(size=(CLASSES,)).astype(np.float32))
        self.symmetric = symmetric

    def linear(self, x):
        return tf.matmul(tf.reshape(x, [tf.shape(x)[0], -1]), self.kernel) + self.bias

    def __call__(self, x, training=False):
        if self.symmetric:
            return self.linear(x) + self.linear(tf.reverse(x, [2]))
        return self.linear(x)

    def numpy(self, x):
        return x.reshape(len(x), -1) @ self.kernel.numpy() + self.bias.numpy()


def numpy_tta(model, x, mode):
    """The views of the issue, by hand: np.flip and np.pad(mode='reflect')."""
    logits = model.numpy

    def flip(v):
        return 0.5 * logits(v) + 0.5 * logits(np.flip(v, axis=2))

    if mode == "none":
        return logits(x)
    if mode == "flip":
        return flip(x)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    height, width = x.shape[1:3]
    return 0.5 * flip(x) + 0.5 * (flip(padded[:, :height, :width]) + flip(padded[:, 2:, 2:])) / 2


@pytest.mark.parametrize("mode", tta.TTA_MODES)
def test_tta_logits_match_a_hand_computation(mode):
    model = LinearModel()
    images = RNG.normal(size=(5, 8, 8, 3)).astype(np.float32)
    got = tta.tta_logits(model, tf.constant(images), mode)
    assert got.shape == (5, CLASSES) and got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), numpy_tta(model, images, mode), rtol=1e-4, atol=1e-4)


def test_views_are_the_mirror_and_the_one_pixel_reflect_translations():
    images = RNG.integers(0, 256, size=(2, 5, 6, 1)).astype(np.float32)
    up_left, down_right = tta.translations(tf.constant(images))
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    np.testing.assert_array_equal(up_left.numpy(), padded[:, 0:5, 0:6])
    np.testing.assert_array_equal(down_right.numpy(), padded[:, 2:7, 2:8])
    np.testing.assert_array_equal(tta.mirror(images).numpy(), images[:, :, ::-1])


def test_tta_works_traced_with_a_dynamic_batch_and_keeps_the_dtype_of_none():
    model = LinearModel()
    traced = tf.function(lambda x: tta.tta_logits(model, x, "flip_translate"),
                         input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.float32)])
    one = RNG.normal(size=(1, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(traced(one).numpy(), numpy_tta(model, one, "flip_translate"),
                               rtol=1e-4, atol=1e-4)

    def half(x):
        return tf.cast(model(x), tf.float16)

    assert tta.tta_logits(half, tf.constant(one), "none").dtype == tf.float16
    assert tta.tta_logits(half, tf.constant(one), "flip").dtype == tf.float32


def test_unknown_mode_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown --tta='crops': choose from none, flip"):
        tta.tta_logits(LinearModel(), tf.zeros([1, 8, 8, 3]), "crops")
    with pytest.raises(ValueError, match="unknown --tta"):
        counting.count_correct(LinearModel(), tf.data.Dataset.range(1), CLASSES, top_k=1,
                               tta="crops")


def dataset(images, labels, batch_size=8):
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)


def test_count_correct_with_flip_on_a_flip_invariant_model_counts_as_none():
    model = LinearModel(symmetric=True)
    images = RNG.normal(size=(30, 8, 8, 3)).astype(np.float32)
    labels = np.argmax(model.numpy(images) + model.numpy(images[:, :, ::-1]), axis=1)
    labels[::3] = (labels[::3] + 1) % CLASSES  # a third wrong, so the counts say something
    labels = labels.astype(np.int32)
    none = counting.count_correct(model, dataset(images, labels), CLASSES, top_k=1, tta="none")
    flip = counting.count_correct(model, dataset(images, labels), CLASSES, top_k=1, tta="flip")
    assert none[0] == 20
    for a, b in zip(none, flip, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("xla", [False, True])
def test_count_correct_counts_the_tta_predictions(xla):
    model = LinearModel()
    images = RNG.normal(size=(21, 8, 8, 3)).astype(np.float32)  # a short last batch
    labels = RNG.integers(0, CLASSES, size=21).astype(np.int32)
    for mode in ("flip", "flip_translate"):
        predicted = np.argmax(numpy_tta(model, images, mode), axis=1)
        correct, _, count, confusion = counting.count_correct(
            model, dataset(images, labels), CLASSES, top_k=1, xla=xla, tta=mode)
        assert correct == int(np.sum(predicted == labels)) and count.sum() == 21
        expected = np.zeros([CLASSES, CLASSES], np.int64)
        np.add.at(expected, (labels, predicted), 1)
        np.testing.assert_array_equal(confusion, expected)
