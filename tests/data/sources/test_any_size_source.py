"""convnet.data.sources.any_size (--image_size): a source whose images differ in size, seen by
the model at one size; a folder of photos of many sizes, and shards of them."""

import os

import numpy as np
import pytest

from convnet.data.info import DatasetInfo
from convnet.data.sources import shards
from convnet.data.sources.any_size import AnySizeSource, check_sizes
from convnet.data.sources.folder import FolderSource
from convnet.data.sources.spec import SourceSpec, make_source
from convnet.runtime.errors import DataError

from helpers import assert_same_batches, random_image, write_image

SIZES = [(9, 12), (14, 7), (10, 10)]


def _photos(root):
    """root/{cat,dog}/i.png: 3 images a class, of SIZES; returns {path: image}."""
    written = {}
    for label, name in enumerate(("cat", "dog")):
        os.makedirs(os.path.join(root, name))
        for i, size in enumerate(SIZES):
            path = os.path.join(root, name, f"{i}.png")
            written[path] = random_image([*size, 3], seed=10 * label + i)
            write_image(path, written[path])
    return written


def test_a_folder_of_many_sizes_keeps_each_image_and_the_model_sees_one_size(tmp_path):
    root = str(tmp_path / "photos")
    written = _photos(root)
    with pytest.raises(DataError, match=r"keep their sizes with --image_size=N"):
        FolderSource(root, test_fraction=0.34).arrays("train")
    source = make_source(SourceSpec("folder", root, image_size=8, folder_test_fraction=0.34))
    assert isinstance(source, AnySizeSource) and source.info.any_size
    assert source.info.image_shape == (8, 8, 3) and source.info.num_classes == 2
    assert source.source.info.image_shape == (None, None, 3)
    examples = list(source.dataset("train").as_numpy_iterator())
    assert len(examples) == source.num_examples("train") == 4
    for (path, label), (image, got) in zip(source.source.files("train"), examples, strict=True):
        np.testing.assert_array_equal(image, written[path])  # its own size, exact (PNG)
        assert got == label
    with pytest.raises(ValueError, match="keep their own sizes"):
        source.source.arrays("train")


def test_images_that_differ_in_size_need_a_size_and_shards_keep_them(tmp_path):
    varying = DatasetInfo("photos", (None, None, 3), 2)
    with pytest.raises(DataError, match=r"photos differ in size: give the size the model sees "
                                        r"with --image_size=N"):
        check_sizes(type("Photos", (), {"info": varying})())
    check_sizes(type("Fixed", (), {"info": DatasetInfo("cifar", (32, 32, 3), 10)})())
    root = str(tmp_path / "photos")
    written = _photos(root)
    source = make_source(SourceSpec("folder", root, image_size=8, folder_test_fraction=0.34))
    manifest = shards.write(source, str(tmp_path / "shards"), examples_per_shard=3)
    assert manifest["image_shape"] == [None, None, 3]
    with pytest.raises(DataError, match="differ in size"):
        make_source(SourceSpec("shards", str(tmp_path / "shards")))
    read = make_source(SourceSpec("shards", str(tmp_path / "shards"), image_size=8))
    assert read.info.image_shape == (8, 8, 3) and read.info.any_size
    assert read.shard_sizes("test") == read.source.shard_sizes("test") == [2]  # streamable
    assert source.shard_sizes("test") == [1, 1]  # a folder of any size: a file a shard
    back = [image for image, _ in read.dataset("test").as_numpy_iterator()]
    expected = [written[path] for path, _ in source.source.files("test")]
    assert [image.shape for image in back] == [image.shape for image in expected]
    for image, original in zip(back, expected, strict=True):
        np.testing.assert_array_equal(image, original)
    with pytest.raises(ValueError, match="--image_size must be positive"):
        AnySizeSource(source.source, 0)


def test_a_folder_of_any_size_streams_its_files_in_a_new_order_each_epoch(tmp_path):
    from convnet.data import pipeline, preprocess

    root = str(tmp_path / "photos")
    written = _photos(root)
    source = make_source(SourceSpec("folder", root, image_size=8, folder_test_fraction=0.34))
    files = source.source.files("train")
    assert source.shard_sizes("train") == [1] * 4  # a file a shard
    read = [(int(index), image) for index, (image, _) in
            source.read_shards("train", [2, 0]).as_numpy_iterator()]
    assert [index for index, _ in read] == [2, 0]
    for index, image in read:
        np.testing.assert_array_equal(image, written[files[index][0]])
    preprocessing = preprocess.Preprocessing("random_resized_crop", 8, "per_image",
                                             crop_fraction=0.875)
    settings = pipeline.InputSettings(preprocessing, 2, shuffle_buffer=2, seed=3, cache=False)
    batches = [(images.numpy(), labels.numpy()) for images, labels in
               pipeline.train_dataset(source, 2, settings).take(6)]
    labels = np.concatenate([batch_labels for _, batch_labels in batches]).reshape(3, 4)
    for epoch in labels:  # every file once an epoch
        assert sorted(epoch) == sorted(label for _, label in files)
    resumed = [(images.numpy(), labels.numpy()) for images, labels in
               pipeline.train_dataset(source, 2, settings, start_example=6).take(3)]
    assert_same_batches(batches[3:], resumed)


def test_a_broken_file_found_while_streaming_is_named(tmp_path):
    import tensorflow as tf

    from convnet.runtime.errors import data_error_inside

    root = str(tmp_path / "photos")
    _photos(root)
    (tmp_path / "photos" / "dog" / "9.png").write_bytes(b"not a png")
    source = make_source(SourceSpec("folder", root, image_size=8, folder_test_fraction=0.34))
    with pytest.raises(tf.errors.OpError) as raised:
        for split in ("train", "test"):  # the broken file is in one of them
            list(source.dataset(split).as_numpy_iterator())
    inside = data_error_inside(raised.value)
    assert isinstance(inside, DataError) and str(inside).startswith(
        f"{root}/dog/9.png is not an image TensorFlow can decode"), raised.value
