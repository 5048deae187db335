"""Data-dependent initialisation: a patch-whitening convolution kernel.

The first layer of the airbench models (K. Jordan, "94% on CIFAR-10 in 3.29
seconds on a single GPU", arXiv 2404.00498) is a frozen k x k convolution whose
filters whiten the image patches: with S the patches' second-moment matrix
(patches^T patches / n over every k x k x C patch of the training images,
stride 1, no mean subtracted) and S = sum_i lambda_i v_i v_i^T, filter i is
v_i / sqrt(lambda_i + epsilon), so the first C*k*k outputs of the conv have a
second-moment matrix close to the identity (each direction scaled to unit
power, the weakest ones damped by epsilon). The negatives of these filters
follow, so that a ReLU-like activation after the layer keeps both signs:
2*C*k*k filters in all (24 for 2x2 patches of RGB images).

Patches are flattened in the kernel's own [kh, kw, C] order, so an eigenvector
reshaped to [kh, kw, C] is a filter for `tf.nn.conv2d`.
"""


import numpy as np
import tensorflow as tf

from convnet.nn import ops

# airbench's epsilon, for images normalized per channel (eigenvalues ~1e-3 .. 10).
DEFAULT_EPSILON = 5e-4
# Patches per chunk of the second-moment sum: 1M patches of 12 values are 48 MB float32.
_CHUNK_PATCHES = 1 << 20


def _patches(images: tf.Tensor, kernel_size: tuple[int, int]) -> tf.Tensor:
    """[n, h, w, C] -> [n * h' * w', kh * kw * C]: every VALID stride-1 patch, [kh, kw, C] order.

    The same as `tf.image.extract_patches` (tested), built from kh * kw shifted
    slices, which is about 3x faster on CPU.
    """
    kh, kw = kernel_size
    out_h, out_w = int(images.shape[1]) - kh + 1, int(images.shape[2]) - kw + 1
    shifted = [images[:, r:r + out_h, c:c + out_w, :] for r in range(kh) for c in range(kw)]
    return tf.reshape(tf.concat(shifted, axis=-1), [-1, kh * kw * int(images.shape[-1])])


def _check_images(images, kernel_size) -> tf.Tensor:
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or not images.dtype.is_floating:
        raise ValueError(f"images must be a float [N, H, W, C] array, got {images.dtype.name} "
                         f"{images.shape}")
    n, height, width, channels = images.shape
    if not n or channels is None or height is None or width is None:
        raise ValueError(f"images must have a static, non-empty shape, got {images.shape}")
    if height < kernel_size[0] or width < kernel_size[1]:
        raise ValueError(f"images of {height}x{width} are smaller than the "
                         f"{kernel_size[0]}x{kernel_size[1]} patches")
    return tf.cast(images, tf.float32)


def patch_second_moments(images, kernel_size=2) -> np.ndarray:
    """float64 [D, D] matrix patches^T patches / n, D = kh * kw * C, over all VALID patches.

    Args:
      images: float [N, H, W, C] (a numpy array or tensor), already normalized.
      kernel_size: int or (kh, kw).

    The sum runs over chunks of images (about a million patches each), each a
    float32 matmul accumulated in float64, so that memory stays bounded.
    """
    kernel_size = ops._pair(kernel_size, "kernel_size")
    images = _check_images(images, kernel_size)
    n, height, width, channels = images.shape
    per_image = (height - kernel_size[0] + 1) * (width - kernel_size[1] + 1)
    chunk = max(1, _CHUNK_PATCHES // per_image)
    depth = kernel_size[0] * kernel_size[1] * channels
    total = np.zeros([depth, depth], np.float64)
    for start in range(0, n, chunk):
        patches = _patches(images[start:start + chunk], kernel_size)
        total += tf.matmul(patches, patches, transpose_a=True).numpy().astype(np.float64)
    return total / (n * per_image)


def patch_whitening_kernel(images, kernel_size=2, epsilon: float = DEFAULT_EPSILON) -> tf.Tensor:
    """float32 [kh, kw, C, 2*C*kh*kw] kernel whitening the k x k patches of `images`.

    Filter i < D = C*kh*kw is v_i / sqrt(lambda_i + epsilon), with (lambda_i, v_i)
    the eigenpairs of `patch_second_moments(images, kernel_size)` in decreasing
    order of lambda; filter D + i is its negative. Convolving `images` (VALID,
    stride 1) with the first D filters gives outputs whose second-moment matrix
    is diag(lambda_i / (lambda_i + epsilon)): the identity when epsilon << lambda.

    Args:
      images: float [N, H, W, C] training images, preprocessed as the model sees them
        (airbench uses 5,000 per-channel-normalized CIFAR-10 training images).
      kernel_size: int or (kh, kw).
      epsilon: > 0, added to each eigenvalue (damps the directions of least power).
    """
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
        raise ValueError(f"epsilon must be a number > 0, got {epsilon!r}")
    kernel_size = ops._pair(kernel_size, "kernel_size")
    moments = patch_second_moments(images, kernel_size)
    eigenvalues, eigenvectors = np.linalg.eigh(moments)  # ascending; columns are vectors
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    # Rounding can leave the smallest eigenvalues slightly negative.
    filters = eigenvectors / np.sqrt(np.maximum(eigenvalues, 0.0) + epsilon)  # [D, D], column i
    filters = np.concatenate([filters, -filters], axis=1)
    channels = moments.shape[0] // (kernel_size[0] * kernel_size[1])
    kernel = filters.reshape([kernel_size[0], kernel_size[1], channels, filters.shape[1]])
    return tf.constant(kernel, tf.float32)
