"""Preprocessing ops, eagerly and inside tf.data, and what standardization cancels."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.data import preprocess

IMAGE = np.random.default_rng(0).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)


def test_distort_shape_dtype_and_standardization():
    out = preprocess.distort(IMAGE, tf.constant([1, 2])).numpy()
    assert out.shape == (24, 24, 3) and out.dtype == np.float32
    assert abs(out.mean()) < 1e-4 and abs(out.std() - 1) < 1e-3


def test_distort_is_the_same_eagerly_and_inside_tf_data():
    seeds = [[0, i] for i in range(6)]
    eager = [preprocess.distort(IMAGE, tf.constant(s)).numpy() for s in seeds]
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(seeds, tf.int64)).map(
        lambda s: preprocess.distort(IMAGE, s), num_parallel_calls=4)
    for a, b in zip(eager, ds, strict=True):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-5, atol=1e-5)
    assert not np.allclose(eager[0], eager[1])  # different seeds, different distortions


def test_distort_crop_is_an_affine_image_of_a_window_of_the_image():
    # Brightness, contrast (factor > 0) and standardization are affine in each
    # channel, so each output channel correlates perfectly with the same channel
    # of one 24x24 window of the (possibly flipped) input.
    out = preprocess.distort(IMAGE, tf.constant([5, 5])).numpy()

    def matches(window):
        return all(np.corrcoef(window[..., c].ravel(), out[..., c].ravel())[0, 1] > 0.9999
                   for c in range(3))

    candidates = [(img[y:y + 24, x:x + 24].astype(np.float64))
                  for img in (IMAGE, IMAGE[:, ::-1]) for y in range(9) for x in range(9)]
    assert sum(matches(w) for w in candidates) >= 1


def test_eval_crop_is_the_central_window_eagerly_and_in_tf_data():
    expected = IMAGE[4:28, 4:28].astype(np.float64)
    expected = (expected - expected.mean()) / expected.std()
    np.testing.assert_allclose(preprocess.eval_crop(IMAGE).numpy(), expected, atol=1e-4)
    ds = tf.data.Dataset.from_tensors(IMAGE).map(preprocess.eval_crop, num_parallel_calls=2)
    np.testing.assert_allclose(next(iter(ds)).numpy(), expected, atol=1e-4)


def test_standardization_cancels_brightness_exactly():
    x = tf.cast(IMAGE, tf.float32)
    for delta in (-63.0, 17.5, 63.0):
        np.testing.assert_allclose(
            preprocess.standardize(tf.image.adjust_brightness(x, delta)).numpy(),
            preprocess.standardize(x).numpy(), atol=1e-4)


def test_standardization_cancels_contrast_on_grey_images_only():
    grey = tf.cast(np.repeat(IMAGE[..., :1], 3, axis=-1), tf.float32)
    colour = tf.cast(IMAGE, tf.float32) + tf.constant([60.0, 0.0, -40.0])  # unequal channel means
    for factor in (0.2, 1.8):
        np.testing.assert_allclose(
            preprocess.standardize(tf.image.adjust_contrast(grey, factor)).numpy(),
            preprocess.standardize(grey).numpy(), atol=1e-4)
        diff = np.abs(preprocess.standardize(tf.image.adjust_contrast(colour, factor)).numpy()
                      - preprocess.standardize(colour).numpy()).max()
        assert diff > 0.05  # contrast does change a colour image after standardization


@pytest.mark.parametrize("size", [24, 32, 36])
def test_eval_crop_pads_when_the_image_is_smaller(size):
    assert preprocess.eval_crop(IMAGE, size).shape == (size, size, 3)


def test_pad_and_crop_is_a_shifted_window_of_the_zero_padded_image():
    out = preprocess.pad_and_crop(IMAGE, tf.constant([3, 9]), pad=4, flip=False).numpy()
    padded = np.pad(IMAGE.astype(np.float32), [(4, 4), (4, 4), (0, 0)])
    windows = [padded[y:y + 32, x:x + 32] for y in range(9) for x in range(9)]
    assert out.shape == (32, 32, 3)
    assert any(np.array_equal(out, w) for w in windows)


def test_per_channel_normalization_matches_numpy():
    mean, std = (125.3, 122.9, 113.9), (62.5, 61.9, 66.5)
    got = preprocess.normalize_per_channel(IMAGE, mean, std).numpy()
    np.testing.assert_allclose(got, (IMAGE - np.float32(mean)) / np.float32(std), rtol=1e-5)


@pytest.mark.parametrize("augmentation", [a for a in preprocess.AUGMENTATIONS
                                          if a not in preprocess.BATCH_AUGMENTATIONS])
def test_preprocessing_train_and_evaluate_shapes_eagerly_and_in_tf_data(augmentation):
    spec = preprocess.Preprocessing(augmentation, 32 if augmentation != "tutorial" else 24,
                                    "per_channel", (120.0, 120.0, 110.0), (60.0, 60.0, 65.0))
    size = spec.image_size
    eager = spec.train(IMAGE, tf.constant([0, 1])).numpy()
    ds = tf.data.Dataset.from_tensors(IMAGE).map(lambda i: spec.train(i, tf.constant([0, 1])),
                                                 num_parallel_calls=2)
    np.testing.assert_allclose(eager, next(iter(ds)).numpy(), rtol=1e-5, atol=1e-5)
    assert eager.shape == (size, size, 3)
    evaluated = spec.evaluate(IMAGE).numpy()
    expected = IMAGE[(32 - size) // 2:(32 + size) // 2, (32 - size) // 2:(32 + size) // 2]
    np.testing.assert_allclose(evaluated, (expected - np.float32([120, 120, 110]))
                               / np.float32([60, 60, 65]), rtol=1e-5, atol=1e-5)


def test_preprocessing_rejects_unknown_choices():
    with pytest.raises(ValueError, match="unknown --augmentation"):
        preprocess.Preprocessing("mixup")
    with pytest.raises(ValueError, match="needs channel_mean"):
        preprocess.Preprocessing("pad_crop", 32, "per_channel")
