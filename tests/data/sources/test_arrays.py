"""convnet.data.sources.arrays: numpy arrays as a source, with the exactness of the built-in ones
(every example once, in order; channel statistics; checks naming the split)."""

import numpy as np
import pytest

from convnet.data import pipeline, preprocess
from convnet.data.sources.arrays import ArraySource
from convnet.runtime.errors import DataError

from helpers import all_examples

RNG = np.random.default_rng(0)


def _split(count, shape=(8, 8, 3), classes=4):
    return (RNG.integers(0, 256, size=(count, *shape), dtype=np.uint8),
            RNG.integers(0, classes, size=count))


def test_every_example_once_in_order_with_the_info_of_the_arrays():
    train, test = _split(12), _split(5)
    source = ArraySource(name="mine", class_names=("a", "b", "c", "d"), train=train, test=test)
    assert source.info.name == "mine" and source.info.image_shape == (8, 8, 3)
    assert source.info.num_classes == 4 and source.info.class_name(2) == "c"
    assert source.info.num_examples == {"train": 12, "test": 5}
    for split, (images, labels) in (("train", train), ("test", test)):
        got_images, got_labels = all_examples(source.dataset(split))
        np.testing.assert_array_equal(got_images, images)
        np.testing.assert_array_equal(got_labels, labels)
        assert got_labels.dtype == np.int32 and source.num_examples(split) == len(labels)
    with pytest.raises(ValueError, match="unknown split 'validation': this ArraySource holds "
                                         "test, train"):
        source.dataset("validation")


def test_channel_statistics_and_evaluation_count_each_example_once():
    train = _split(10, classes=3)
    source = ArraySource(train=train, test=_split(7, classes=3))
    mean, std = pipeline.channel_stats(source)
    pixels = train[0].reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(mean, pixels.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std, pixels.std(axis=0), rtol=1e-6)
    settings = pipeline.InputSettings(preprocess.Preprocessing("none", 8, "per_image"))
    labels = np.concatenate([b[1].numpy() for b in pipeline.eval_dataset(source, "test", 3,
                                                                        settings=settings)])
    assert len(labels) == 7  # 3 + 3 + 1
    assert source.info.num_classes == 3  # the largest label + 1 when no names are given


@pytest.mark.parametrize("splits, message", [
    ({}, "needs at least one split"),
    ({"train": (np.zeros((2, 8, 8, 3), np.float32), [0, 1])}, "images are float32, not uint8"),
    ({"train": (np.zeros((2, 8, 8), np.uint8), [0, 1])}, "have no channel axis"),
    ({"train": (np.zeros((2, 8, 8, 2), np.uint8), [0, 1])}, "not [N, H, W, C] with 1 or 3"),
    ({"train": (np.zeros((2, 8, 8, 3), np.uint8), [0, 1, 1])}, "2 images but 3 labels"),
    ({"train": (np.zeros((2, 8, 8, 3), np.uint8), [0.0, 1.0])}, "labels must be integers"),
    ({"train": (np.zeros((2, 8, 8, 3), np.uint8), [0, -1])}, "a label is -1"),
    ({"train": (np.zeros((2, 8, 8, 3), np.uint8), [0, 1]),
      "test": (np.zeros((2, 9, 8, 3), np.uint8), [0, 1])}, "the splits' images differ"),
    ({"train": (np.zeros((2, 8, 8, 3), np.uint8), [0, 0])}, "at least 2 classes"),
])
def test_bad_arrays_are_named_with_their_split(splits, message):
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ArraySource(**splits)


def test_labels_beyond_the_classes_and_names_of_another_count_are_refused():
    with pytest.raises(DataError, match=r"a label is 3, but there are 3 classes"):
        ArraySource(class_names=("a", "b", "c"), train=(np.zeros((2, 4, 4, 1), np.uint8),
                                                        [0, 3]))
    with pytest.raises(DataError, match="2 class names for 3 classes"):
        ArraySource(class_names=("a", "b"), num_classes=3,
                    train=(np.zeros((2, 4, 4, 1), np.uint8), [0, 1]))
