"""A synthetic, learnable source for benchmarks and tests (no files, no download).

Example i of a split is generated from (seed, split, i) alone: its label is
uniform over the classes, its image is the class's colour plus one of 1,024
fixed Gaussian noise images (stddev 40), clipped to uint8. The colour differs
between channels, so it survives per-image standardization and a model can
learn it in a few steps. Drawing noise from a fixed bank keeps the source
cheap (a gather and an add), so it does not slow the pipeline it feeds.
"""

import tensorflow as tf

from convnet.data.info import DatasetInfo
from convnet.data.sources.base import Source

_SPLIT_IDS = {"train": 0, "test": 1}
NOISE_STDDEV = 40.0
NOISE_BANK_SIZE = 1024


class SyntheticSource(Source):
    """Deterministic random (uint8 image, int32 label) examples."""

    def __init__(self, info: DatasetInfo, seed: int = 0):
        self.info = info
        self.seed = seed
        shape = [info.num_classes, 1, 1, info.image_shape[-1]]
        self._colors = tf.random.stateless_uniform(shape, [seed, 7], 30.0, 225.0)
        self._noise = tf.random.stateless_normal([NOISE_BANK_SIZE, *info.image_shape], [seed, 8],
                                                 stddev=NOISE_STDDEV)

    def num_examples(self, split: str) -> int:
        if split not in self.info.num_examples:
            raise ValueError(f"unknown split {split!r}: choose from "
                             f"{sorted(self.info.num_examples)}")
        return self.info.num_examples[split]

    def _example(self, split_id: int, index: tf.Tensor):
        seed = tf.stack([tf.cast(self.seed, tf.int64) * 2 + split_id, index])
        label = tf.random.stateless_uniform([], seed, 0, self.info.num_classes, tf.int32)
        noise = tf.random.stateless_uniform([], seed[::-1], 0, NOISE_BANK_SIZE, tf.int32)
        image = tf.clip_by_value(self._colors[label] + self._noise[noise], 0.0, 255.0)
        return tf.cast(image, tf.uint8), label

    def dataset(self, split: str) -> tf.data.Dataset:
        n = self.num_examples(split)
        split_id = _SPLIT_IDS.get(split, 2)
        return (tf.data.Dataset.range(n)
                .map(lambda i: self._example(split_id, i), num_parallel_calls=tf.data.AUTOTUNE))
