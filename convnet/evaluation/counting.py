"""Exact top-k counting: every example of a split counted once, per class, with a confusion matrix.

An example is correct at k when fewer than k classes have a logit strictly
greater than the true class's (ties count in its favour, as
`tf.math.in_top_k` does). Counts are accumulated as integers over the whole
split, with the last short batch included, so 10,000 test images give a
denominator of 10,000. Each example carries a weight (1, or 0 for the padding
that gives XLA a fixed batch shape), and counts are summed across the
replicas of a `tf.distribute` strategy.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from convnet.evaluation import tta as tta_lib
from convnet.runtime import console


@dataclasses.dataclass
class EvalResult:
    """Counts over one split. `confusion[true, predicted]` uses the top-1 prediction."""
    step: int
    top_k: int
    num_examples: int
    num_correct: int
    class_correct: np.ndarray
    class_count: np.ndarray
    confusion: np.ndarray

    @property
    def precision(self) -> float:
        return self.num_correct / self.num_examples if self.num_examples else 0.0


def correct_at_k(logits: tf.Tensor, labels: tf.Tensor, k: int) -> tf.Tensor:
    """bool [batch]: the true class is among the top k (ties in its favour)."""
    logits = tf.cast(logits, tf.float32)
    true_logit = tf.gather(logits, labels, axis=1, batch_dims=1)
    higher = tf.reduce_sum(tf.cast(logits > true_logit[:, None], tf.int32), axis=1)
    return tf.logical_and(higher < k, tf.math.is_finite(true_logit))


def with_weights(dataset: tf.data.Dataset, batch_size: int | None = None) -> tf.data.Dataset:
    """(images, labels) batches -> (images, labels, int64 weights of 1).

    With `batch_size`, a short batch is padded to it with weight-0 examples,
    so every batch has the same shape (what XLA compiles once).
    """

    def add(images, labels):
        weights = tf.ones_like(labels, tf.int64)
        if batch_size is None:
            return images, labels, weights
        missing = batch_size - tf.shape(labels)[0]

        def pad(x):
            return tf.pad(x, [[0, missing]] + [[0, 0]] * (len(x.shape) - 1))

        images, labels, weights = pad(images), pad(labels), pad(weights)
        return (tf.ensure_shape(images, [batch_size] + images.shape[1:]),
                tf.ensure_shape(labels, [batch_size]), tf.ensure_shape(weights, [batch_size]))

    return dataset.map(add)


def count_correct(model, dataset: tf.data.Dataset, num_classes: int, *, top_k: int,
                  strategy: tf.distribute.Strategy | None = None, xla: bool = False,
                  compute_dtype: tf.DType = tf.float32, num_examples: int | None = None,
                  tta: str = "none"):
    """Runs `model` over `dataset` once; returns (correct, class_correct, class_count, confusion).

    `dataset` yields (images, labels) batches; with `xla` they are padded to the
    first batch's size and masked, and each replica's counts are compiled with
    XLA. One compiled call per batch; the counts are summed as int64 in Python.
    `num_examples` (if known) sizes the progress line. `tta` (tta.TTA_MODES)
    averages the logits of mirrored and translated views (`tta.tta_logits`).
    """
    tta_lib.check_mode(tta)
    strategy = strategy or tf.distribute.get_strategy()
    batch_size = int(next(iter(dataset))[1].shape[0]) if xla else None
    batches = strategy.experimental_distribute_dataset(with_weights(dataset, batch_size))

    @tf.function(jit_compile=xla)
    def replica_counts(images, labels, weights):
        logits = tta_lib.tta_logits(lambda x: model(x, training=False),
                                    tf.cast(images, compute_dtype), tta)
        hits = tf.cast(correct_at_k(logits, labels, top_k), tf.int64) * weights
        predicted = tf.argmax(logits, axis=1, output_type=tf.int32)
        return (tf.math.unsorted_segment_sum(hits, labels, num_classes),
                tf.math.unsorted_segment_sum(weights, labels, num_classes),
                tf.math.confusion_matrix(labels, predicted, num_classes, weights=weights,
                                         dtype=tf.int64))

    @tf.function
    def batch_counts(batch):
        counts = strategy.run(replica_counts, args=batch)
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, c, axis=None) for c in counts]

    class_correct = np.zeros([num_classes], np.int64)
    class_count = np.zeros([num_classes], np.int64)
    confusion = np.zeros([num_classes, num_classes], np.int64)
    with console.Progress("evaluating", num_examples, unit="examples") as progress:
        for batch in batches:
            correct, count, matrix = batch_counts(batch)
            class_correct += correct.numpy()
            class_count += count.numpy()
            confusion += matrix.numpy()
            progress.update(int(count.numpy().sum()))
    return int(class_correct.sum()), class_correct, class_count, confusion
