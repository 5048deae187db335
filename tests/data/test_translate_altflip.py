"""The batch augmentation 'translate_altflip' (airbench) through Preprocessing.train_batch,
against numpy, and its pipeline: a pure function of the seed, exact on resume. (Its ops are
tested in tests/data/test_batch_augment.py.)"""

import numpy as np
import pytest
import tensorflow as tf

from convnet.data import pipeline, preprocess

from helpers import numpy_translate_and_flip

RNG = np.random.default_rng(0)


class ArraySource:
    """In-memory training split whose labels are the split indices (to follow each example)."""

    def __init__(self, count=40, shape=(32, 32, 3), known_size=True):
        self.images = RNG.integers(0, 256, size=(count, *shape), dtype=np.uint8)
        self.known_size = known_size

    def num_examples(self, split):
        return len(self.images) if self.known_size else 0

    def dataset(self, split):
        labels = np.arange(len(self.images), dtype=np.int32)
        return tf.data.Dataset.from_tensor_slices((self.images, labels))


def raw_spec(translate=2, flip=True):
    """translate_altflip whose normalization is the identity: outputs are the moved pixels."""
    return preprocess.Preprocessing("translate_altflip", 32, "per_channel", (0.0, 0.0, 0.0),
                                    (1.0, 1.0, 1.0), flip, translate)


def test_train_batch_is_translate_flip_then_per_channel_normalization():
    mean, std = (125.3, 122.9, 113.9), (62.5, 61.9, 66.5)
    spec = preprocess.Preprocessing("translate_altflip", 32, "per_channel", mean, std)
    images = RNG.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)
    indices, epochs, positions = (
        tf.constant(v, tf.int64)
        for v in ([5, 1, 9, 2, 7, 3], [0, 0, 1, 1, 2, 3], [10, 11, 12, 13, 14, 15]))
    got = spec.train_batch(images, 11, indices, epochs=epochs, positions=positions)
    assert got.dtype == tf.float32 and got.shape == (6, 32, 32, 3)
    moved = numpy_translate_and_flip(
        images, preprocess.random_offsets(11, positions, 2).numpy(),
        preprocess.alternating_flips(11, indices, epochs).numpy(), 2)
    np.testing.assert_allclose(got.numpy(), (moved - np.float32(mean)) / np.float32(std),
                               rtol=1e-6, atol=1e-6)
    unmoved = raw_spec(translate=0, flip=False).train_batch(images, 11, indices, epochs=epochs,
                                                            positions=positions)
    np.testing.assert_array_equal(unmoved.numpy(), images.astype(np.float32))


def test_train_batch_per_image_standardization_and_a_smaller_model_input():
    images = RNG.integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    spec = preprocess.Preprocessing("translate_altflip", 24, "per_image", translate=1)
    args = [tf.constant(v, tf.int64) for v in ([4, 2, 0], [0, 1, 2], [7, 8, 9])]
    got = spec.train_batch(images, 3, args[0], epochs=args[1], positions=args[2]).numpy()
    moved = numpy_translate_and_flip(images, preprocess.random_offsets(3, args[2], 1).numpy(),
                                     preprocess.alternating_flips(3, *args[:2]).numpy(), 1)
    assert got.shape == (3, 24, 24, 3)
    for row, image in zip(got, moved[:, 4:28, 4:28], strict=True):  # the central 24 x 24 window
        np.testing.assert_allclose(row, preprocess.standardize(image).numpy(), atol=1e-5)


def test_per_channel_batch_normalization_equals_the_per_example_one():
    images = RNG.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    mean, std = (125.3, 122.9, 113.9), (62.5, 61.9, 66.5)
    batched = preprocess.normalize_per_channel_batch(images, mean, std).numpy()
    for image, row in zip(images, batched, strict=True):
        np.testing.assert_array_equal(row, preprocess.normalize_per_channel(image, mean, std))


def test_batch_and_per_example_entry_points_refuse_each_other():
    with pytest.raises(ValueError, match="augments whole batches"):
        raw_spec().train(np.zeros([32, 32, 3], np.uint8), tf.constant([0, 1]))
    with pytest.raises(ValueError, match="is per example"):
        preprocess.Preprocessing("pad_crop", 32, "per_channel", (0.0,) * 3, (1.0,) * 3
                                 ).train_batch(np.zeros([1, 32, 32, 3], np.uint8), 0, [0],
                                               epochs=[0], positions=[0])
    with pytest.raises(ValueError, match="--translate must be in"):
        raw_spec(translate=-1)
    assert raw_spec().batched and not preprocess.Preprocessing().batched


