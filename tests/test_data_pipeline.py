"""Training and evaluation pipelines over tiny files; InputSettings.

(Sources by name, make_source, are tested in test_data_source_spec.py; the synthetic and tfds
sources in test_data_synthetic.py and test_data_tfds_source.py.)"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_python
from convnet.data import pipeline, preprocess


@pytest.fixture
def source(cifar_dir):
    return pipeline.make_source("cifar_binary", cifar_dir[0], allow_download=False)


def test_train_batches_are_distorted_crops_and_endless(source):
    ds = pipeline.train_dataset(source, batch_size=16, num_parallel_calls=16, shuffle_buffer=40)
    batches = list(ds.take(7))  # 7 * 16 = 112 examples from 40: it repeats
    for images, labels in batches:
        assert images.shape == (16, 24, 24, 3) and images.dtype == tf.float32
        assert labels.dtype == tf.int32


def test_train_pipeline_is_deterministic_for_a_seed(source):
    def first(seed):
        ds = pipeline.train_dataset(source, 8, shuffle_buffer=40, seed=seed)
        return next(iter(ds))
    a, b, c = first(3), first(3), first(4)
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    assert not np.array_equal(a[0].numpy(), c[0].numpy())


def test_eval_counts_every_example_once_in_order(source, cifar_dir):
    labels = np.concatenate([l.numpy() for _, l in pipeline.eval_dataset(source, "train", 16)])
    assert len(labels) == 40  # 16 + 16 + 8: the short batch is kept
    np.testing.assert_array_equal(labels, cifar_dir[1]["train"][1])


def test_unknown_data_source_and_bad_batch_size(source):
    with pytest.raises(ValueError, match="unknown --data_source"):
        pipeline.make_source("hdf5")
    with pytest.raises(ValueError, match="batch_size must be positive"):
        pipeline.train_dataset(source, 0)


def test_input_settings_defaults_validation_and_frozen():
    settings = pipeline.InputSettings()
    assert settings.preprocessing == preprocess.Preprocessing() and settings.seed == 0
    assert (settings.num_parallel_calls, settings.shuffle_buffer) == (16, pipeline.SHUFFLE_BUFFER)
    assert pipeline.InputSettings(num_parallel_calls=tf.data.AUTOTUNE).num_parallel_calls == -1
    with pytest.raises(ValueError, match="--num_parallel_calls must be positive"):
        pipeline.InputSettings(num_parallel_calls=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 1


def test_settings_and_the_older_arguments_give_the_same_streams(source):
    spec = preprocess.Preprocessing("pad_crop", 32, "per_channel", (120.0,) * 3, (60.0,) * 3)
    settings = pipeline.InputSettings(spec, num_parallel_calls=2, shuffle_buffer=40, seed=7)
    new = next(iter(pipeline.train_dataset(source, 8, settings, start_example=5, num_shards=2,
                                           shard_index=1)))
    old = next(iter(pipeline.train_dataset(source, 8, spec, 2, 40, 7, 5, 2, 1)))
    for a, b in zip(new, old):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    new = next(iter(pipeline.eval_dataset(source, "test", 4, settings, num_examples=6)))
    old = next(iter(pipeline.eval_dataset(source, "test", 4, spec, 2, 6)))
    np.testing.assert_array_equal(new[0].numpy(), old[0].numpy())
    with pytest.raises(TypeError, match="pass seed in the InputSettings"):
        pipeline.train_dataset(source, 8, settings, seed=1)


_READ_IN_PART = """
import sys
from convnet.data import pipeline, preprocess
source = pipeline.make_source(sys.argv[1], sys.argv[2], allow_download=False)
batched = pipeline.InputSettings(preprocess.Preprocessing(augmentation="translate_altflip"))
for settings in (None, batched):  # a run stopped inside its first epoch
    next(iter(pipeline.train_dataset(source, 4, settings)))
next(iter(pipeline.eval_dataset(source, "test", 2, num_examples=3)))  # eval --num_examples
print("read")
"""


@pytest.mark.parametrize("kind", ["cifar_binary", "synthetic"])
def test_reading_in_part_discards_no_cache(kind, cifar_dir):
    """TensorFlow warns "did not fully read the dataset being cached" when an iterator of a
    cache is left early; a short run or a partial evaluation must not."""
    done = run_python(_READ_IN_PART, kind, cifar_dir[0], TF_CPP_MIN_LOG_LEVEL="0")
    assert done.returncode == 0 and "read" in done.stdout, done.stderr
    assert "did not fully read the dataset being cached" not in done.stderr, done.stderr
