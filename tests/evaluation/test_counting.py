"""Exact top-k counting against tf.math.in_top_k and hand-counted answers."""

import numpy as np
import tensorflow as tf

from convnet.evaluation import counting


def test_correct_at_k_matches_in_top_k():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 10)).astype(np.float32)
    logits[:50, :4] = 1.0  # ties straddling the top-k boundary
    labels = rng.integers(0, 10, size=200).astype(np.int32)
    for k in (1, 2, 3, 5, 10):
        np.testing.assert_array_equal(
            counting.correct_at_k(logits, labels, k).numpy(),
            tf.math.in_top_k(labels, logits, k).numpy())


class _Identity(tf.Module):
    """A 'model' whose logits are its input, so the right answer is known."""
    def __call__(self, x, training=False):
        return x


def test_count_correct_known_answer_with_a_short_last_batch():
    # 7 examples of 3 classes; true-class rank: 0,1,2,0,0,1,2 -> top-1: 3, top-2: 5, top-3: 7.
    logits = np.float32([[3, 2, 1], [2, 3, 1], [3, 2, 1], [1, 3, 2], [1, 2, 3], [3, 1, 2],
                         [2, 3, 1]])
    labels = np.int32([0, 0, 2, 1, 2, 2, 2])
    ds = tf.data.Dataset.from_tensor_slices((logits, labels)).batch(3)
    for k, expected in ((1, 3), (2, 5), (3, 7)):
        correct, class_correct, class_count, confusion = counting.count_correct(
            _Identity(), ds, 3, top_k=k)
        assert correct == expected
        assert class_count.tolist() == [2, 1, 4] and class_count.sum() == 7
    assert class_correct.tolist() == [2, 1, 4]
    assert confusion.sum() == 7 and np.trace(confusion) == 3
    assert confusion[2].tolist() == [2, 1, 1]  # class-2 rows predict 0, 2, 0, 1
