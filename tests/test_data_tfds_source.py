"""convnet.data.tfds_source: a tfds dataset as a source, through tfds' mock data (no network)."""

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from convnet.data import pipeline
from convnet.data.tfds_source import TfdsSource
from convnet.errors import DataError


def test_tfds_source_reads_through_tfds_without_network(tmp_path):
    with tfds.testing.mock_data(num_examples=12):
        src = pipeline.make_source("tfds", tfds_data_dir=str(tmp_path), dataset="cifar10",
                                   allow_download=False)
        assert src.info.num_classes == 10 and src.info.image_shape == (32, 32, 3)
        images, labels = next(iter(pipeline.eval_dataset(src, "test", 5)))
    assert images.shape == (5, 24, 24, 3) and labels.dtype == tf.int32


def test_info_and_examples_come_from_the_tfds_builder(tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        source = TfdsSource("mnist", data_dir=str(tmp_path), allow_download=False)
        examples = list(source.dataset("test"))
    assert (source.info.name, source.info.image_shape, source.info.num_classes) == (
        "mnist", (28, 28, 1), 10)
    assert source.info.class_names == tuple("0123456789")
    assert source.num_examples("no_such_split") == 0  # unknown: 0, as the Source protocol says
    assert len(examples) == 6
    for image, label in examples:
        assert image.dtype == tf.uint8 and image.shape == (28, 28, 1)
        assert label.dtype == tf.int32 and 0 <= int(label) < 10


def test_unknown_or_unprepared_dataset_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="^tfds has no dataset 'no_such_dataset_xyz' "):
        TfdsSource("no_such_dataset_xyz", data_dir=str(tmp_path))
    source = TfdsSource("mnist", data_dir=str(tmp_path), allow_download=False)
    with pytest.raises(DataError) as error:
        source.dataset("test")
    message = str(error.value)
    assert message.startswith(f"could not load tfds dataset 'mnist' split 'test' from {tmp_path} (")
    assert message.endswith("Prepare it with `tfds build mnist --data_dir=...` on a machine with "
                            "internet access, or allow --download.")
