"""Batch augmentation ops (airbench's translation and alternating flip) against numpy, and the
stateless hash that draws them."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.data import batch_augment, preprocess

from helpers import numpy_translate_and_flip

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("pad,shape", [(2, (32, 32, 3)), (1, (7, 9, 1)), (3, (5, 11, 2))])
def test_translate_and_flip_is_numpy_reflect_pad_then_crop_then_mirror(pad, shape):
    choices = 2 * pad + 1
    grid = np.array([(r, c) for r in range(choices) for c in range(choices)], np.int32)
    offsets = np.concatenate([grid, grid])  # every shift, unflipped then flipped
    flips = np.repeat([False, True], len(grid))
    images = RNG.integers(0, 256, size=(len(offsets), *shape), dtype=np.uint8)
    expected = numpy_translate_and_flip(images, offsets, flips, pad)
    eager = batch_augment.translate_and_flip(tf.constant(images), offsets, flips, pad=pad)
    assert eager.dtype == tf.uint8
    np.testing.assert_array_equal(eager.numpy(), expected)
    in_data = tf.data.Dataset.from_tensors((images, offsets, flips)).map(
        lambda i, o, f: batch_augment.translate_and_flip(i, o, f, pad=pad), num_parallel_calls=2)
    np.testing.assert_array_equal(next(iter(in_data)).numpy(), expected)


def test_translate_and_flip_rejects_a_pad_as_large_as_the_image():
    with pytest.raises(ValueError, match="translation pad"):
        batch_augment.translate_and_flip(tf.zeros([1, 4, 4, 1], tf.uint8), [[0, 0]], [False], pad=4)


def test_shifts_cover_every_offset_uniformly_and_are_a_pure_function_of_seed_and_position():
    positions = tf.range(50000, dtype=tf.int64)
    offsets = batch_augment.random_offsets(7, positions, 2).numpy()
    assert offsets.min() == 0 and offsets.max() == 4
    counts = np.bincount(offsets[:, 0] * 5 + offsets[:, 1], minlength=25)
    # 2,000 expected per (row, column) cell, binomial sd ~44: 300 is ~7 sd.
    assert np.all(np.abs(counts - 2000) < 300), counts
    assert abs(np.corrcoef(offsets[:-1, 1], offsets[1:, 1])[0, 1]) < 0.03  # neighbours independent
    np.testing.assert_array_equal(batch_augment.random_offsets(7, positions[123:456], 2).numpy(),
                                  offsets[123:456])
    assert np.mean(batch_augment.random_offsets(8, positions, 2).numpy() != offsets) > 0.5


def test_flip_is_a_fair_coin_in_epoch_zero_then_alternates():
    indices = tf.range(20000, dtype=tf.int64)
    first = batch_augment.alternating_flips(3, indices, tf.zeros_like(indices)).numpy()
    assert abs(first.mean() - 0.5) < 0.02  # sd 0.0035
    for epoch in range(1, 6):
        epochs = tf.fill([20000], tf.constant(epoch, tf.int64))
        flips = batch_augment.alternating_flips(3, indices, epochs)
        np.testing.assert_array_equal(flips.numpy(), first ^ bool(epoch % 2))
    other_seed = batch_augment.alternating_flips(4, indices, tf.zeros_like(indices)).numpy()
    assert 0.4 < np.mean(other_seed != first) < 0.6


def test_stateless_hash_is_a_pure_function_of_seed_stream_and_counter():
    counters = tf.range(100000, dtype=tf.int64)
    bits = batch_augment.stateless_hash(3, counters, batch_augment.FLIP_STREAM).numpy()
    assert bits.dtype == np.uint64 and len(np.unique(bits)) == len(bits)
    np.testing.assert_array_equal(
        batch_augment.stateless_hash(3, counters[500:700], batch_augment.FLIP_STREAM).numpy(),
        bits[500:700])
    for seed, stream in ((4, batch_augment.FLIP_STREAM), (3, batch_augment.SHIFT_STREAM)):
        other = batch_augment.stateless_hash(seed, counters, stream).numpy()
        assert np.mean(other == bits) < 1e-3
    ones = np.unpackbits(bits.view(np.uint8)).reshape(len(bits), 64).mean(0)
    assert np.all(np.abs(ones - 0.5) < 0.01), ones  # every bit a fair coin (sd 0.0016)


def test_ops_are_re_exported_by_preprocess():
    for name in ("translate_and_flip", "random_offsets", "alternating_flips", "stateless_hash"):
        assert getattr(preprocess, name) is getattr(batch_augment, name)
