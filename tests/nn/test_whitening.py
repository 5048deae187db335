"""convnet.nn.whitening: the patch-whitening kernel against numpy, and what it does to patches."""

import time

import numpy as np
import pytest
import tensorflow as tf

from convnet.nn import whitening


def _images(n=200, size=8, channels=3, seed=0):
    """Correlated, non-zero-mean patches whose eigenvalues are all >> 1e-8."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, size, size, channels))
    x = x + 0.6 * np.roll(x, 1, axis=1) + 0.3 * np.roll(x, 1, axis=-1) + 0.5
    return x.astype(np.float32)


def _numpy_patches(images, kh, kw):
    """All VALID stride-1 patches, flattened in [kh, kw, C] order, by plain loops."""
    n, h, w, c = images.shape
    rows = [images[:, i:i + kh, j:j + kw, :].reshape(n, -1)
            for i in range(h - kh + 1) for j in range(w - kw + 1)]
    return np.concatenate(rows, axis=0).astype(np.float64)


@pytest.mark.parametrize("kernel_size", [1, 2, 3, (2, 3)])
def test_second_moments_match_numpy(kernel_size):
    images = _images(n=30, size=7)
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    patches = _numpy_patches(images, kh, kw)
    expected = patches.T @ patches / len(patches)
    got = whitening.patch_second_moments(images, kernel_size)
    assert got.shape == (kh * kw * 3, kh * kw * 3)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_second_moments_sum_over_chunks(monkeypatch):
    images = _images(n=23, size=6)
    whole = whitening.patch_second_moments(images, 2)
    monkeypatch.setattr(whitening, "_CHUNK_PATCHES", 60)  # 2 images (25 patches each) a chunk
    np.testing.assert_allclose(whitening.patch_second_moments(images, 2), whole, rtol=1e-5,
                               atol=1e-6)


def test_patches_equal_tf_extract_patches():
    images = tf.constant(_images(n=4, size=6, channels=2))
    expected = tf.reshape(tf.image.extract_patches(images, [1, 2, 3, 1], [1, 1, 1, 1],
                                                   [1, 1, 1, 1], "VALID"), [-1, 12])
    np.testing.assert_array_equal(whitening._patches(images, (2, 3)).numpy(), expected.numpy())


def test_kernel_matches_numpy_eigh_and_whitens_patches():
    images = _images()
    epsilon = 1e-8
    kernel = whitening.patch_whitening_kernel(images, 2, epsilon)
    assert kernel.shape == (2, 2, 3, 24) and kernel.dtype == tf.float32
    k = kernel.numpy().reshape(12, 24)
    np.testing.assert_array_equal(k[:, 12:], -k[:, :12])

    # Independent: numpy patches, their second moments, eigh.
    patches = _numpy_patches(images, 2, 2)
    moments = patches.T @ patches / len(patches)
    eigenvalues, eigenvectors = np.linalg.eigh(moments)
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    assert eigenvalues.min() > 1e-3  # epsilon is negligible
    # Each filter is +-v_i / sqrt(lambda_i): compare up to the eigenvector's sign.
    expected = eigenvectors / np.sqrt(eigenvalues)
    signs = np.sign((k[:, :12] * expected).sum(axis=0))
    np.testing.assert_allclose(k[:, :12] * signs, expected, rtol=1e-3, atol=1e-4)

    # The conv of the images with the first 12 filters: second moments ~ identity.
    outputs = tf.nn.conv2d(images, kernel[..., :12], 1, "VALID").numpy().reshape(-1, 12)
    outputs = outputs.astype(np.float64)
    np.testing.assert_allclose(outputs.T @ outputs / len(outputs), np.eye(12), atol=2e-3)


def test_epsilon_damps_weak_directions():
    images = _images()
    eigenvalues = np.linalg.eigvalsh(whitening.patch_second_moments(images, 2))[::-1]
    epsilon = float(eigenvalues[-1])  # equal to the smallest eigenvalue
    kernel = whitening.patch_whitening_kernel(images, 2, epsilon)
    outputs = tf.nn.conv2d(images, kernel[..., :12], 1, "VALID").numpy().reshape(-1, 12)
    power = (outputs.astype(np.float64) ** 2).mean(axis=0)
    np.testing.assert_allclose(power, eigenvalues / (eigenvalues + epsilon), rtol=2e-3)
    assert power[-1] == pytest.approx(0.5, rel=2e-3)


def test_5000_cifar_sized_images_take_seconds_not_minutes():
    images = np.random.default_rng(0).normal(size=(5000, 32, 32, 3)).astype(np.float32)
    whitening.patch_whitening_kernel(images[:10])  # warm up
    start = time.perf_counter()
    kernel = whitening.patch_whitening_kernel(images)
    assert kernel.shape == (2, 2, 3, 24)
    assert time.perf_counter() - start < 10.0  # ~0.8 s on 2 busy CPU cores


@pytest.mark.parametrize("call", [
    lambda: whitening.patch_whitening_kernel(np.zeros([4, 4, 3], np.float32)),
    lambda: whitening.patch_whitening_kernel(np.zeros([2, 4, 4, 3], np.int32)),
    lambda: whitening.patch_whitening_kernel(np.zeros([0, 4, 4, 3], np.float32)),
    lambda: whitening.patch_whitening_kernel(np.zeros([2, 1, 4, 3], np.float32)),
    lambda: whitening.patch_whitening_kernel(np.ones([2, 4, 4, 3], np.float32), 0),
    lambda: whitening.patch_whitening_kernel(np.ones([2, 4, 4, 3], np.float32), epsilon=0.0),
    lambda: whitening.patch_whitening_kernel(np.ones([2, 4, 4, 3], np.float32), epsilon=-1),
])
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()
