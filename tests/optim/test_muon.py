"""Muon against numpy: Newton-Schulz against the SVD, one update against a hand computation."""

import numpy as np
import pytest
import tensorflow as tf

from convnet.optim import muon, optimizers


def _numpy_newton_schulz(g, steps):
    """The quintic iteration written out in float64 (independent of convnet.optim.muon)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g.astype(np.float64) / (np.linalg.norm(g) + 1e-7)
    tall = x.shape[0] > x.shape[1]
    x = x.T if tall else x
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


@pytest.mark.parametrize("shape", [(64, 576), (576, 64), (10, 256), (48, 96)])
def test_newton_schulz_pushes_singular_values_towards_one(shape):
    g = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    x = muon.orthogonalize(tf.constant(g)).numpy()
    assert x.shape == g.shape
    np.testing.assert_allclose(x, _numpy_newton_schulz(g, muon.NS_STEPS), rtol=1e-3, atol=1e-4)
    singular = np.linalg.svd(x, compute_uv=False)
    assert singular.min() > 0.5 and singular.max() < 1.5, singular
    # It is U S' V^T of g's own SVD: the singular vectors are kept (U^T x V is diagonal).
    u, s, vt = np.linalg.svd(g.astype(np.float64), full_matrices=False)
    core = u.T @ x @ vt.T
    np.testing.assert_allclose(core, np.diag(np.diag(core)), atol=2e-3)
    # More steps: closer to 1 (the quintic's fixed band, about [0.68, 1.14]).
    more = np.linalg.svd(muon.orthogonalize(tf.constant(g), 8).numpy(), compute_uv=False)
    assert more.min() > 0.65 and more.max() < 1.15


def test_newton_schulz_in_bfloat16_stays_near_float32():
    g = np.random.default_rng(1).normal(size=(64, 288)).astype(np.float32)
    low = muon.orthogonalize(tf.constant(g), compute_dtype=tf.bfloat16)
    assert low.dtype == tf.float32
    np.testing.assert_allclose(low.numpy(), muon.orthogonalize(tf.constant(g)).numpy(),
                               atol=0.05)


@pytest.mark.parametrize("nesterov", [True, False])
def test_two_muon_updates_of_a_conv_kernel_and_a_bias_by_hand(nesterov):
    rng = np.random.default_rng(2)
    kernel0 = rng.normal(size=(3, 3, 4, 8)).astype(np.float32)
    bias0 = rng.normal(size=(8,)).astype(np.float32)
    grads = [(rng.normal(size=kernel0.shape).astype(np.float32),
              rng.normal(size=bias0.shape).astype(np.float32)) for _ in range(2)]
    lr, m = 0.24, 0.6
    kernel, bias = tf.Variable(kernel0), tf.Variable(bias0)
    opt = muon.Muon(momentum=m, nesterov=nesterov)
    opt.build([kernel, bias])
    for gk, gb in grads:
        opt.apply_gradients([tf.constant(gk), tf.constant(gb)], [kernel, bias], tf.constant(lr))

    w, b = kernel0.astype(np.float64), bias0.astype(np.float64)
    buf_w, buf_b = np.zeros_like(w), np.zeros_like(b)
    for gk, gb in grads:
        buf_w, buf_b = m * buf_w + gk, m * buf_b + gb
        step_w = gk + m * buf_w if nesterov else buf_w
        step_b = gb + m * buf_b if nesterov else buf_b
        w = w * np.sqrt(8) / np.linalg.norm(w)  # norm sqrt(out channels)
        filters = step_w.reshape(-1, 8).T  # [out, kh*kw*in]
        w = w - lr * _numpy_newton_schulz(filters, muon.NS_STEPS).T.reshape(w.shape)
        b = b - lr * step_b  # a bias: momentum SGD
    np.testing.assert_allclose(kernel.numpy(), w, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bias.numpy(), b, rtol=1e-5, atol=1e-5)


def test_muon_is_an_optimizer_choice_with_airbench_defaults():
    assert "muon" in optimizers.OPTIMIZERS
    made = optimizers.make_optimizer("muon", 0.6, True)
    assert isinstance(made, muon.Muon) and made.momentum == 0.6 and made.nesterov
    assert optimizers.default_learning_rate("muon") == 0.24
    with pytest.raises(ValueError, match="momentum"):
        muon.Muon(momentum=1.0)
    with pytest.raises(ValueError, match="steps"):
        muon.Muon(steps=0)
