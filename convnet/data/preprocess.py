"""Per-example preprocessing: the tutorial's distortions and evaluation crop.

Inputs are uint8 [H, W, C] images; outputs are float32 [crop, crop, C].
The random ops are the *stateless* `tf.image` ones, seeded per example, so an
example's augmentation depends only on (seed, example index): reproducible,
and the same whether run eagerly or inside `tf.data` with any parallelism.

A known property, tested in tests/test_data_preprocess.py: per-image
standardization cancels random brightness exactly (it adds the same delta to
every value). It cancels random contrast exactly only when the channel means
are equal (grey images); on colour images contrast still changes the balance
between colour and texture. Kept for fidelity to the tutorial.
"""

import tensorflow as tf

# Tutorial constants (cifar10_input.py): crop 24x24, brightness max delta 63,
# contrast factor in [0.2, 1.8].
CROP_SIZE = 24
MAX_BRIGHTNESS_DELTA = 63.0
CONTRAST_LOWER, CONTRAST_UPPER = 0.2, 1.8


def standardize(image: tf.Tensor) -> tf.Tensor:
    """(x - mean) / max(stddev, 1/sqrt(N)) over the whole image, float32."""
    return tf.image.per_image_standardization(tf.cast(image, tf.float32))


def distort(image: tf.Tensor, seed: tf.Tensor, crop_size: int = CROP_SIZE) -> tf.Tensor:
    """Training augmentation of the TF CIFAR-10 tutorial.

    Random crop_size x crop_size crop, random left-right flip, random brightness
    (delta in [-63, 63] on the [0, 255] scale), random contrast (factor in
    [0.2, 1.8]), then per-image standardization.

    Args:
      image: uint8 [H, W, C] with H, W >= crop_size.
      seed: int32/int64 [2] stateless seed, distinct per example.
      crop_size: output height and width.

    Returns:
      float32 [crop_size, crop_size, C].
    """
    crop_seed, flip_seed, brightness_seed, contrast_seed = tf.unstack(
        tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4))
    x = tf.cast(image, tf.float32)
    channels = image.shape[-1]
    x = tf.image.stateless_random_crop(x, [crop_size, crop_size, channels], crop_seed)
    x = tf.image.stateless_random_flip_left_right(x, flip_seed)
    x = tf.image.stateless_random_brightness(x, MAX_BRIGHTNESS_DELTA, brightness_seed)
    x = tf.image.stateless_random_contrast(x, CONTRAST_LOWER, CONTRAST_UPPER, contrast_seed)
    return standardize(x)


def eval_crop(image: tf.Tensor, crop_size: int = CROP_SIZE) -> tf.Tensor:
    """Central crop_size x crop_size crop (padded if smaller), then standardization."""
    x = tf.image.resize_with_crop_or_pad(tf.cast(image, tf.float32), crop_size, crop_size)
    return standardize(x)
