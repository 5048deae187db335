"""DataConfig and AugmentConfig: the data settings, their checks and resolved choices."""

import pytest

from convnet.data import info as data_info
from convnet.data.config import AugmentConfig, DataConfig


@pytest.mark.parametrize("overrides, message", [
    (dict(batch_size=0), "--batch_size must be positive, got 0"),
    (dict(num_parallel_calls=0), "--num_parallel_calls must be positive or -1"),
    (dict(data_source="ftp"), "unknown --data_source='ftp': choose from files"),
    (dict(label_mode="medium"), "unknown --label_mode='medium'"),
    (dict(data_source="cifar_binary", dataset="mnist"), "reads cifar10 and cifar100 only"),
])
def test_validate_names_the_flag(overrides, message):
    with pytest.raises(ValueError, match=message):
        DataConfig(**overrides).validate()


def test_the_source_spec_takes_the_runs_dataset_when_none_is_given():
    spec = DataConfig(data_source="synthetic").source_spec(
        seed=3, dataset="mnist", label_mode="fine")
    assert (spec.data_source, spec.dataset, spec.label_mode, spec.seed) == (
        "synthetic", "mnist", "fine", 3)
    given = DataConfig(dataset="cifar100", label_mode="coarse").source_spec(dataset="mnist")
    assert (given.dataset, given.label_mode) == ("cifar100", "coarse")
    assert DataConfig().source_spec().dataset == "cifar10"


@pytest.mark.parametrize("overrides, message", [
    (dict(augmentation="rotate"), "unknown --augmentation='rotate'"),
    (dict(normalization="minmax"), "unknown --normalization='minmax'"),
    (dict(translate=-1), "--translate must be >= 0"),
    (dict(shuffle_buffer=0), "--shuffle_buffer must be positive"),
])
def test_augment_validate_names_the_flag(overrides, message):
    with pytest.raises(ValueError, match=message):
        AugmentConfig(**overrides).validate()


def test_auto_preprocessing_and_kept_channel_statistics():
    cifar = data_info.dataset_info("cifar10")
    computed = []

    def stats():
        computed.append(1)
        return (1.0, 2.0, 3.0), (4.0, 5.0, 6.0)

    tutorial = AugmentConfig().preprocessing(24, cifar, stats)
    assert (tutorial.augmentation, tutorial.normalization, tutorial.image_size) == (
        "tutorial", "per_image", 24) and not computed
    resnet = AugmentConfig().preprocessing(None, cifar, stats)
    assert (resnet.augmentation, resnet.normalization, resnet.channel_mean) == (
        "pad_crop", "per_channel", (1.0, 2.0, 3.0)) and computed == [1]
    resumed = AugmentConfig().preprocessing(None, cifar, stats, previous=resnet)
    assert resumed == resnet and computed == [1]  # a resumed run never recomputes them
    mnist = AugmentConfig().preprocessing(None, data_info.dataset_info("mnist"), stats)
    assert not mnist.flip
