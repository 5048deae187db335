"""CIFAR-10 binary files: exact decoding and clear errors for bad files."""

import os

import numpy as np
import pytest

from convnet.data.sources import cifar_binary
from convnet.runtime.errors import DataError

from conftest import run_python, write_cifar_files
from helpers import all_examples


def test_decodes_every_record_exactly(cifar_dir):
    path, arrays = cifar_dir
    source = cifar_binary.CifarBinarySource(path, allow_download=False)
    for split in ("train", "test"):
        images, labels = all_examples(source.dataset(split))
        assert images.dtype == np.uint8 and images.shape[1:] == (32, 32, 3)
        assert labels.dtype == np.int32
        np.testing.assert_array_equal(images, arrays[split][0])
        np.testing.assert_array_equal(labels, arrays[split][1])
    assert source.num_examples("train") == 40 and source.num_examples("test") == 10


def test_planes_to_images_matches_numpy():
    rng = np.random.default_rng(0)
    for shape in ((32, 32, 3), (5, 7, 2), (4, 4, 1)):
        planar = rng.integers(0, 256, (6, int(np.prod(shape))), dtype=np.uint8)
        expected = planar.reshape(6, shape[2], shape[0], shape[1]).transpose(0, 2, 3, 1)
        images = cifar_binary.planes_to_images(planar, shape)
        assert images.dtype == "uint8"
        np.testing.assert_array_equal(images.numpy(), expected)


@pytest.mark.slow
def test_decoding_logs_no_tensorflow_error(cifar_dir):
    """On some AVX-512 CPUs a uint8 Transpose made oneDNN log an E-level line at every start."""
    code = ("import sys; from convnet.data.sources import cifar_binary; "
            "src = cifar_binary.CifarBinarySource(sys.argv[1], allow_download=False); "
            "[None for _ in src.dataset('train')]; print('read')")
    done = run_python(code, cifar_dir[0], TF_CPP_MIN_LOG_LEVEL="0")
    assert done.returncode == 0 and "read" in done.stdout, done.stderr
    assert "DT_UINT8" not in done.stderr, done.stderr


def test_parent_directory_is_accepted(cifar_dir):
    path, _ = cifar_dir
    assert cifar_binary.resolve_data_dir(os.path.dirname(path), False) == path


def test_missing_data_dir_says_how_to_get_the_data(tmp_path):
    with pytest.raises(DataError, match="does not exist") as info:
        cifar_binary.CifarBinarySource(str(tmp_path / "nowhere"), allow_download=False)
    assert "cifar-10-binary.tar.gz" in str(info.value) and "--data_dir" in str(info.value)


def test_empty_data_dir(tmp_path):
    with pytest.raises(DataError, match="is empty"):
        cifar_binary.CifarBinarySource(str(tmp_path), allow_download=False)


def test_truncated_file_names_the_file_and_record_size(cifar_dir):
    path, _ = cifar_dir
    name = os.path.join(path, "data_batch_3.bin")
    with open(name, "r+b") as f:
        f.truncate(3073 * 5 + 100)
    source = cifar_binary.CifarBinarySource(path, allow_download=False)
    with pytest.raises(DataError, match="data_batch_3.bin") as info:
        source.dataset("train")
    assert "3,073-byte" in str(info.value) and "truncated" in str(info.value)
    source.dataset("test")  # the other split is still readable


def test_missing_file_in_split(cifar_dir):
    path, _ = cifar_dir
    os.remove(os.path.join(path, "test_batch.bin"))
    with pytest.raises(DataError, match="missing: .*test_batch.bin"):
        cifar_binary.CifarBinarySource(path, allow_download=False).dataset("test")


def test_file_that_is_not_cifar(tmp_path):
    write_cifar_files(str(tmp_path))
    bogus = np.full(3073 * 4, 200, np.uint8)  # right size, label bytes of 200
    bogus.tofile(str(tmp_path / "test_batch.bin"))
    with pytest.raises(DataError, match="not CIFAR-10"):
        cifar_binary.CifarBinarySource(str(tmp_path), allow_download=False).dataset("test")


def test_unknown_split(cifar_dir):
    with pytest.raises(ValueError, match="unknown split"):
        cifar_binary.CifarBinarySource(cifar_dir[0], allow_download=False).files("validation")
