"""Classification losses, per example.

`cross_entropy` is the softmax cross-entropy of integer labels, optionally
against label-smoothed targets (Szegedy et al. 2016): the true class gets
1 - label_smoothing + label_smoothing / K and every other class
label_smoothing / K, as Keras' and PyTorch's `label_smoothing` define it.
"""

import tensorflow as tf


def check_label_smoothing(label_smoothing: float) -> None:
    """ValueError unless 0 <= label_smoothing < 1 (no TensorFlow op: safe before a strategy)."""
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"--label_smoothing must be in [0, 1), got {label_smoothing}")


def cross_entropy(labels: tf.Tensor, logits: tf.Tensor, label_smoothing: float = 0.0) -> tf.Tensor:
    """float32 [batch] losses of int labels [batch] under float logits [batch, K]."""
    check_label_smoothing(label_smoothing)
    logits = tf.cast(logits, tf.float32)
    if not label_smoothing:
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    classes = logits.shape[-1]
    targets = (tf.one_hot(labels, classes) * (1.0 - label_smoothing)
               + label_smoothing / classes)
    return tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=logits)
