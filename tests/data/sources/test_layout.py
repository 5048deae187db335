"""convnet.data.sources.layout: where a dataset's files are (FileLayout.find) and getting them
there (obtain, resolve_data_dir)."""

import os

import pytest

from convnet.data.sources import layout
from convnet.data.sources.cifar_binary import CIFAR10_BINARY
from convnet.runtime.errors import DataError


def test_find_takes_the_directory_or_its_parent(cifar_dir):
    path = cifar_dir[0]
    assert CIFAR10_BINARY.find(path) == path
    assert CIFAR10_BINARY.find(os.path.dirname(path)) == path
    assert CIFAR10_BINARY.find(None) is None and CIFAR10_BINARY.find("") is None


def test_resolve_is_find_and_otherwise_obtain(cifar_dir, tmp_path):
    assert layout.resolve_data_dir(os.path.dirname(cifar_dir[0]), CIFAR10_BINARY, False) == (
        cifar_dir[0])
    empty = tmp_path / "empty"
    empty.mkdir()
    for get in (layout.resolve_data_dir, layout.obtain):
        with pytest.raises(DataError, match="is empty. Download .*cifar-10-binary.tar.gz"):
            get(str(empty), CIFAR10_BINARY, False)
        with pytest.raises(DataError, match="--data_dir is empty"):
            get("", CIFAR10_BINARY, False)
