"""TrainConfig: validation before any TensorFlow op, and the settings it resolves."""

import pytest

from convnet.data import info as data_info
from convnet.train_config import DEFAULT_MAX_STEPS, DIVERGENCE_FACTOR, TrainConfig


@pytest.mark.parametrize("overrides, message", [
    (dict(batch_size=0), "--batch_size must be positive"),
    (dict(max_loss=-1.0), "--max_loss must be positive"),
    (dict(num_parallel_calls=0), "--num_parallel_calls must be positive or -1"),
    (dict(data_source="ftp"), "unknown --data_source='ftp'"),
    (dict(nan_policy="ignore"), "unknown --nan_policy='ignore'"),
    (dict(decoupled_hyperparameters=True), "--decoupled_hyperparameters is a form of SGD"),
    (dict(label_smoothing=1.0), "label_smoothing"),
])
def test_validate_names_the_flag(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**overrides).validate()


def test_steps_and_the_divergence_threshold():
    assert TrainConfig().schedule_steps(50000) == DEFAULT_MAX_STEPS
    assert TrainConfig(max_steps=77).schedule_steps(50000) == 77
    assert TrainConfig(epochs=11.0, batch_size=1024).schedule_steps(50000) == 538  # ceil(537.1)
    assert TrainConfig().max_loss_for(10) == pytest.approx(DIVERGENCE_FACTOR * 2.302585, 1e-6)
    assert TrainConfig(max_loss=5.0).max_loss_for(10) == 5.0


def test_auto_preprocessing_and_kept_channel_statistics():
    cifar = data_info.dataset_info("cifar10")
    computed = []

    def stats():
        computed.append(1)
        return (1.0, 2.0, 3.0), (4.0, 5.0, 6.0)

    tutorial = TrainConfig().preprocessing(24, cifar, stats)
    assert (tutorial.augmentation, tutorial.normalization, tutorial.image_size) == (
        "tutorial", "per_image", 24) and not computed
    resnet = TrainConfig().preprocessing(None, cifar, stats)
    assert (resnet.augmentation, resnet.normalization, resnet.channel_mean) == (
        "pad_crop", "per_channel", (1.0, 2.0, 3.0)) and computed == [1]
    resumed = TrainConfig().preprocessing(None, cifar, stats, previous=resnet)
    assert resumed == resnet and computed == [1]  # a resumed run never recomputes them
    mnist = TrainConfig().preprocessing(None, data_info.dataset_info("mnist"), stats)
    assert not mnist.flip
