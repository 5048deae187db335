"""Label-smoothed cross-entropy against its closed form."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.nn import losses


def test_label_smoothing_equals_the_closed_form():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 5)).astype(np.float32)
    labels = rng.integers(0, 5, size=6).astype(np.int32)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    for eps in (0.0, 0.2, 0.5):
        # (1 - eps) * CE(true class) + eps * mean over classes of -log p.
        expected = -(1 - eps) * log_p[np.arange(6), labels] - eps * log_p.mean(1)
        got = losses.cross_entropy(tf.constant(labels), tf.constant(logits), eps).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    # Keras' definition agrees.
    keras = tf.keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2,
                                                    reduction="none")
    np.testing.assert_allclose(
        losses.cross_entropy(labels, logits, 0.2).numpy(),
        keras(tf.one_hot(labels, 5), logits).numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.cross_entropy(labels, logits, 1.0)
