"""Training and evaluation pipelines over tiny binary files, synthetic data and tfds."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.data import CIFAR10, pipeline
from convnet.data.synthetic import SyntheticSource
from convnet.data.info import DatasetInfo


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


def test_synthetic_source_is_deterministic_and_learnable_shape():
    info = DatasetInfo("cifar10", (32, 32, 3), 10, num_examples={"train": 20, "test": 5})
    a = [(i.numpy(), l.numpy()) for i, l in SyntheticSource(info, seed=1).dataset("train")]
    b = [(i.numpy(), l.numpy()) for i, l in SyntheticSource(info, seed=1).dataset("train")]
    assert len(a) == 20 and a[0][0].dtype == np.uint8 and a[0][0].shape == (32, 32, 3)
    for (ia, la), (ib, lb) in zip(a, b):
        np.testing.assert_array_equal(ia, ib)
        assert la == lb and 0 <= la < 10
    assert len(list(SyntheticSource(info).dataset("test"))) == 5


def test_tfds_source_reads_through_tfds_without_network(tmp_path):
    import tensorflow_datasets as tfds
    with tfds.testing.mock_data(num_examples=12):
        src = pipeline.make_source("tfds", tfds_data_dir=str(tmp_path), dataset="cifar10",
                                   allow_download=False)
        assert src.info.num_classes == 10 and src.info.image_shape == (32, 32, 3)
        images, labels = next(iter(pipeline.eval_dataset(src, "test", 5)))
    assert images.shape == (5, 24, 24, 3) and labels.dtype == tf.int32


def test_unknown_data_source_and_bad_batch_size(source):
    with pytest.raises(ValueError, match="unknown --data_source"):
        pipeline.make_source("hdf5")
    with pytest.raises(ValueError, match="batch_size must be positive"):
        pipeline.train_dataset(source, 0)
    assert CIFAR10.class_name(3) == "cat"
