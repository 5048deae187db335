"""Optimizers and EMA against numpy implementations; learning-rate schedules."""

import numpy as np
import pytest
import tensorflow as tf

from convnet import optim


def _run(optimizer, grads_seq, lr, w0):
    var = tf.Variable(w0)
    optimizer.build([var])
    for g in grads_seq:
        optimizer.apply_gradients([tf.constant(g)], [var], tf.constant(lr))
    return var.numpy()


def _grads(steps=5, shape=(3, 2), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(np.float32) for _ in range(steps)]


def test_adam_matches_numpy():
    grads, w0 = _grads(), np.ones((3, 2), np.float32)
    w, m, v = w0.astype(np.float64), 0.0, 0.0
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.01
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
    np.testing.assert_allclose(_run(optim.Adam(), grads, lr, w0), w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_matches_numpy(momentum, nesterov):
    grads, w0, lr = _grads(), np.zeros((3, 2), np.float32), 0.1
    w, velocity = w0.astype(np.float64), 0.0
    for g in grads:
        velocity = momentum * velocity - lr * g
        w = w + (momentum * velocity - lr * g if nesterov else velocity)
    got = _run(optim.SGD(momentum, nesterov), grads, lr, w0)
    np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_apply_gradients_checks_variables():
    a, b = tf.Variable(1.0), tf.Variable(2.0)
    opt = optim.Adam()
    with pytest.raises(RuntimeError, match="build"):
        opt.apply_gradients([tf.constant(1.0)], [a], tf.constant(0.1))
    opt.build([a])
    with pytest.raises(ValueError, match="other variables"):
        opt.apply_gradients([tf.constant(1.0)], [b], tf.constant(0.1))


def test_adadelta_matches_numpy():
    grads, w0, lr = _grads(), np.ones((3, 2), np.float32), 1.0
    w, acc_g, acc_u, rho, eps = w0.astype(np.float64), 0.0, 0.0, 0.95, 1e-7
    for g in grads:
        acc_g = rho * acc_g + (1 - rho) * g * g
        delta = np.sqrt(acc_u + eps) / np.sqrt(acc_g + eps) * g
        acc_u = rho * acc_u + (1 - rho) * delta * delta
        w = w - lr * delta
    np.testing.assert_allclose(_run(optim.Adadelta(), grads, lr, w0), w, rtol=1e-4, atol=1e-6)


def test_tutorial_decay_schedule():
    assert optim.decay_steps_for(128, 350.0) == 136718
    schedule = optim.make_schedule("exponential", 0.1, 128)
    for step, expected in [(0, 0.1), (136717, 0.1), (136718, 0.01), (2 * 136718, 0.001)]:
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-6)
    constant = optim.make_schedule("constant", 0.05, 128)
    assert float(constant(10 ** 6)) == pytest.approx(0.05)


def test_piecewise_schedule_in_epochs():
    # 50,000 examples at batch 128: epoch 150 = step 58,593, epoch 225 = step 87,890.
    schedule = optim.make_schedule("piecewise", 0.1, 128, boundary_epochs=(150, 225))
    for step, expected in [(0, 0.1), (58592, 0.1), (58593, 0.01), (87889, 0.01),
                           (87890, 0.001), (10 ** 6, 0.001)]:
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="lr_boundary_epochs"):
        optim.make_schedule("piecewise", 0.1, 128)


def test_cosine_schedule():
    schedule = optim.make_schedule("cosine", 0.2, 128, total_steps=100)
    for step, expected in [(0, 0.2), (50, 0.1), (100, 0.0), (150, 0.0)]:
        assert float(schedule(step)) == pytest.approx(expected, abs=1e-7)
    with pytest.raises(ValueError, match="unknown --lr_schedule"):
        optim.make_schedule("linear", 0.1, 128)


def test_default_learning_rates():
    assert optim.default_learning_rate("sgd") == 0.1
    assert optim.default_learning_rate("adam") == 1e-3
    assert optim.default_learning_rate("adadelta") == 1.0
    with pytest.raises(ValueError, match="unknown --optimizer"):
        optim.make_optimizer("rmsprop")


def test_ema_matches_numpy_with_num_updates():
    var = tf.Variable([1.0, 2.0])
    ema = optim.WeightEMA(0.9999)
    ema.build([var])
    shadow = np.array([1.0, 2.0])
    for step in range(1, 6):
        var.assign_add([1.0, -1.0])
        ema.apply([var], step)
        decay = min(0.9999, (1 + step) / (10 + step))
        shadow = shadow - (1 - decay) * (shadow - var.numpy())
    np.testing.assert_allclose(ema.shadows[0].numpy(), shadow, rtol=1e-6)
    target = tf.Variable([0.0, 0.0])
    ema.copy_to([target])
    np.testing.assert_allclose(target.numpy(), shadow, rtol=1e-6)


def test_warmup_linear_schedule_points():
    schedule = optim.make_schedule("warmup_linear", 2.0, 128, total_steps=100)
    # int(0.23 * 100) = 23 warm-up steps from 0.2x to 1x, then down to 0.07x at step 100.
    for step, factor in ((0, 0.2), (23, 1.0), (100, 0.07), (150, 0.07),
                         (11.5, 0.2 + 0.8 * 11.5 / 23), (61.5, 1.0 - 0.93 * 38.5 / 77)):
        assert float(schedule(step)) == pytest.approx(2.0 * factor, rel=1e-5), step
    with pytest.raises(ValueError, match="lr_warmup_fraction"):
        optim.WarmupLinear(1.0, 10, warmup_fraction=1.0)
