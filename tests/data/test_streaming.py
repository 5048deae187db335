"""convnet.data.pipeline without a cache (--cache=none): the training split streamed in
windows of --shuffle_buffer examples, each permuted with a seed of (seed, epoch, window), every
augmentation on the stream, and an exact resume; and --cache=auto's choice."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.data import pipeline, preprocess
from convnet.data.config import DataConfig
from convnet.data.sources.arrays import ArraySource

from helpers import assert_same_batches

TOTAL = 40


def _source():
    """40 examples 4x4x3 whose pixels all hold the example's index (labels: index % 10)."""
    index = np.arange(TOTAL, dtype=np.uint8)
    images = np.broadcast_to(index[:, None, None, None], [TOTAL, 4, 4, 3]).copy()
    return ArraySource(train=(images, index.astype(np.int32) % 10),
                       test=(images[:4], np.zeros(4, np.int32)))


def _settings(augmentation="none", buffer=8, cache=False, seed=3):
    preprocessing = preprocess.Preprocessing(augmentation, 4, "per_channel", (0.0, 0.0, 0.0),
                                             (1.0, 1.0, 1.0), flip=False, translate=1)
    return pipeline.InputSettings(preprocessing, num_parallel_calls=2, shuffle_buffer=buffer,
                                  seed=seed, cache=cache)


def _batches(settings, count, start_example=0, batch_size=10):
    dataset = pipeline.train_dataset(_source(), batch_size, settings, start_example=start_example)
    return [(images.numpy(), labels.numpy()) for images, labels in dataset.take(count)]


def test_each_streamed_epoch_holds_every_example_once_in_a_seeded_order():
    tf.random.set_seed(0)  # as training sets it (Dataset.shuffle with a tensor seed failed)
    batches = _batches(_settings(), 8)
    indices = np.concatenate([images[:, 0, 0, 0] for images, _ in batches]).round().astype(int)
    epochs = indices.reshape(2, TOTAL)
    for epoch in epochs:
        assert sorted(epoch) == list(range(TOTAL))
    assert list(epochs[0]) != list(epochs[1])  # reshuffled each epoch
    assert list(epochs[0]) != list(range(TOTAL))  # shuffled at all
    again = _batches(_settings(), 8)  # a pure function of the seed
    for (a, _), (b, _) in zip(batches, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = _batches(_settings(seed=4), 4)
    assert not all(np.array_equal(a, b) for (a, _), (b, _) in zip(batches, other, strict=False))


@pytest.mark.parametrize("augmentation", ["pad_crop", "translate_altflip"])
def test_a_streamed_run_resumes_exactly_at_any_example(augmentation):
    settings = _settings(augmentation)
    whole = _batches(settings, 9)
    for start_batch in (1, 4, 5):  # within the first epoch, at the second's start, inside it
        resumed = _batches(settings, 9 - start_batch, start_example=10 * start_batch)
        assert_same_batches(whole[start_batch:], resumed)


def test_the_cache_choice():
    auto = DataConfig()
    assert auto.holds_in_memory(100, 1_000) == (True, "--cache=auto: the training split "
                                                      "(0.00 GB) is held in memory (0.00 GB "
                                                      "available)")
    held, line = auto.holds_in_memory(23_000_000_000, 20_000_000_000)
    assert not held and line == ("--cache=auto: the training split (23.00 GB) is more than "
                                 "half of the 20.00 GB available: streamed from the source in "
                                 "windows of --shuffle_buffer examples")
    assert auto.holds_in_memory(10, None)[0]  # memory unknown: held
    assert auto.holds_in_memory(0, 10) == (True, None)  # size unknown: the source's own way
    assert DataConfig(cache="none").holds_in_memory(1, 10 ** 12) == (False, None)
    assert DataConfig(cache="memory").holds_in_memory(10 ** 12, 1) == (True, None)
    with pytest.raises(ValueError, match="unknown --cache='disk'"):
        DataConfig(cache="disk").validate()


def _shard_source(tmp_path):
    """The 40 examples of `_source` written as shards of 7 (7, 7, 7, 7, 7, 5), in order."""
    from convnet.data.sources import shards
    shards.write(_source(), str(tmp_path), examples_per_shard=7, shuffle_seed=None)
    return shards.ShardSource(str(tmp_path))


def _shard_batches(source, settings, count, start_example=0):
    dataset = pipeline.train_dataset(source, 10, settings, start_example=start_example)
    return [(images.numpy(), labels.numpy()) for images, labels in dataset.take(count)]


@pytest.mark.parametrize("augmentation", ["pad_crop", "translate_altflip"])
def test_shards_are_streamed_in_a_seeded_shard_order_each_epoch_and_resume_exactly(
        tmp_path, augmentation):
    source = _shard_source(tmp_path)
    settings = _settings(augmentation, buffer=8)
    whole = _shard_batches(source, settings, 12)  # 3 epochs
    plain = _shard_batches(source, _settings("none", buffer=8), 12)  # pixels: the indices
    indices = np.concatenate([images[:, 0, 0, 0] for images, _ in plain]).round().astype(int)
    epochs = indices.reshape(3, TOTAL)
    for epoch in epochs:
        assert sorted(epoch) == list(range(TOTAL))
    np.testing.assert_array_equal(np.concatenate([labels for _, labels in plain]),
                                  indices % 10)  # each label follows its image
    # Each epoch's first window (8 examples): two of each of the first 4 shards of its order,
    # read in turn (7 examples a shard; the shards interleaved 4 at a time), a new order of
    # the shards each epoch, seeded.
    first_shards = []
    for epoch in epochs:
        shards, counts = np.unique(epoch[:8] // 7, return_counts=True)
        assert len(shards) == pipeline.SHARD_CYCLE and set(counts) == {2}, epoch[:8]
        first_shards.append(tuple(shards))
    assert len(set(first_shards)) > 1, first_shards
    for start_batch in (1, 3, 4, 7):  # inside epoch 0, at epoch 1's start, inside it
        resumed = _shard_batches(source, settings, 12 - start_batch,
                                 start_example=10 * start_batch)
        assert_same_batches(whole[start_batch:], resumed)


def _round_robin(sizes):
    """The (shard, example) sequence of a round robin over shards of `sizes`, step by step."""
    left, taken, sequence = list(sizes), [0] * len(sizes), []
    while any(left):
        for shard in range(len(sizes)):
            if left[shard]:
                sequence.append((shard, taken[shard]))
                taken[shard] += 1
                left[shard] -= 1
    return sequence


@pytest.mark.parametrize("sizes", [[7, 7, 7, 7], [3, 7, 1, 5], [2], [4, 4, 0, 9]])
def test_a_resumed_round_robin_continues_the_interleave_exactly(sizes):
    shards = np.array([10, 11, 12, 13][:len(sizes)])
    whole = _round_robin(sizes)
    for done in range(len(whole)):
        left, given = pipeline._resumed_round_robin(shards, np.array(sizes), done)  # noqa: SLF001
        rest = _round_robin([sizes[list(shards).index(s)] - g for s, g in zip(left, given,
                                                                               strict=True)])
        continued = [(int(left[i]) - 10, int(given[i]) + example) for i, example in rest]
        assert continued == whole[done:], (done, left, given)
        assert all(g < sizes[s - 10] for s, g in zip(left, given, strict=True))  # none empty