def stream(source, batch_size, spec, seed=5, start_example=0, batches=12, **shards):
    settings = pipeline.InputSettings(spec, num_parallel_calls=2, seed=seed)
    ds = pipeline.train_dataset(source, batch_size, settings, start_example=start_example,
                                **shards)
    out = [(images.numpy(), labels.numpy()) for images, labels in ds.take(batches)]
    assert all(i.shape == (batch_size, 32, 32, 3) and i.dtype == np.float32 for i, _ in out)
    return np.concatenate([i for i, _ in out]), np.concatenate([lab for _, lab in out])


@pytest.mark.parametrize("num_shards,shard_index", [(1, 0), (3, 1)])
def test_pipeline_example_is_its_augmentation_at_its_position_epoch_and_split_index(
        num_shards, shard_index):
    source = ArraySource(40)
    spec = raw_spec()
    images, indices = stream(source, 8, spec, num_shards=num_shards, shard_index=shard_index)
    shard_total = len(range(shard_index, 40, num_shards))  # 40 or 13 examples an epoch
    positions = np.arange(len(indices))
    epochs = positions // shard_total
    for epoch in range(epochs.max()):  # every complete epoch: each example of the shard once
        np.testing.assert_array_equal(np.sort(indices[epochs == epoch]),
                                      np.arange(shard_index, 40, num_shards))
    seeds_at = positions * num_shards + shard_index
    expected = numpy_translate_and_flip(
        source.images[indices], preprocess.random_offsets(5, seeds_at, 2).numpy(),
        preprocess.alternating_flips(5, indices, epochs).numpy(), 2)
    np.testing.assert_array_equal(images, expected.astype(np.float32))


def test_pipeline_visits_examples_in_the_order_of_the_per_example_pipeline():
    source = ArraySource(40)
    none = preprocess.Preprocessing("none", 32, "per_channel", (0.0,) * 3, (1.0,) * 3)
    _, batched_order = stream(source, 16, raw_spec(), batches=6)
    per_example = pipeline.train_dataset(
        source, 16, pipeline.InputSettings(none, num_parallel_calls=2, seed=5))
    per_example_order = np.concatenate([lab.numpy() for _, lab in per_example.take(6)])
    np.testing.assert_array_equal(batched_order, per_example_order)


def test_pipeline_flip_of_each_example_alternates_across_epochs():
    source = ArraySource(40)
    images, indices = stream(source, 8, raw_spec(translate=0), batches=25)  # 5 epochs
    flipped = {}
    for image, index in zip(images, indices, strict=True):
        original = source.images[index].astype(np.float32)
        if np.array_equal(image, original):
            flipped.setdefault(index, []).append(False)
        else:
            np.testing.assert_array_equal(image, original[:, ::-1])
            flipped.setdefault(index, []).append(True)
    assert sorted(flipped) == list(range(40))
    for index, flips in flipped.items():
        assert len(flips) == 5, (index, flips)
        assert all(a != b for a, b in zip(flips, flips[1:], strict=False)), (index, flips)
    assert 10 <= sum(flips[0] for flips in flipped.values()) <= 30


@pytest.mark.parametrize("start_batch", [1, 4, 7])
def test_resumed_pipeline_is_the_tail_of_the_uninterrupted_stream(start_batch):
    source, batch_size = ArraySource(40), 16  # batches straddle epochs: 40 is not a multiple
    spec = preprocess.Preprocessing("translate_altflip", 32, "per_channel",
                                    (125.3, 122.9, 113.9), (62.5, 61.9, 66.5))
    whole_images, whole_labels = stream(source, batch_size, spec, batches=12)
    images, labels = stream(source, batch_size, spec, start_example=start_batch * batch_size,
                            batches=12 - start_batch)
    np.testing.assert_array_equal(labels, whole_labels[start_batch * batch_size:])
    np.testing.assert_array_equal(images, whole_images[start_batch * batch_size:])  # bitwise


def test_pipeline_resumes_mid_batch_and_at_any_batch_size():
    source = ArraySource(40)
    whole_images, whole_labels = stream(source, 8, raw_spec(), batches=15)
    images, labels = stream(source, 6, raw_spec(), start_example=45, batches=10)
    np.testing.assert_array_equal(labels, whole_labels[45:105])
    np.testing.assert_array_equal(images, whole_images[45:105])


def test_pipeline_is_a_function_of_the_seed():
    source = ArraySource(40)
    a, b, c = (stream(source, 8, raw_spec(), seed=seed, batches=3)[0] for seed in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_pipeline_needs_the_size_of_the_split():
    with pytest.raises(ValueError, match="needs the size of the training split"):
        pipeline.train_dataset(ArraySource(known_size=False), 8,
                               pipeline.InputSettings(raw_spec()))
