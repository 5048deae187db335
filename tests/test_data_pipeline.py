"""Sources by name (make_source) and pipelines over tiny files, synthetic data and tfds."""

import os

import numpy as np
import pytest
import tensorflow as tf

from convnet.data import CIFAR10, CifarBinarySource, CifarPythonSource, IdxSource, pipeline
from convnet.data.synthetic import SyntheticSource
from convnet.data.info import DatasetInfo
from convnet.errors import DataError
from fake_data import write_cifar100_binary, write_cifar_python, write_mnist


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


def test_files_source_picks_the_reader_by_dataset_and_layout(tmp_path, cifar_dir):
    binary = pipeline.make_source("files", os.path.dirname(cifar_dir[0]), allow_download=False)
    assert isinstance(binary, CifarBinarySource) and binary.info is CIFAR10
    write_cifar_python(str(tmp_path / "py" / "cifar-10-batches-py"), per_file=2)
    python = pipeline.make_source("files", str(tmp_path / "py"), allow_download=False)
    assert isinstance(python, CifarPythonSource) and python.num_examples("train") == 10
    write_cifar100_binary(str(tmp_path / "c100" / "cifar-100-binary"))
    coarse = pipeline.make_source("files", str(tmp_path / "c100"), None, False, "cifar100",
                                  label_mode="coarse")
    assert coarse.info.num_classes == 20 and coarse.num_examples("test") == 7
    write_mnist(str(tmp_path / "mnist"), compress=False)
    digits = pipeline.make_source("files", str(tmp_path), allow_download=False, dataset="mnist")
    assert isinstance(digits, IdxSource) and digits.info.image_shape == (28, 28, 1)
    image, label = next(iter(digits.dataset("train")))
    assert image.shape == (28, 28, 1) and image.dtype == tf.uint8 and label.dtype == tf.int32


def test_files_source_without_files_names_the_binary_archive(tmp_path):
    with pytest.raises(DataError, match="cifar-100-binary.tar.gz"):
        pipeline.make_source("files", str(tmp_path), allow_download=False, dataset="cifar100")
    with pytest.raises(DataError, match="fashion-mnist"):
        pipeline.make_source("files", str(tmp_path), allow_download=False,
                             dataset="fashion_mnist")


@pytest.mark.parametrize("dataset, label_mode, shape, classes", [
    ("cifar10", "fine", (32, 32, 3), 10), ("cifar100", "fine", (32, 32, 3), 100),
    ("cifar100", "coarse", (32, 32, 3), 20), ("mnist", "fine", (28, 28, 1), 10),
    ("fashion_mnist", "fine", (28, 28, 1), 10)])
def test_synthetic_source_takes_the_shape_and_classes_of_any_builtin(dataset, label_mode, shape,
                                                                     classes):
    source = pipeline.make_source("synthetic", dataset=dataset, label_mode=label_mode)
    assert source.info.image_shape == shape and source.info.num_classes == classes
    image, label = next(iter(source.dataset("test")))
    assert image.shape == shape and image.dtype == tf.uint8 and 0 <= int(label) < classes


def test_bad_dataset_and_label_mode_combinations(cifar_dir):
    with pytest.raises(ValueError, match="choose from cifar10, cifar100, mnist, fashion_mnist"):
        pipeline.make_source("files", cifar_dir[0], dataset="imagenet")
    with pytest.raises(ValueError, match="--label_mode=coarse is not available for mnist"):
        pipeline.make_source("synthetic", dataset="mnist", label_mode="coarse")
    with pytest.raises(ValueError, match="unknown --label_mode='medium'"):
        pipeline.make_source("files", cifar_dir[0], dataset="cifar100", label_mode="medium")
    with pytest.raises(ValueError, match="cifar_binary reads cifar10 and cifar100 only"):
        pipeline.make_source("cifar_binary", cifar_dir[0], dataset="mnist")
    with pytest.raises(ValueError, match="not supported with --data_source=tfds"):
        pipeline.make_source("tfds", dataset="cifar100", label_mode="coarse")
