"""convnet.data.sources.in_memory: a split read whole by `_read` once, served as its arrays."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.data.sources.cifar_binary import CifarBinarySource
from convnet.data.sources.in_memory import InMemorySource


class ArraySource(InMemorySource):
    """An in-memory source over fixed arrays (its `data_dir` is never read), counting its reads."""

    LAYOUTS = {"cifar10": CifarBinarySource.LAYOUTS["cifar10"]}
    FORMAT = "array"

    def __init__(self, splits):
        super().__init__("/nowhere", allow_download=False, located=True)
        self.splits, self.reads = splits, []

    def _read(self, split):
        self.reads.append(split)
        return self.splits[split]


def _splits():
    rng = np.random.default_rng(0)
    return {split: (rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8),
                    rng.integers(0, 10, size=n).astype(np.int32))
            for split, n in (("train", 7), ("test", 3))}


def test_a_subclass_must_define_read():
    with pytest.raises(TypeError, match="_read"):
        InMemorySource("/nowhere", False, "cifar10")  # pylint: disable=abstract-class-instantiated


def test_arrays_are_read_once_per_split_and_kept():
    splits = _splits()
    source = ArraySource(splits)
    assert source.num_examples("train") == 7 and source.num_examples("test") == 3
    images, labels = source.arrays("train")
    np.testing.assert_array_equal(images, splits["train"][0])
    np.testing.assert_array_equal(labels, splits["train"][1])
    assert source.arrays("train")[0] is images  # kept, not read again
    list(source.dataset("train"))
    source.arrays("test")
    assert source.reads == ["train", "test"]


def test_dataset_gives_every_example_in_order_with_its_dtypes():
    splits = _splits()
    dataset = ArraySource(splits).dataset("train")
    assert dataset.element_spec == (tf.TensorSpec([32, 32, 3], tf.uint8),
                                    tf.TensorSpec([], tf.int32))
    examples = list(dataset)
    np.testing.assert_array_equal(np.stack([image for image, _ in examples]), splits["train"][0])
    np.testing.assert_array_equal([int(label) for _, label in examples], splits["train"][1])
