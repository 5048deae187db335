"""generate.py DIR N: writes N generated 64x64x3 training examples (10 classes: a class colour
plus noise) and 2,000 test ones as TFRecord shards in DIR (convnet.data.sources.shards)."""
import sys
import time

import tensorflow as tf

from convnet.data.info import DatasetInfo
from convnet.data.sources import shards
from convnet.data.sources.base import Source

N_TRAIN, N_TEST = int(sys.argv[2]), 2000


class Generated(Source):
    def __init__(self):
        self.info = DatasetInfo("generated64", (64, 64, 3), 10, None,
                                {"train": N_TRAIN, "test": N_TEST})

    def num_examples(self, split):
        return self.info.num_examples[split]

    def dataset(self, split):
        n, offset = (N_TRAIN, 0) if split == "train" else (N_TEST, 10**9)
        def make(i):
            label = tf.cast(i % 10, tf.int32)
            noise = tf.random.stateless_uniform([64, 64, 3], seed=tf.stack([i + offset, 0]),
                                                maxval=96, dtype=tf.int32)
            base = tf.cast(label, tf.int32) * 16
            return tf.cast(noise + base, tf.uint8), label
        return tf.data.Dataset.range(n).map(make, num_parallel_calls=2, deterministic=True)


began = time.time()
m = shards.write(Generated(), sys.argv[1], examples_per_shard=20000)
print(f"{time.time() - began:.0f} s", {s: e["examples"] for s, e in m["splits"].items()})
