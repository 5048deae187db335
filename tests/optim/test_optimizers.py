"""Optimizers against numpy implementations; default learning rates."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.optim import optimizers


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
    np.testing.assert_allclose(_run(optimizers.Adam(), grads, lr, w0), w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_matches_numpy(momentum, nesterov):
    grads, w0, lr = _grads(), np.zeros((3, 2), np.float32), 0.1
    w, velocity = w0.astype(np.float64), 0.0
    for g in grads:
        velocity = momentum * velocity - lr * g
        w = w + (momentum * velocity - lr * g if nesterov else velocity)
    got = _run(optimizers.SGD(momentum, nesterov), grads, lr, w0)
    np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)


def test_apply_gradients_checks_variables():
    a, b = tf.Variable(1.0), tf.Variable(2.0)
    opt = optimizers.Adam()
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
    np.testing.assert_allclose(_run(optimizers.Adadelta(), grads, lr, w0), w, rtol=1e-4, atol=1e-6)


def test_default_learning_rates():
    assert optimizers.default_learning_rate("sgd") == 0.1
    assert optimizers.default_learning_rate("adam") == 1e-3
    assert optimizers.default_learning_rate("adadelta") == 1.0
    with pytest.raises(ValueError, match="unknown --optimizer"):
        optimizers.make_optimizer("rmsprop")
