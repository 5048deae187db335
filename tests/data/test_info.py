"""convnet.data.info: the built-in datasets' DatasetInfo, class names, and dataset_info's errors."""

import dataclasses

import pytest

from convnet.data import info


def test_class_names_are_the_official_ones():
    assert len(set(info.CIFAR100_FINE_CLASSES)) == 100
    assert len(set(info.CIFAR100_COARSE_CLASSES)) == 20
    assert info.CIFAR100.class_name(0) == "apple" and info.CIFAR100.class_name(99) == "worm"
    assert info.CIFAR100_COARSE.class_name(19) == "vehicles_2"
    assert info.dataset_info("cifar100", "coarse") is info.CIFAR100_COARSE
    assert info.CIFAR10.class_name(3) == "cat"


@pytest.mark.parametrize("name, label_mode, shape, classes, train, test", [
    ("cifar10", "fine", (32, 32, 3), 10, 50000, 10000),
    ("cifar100", "fine", (32, 32, 3), 100, 50000, 10000),
    ("cifar100", "coarse", (32, 32, 3), 20, 50000, 10000),
    ("mnist", "fine", (28, 28, 1), 10, 60000, 10000),
    ("fashion_mnist", "fine", (28, 28, 1), 10, 60000, 10000)])
def test_dataset_info_of_each_built_in(name, label_mode, shape, classes, train, test):
    found = info.dataset_info(name, label_mode)
    assert (found.name, found.image_shape, found.num_classes) == (name, shape, classes)
    assert found.num_examples == {"train": train, "test": test}
    assert len(found.class_names) == classes


def test_datasets_and_label_modes_list_the_built_ins():
    assert info.DATASETS == ("cifar10", "cifar100", "mnist", "fashion_mnist")
    assert info.LABEL_MODES == ("fine", "coarse")
    assert info.dataset_info("mnist") is info.MNIST  # label_mode defaults to 'fine'
    assert info.MNIST.class_names == tuple("0123456789")
    assert info.FASHION_MNIST.class_name(9) == "Ankle boot"


def test_unknown_dataset_label_mode_or_coarse_elsewhere_is_refused():
    with pytest.raises(ValueError, match=r"^unknown --dataset='imagenet': choose from cifar10, "
                                         r"cifar100, mnist, fashion_mnist \(or any tfds name "):
        info.dataset_info("imagenet")
    with pytest.raises(ValueError, match=r"^unknown --label_mode='medium': choose from fine, "
                                         r"coarse$"):
        info.dataset_info("cifar100", "medium")
    with pytest.raises(ValueError) as error:
        info.dataset_info("cifar10", "coarse")
    assert str(error.value) == ("--label_mode=coarse is not available for cifar10, which has fine "
                                "labels only; coarse labels exist for cifar100.")


def test_class_name_falls_back_to_the_label_number():
    unnamed = info.DatasetInfo("tiny", (8, 8, 3), 4)
    assert unnamed.class_name(2) == "2" and unnamed.num_examples == {}
    assert info.CIFAR10.class_name(10) == "10" and info.CIFAR10.class_name(-1) == "-1"


def test_dataset_info_is_frozen_and_split_sizes_are_not_shared():
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.CIFAR10.num_classes = 11
    a, b = info.DatasetInfo("a", (1, 1, 1), 2), info.DatasetInfo("b", (1, 1, 1), 2)
    a.num_examples["train"] = 5
    assert b.num_examples == {}
    assert info.CIFAR100.num_examples is not info.CIFAR10.num_examples
