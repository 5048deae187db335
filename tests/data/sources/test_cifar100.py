"""CIFAR-100 binary files: exact decoding of fine and coarse labels, clear errors, download."""

import hashlib
import io
import os
import tarfile

import numpy as np
import pytest

from convnet.data.sources import cifar_binary
from convnet.runtime.errors import DataError

from fake_data import http_server, write_cifar100_binary
from helpers import all_examples


@pytest.fixture
def cifar100_dir(tmp_path):
    path = tmp_path / "cifar-100-binary"
    return str(path), write_cifar100_binary(str(path))


@pytest.mark.parametrize("label_mode, column, num_classes", [("fine", 2, 100), ("coarse", 1, 20)])
def test_decodes_every_record_exactly(cifar100_dir, label_mode, column, num_classes):
    path, arrays = cifar100_dir
    source = cifar_binary.CifarBinarySource(path, False, dataset="cifar100", label_mode=label_mode)
    assert source.info.num_classes == num_classes and source.info.image_shape == (32, 32, 3)
    for split, count in (("train", 12), ("test", 7)):
        images, labels = all_examples(source.dataset(split))
        assert images.dtype == np.uint8 and labels.dtype == np.int32
        np.testing.assert_array_equal(images, arrays[split][0])
        np.testing.assert_array_equal(labels, arrays[split][column])
        assert source.num_examples(split) == count


def test_parent_directory_is_accepted(cifar100_dir):
    path, _ = cifar100_dir
    source = cifar_binary.CifarBinarySource(os.path.dirname(path), False, dataset="cifar100")
    assert source.data_dir == path


def test_truncated_file_names_the_file_and_record_size(cifar100_dir):
    path, _ = cifar100_dir
    with open(os.path.join(path, "train.bin"), "r+b") as f:
        f.truncate(3074 * 3 + 10)
    source = cifar_binary.CifarBinarySource(path, False, dataset="cifar100")
    with pytest.raises(DataError, match="train.bin") as error:
        source.dataset("train")
    assert "3,074-byte CIFAR-100 binary records" in str(error.value)
    assert "truncated" in str(error.value)
    assert source.num_examples("test") == 7


def test_label_out_of_range_means_not_cifar100(cifar100_dir):
    path, _ = cifar100_dir
    bogus = np.zeros((4, 3074), np.uint8)
    bogus[:, 1] = 150  # a fine label byte out of 0..99
    bogus.tofile(os.path.join(path, "test.bin"))
    with pytest.raises(DataError, match="test.bin holds a fine label byte of 150.*not CIFAR-100"):
        cifar_binary.CifarBinarySource(path, False, dataset="cifar100").num_examples("test")


def test_missing_file_and_missing_data_say_how_to_get_them(tmp_path, cifar100_dir):
    path, _ = cifar100_dir
    os.remove(os.path.join(path, "test.bin"))
    with pytest.raises(DataError, match="missing: .*test.bin"):
        cifar_binary.CifarBinarySource(path, False, dataset="cifar100").dataset("test")
    with pytest.raises(DataError, match="does not exist") as error:
        cifar_binary.CifarBinarySource(str(tmp_path / "nowhere"), False, dataset="cifar100")
    message = str(error.value)
    assert "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz" in message
    assert "03b5dce01913d631647c71ecec9e9cb8" in message and "--data_dir" in message


def test_coarse_labels_exist_for_cifar100_only(cifar100_dir):
    with pytest.raises(ValueError, match="coarse labels exist for cifar100"):
        cifar_binary.CifarBinarySource(cifar100_dir[0], False, label_mode="coarse")
    with pytest.raises(ValueError, match="CIFAR binary files hold cifar10 or cifar100"):
        cifar_binary.CifarBinarySource(cifar100_dir[0], False, dataset="mnist")


def test_download_checks_md5_and_extracts(tmp_path):
    write_cifar100_binary(str(tmp_path / "src" / "cifar-100-binary"), train=2, test=3)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(str(tmp_path / "src" / "cifar-100-binary"), arcname="cifar-100-binary")
    www = tmp_path / "www"
    www.mkdir()
    (www / "cifar-100-binary.tar.gz").write_bytes(buffer.getvalue())
    data_dir = tmp_path / "data"
    with http_server(www) as base_url:
        url = base_url + "cifar-100-binary.tar.gz"
        with pytest.raises(DataError, match="MD5"):
            cifar_binary.resolve_data_dir(str(data_dir), True, url, md5="0" * 32,
                                          dataset="cifar100")
        assert os.listdir(data_dir) == []
        path = cifar_binary.resolve_data_dir(str(data_dir), True, url,
                                             md5=hashlib.md5(buffer.getvalue()).hexdigest(),
                                             dataset="cifar100")
    assert path == str(data_dir / "cifar-100-binary")
    assert sorted(os.listdir(path)) == ["test.bin", "train.bin"]
    assert cifar_binary.CifarBinarySource(path, False, dataset="cifar100").num_examples("test") == 3
