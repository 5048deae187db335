"""The training step as a function of a State: its loss, one update, and a non-finite batch."""

import numpy as np
import tensorflow as tf

from convnet import models, optim, schedules, state, variable_groups
from convnet.train_step import TrainStep

LEARNING_RATE = 0.1


def _step(label_smoothing=0.0, batch_size=4):
    built = state.build(models.build_model("lenet5", 10, weight_decay=1e-3), [28, 28, 1],
                        ema_decay=0.5, optimizer=optim.make_optimizer("sgd"))
    groups = variable_groups.assign([], built.model.trainable_variables, 10.0)
    return TrainStep(built, tf.distribute.get_strategy(), schedules.Constant(LEARNING_RATE),
                     groups, batch_size, label_smoothing)


def _batch(seed=0, batch_size=4):
    rng = np.random.default_rng(seed)
    return (tf.constant(rng.normal(size=(batch_size, 28, 28, 1)), tf.float32),
            tf.constant(rng.integers(0, 10, size=batch_size), tf.int32))


def test_the_loss_is_smoothed_cross_entropy_over_the_global_batch_plus_weight_decay():
    step = _step(label_smoothing=0.2, batch_size=8)  # 4 examples here: half the global batch
    images, labels = _batch()
    logits = step.state.model(images, training=True).numpy().astype(np.float64)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    targets = np.full((4, 10), 0.2 / 10) + 0.8 * np.eye(10)[labels.numpy()]
    cross_entropy = -(targets * log_probs).sum(axis=1).sum() / 8
    decay = sum(1e-3 * (v.numpy().astype(np.float64) ** 2).sum() / 2
                for v in step.state.model.trainable_variables if "kernel" in v.name)
    np.testing.assert_allclose(float(step.loss(images, labels)), cross_entropy + decay,
                               rtol=1e-5)


def test_one_update_is_sgd_on_the_gradients_and_moves_the_step_and_the_ema():
    step = _step()
    images, labels = _batch()
    before = [v.numpy() for v in step.variables]
    _, grads = step.gradients(images, labels)
    loss, finite, skipped, trailing, _ = step(
        iter(tf.data.Dataset.from_tensors((images, labels)).repeat()), tf.constant(1, tf.int64))
    assert bool(finite) and int(skipped) == 0 and int(trailing) == 0
    assert int(step.state.step.numpy()) == 1 and np.isfinite(float(loss))
    for old, grad, new in zip(before, grads, step.variables):
        np.testing.assert_allclose(new.numpy(), old - LEARNING_RATE * grad.numpy(),
                                   rtol=1e-5, atol=1e-7)
    # EMA with the step-dependent decay min(0.5, (1 + 1) / (10 + 1)) = 2/11 towards the new value.
    for old, shadow, new in zip(before, step.state.ema.shadows, step.variables):
        np.testing.assert_allclose(shadow.numpy(), old + (1 - 2 / 11) * (new.numpy() - old),
                                   rtol=1e-5, atol=1e-6)


def test_a_non_finite_batch_is_not_applied_and_stops_the_round():
    step = _step()
    images, labels = _batch()
    loss = step.loss
    step.loss = lambda x, y: loss(x, y) * float("nan")  # (ReLU and pooling squash NaN inputs)
    before = [v.numpy() for v in step.variables]
    batches = tf.data.Dataset.from_tensors((images, labels)).repeat()
    _, finite, skipped, _, _ = step(iter(batches), tf.constant(3, tf.int64))
    assert not bool(finite) and int(skipped) == 1 and int(step.state.step.numpy()) == 0
    for old, new in zip(before, step.variables):
        np.testing.assert_array_equal(old, new.numpy())
