"""--image_size=N: a source whose images differ in size, seen by the model as N x N.

`AnySizeSource(source, N)` is `source` (convnet.data.sources.base's three members) with
its `info.image_shape` (N, N, C) and `info.any_size` set: its examples keep their own
sizes (uint8 [H, W, C], any H and W), and preprocessing brings each to N x N, Inception's
way: a random-resized crop in training (`--augmentation=auto` picks it), the shorter side
resized to N / --crop_fraction and the central N x N window in evaluation
(convnet.data.preprocess). The pipeline holds or streams such examples as ragged batches.

A source whose images differ in size reports height and width None; only wrapped does it
train (`check_sizes` says so in one line).
"""

import dataclasses

import tensorflow as tf

from convnet.data.sources.base import Source
from convnet.runtime.errors import DataError


class AnySizeSource(Source):
    """`source`'s examples at their own sizes, for a model of `image_size` x `image_size`."""

    def __init__(self, source: Source, image_size: int):
        if image_size < 1:
            raise ValueError(f"--image_size must be positive, got {image_size}")
        self.source, self.image_size = source, image_size
        channels = source.info.image_shape[-1]
        self.info = dataclasses.replace(source.info, image_shape=(image_size, image_size,
                                                                  channels), any_size=True)

    def num_examples(self, split: str) -> int:
        return self.source.num_examples(split)

    def dataset(self, split: str) -> tf.data.Dataset:
        """`source`'s examples: (uint8 [H, W, C] of each image's own size, int32 [])."""
        return self.source.dataset(split)

    def shard_sizes(self, split: str) -> list[int] | None:
        """`source`'s shards of `split` (streamed in a new order each epoch); None when
        `source` is not stored as shards (base.py's docstring)."""
        inner = getattr(self.source, "shard_sizes", None)
        return inner(split) if inner else None

    def read_shards(self, split: str, order, skip=0) -> tf.data.Dataset:
        """`source.read_shards`: its shards `order` of `split` from example `skip` of the
        first, as (split index int64 [], (uint8 [H, W, C], int32 []))."""
        return self.source.read_shards(split, order, skip)


def check_sizes(source: Source) -> None:
    """DataError when `source`'s images differ in size (height or width None) and nothing
    brings them to one: the message names the dataset and the flags that do."""
    height, width, _ = source.info.image_shape
    if height is None or width is None:
        raise DataError(f"the images of {source.info.name} differ in size: give the size the "
                        f"model sees with --image_size=N (random-resized crops in training, "
                        f"resize and central crop in evaluation; AnySizeSource(source, N) "
                        f"in Python).")
