"""CIFAR python files: exact decoding, crafted pickles refused, clear errors.

(The restricted unpickler itself: tests/data/sources/test_safe_pickle.py.)"""

import builtins
import os
import re

import numpy as np
import pytest

from convnet.data.sources import cifar_python
from convnet.runtime.errors import DataError

from fake_data import RunsCode, write_cifar_python, write_pickle
from helpers import all_examples


@pytest.fixture
def cifar10_py(tmp_path):
    path = tmp_path / "cifar-10-batches-py"
    return str(path), write_cifar_python(str(path), "cifar10", per_file=4)


def test_cifar10_python2_pickles_decode_exactly(cifar10_py):
    path, arrays = cifar10_py
    source = cifar_python.CifarPythonSource(path, allow_download=False)
    assert source.info.name == "cifar10" and source.info.num_classes == 10
    for split in ("train", "test"):
        images, labels = all_examples(source.dataset(split))
        assert images.dtype == np.uint8 and images.shape[1:] == (32, 32, 3)
        assert labels.dtype == np.int32
        np.testing.assert_array_equal(images, arrays[split][0])
        np.testing.assert_array_equal(labels, arrays[split][1]["labels"])
    assert source.num_examples("train") == 20 and source.num_examples("test") == 4


@pytest.mark.parametrize("style", ["py2", 2, 5])
@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_decodes_exactly_from_parent_dir(tmp_path, style, label_mode):
    arrays = write_cifar_python(str(tmp_path / "cifar-100-python"), "cifar100", per_file=5,
                                style=style)
    source = cifar_python.CifarPythonSource(str(tmp_path), False, "cifar100",
                                            label_mode=label_mode)
    assert source.info.num_classes == {"fine": 100, "coarse": 20}[label_mode]
    images, labels = all_examples(source.dataset("test"))
    np.testing.assert_array_equal(images, arrays["test"][0])
    np.testing.assert_array_equal(labels, arrays["test"][1][f"{label_mode}_labels"])


@pytest.mark.parametrize("make_payload", [
    lambda marker: RunsCode(os.system, f"touch {marker}"),
    lambda marker: RunsCode(builtins.eval, f"open({str(marker)!r}, 'w').close()"),
    lambda marker: RunsCode(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
], ids=["os.system", "builtins.eval", "builtins.exec"])
def test_crafted_pickle_is_refused_without_running_anything(cifar10_py, tmp_path, make_payload):
    path, _ = cifar10_py
    marker = tmp_path / "pwned"
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [make_payload(marker)]}
    write_pickle(os.path.join(path, "test_batch"), batch, style=2)
    source = cifar_python.CifarPythonSource(path, allow_download=False)
    with pytest.raises(DataError, match="test_batch refers to .*refusing to load"):
        source.dataset("test")
    assert not marker.exists()


def test_truncated_pickle(cifar10_py):
    path, _ = cifar10_py
    name = os.path.join(path, "data_batch_2")
    with open(name, "r+b") as f:
        f.truncate(os.path.getsize(name) // 2)
    with pytest.raises(DataError, match="data_batch_2 is not a readable pickle.*truncated"):
        cifar_python.CifarPythonSource(path, allow_download=False).num_examples("train")


def test_missing_file_and_missing_data(cifar10_py, tmp_path):
    path, _ = cifar10_py
    os.remove(os.path.join(path, "data_batch_5"))
    with pytest.raises(DataError, match="CIFAR-10 python file missing: .*data_batch_5"):
        cifar_python.CifarPythonSource(path, allow_download=False).dataset("train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is empty.*cifar-10-python.tar.gz"):
        cifar_python.CifarPythonSource(str(tmp_path / "empty"), allow_download=False)


@pytest.mark.parametrize("batch, message", [
    ([1, 2, 3], "holds a pickled list, not the dict"),
    ({b"labels": [0]}, "has no 'data' entry"),
    ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]},
     r"'data' is a uint8 \[2, 100\] array, expected uint8 \[N, 3072\]"),
    ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "'data' is a float32"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "holds 2 images but 'labels'"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]},
     "holds a label of 10, but CIFAR-10 python labels are 0..9"),
    ({b"data": np.zeros((1, 3072), np.uint8), b"labels": ["cat"]}, "not a list of integer"),
])
def test_malformed_batches_name_the_file(cifar10_py, batch, message):
    path, _ = cifar10_py
    write_pickle(os.path.join(path, "test_batch"), batch, style=2)
    with pytest.raises(DataError, match="test_batch") as error:
        cifar_python.CifarPythonSource(path, allow_download=False).dataset("test")
    assert re.search(message, str(error.value)), str(error.value)
