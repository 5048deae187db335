"""Images of any size: Inception's preprocessing (`random_resized_crop` in training,
`resize_and_center_crop` in evaluation) checked against coordinates and TensorFlow's resize,
and the pipeline holding, streaming and resuming examples of differing sizes."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.data import pipeline, preprocess
from convnet.data.config import AugmentConfig
from convnet.data.info import DatasetInfo
from convnet.data.sources.any_size import AnySizeSource
from convnet.data.sources.base import Source

from helpers import assert_same_batches

TOTAL = 24


def _coordinates(height, width):
    """float32 [height, width, 3]: channel 0 the row, 1 the column, 2 zero."""
    rows, columns = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack([rows, columns, np.zeros_like(rows)], -1).astype(np.float32)


def test_a_random_resized_crop_is_a_window_of_the_allowed_area_and_aspect_resized():
    image = _coordinates(60, 90)
    areas = []
    for seed in range(60):
        crop = preprocess.random_resized_crop(image, tf.constant([seed, 7]), 16,
                                              min_area=0.2, flip=False).numpy()
        assert crop.shape == (16, 16, 3)
        # The crop's rows and columns, read back from the coordinates it shows: a resize
        # of the window spans it to within a pixel at each end.
        top, bottom = crop[..., 0].min(), crop[..., 0].max()
        left, right = crop[..., 1].min(), crop[..., 1].max()
        height, width = bottom - top + 1, right - left + 1
        assert 0 <= top and bottom <= 59 and 0 <= left and right <= 89
        assert 0.2 * 60 * 90 * 0.8 <= height * width <= 60 * 90
        assert 3 / 4 * 0.8 <= width / height <= 4 / 3 * 1.25
        areas.append(height * width / (60 * 90))
    assert min(areas) < 0.3 and max(areas) > 0.55  # the area is drawn, not fixed


def test_a_random_resized_crop_is_the_window_resized_by_tensorflow_and_seeded():
    image = np.random.default_rng(0).integers(0, 256, [37, 53, 3]).astype(np.uint8)
    seed = tf.constant([3, 4])
    crop = preprocess.random_resized_crop(image, seed, 12, flip=False).numpy()
    box_seed, _ = tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2))
    begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(
        image.shape, tf.zeros([1, 0, 4]), box_seed, min_object_covered=0.0,
        aspect_ratio_range=(3 / 4, 4 / 3), area_range=(0.08, 1.0), max_attempts=100,
        use_image_if_no_bounding_boxes=True)
    (row, column, _), (height, width, _) = begin.numpy(), extent.numpy()
    window = image[row:row + height, column:column + width].astype(np.float32)
    np.testing.assert_allclose(crop, tf.image.resize(window, [12, 12], antialias=True),
                               rtol=1e-5, atol=1e-4)
    again = preprocess.random_resized_crop(image, seed, 12, flip=False).numpy()
    np.testing.assert_array_equal(crop, again)
    other = preprocess.random_resized_crop(image, tf.constant([3, 5]), 12, flip=False).numpy()
    assert not np.array_equal(crop, other)
    flips = [preprocess.random_resized_crop(_coordinates(20, 20), tf.constant([s, 0]), 20,
                                            min_area=1.0).numpy()[0, :, 1] for s in range(12)]
    assert {bool(f[0] > f[-1]) for f in flips} == {True, False}  # some mirrored, some not


@pytest.mark.parametrize("shape", [(40, 60), (60, 40), (20, 20), (7, 30)])
def test_resize_and_center_crop_matches_numpy_on_tensorflows_resize(shape):
    image = np.random.default_rng(1).integers(0, 256, [*shape, 3]).astype(np.uint8)
    got = preprocess.resize_and_center_crop(image, 16, 0.8).numpy()
    short = round(16 / 0.8)  # 20: the shorter side
    height, width = (max(16, round(side * short / min(shape))) for side in shape)
    resized = tf.image.resize(image.astype(np.float32), [height, width], antialias=True).numpy()
    top, left = (height - 16) // 2, (width - 16) // 2
    np.testing.assert_allclose(got, resized[top:top + 16, left:left + 16], rtol=1e-5, atol=1e-4)


def test_preprocessing_of_images_of_any_size():
    spec = preprocess.Preprocessing("random_resized_crop", 16, "per_channel", (100.0,) * 3,
                                    (50.0,) * 3, crop_fraction=0.875)
    for shape in ((30, 45, 3), (16, 16, 3), (9, 12, 3)):
        image = np.random.default_rng(2).integers(0, 256, shape).astype(np.uint8)
        assert spec.train(image, tf.constant([0, 1])).shape == (16, 16, 3)
        expected = (preprocess.resize_and_center_crop(image, 16, 0.875).numpy() - 100) / 50
        np.testing.assert_allclose(spec.evaluate(image), expected, rtol=1e-5, atol=1e-5)
    window = preprocess.Preprocessing("none", 16, "per_image")  # no crop_fraction: as before
    image = np.random.default_rng(3).integers(0, 256, (20, 20, 3)).astype(np.uint8)
    np.testing.assert_allclose(window.evaluate(image),
                               preprocess.standardize(image[2:18, 2:18]), atol=1e-5)
    for bad in ({"crop_fraction": 0.0}, {"crop_fraction": 1.5}, {"random_crop_area": 0.0}):
        with pytest.raises(ValueError, match="must be in \\(0, 1\\]"):
            preprocess.Preprocessing("random_resized_crop", 16, **bad)


def test_auto_augmentation_crops_images_of_any_size():
    info = DatasetInfo("photos", (16, 16, 3), 2, any_size=True)
    config = AugmentConfig(normalization="per_image", crop_fraction=0.9, random_crop_area=0.3)
    chosen = config.preprocessing(None, info, lambda: None)
    assert (chosen.augmentation, chosen.image_size, chosen.crop_fraction,
            chosen.random_crop_area) == ("random_resized_crop", 16, 0.9, 0.3)
    fixed = config.preprocessing(None, DatasetInfo("cifar", (32, 32, 3), 10), lambda: None)
    assert (fixed.augmentation, fixed.crop_fraction) == ("pad_crop", None)  # as before
    for name in ("crop_fraction", "random_crop_area"):
        with pytest.raises(ValueError, match=f"--{name} must be in"):
            AugmentConfig(**{name: 1.2}).validate()


class _VaryingSource(Source):
    """TOTAL examples of differing sizes (example i: (4 + i % 5) x (3 + i % 4)), every pixel
    of example i holding i (labels i % 10)."""

    info = DatasetInfo("varying", (None, None, 3), 10, num_examples={"train": TOTAL})

    def num_examples(self, split):
        return TOTAL

    def dataset(self, split):
        def examples():
            for i in range(TOTAL):
                yield np.full([4 + i % 5, 3 + i % 4, 3], i, np.uint8), np.int32(i % 10)
        return tf.data.Dataset.from_generator(examples, output_signature=(
            tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([], tf.int32)))


def _batches(cache, count, start_example=0, augmentation="random_resized_crop"):
    source = AnySizeSource(_VaryingSource(), 6)
    preprocessing = preprocess.Preprocessing(augmentation, 6, "per_channel", (0.0,) * 3,
                                             (1.0,) * 3, flip=False, crop_fraction=0.875)
    settings = pipeline.InputSettings(preprocessing, 2, shuffle_buffer=10, seed=5, cache=cache)
    dataset = pipeline.train_dataset(source, 8, settings, start_example=start_example)
    return [(images.numpy(), labels.numpy()) for images, labels in dataset.take(count)]


@pytest.mark.parametrize("cache", [True, False])
def test_examples_of_any_size_are_held_or_streamed_each_once_an_epoch_and_resume(cache):
    assert AnySizeSource(_VaryingSource(), 6).shard_sizes("train") is None  # not sharded
    batches = _batches(cache, 6)
    indices = np.concatenate([images[:, 0, 0, 0] for images, _ in batches]).round().astype(int)
    assert all(images.shape == (8, 6, 6, 3) for images, _ in batches)
    for epoch in indices.reshape(2, TOTAL):
        assert sorted(epoch) == list(range(TOTAL))  # every example once an epoch
    np.testing.assert_array_equal(
        np.concatenate([labels for _, labels in batches]), indices % 10)
    for start_batch in (1, 3, 4):  # in the first epoch, at the second's start, inside it
        resumed = _batches(cache, 6 - start_batch, start_example=8 * start_batch)
        assert_same_batches(batches[start_batch:], resumed)


def test_batch_augmentations_refuse_images_of_any_size_and_statistics_count_every_pixel():
    with pytest.raises(ValueError, match="differ in size: use --augmentation=random_resized"):
        _batches(True, 1, augmentation="translate_altflip")
    mean, std = pipeline.channel_stats(_VaryingSource())
    pixels = np.concatenate([np.full((4 + i % 5) * (3 + i % 4), i) for i in range(TOTAL)])
    np.testing.assert_allclose(mean, [pixels.mean()] * 3, rtol=1e-6)
    np.testing.assert_allclose(std, [pixels.std()] * 3, rtol=1e-6)
