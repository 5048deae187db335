"""convnet.data.sources.synthetic: deterministic examples from (seed, split, index), learnable by
colour."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.data.info import DatasetInfo
from convnet.data.sources.synthetic import SyntheticSource


def _examples(source, split):
    images, labels = zip(*[(i.numpy(), lab.numpy()) for i, lab in source.dataset(split)],
                         strict=True)
    return np.stack(images), np.array(labels)


def test_synthetic_source_is_deterministic_and_learnable_shape():
    info = DatasetInfo("cifar10", (32, 32, 3), 10, num_examples={"train": 20, "test": 5})
    a = [(i.numpy(), lab.numpy()) for i, lab in SyntheticSource(info, seed=1).dataset("train")]
    b = [(i.numpy(), lab.numpy()) for i, lab in SyntheticSource(info, seed=1).dataset("train")]
    assert len(a) == 20 and a[0][0].dtype == np.uint8 and a[0][0].shape == (32, 32, 3)
    for (ia, la), (ib, lb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(ia, ib)
        assert la == lb and 0 <= la < 10
    assert len(list(SyntheticSource(info).dataset("test"))) == 5


def test_an_example_depends_on_seed_split_and_index_only():
    small = DatasetInfo("tiny", (8, 8, 3), 4, num_examples={"train": 5, "test": 5})
    large = DatasetInfo("tiny", (8, 8, 3), 4, num_examples={"train": 30, "test": 5})
    images, labels = _examples(SyntheticSource(large, seed=3), "train")
    prefix_images, prefix_labels = _examples(SyntheticSource(small, seed=3), "train")
    np.testing.assert_array_equal(images[:5], prefix_images)  # the split's size plays no part
    np.testing.assert_array_equal(labels[:5], prefix_labels)
    assert labels.dtype == np.int32 and set(labels) <= {0, 1, 2, 3} and len(set(labels)) > 1
    other_seed, _ = _examples(SyntheticSource(small, seed=4), "train")
    test_split, _ = _examples(SyntheticSource(small, seed=3), "test")
    assert not np.array_equal(other_seed, prefix_images)
    assert not np.array_equal(test_split, prefix_images)


def test_unknown_split_is_refused():
    source = SyntheticSource(DatasetInfo("tiny", (8, 8, 1), 2, num_examples={"train": 4}))
    assert source.num_examples("train") == 4
    with pytest.raises(ValueError, match=r"unknown split 'test': choose from \['train'\]"):
        source.num_examples("test")


def test_the_class_colour_survives_per_image_standardization():
    info = DatasetInfo("tiny", (16, 16, 3), 4, num_examples={"train": 200})
    images, labels = _examples(SyntheticSource(info, seed=0), "train")
    standardized = tf.image.per_image_standardization(images).numpy()
    features = standardized.mean(axis=(1, 2))  # [N, 3]: the colour, noise averaged away
    fit, held_out = slice(0, 100), slice(100, 200)
    centroids = np.stack([features[fit][labels[fit] == c].mean(axis=0) for c in range(4)])
    distances = np.linalg.norm(features[held_out][:, None] - centroids[None], axis=-1)
    assert (distances.argmin(axis=1) == labels[held_out]).mean() > 0.95
