"""The data settings (SourceSpec) and the source they name (make_source, file_source)."""

import dataclasses
import os

import pytest
import tensorflow as tf

from convnet.data.info import CIFAR10
from convnet.data.sources import layout
from convnet.data.sources.cifar_binary import CifarBinarySource
from convnet.data.sources.cifar_python import CifarPythonSource
from convnet.data.sources.mnist_idx import IdxSource
from convnet.data.sources.spec import SourceSpec, make_source
from convnet.data.sources.synthetic import SyntheticSource
from convnet.runtime.errors import DataError

from fake_data import write_cifar100_binary, write_cifar_python, write_mnist


def test_spec_defaults_are_the_tutorial_s_and_the_spec_is_frozen():
    spec = SourceSpec()
    assert (spec.data_source, spec.dataset, spec.label_mode, spec.download) == (
        "files", "cifar10", "fine", True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.dataset = "mnist"


def test_spec_refuses_bad_settings_when_made():
    with pytest.raises(ValueError, match="unknown --data_source"):
        SourceSpec("hdf5")
    with pytest.raises(ValueError, match="choose from cifar10, cifar100, mnist, fashion_mnist"):
        SourceSpec(dataset="imagenet")
    with pytest.raises(ValueError, match="cifar_binary reads cifar10 and cifar100 only"):
        SourceSpec("cifar_binary", dataset="fashion_mnist")
    assert SourceSpec("tfds", dataset="svhn_cropped").dataset == "svhn_cropped"  # any tfds name


def test_make_source_makes_the_source_a_spec_names(cifar_dir):
    binary = make_source(SourceSpec("cifar_binary", cifar_dir[0], download=False))
    assert type(binary) is CifarBinarySource and binary.data_dir == cifar_dir[0]
    synthetic = make_source(SourceSpec("synthetic", dataset="mnist", seed=4))
    assert isinstance(synthetic, SyntheticSource) and synthetic.seed == 4


def test_file_source_looks_at_each_layout_once(tmp_path, monkeypatch):
    write_cifar_python(str(tmp_path / "cifar-10-batches-py"), per_file=2)
    looked = []
    find = layout.FileLayout.find
    monkeypatch.setattr(layout.FileLayout, "find",
                        lambda self, data_dir: looked.append(self.description) or find(self,
                                                                                       data_dir))
    source = make_source(SourceSpec(data_dir=str(tmp_path), download=False))
    assert isinstance(source, CifarPythonSource) and source.num_examples("train") == 10
    assert looked == ["CIFAR-10 binary", "CIFAR-10 python"]


def test_files_source_picks_the_reader_by_dataset_and_layout(tmp_path, cifar_dir):
    binary = make_source(SourceSpec("files", os.path.dirname(cifar_dir[0]), download=False))
    assert isinstance(binary, CifarBinarySource) and binary.info is CIFAR10
    write_cifar_python(str(tmp_path / "py" / "cifar-10-batches-py"), per_file=2)
    python = make_source(SourceSpec("files", str(tmp_path / "py"), download=False))
    assert isinstance(python, CifarPythonSource) and python.num_examples("train") == 10
    write_cifar100_binary(str(tmp_path / "c100" / "cifar-100-binary"))
    coarse = make_source(SourceSpec("files", str(tmp_path / "c100"), download=False,
                                    dataset="cifar100", label_mode="coarse"))
    assert coarse.info.num_classes == 20 and coarse.num_examples("test") == 7
    write_mnist(str(tmp_path / "mnist"), compress=False)
    digits = make_source(SourceSpec("files", str(tmp_path), download=False, dataset="mnist"))
    assert isinstance(digits, IdxSource) and digits.info.image_shape == (28, 28, 1)
    image, label = next(iter(digits.dataset("train")))
    assert image.shape == (28, 28, 1) and image.dtype == tf.uint8 and label.dtype == tf.int32


def test_files_source_without_files_names_the_binary_archive(tmp_path):
    with pytest.raises(DataError, match="cifar-100-binary.tar.gz"):
        make_source(SourceSpec("files", str(tmp_path), download=False, dataset="cifar100"))
    with pytest.raises(DataError, match="fashion-mnist"):
        make_source(SourceSpec("files", str(tmp_path), download=False,
                               dataset="fashion_mnist"))


@pytest.mark.parametrize("dataset, label_mode, shape, classes", [
    ("cifar10", "fine", (32, 32, 3), 10), ("cifar100", "fine", (32, 32, 3), 100),
    ("cifar100", "coarse", (32, 32, 3), 20), ("mnist", "fine", (28, 28, 1), 10),
    ("fashion_mnist", "fine", (28, 28, 1), 10)])
def test_synthetic_source_takes_the_shape_and_classes_of_any_builtin(dataset, label_mode, shape,
                                                                     classes):
    source = make_source(SourceSpec("synthetic", dataset=dataset, label_mode=label_mode))
    assert source.info.image_shape == shape and source.info.num_classes == classes
    image, label = next(iter(source.dataset("test")))
    assert image.shape == shape and image.dtype == tf.uint8 and 0 <= int(label) < classes


def test_bad_dataset_and_label_mode_combinations(cifar_dir):
    with pytest.raises(ValueError, match="choose from cifar10, cifar100, mnist, fashion_mnist"):
        make_source(SourceSpec("files", cifar_dir[0], dataset="imagenet"))
    with pytest.raises(ValueError, match="--label_mode=coarse is not available for mnist"):
        make_source(SourceSpec("synthetic", dataset="mnist", label_mode="coarse"))
    with pytest.raises(ValueError, match="unknown --label_mode='medium'"):
        make_source(SourceSpec("files", cifar_dir[0], dataset="cifar100", label_mode="medium"))
    with pytest.raises(ValueError, match="cifar_binary reads cifar10 and cifar100 only"):
        make_source(SourceSpec("cifar_binary", cifar_dir[0], dataset="mnist"))
    with pytest.raises(ValueError, match="not supported with --data_source=tfds"):
        make_source(SourceSpec("tfds", dataset="cifar100", label_mode="coarse"))
