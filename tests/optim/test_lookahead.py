"""Lookahead averaging against a numpy re-implementation of its definition."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.optim import lookahead


def test_matches_numpy_over_a_run_and_finish_copies_the_average():
    total, every, base, power, start = 23, 5, 0.9, 2.0, 7
    rng = np.random.default_rng(0)
    var = tf.Variable(rng.normal(size=(3, 2)).astype(np.float32))
    stats = tf.Variable(rng.normal(size=(2,)).astype(np.float32), trainable=False)
    averaging = lookahead.Lookahead(total, every, base, power=power, start_step=start)
    averaging.build([var, stats])
    steps = [rng.normal(size=(3, 2)).astype(np.float32) for _ in range(total)]
    proposals, got = [], []
    for step, delta in enumerate(steps, start=1):
        var.assign_add(delta)  # what an optimizer would do
        stats.assign(stats * 0.5 + delta[0])
        proposals.append((var.numpy().copy(), stats.numpy().copy()))
        averaging.apply([var, stats], tf.constant(step, tf.int64))
        got.append(var.numpy().copy())
    # Replay in numpy: the optimizer's deltas on top of the written-back weights.
    weight = proposals[0][0] - steps[0]
    expected, average, started = [], None, False
    for step, delta in enumerate(steps, start=1):
        weight = weight + delta
        if step >= start and step % every == 0:
            decay = base ** every * (step / total) ** power if started else 0.0
            average = weight if average is None else average
            average = decay * average + (1 - decay) * weight
            weight, started = average, True
        expected.append(weight)
    np.testing.assert_allclose(np.stack(got), np.stack(expected), rtol=1e-5, atol=1e-5)
    # Steps 10, 15, 20 are updates (7 is not a multiple of 5); after 20 the weights move freely.
    assert not np.allclose(got[-1], averaging.averages[0].numpy())
    averaging.finish([var, stats])
    np.testing.assert_array_equal(var.numpy(), averaging.averages[0].numpy())
    np.testing.assert_array_equal(stats.numpy(), averaging.averages[1].numpy())


def test_decay_schedule_and_validation():
    averaging = lookahead.Lookahead(100, every=5, base=0.95, power=3.0)
    assert float(averaging.decay(100)) == pytest.approx(0.95 ** 5)
    assert float(averaging.decay(50)) == pytest.approx(0.95 ** 5 * 0.125)
    for kwargs in (dict(total_steps=0), dict(total_steps=5, every=0), dict(total_steps=5, base=2)):
        with pytest.raises(ValueError):
            lookahead.Lookahead(**kwargs)


def test_finish_before_any_update_changes_nothing_and_state_checkpoints(tmp_path):
    var = tf.Variable([1.0, 2.0])
    averaging = lookahead.Lookahead(10, every=5)
    averaging.build([var])
    averaging.finish([var])
    np.testing.assert_array_equal(var.numpy(), [1.0, 2.0])
    averaging.apply([var], tf.constant(5, tf.int64))
    path = tf.train.Checkpoint(lookahead=averaging).save(str(tmp_path / "ckpt"))
    restored = lookahead.Lookahead(10, every=5)
    restored.build([tf.Variable([0.0, 0.0])])
    tf.train.Checkpoint(lookahead=restored).restore(path).assert_consumed()
    assert bool(restored.started.numpy())
    np.testing.assert_array_equal(restored.averages[0].numpy(), [1.0, 2.0])
