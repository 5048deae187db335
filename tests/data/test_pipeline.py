"""Training and evaluation pipelines over tiny files; InputSettings.

(Sources by name, make_source, are tested in tests/data/sources/test_spec.py; the synthetic and tfds
sources in tests/data/sources/test_synthetic.py and tests/data/sources/test_tfds.py.)"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from convnet.data import pipeline, preprocess
from convnet.data.sources.spec import SourceSpec, make_source

from conftest import run_python


@pytest.fixture
def source(cifar_dir):
    return make_source(SourceSpec("cifar_binary", cifar_dir[0], download=False))


def _candidate_crops(images):
    """Every 24x24 crop of every image, flipped or not: (index, flip) of each, its crop with
    each channel's mean removed [K, 24*24*3], and those channel means [K, 3]."""
    keys, crops = [], []
    for index, image in enumerate(images.astype(np.float64)):
        for flip in (False, True):
            picture = image[:, ::-1] if flip else image
            for dy in range(9):
                for dx in range(9):
                    keys.append((index, flip))
                    crops.append(picture[dy:dy + 24, dx:dx + 24])
    crops = np.stack(crops)
    means = crops.mean(axis=(1, 2))
    return keys, (crops - means[:, None, None]).reshape(len(crops), -1), means


def _tutorial_match(output, candidates):
    """(index, flip, contrast factor, relative residual) of the candidate crop that becomes
    `output` through the tutorial's distortions and per-image standardization, solved
    independently of TensorFlow. Brightness adds one number to every value and
    standardization removes it; contrast scales each channel about its own mean by f; so
    a * output == f * centred crop + (channel means - their mean) for some a: two unknowns,
    least squares over the pixels of each candidate at once."""
    keys, centred, means = candidates
    t = output.reshape(-1).astype(np.float64)
    t = t - t.mean()
    channel_sums = t.reshape(-1, 3).sum(axis=0)
    z = means - means.mean(axis=1, keepdims=True)  # [K, 3], broadcast over the pixels
    cc = np.einsum("kn,kn->k", centred, centred)
    ct = centred @ t
    tt = t @ t
    tz = z @ channel_sums
    zz = (z ** 2).sum(axis=1) * (len(t) // 3)
    a = tz / (tt - ct ** 2 / cc)
    f = a * ct / cc
    residual = f ** 2 * cc + zz + a ** 2 * tt - 2 * a * f * ct - 2 * a * tz
    relative = np.sqrt(np.maximum(residual, 0) / (a ** 2 * tt))
    best = int(np.argmin(relative))
    return (*keys[best], f[best], relative[best])


def test_train_batches_are_distorted_crops_of_each_example_once_an_epoch_and_endless(
        source, cifar_dir):
    images, labels = cifar_dir[1]["train"]  # 40 examples
    settings = pipeline.InputSettings(preprocess.Preprocessing("tutorial", 24, "per_image"),
                                      num_parallel_calls=4, shuffle_buffer=40, seed=3)
    batches = list(pipeline.train_dataset(source, 16, settings).take(7))  # 112 from 40: repeats
    outputs = np.concatenate([b[0].numpy() for b in batches])
    out_labels = np.concatenate([b[1].numpy() for b in batches])
    assert outputs.shape == (112, 24, 24, 3) and batches[0][1].dtype == tf.int32
    candidates = _candidate_crops(images)
    found = [_tutorial_match(output, candidates) for output in outputs[:48]]
    for (index, _, factor, residual), label in zip(found, out_labels[:48], strict=True):
        assert residual < 1e-4 and 0.2 - 1e-4 <= factor <= 1.8 + 1e-4, (residual, factor)
        assert labels[index] == label
    first_epoch = [index for index, *_ in found[:40]]
    assert sorted(first_epoch) == list(range(40))  # each example once an epoch
    assert {flip for _, flip, *_ in found} == {False, True}  # some flipped, some not
    assert len({round(f, 2) for _, _, f, _ in found}) > 10  # contrast factors vary


@pytest.mark.parametrize("augmentation", ["tutorial", "translate_altflip"])
def test_the_training_pipeline_has_no_autotuning_thread_to_wait_for(source, augmentation):
    # Deleting an iterator waits for tf.data's autotuning thread to wake (up to a minute):
    # the training pipeline runs without it, so a run ends with its last step.
    settings = pipeline.InputSettings(preprocess.Preprocessing(augmentation, 32, "per_image"))
    dataset = pipeline.train_dataset(source, 4, settings)
    assert dataset.options().autotune.enabled is False
    batches = iter(dataset)
    next(batches)
    del batches


def test_train_pipeline_is_deterministic_for_a_seed(source):
    def first(seed):
        ds = pipeline.train_dataset(source, 8, pipeline.InputSettings(shuffle_buffer=40,
                                                                      seed=seed))
        return next(iter(ds))
    a, b, c = first(3), first(3), first(4)
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    assert not np.array_equal(a[0].numpy(), c[0].numpy())


def test_eval_counts_every_example_once_in_order(source, cifar_dir):
    labels = np.concatenate([lab.numpy() for _, lab in pipeline.eval_dataset(source, "train", 16)])
    assert len(labels) == 40  # 16 + 16 + 8: the short batch is kept
    np.testing.assert_array_equal(labels, cifar_dir[1]["train"][1])


def test_unknown_data_source_and_bad_batch_size(source):
    with pytest.raises(ValueError, match="unknown --data_source"):
        make_source(SourceSpec("hdf5"))
    with pytest.raises(ValueError, match="batch_size must be positive"):
        pipeline.train_dataset(source, 0)


def test_input_settings_defaults_validation_and_frozen():
    settings = pipeline.InputSettings()
    assert settings.preprocessing == preprocess.Preprocessing() and settings.seed == 0
    assert (settings.num_parallel_calls, settings.shuffle_buffer) == (16, pipeline.SHUFFLE_BUFFER)
    assert pipeline.InputSettings(num_parallel_calls=tf.data.AUTOTUNE).num_parallel_calls == -1
    with pytest.raises(ValueError, match="--num_parallel_calls must be positive"):
        pipeline.InputSettings(num_parallel_calls=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.seed = 1


_READ_IN_PART = """
import sys
from convnet.data import pipeline, preprocess
from convnet.data.sources.spec import SourceSpec, make_source
source = make_source(SourceSpec(sys.argv[1], sys.argv[2], download=False))
batched = pipeline.InputSettings(preprocess.Preprocessing(augmentation="translate_altflip"))
for settings in (pipeline.InputSettings(), batched):  # a run stopped inside its first epoch
    next(iter(pipeline.train_dataset(source, 4, settings)))
next(iter(pipeline.eval_dataset(source, "test", 2, num_examples=3)))  # eval --num_examples
print("read")
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cifar_binary", "synthetic"])
def test_reading_in_part_discards_no_cache(kind, cifar_dir):
    """TensorFlow warns "did not fully read the dataset being cached" when an iterator of a
    cache is left early; a short run or a partial evaluation must not."""
    done = run_python(_READ_IN_PART, kind, cifar_dir[0], TF_CPP_MIN_LOG_LEVEL="0")
    assert done.returncode == 0 and "read" in done.stdout, done.stderr
    assert "did not fully read the dataset being cached" not in done.stderr, done.stderr
