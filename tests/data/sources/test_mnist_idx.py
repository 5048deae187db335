"""MNIST / Fashion-MNIST IDX files, gzipped and plain: exact decoding, clear errors, download."""

import dataclasses
import gzip
import hashlib
import os

import numpy as np
import pytest

from convnet.data.sources import layout, mnist_idx
from convnet.runtime.errors import DataError

from fake_data import MNIST_FILES, http_server, idx_bytes, write_file, write_mnist
from helpers import all_examples


@pytest.fixture(params=[True, False], ids=["gzip", "plain"])
def mnist_dir(request, tmp_path):
    path = tmp_path / "mnist"
    return str(path), write_mnist(str(path), compress=request.param)


def test_decodes_every_example_exactly(mnist_dir):
    path, arrays = mnist_dir
    source = mnist_idx.IdxSource(path, allow_download=False)
    assert source.info.image_shape == (28, 28, 1) and source.info.num_classes == 10
    for split, count in (("train", 9), ("test", 5)):
        images, labels = all_examples(source.dataset(split))
        assert images.dtype == np.uint8 and images.shape == (count, 28, 28, 1)
        assert labels.dtype == np.int32
        np.testing.assert_array_equal(images, arrays[split][0])
        np.testing.assert_array_equal(labels, arrays[split][1])
        assert source.num_examples(split) == count


def test_fashion_mnist_from_parent_dir_with_mixed_compression(tmp_path):
    arrays = write_mnist(str(tmp_path / "fashion_mnist"), compress=False)
    images_file = tmp_path / "fashion_mnist" / MNIST_FILES["test"][0]
    images_file.with_name(images_file.name + ".gz").write_bytes(gzip.compress(
        images_file.read_bytes()))
    images_file.unlink()
    source = mnist_idx.IdxSource(str(tmp_path), False, dataset="fashion_mnist")
    assert source.info.class_name(9) == "Ankle boot"
    images, labels = all_examples(source.dataset("test"))
    np.testing.assert_array_equal(images, arrays["test"][0])
    np.testing.assert_array_equal(labels, arrays["test"][1])


def _rewrite(directory, name, content):
    """Replaces file `name` (gzipped or not) in `directory` by plain `content`."""
    for suffix in ("", ".gz"):
        if os.path.exists(os.path.join(directory, name + suffix)):
            os.remove(os.path.join(directory, name + suffix))
    return write_file(os.path.join(directory, name), content)


def test_wrong_magic_names_the_file(mnist_dir):
    path, _ = mnist_dir
    labels = np.zeros(5, np.uint8)
    _rewrite(path, MNIST_FILES["test"][0], idx_bytes(labels))  # a labels file as images
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte starts with magic number "
                                        r"0x00000801, expected 0x00000803.*not an IDX images"):
        mnist_idx.IdxSource(path, allow_download=False).dataset("test")


def test_truncated_file_names_the_file(mnist_dir):
    path, arrays = mnist_dir
    content = idx_bytes(arrays["train"][0][..., 0])
    _rewrite(path, MNIST_FILES["train"][0], content[:-100])
    source = mnist_idx.IdxSource(path, allow_download=False)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte holds 6,956 bytes after its "
                                        r"header, but the header's sizes \[9, 28, 28\] need "
                                        r"7,056: the file is truncated"):
        source.num_examples("train")
    assert source.num_examples("test") == 5  # the other split is still readable
    _rewrite(path, MNIST_FILES["train"][0], content[:10])
    with pytest.raises(DataError, match="shorter than its 16-byte IDX header"):
        mnist_idx.IdxSource(path, allow_download=False).num_examples("train")


def test_truncated_gzip_names_the_file(tmp_path):
    write_mnist(str(tmp_path), compress=True)
    name = str(tmp_path / (MNIST_FILES["test"][1] + ".gz"))
    with open(name, "r+b") as f:
        f.truncate(os.path.getsize(name) - 12)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz is a damaged gzip file"):
        mnist_idx.IdxSource(str(tmp_path), allow_download=False).dataset("test")


def test_count_mismatch_names_both_files(mnist_dir):
    path, _ = mnist_dir
    _rewrite(path, MNIST_FILES["test"][1], idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte(\.gz)? holds 5 images but "
                                        r".*t10k-labels-idx1-ubyte holds 4 labels"):
        mnist_idx.IdxSource(path, allow_download=False).dataset("test")


def test_wrong_image_size_and_label_range(mnist_dir):
    path, _ = mnist_dir
    _rewrite(path, MNIST_FILES["test"][1], idx_bytes(np.full(5, 10, np.uint8)))
    with pytest.raises(DataError, match="holds a label of 10, but MNIST IDX labels are 0..9"):
        mnist_idx.IdxSource(path, allow_download=False).dataset("test")
    _rewrite(path, MNIST_FILES["test"][0], idx_bytes(np.zeros((5, 32, 32), np.uint8)))
    with pytest.raises(DataError, match="holds 32x32 images, but MNIST IDX images are 28x28"):
        mnist_idx.IdxSource(path, allow_download=False).dataset("test")


def test_missing_file_and_missing_data_say_how_to_get_them(mnist_dir, tmp_path):
    path, _ = mnist_dir
    for suffix in ("", ".gz"):
        if os.path.exists(os.path.join(path, MNIST_FILES["train"][1] + suffix)):
            os.remove(os.path.join(path, MNIST_FILES["train"][1] + suffix))
    with pytest.raises(DataError, match=r"MNIST IDX file missing: .*train-labels-idx1-ubyte "
                                        r"\(or \*\.gz\)"):
        mnist_idx.IdxSource(path, allow_download=False).dataset("train")
    with pytest.raises(DataError, match="does not exist") as error:
        mnist_idx.IdxSource(str(tmp_path / "nowhere"), allow_download=False)
    assert ("https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz "
            "(MD5 f68b3c2dcbeaaa9fbdd348bbdeb94873)") in str(error.value)


def test_download_checks_each_md5_and_creates_the_directory_whole(tmp_path):
    www = tmp_path / "www"
    arrays = write_mnist(str(www), train=3, test=2, compress=True)
    md5s = {name: hashlib.md5((www / name).read_bytes()).hexdigest() for name in os.listdir(www)}
    data_dir = tmp_path / "data"
    with http_server(www) as base_url:
        bad = dataclasses.replace(mnist_idx.MNIST_IDX, downloads={
            name: (base_url + name, "0" * 32 if name.startswith("t10k-l") else md5)
            for name, md5 in md5s.items()})
        with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz has MD5"):
            layout.resolve_data_dir(str(data_dir), bad, allow_download=True)
        assert os.listdir(data_dir) == []  # no partial directory, no .part file
        good = dataclasses.replace(mnist_idx.MNIST_IDX, downloads={
            name: (base_url + name, md5) for name, md5 in md5s.items()})
        path = layout.resolve_data_dir(str(data_dir), good, allow_download=True)
    assert path == str(data_dir / "mnist") and sorted(os.listdir(path)) == sorted(md5s)
    images, labels = all_examples(mnist_idx.IdxSource(str(data_dir), False).dataset("test"))
    np.testing.assert_array_equal(images, arrays["test"][0])
    np.testing.assert_array_equal(labels, arrays["test"][1])


def test_official_download_addresses():
    downloads = mnist_idx.FASHION_MNIST_IDX.downloads
    assert downloads["t10k-images-idx3-ubyte.gz"] == (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz",
        "bef4ecab320f06d8554ea6380940ec79")
    assert sorted(mnist_idx.MNIST_IDX.downloads) == sorted(
        name + ".gz" for names in MNIST_FILES.values() for name in names)
