"""Batched, prefetched `tf.data` pipelines for training and evaluation.

Training: cached uint8 examples -> shuffle -> repeat -> per-example seed from
the running example index -> `distort` with `num_parallel_calls` -> batch
(remainder dropped) -> prefetch. Evaluation: every example of the split once,
in order -> central crop -> batch (last batch may be short) -> prefetch.
"""

from typing import Optional

import tensorflow as tf

from convnet.data import preprocess
from convnet.data.cifar_binary import CifarBinarySource
from convnet.data.info import CIFAR10
from convnet.data.synthetic import SyntheticSource
from convnet.data.tfds_source import TfdsSource

DATA_SOURCES = ("cifar_binary", "tfds", "synthetic")
# The tutorial's shuffle queue held at least 40% of an epoch (20,000 examples).
SHUFFLE_BUFFER = 20000


def make_source(data_source: str, data_dir: Optional[str] = None,
                tfds_data_dir: Optional[str] = None, allow_download: bool = True,
                dataset: str = "cifar10", seed: int = 0):
    """Returns a source with `.info`, `.num_examples(split)` and `.dataset(split)`."""
    if data_source == "cifar_binary":
        if dataset != "cifar10":
            raise ValueError(f"--data_source=cifar_binary reads cifar10 only, got --dataset={dataset}")
        return CifarBinarySource(data_dir, allow_download)
    if data_source == "tfds":
        return TfdsSource(dataset, tfds_data_dir, allow_download)
    if data_source == "synthetic":
        if dataset != "cifar10":
            raise ValueError(f"--data_source=synthetic mimics cifar10 only, got --dataset={dataset}")
        return SyntheticSource(CIFAR10, seed)
    raise ValueError(f"unknown --data_source={data_source!r}: choose from {', '.join(DATA_SOURCES)}")


def train_dataset(source, batch_size: int, crop_size: int = preprocess.CROP_SIZE,
                  num_parallel_calls: int = 16, shuffle_buffer: int = SHUFFLE_BUFFER,
                  seed: int = 0) -> tf.data.Dataset:
    """Endless batches of (float32 [batch, crop, crop, C], int32 [batch]) distorted examples."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    examples = source.dataset("train")
    buffer = max(1, min(shuffle_buffer, source.num_examples("train") or shuffle_buffer))
    examples = examples.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat()

    def augment(index, example):
        image, label = example
        return preprocess.distort(image, tf.stack([tf.cast(seed, tf.int64), index]), crop_size), label

    return (examples.enumerate()
            .map(augment, num_parallel_calls=num_parallel_calls)
            .batch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))


def eval_dataset(source, split: str, batch_size: int, crop_size: int = preprocess.CROP_SIZE,
                 num_parallel_calls: int = 16) -> tf.data.Dataset:
    """Each example of `split` exactly once: (float32 [b, crop, crop, C], int32 [b])."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return (source.dataset(split)
            .map(lambda image, label: (preprocess.eval_crop(image, crop_size), label),
                 num_parallel_calls=num_parallel_calls)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE))
