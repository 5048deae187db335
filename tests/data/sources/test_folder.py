"""convnet.data.sources.folder: images in class folders, with keras' conventions (its
`image_dataset_from_directory` is the reference for the class names and each file's label)."""

import os

import numpy as np
import pytest
import tensorflow as tf

from convnet.data.sources.folder import FolderSource
from convnet.data.sources.spec import SourceSpec, make_source
from convnet.runtime.errors import DataError

from fake_data import CLASSES, write_image_folder
from helpers import all_examples, random_image, write_image


def test_class_names_and_labels_follow_keras_and_the_images_are_the_files(tmp_path):
    root = str(tmp_path / "pets")
    written = write_image_folder(root)
    source = FolderSource(root, test_fraction=0.4)
    assert source.class_names == CLASSES and source.info.num_classes == 3
    assert source.info.image_shape == (8, 8, 3) and source.info.name == "pets"
    reference = tf.keras.utils.image_dataset_from_directory(
        root, labels="inferred", shuffle=False, image_size=(8, 8), batch_size=None)
    assert tuple(reference.class_names) == CLASSES
    keras_label = {path: int(label) for path, (_, label) in zip(
        reference.file_paths, reference, strict=True)}
    for split in ("train", "test"):
        images, labels = all_examples(source.dataset(split))
        for (path, label), image, got in zip(source.files(split), images, labels, strict=True):
            assert got == label == keras_label[path] == written[path][1]
            np.testing.assert_array_equal(image, written[path][0])  # PNG: exact
    # 2 of each class's 5 files held out: every file in one split, once.
    assert source.num_examples("test") == 6 and source.num_examples("train") == 9
    assert sorted(p for s in ("train", "test") for p, _ in source.files(s)) == sorted(written)


def test_the_split_is_the_same_in_every_process_and_moves_with_split_seed(tmp_path):
    root = str(tmp_path / "pets")
    write_image_folder(root, per_class=10)
    first, again = FolderSource(root), FolderSource(root)
    assert first.files("test") == again.files("test")
    assert FolderSource(root, split_seed=1).files("test") != first.files("test")
    assert [label for _, label in first.files("test")] == [0, 0, 1, 1, 2, 2]  # 20% a class


def test_train_and_test_folders_are_the_splits(tmp_path):
    write_image_folder(str(tmp_path / "d" / "train"), per_class=3)
    write_image_folder(str(tmp_path / "d" / "test"), per_class=2, seed=50)
    source = make_source(SourceSpec("folder", str(tmp_path / "d")))
    assert (source.num_examples("train"), source.num_examples("test")) == (9, 6)
    assert all(path.startswith(str(tmp_path / "d" / "test")) for path, _ in
               source.files("test"))


def test_grey_images_and_resizing(tmp_path):
    root = str(tmp_path / "grey")
    write_image_folder(root, per_class=2, size=(12, 10), channels=1)
    grey = FolderSource(root, color_mode="grayscale", test_fraction=0.5)
    assert grey.info.image_shape == (12, 10, 1)
    resized = FolderSource(root, image_size=6, test_fraction=0.5)
    images, _ = resized.arrays("train")
    assert images.shape == (3, 6, 6, 3) and images.dtype == np.uint8
    expected = tf.image.resize(tf.cast(tf.image.grayscale_to_rgb(
        tf.io.decode_png(open(resized.files("train")[0][0], "rb").read())), tf.float32),
        [6, 6], antialias=True)
    np.testing.assert_array_equal(images[0], np.clip(np.round(expected), 0, 255))


def test_bad_folders_name_the_path_and_the_way_out(tmp_path):
    with pytest.raises(DataError, match="is not a directory: pass the folder holding one "
                                        "folder of images a class"):
        FolderSource(str(tmp_path / "none"))
    os.makedirs(tmp_path / "one" / "cat")
    write_image(tmp_path / "one" / "cat" / "a.png", random_image([4, 4, 3]))
    with pytest.raises(DataError, match="holds 1 class folder"):
        FolderSource(str(tmp_path / "one"))
    os.makedirs(tmp_path / "one" / "dog")
    with pytest.raises(DataError, match=r"one/dog holds no image \(.png"):
        FolderSource(str(tmp_path / "one"))
    write_image(tmp_path / "one" / "dog" / "b.png", random_image([5, 4, 3]))
    with pytest.raises(DataError, match=r"b.png is 5x4, but the images of .* are 4x4: resize "
                                        r"every image to NxN with --folder_image_size=N"):
        FolderSource(str(tmp_path / "one"), test_fraction=0.5).arrays("train")
    (tmp_path / "one" / "dog" / "c.png").write_bytes(b"\xff\xfe not a png")
    with pytest.raises(DataError, match=r"c.png is not an image TensorFlow can decode .*"
                                        r"Remove it or replace it"):
        broken = FolderSource(str(tmp_path / "one"), image_size=4)
        broken.arrays("train")
        broken.arrays("test")
    write_image_folder(str(tmp_path / "mixed" / "train"), per_class=1)
    os.makedirs(tmp_path / "mixed" / "test" / "cat")
    with pytest.raises(DataError, match="train/ holds the classes"):
        FolderSource(str(tmp_path / "mixed"))
    with pytest.raises(ValueError, match="--data_source=folder needs --data_dir"):
        SourceSpec("folder")


def test_a_folder_larger_than_memory_streams_its_files(tmp_path, monkeypatch):
    from convnet.runtime import host_memory
    from convnet.runtime.errors import data_error_inside

    root = str(tmp_path / "pets")
    written = write_image_folder(root, per_class=3)
    held = FolderSource(root, test_fraction=0.34)
    assert not held.streams("train") and held.shard_sizes("train") is None
    monkeypatch.setattr(host_memory, "available_bytes", lambda: 100)  # 8x8x3 images: too big
    source = FolderSource(root, test_fraction=0.34)
    assert source.streams("train") and source.shard_sizes("train") == [1] * 6
    streamed = list(source.dataset("train").as_numpy_iterator())
    assert source._arrays == {}  # noqa: SLF001 (nothing held)
    for (path, label), (image, got) in zip(source.files("train"), streamed, strict=True):
        np.testing.assert_array_equal(image, written[path][0])
        assert got == label
    write_image(tmp_path / "pets" / "dog" / "odd.png", random_image([5, 4, 3]))
    odd = FolderSource(root, test_fraction=0.34)
    with pytest.raises(tf.errors.OpError) as raised:
        for split in ("train", "test"):
            list(odd.dataset(split).as_numpy_iterator())
    assert "odd.png is 5x4, but the images of" in str(data_error_inside(raised.value))
    monkeypatch.setattr(host_memory, "available_bytes", lambda: 10**12)
    assert source.streams("train")  # decided once a split: one run, one way
