"""The source protocol (`Source`) and the shared construction of file readers (`FileSource`)."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.data import pipeline, preprocess
from convnet.data.info import CIFAR10, DatasetInfo
from convnet.data.sources import layout
from convnet.data.sources.base import FileSource, Source
from convnet.data.sources.cifar_binary import CifarBinarySource
from convnet.data.sources.cifar_python import CifarPythonSource
from convnet.data.sources.in_memory import InMemorySource
from convnet.data.sources.mnist_idx import IdxSource
from convnet.data.sources.synthetic import SyntheticSource
from convnet.data.sources.tfds import TfdsSource

INFO = DatasetInfo("tiny", (8, 8, 3), 4, num_examples={"train": 12, "test": 5})


class TinySource(Source):
    """The least a source must be: `info`, `num_examples` and `dataset`, in memory."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.info = INFO
        self.splits = {split: (rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8),
                               np.arange(n, dtype=np.int32) % 4)
                       for split, n in INFO.num_examples.items()}

    def num_examples(self, split):
        return len(self.splits[split][1])

    def dataset(self, split):
        return tf.data.Dataset.from_tensor_slices(self.splits[split])


def test_a_source_must_define_num_examples_and_dataset():
    class Half(Source):
        def num_examples(self, split):
            return 0

    with pytest.raises(TypeError, match="dataset"):
        Half()  # pylint: disable=abstract-class-instantiated


def test_every_source_implements_the_protocol():
    for reader in (CifarBinarySource, CifarPythonSource, IdxSource):
        assert issubclass(reader, FileSource) and issubclass(reader, Source)
    assert issubclass(SyntheticSource, Source) and issubclass(TfdsSource, Source)


def test_a_source_of_the_protocol_goes_through_the_training_and_evaluation_pipelines():
    source = TinySource()
    spec = preprocess.Preprocessing("none", 8, "per_channel", (0.0,) * 3, (1.0,) * 3)
    settings = pipeline.InputSettings(spec, num_parallel_calls=2, seed=3)
    batches = list(pipeline.train_dataset(source, 4, settings).take(6))  # two epochs
    labels = np.concatenate([labels.numpy() for _, labels in batches])
    for epoch in (labels[:12], labels[12:]):  # every example once an epoch
        np.testing.assert_array_equal(np.sort(epoch), np.sort(source.splits["train"][1]))
    assert all(images.shape == (4, 8, 8, 3) and images.dtype == tf.float32
               for images, _ in batches)
    evaluated = list(pipeline.eval_dataset(source, "test", 2, settings=settings))
    assert [len(labels) for _, labels in evaluated] == [2, 2, 1]  # each example once, in order
    images = np.concatenate([images.numpy() for images, _ in evaluated])
    np.testing.assert_array_equal(images, source.splits["test"][0].astype(np.float32))


class CountingSource(InMemorySource):
    """An in-memory reader of CIFAR-10's binary layout, counting its reads."""

    LAYOUTS = {"cifar10": CifarBinarySource.LAYOUTS["cifar10"]}
    FORMAT = "counting"
    reads = 0

    def _read(self, split):
        CountingSource.reads += 1
        return np.zeros([3, 32, 32, 3], np.uint8), np.arange(3, dtype=np.int32)


def test_file_source_finds_the_files_reads_each_split_once_and_takes_the_first_dataset(
        cifar_dir):
    source = CountingSource(cifar_dir[0] + "/..", allow_download=False)
    assert source.info is CIFAR10 and source.data_dir.endswith("cifar-10-batches-bin")
    assert source.files("test")[0].endswith("test_batch.bin")
    CountingSource.reads = 0
    assert source.num_examples("train") == 3 and len(list(source.dataset("train"))) == 3
    assert CountingSource.reads == 1
    with pytest.raises(ValueError, match="counting files hold cifar10, not 'mnist'"):
        CountingSource(cifar_dir[0], False, "mnist")


def test_a_located_directory_is_taken_as_is(cifar_dir, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("looked at the directory again")

    monkeypatch.setattr(layout, "resolve_data_dir", fail)
    monkeypatch.setattr(layout.FileLayout, "find", fail)
    source = CifarBinarySource(cifar_dir[0], dataset="cifar10", located=True)
    assert source.data_dir == cifar_dir[0] and source.num_examples("test") == 10
