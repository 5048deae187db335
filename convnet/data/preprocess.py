"""Preprocessing: the tutorial's distortions and evaluation crop, and batch augmentations.

Inputs are uint8 [H, W, C] images; outputs are float32 [crop, crop, C].
The random ops are the *stateless* `tf.image` ones, seeded per example, so an
example's augmentation depends only on (seed, example index): reproducible,
and the same whether run eagerly or inside `tf.data` with any parallelism.

Batch augmentations (BATCH_AUGMENTATIONS: 'translate_altflip', the airbench
recipe's) work on whole uint8 [B, H, W, C] batches, one vectorized call a
batch (`Preprocessing.train_batch`); their ops are in batch_augment.py (and
re-exported here).

A known property, tested in tests/data/test_preprocess.py: per-image
standardization cancels random brightness exactly (it adds the same delta to
every value). It cancels random contrast exactly only when the channel means
are equal (grey images); on colour images contrast still changes the balance
between colour and texture. Kept for fidelity to the tutorial.
"""

import dataclasses

import tensorflow as tf

from convnet.data.batch_augment import (  # noqa: F401 (re-exported)
    FLIP_STREAM,
    SHIFT_STREAM,
    alternating_flips,
    random_offsets,
    stateless_hash,
    translate_and_flip,
)

AUGMENTATIONS = ("tutorial", "pad_crop", "none", "translate_altflip")
# Applied to whole batches by `Preprocessing.train_batch`, not example by example.
BATCH_AUGMENTATIONS = ("translate_altflip",)
NORMALIZATIONS = ("per_image", "per_channel")
# Zero padding of the ResNet / DenseNet papers' augmentation: pad 4, crop back, flip.
PAD_PIXELS = 4

# airbench (K. Jordan, "94% on CIFAR-10 in 3.29 seconds on a single GPU", arXiv 2404.00498):
# random translation by up to 2 pixels a direction, of the reflect-padded image.
TRANSLATE_PIXELS = 2

# Tutorial constants (cifar10_input.py): crop 24x24, brightness max delta 63,
# contrast factor in [0.2, 1.8].
CROP_SIZE = 24
MAX_BRIGHTNESS_DELTA = 63.0
CONTRAST_LOWER, CONTRAST_UPPER = 0.2, 1.8


def standardize(image: tf.Tensor) -> tf.Tensor:
    """(x - mean) / max(stddev, 1/sqrt(N)) over the whole image, float32."""
    return tf.image.per_image_standardization(tf.cast(image, tf.float32))


def _split_seed(seed: tf.Tensor, count: int):
    return tf.unstack(tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), count))


def tutorial_distortions(image: tf.Tensor, seed: tf.Tensor, crop_size: int = CROP_SIZE,
                         *, flip: bool = True) -> tf.Tensor:
    """Random crop, flip, brightness and contrast of the tutorial, on the [0, 255] scale.

    Returns float32 [crop_size, crop_size, C], not normalized.
    """
    crop_seed, flip_seed, brightness_seed, contrast_seed = _split_seed(seed, 4)
    x = tf.cast(image, tf.float32)
    channels = image.shape[-1]
    x = tf.image.stateless_random_crop(x, [crop_size, crop_size, channels], crop_seed)
    if flip:
        x = tf.image.stateless_random_flip_left_right(x, flip_seed)
    x = tf.image.stateless_random_brightness(x, MAX_BRIGHTNESS_DELTA, brightness_seed)
    return tf.image.stateless_random_contrast(x, CONTRAST_LOWER, CONTRAST_UPPER, contrast_seed)


def pad_and_crop(image: tf.Tensor, seed: tf.Tensor, pad: int = PAD_PIXELS,
                 *, flip: bool = True) -> tf.Tensor:
    """Zero-pad `pad` pixels a side, random crop back to [H, W], random flip.

    Returns float32 [H, W, C] on the [0, 255] scale (the ResNet/DenseNet papers' augmentation).
    """
    crop_seed, flip_seed = _split_seed(seed, 2)
    x = tf.cast(image, tf.float32)
    x = tf.image.stateless_random_crop(
        tf.pad(x, [[pad, pad], [pad, pad], [0, 0]]), tf.shape(x), crop_seed)
    if flip:
        x = tf.image.stateless_random_flip_left_right(x, flip_seed)
    return x


def normalize_per_channel(image: tf.Tensor, mean, std) -> tf.Tensor:
    """(x - mean[c]) / std[c], with mean and std on the [0, 255] scale."""
    return (tf.cast(image, tf.float32) - tf.constant(mean, tf.float32)) / tf.constant(
        std, tf.float32)


def normalize_per_channel_batch(images: tf.Tensor, mean, std) -> tf.Tensor:
    """`normalize_per_channel` of [B, H, W, C] batches: the same values, five times faster on
    a CPU, where TF's kernels broadcast a trailing [C] vector slowly but a whole [1, H, W, C]
    image quickly (so the mean and std are tiled to one)."""
    shape = tf.shape(images)

    def tile(values):
        return tf.tile(tf.reshape(tf.constant(values, tf.float32), [1, 1, 1, -1]),
                       [1, shape[1], shape[2], 1])

    return (tf.cast(images, tf.float32) - tile(mean)) / tile(std)


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
    return Preprocessing("tutorial", crop_size).train(image, seed)


def eval_crop(image: tf.Tensor, crop_size: int = CROP_SIZE) -> tf.Tensor:
    """Central crop_size x crop_size crop (padded if smaller), then standardization."""
    return Preprocessing("tutorial", crop_size).evaluate(image)


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How examples become model inputs, in training and in evaluation.

    Attributes:
      augmentation: 'tutorial' (random crop to image_size, flip, brightness,
        contrast), 'pad_crop' (pad 4, crop back, flip), 'none', or
        'translate_altflip' (airbench: a batch augmentation, see `train_batch`).
      image_size: model input height and width; evaluation takes the central
        window (or pads) to this size.
      normalization: 'per_image' (per-image standardization) or 'per_channel'
        ((x - channel_mean) / channel_std, both on the [0, 255] scale).
      flip: random left-right flips in training (off for digits).
      translate: 'translate_altflip' only: the largest translation, in pixels
        a direction (reflect padding); 0 turns translation off.
    """
    augmentation: str = "tutorial"
    image_size: int = CROP_SIZE
    normalization: str = "per_image"
    channel_mean: tuple[float, ...] | None = None
    channel_std: tuple[float, ...] | None = None
    flip: bool = True
    translate: int = TRANSLATE_PIXELS

    def __post_init__(self):
        if self.augmentation not in AUGMENTATIONS:
            raise ValueError(f"unknown --augmentation={self.augmentation!r}: choose from "
                             f"{', '.join(AUGMENTATIONS)}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown --normalization={self.normalization!r}: choose from "
                             f"{', '.join(NORMALIZATIONS)}")
        if self.normalization == "per_channel" and (self.channel_mean is None
                                                    or self.channel_std is None):
            raise ValueError("per_channel normalization needs channel_mean and channel_std")
        if not 0 <= self.translate < self.image_size:
            raise ValueError(f"--translate must be in [0, {self.image_size}) pixels, "
                             f"got {self.translate}")

    @property
    def batched(self) -> bool:
        """Whether training augments whole batches (`train_batch`) rather than examples."""
        return self.augmentation in BATCH_AUGMENTATIONS

    def _normalize(self, x: tf.Tensor) -> tf.Tensor:
        if self.normalization == "per_image":
            return standardize(x)
        return normalize_per_channel(x, self.channel_mean, self.channel_std)

    def _fit(self, x: tf.Tensor) -> tf.Tensor:
        return tf.image.resize_with_crop_or_pad(x, self.image_size, self.image_size)

    def train(self, image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """uint8 [H, W, C] -> float32 [image_size, image_size, C], randomly augmented."""
        if self.batched:
            raise ValueError(f"--augmentation={self.augmentation} augments whole batches: "
                             f"use Preprocessing.train_batch (pipeline.train_dataset does)")
        if self.augmentation == "tutorial":
            x = tutorial_distortions(image, seed, self.image_size, flip=self.flip)
        elif self.augmentation == "pad_crop":
            x = self._fit(pad_and_crop(image, seed, PAD_PIXELS, flip=self.flip))
        else:
            x = self._fit(tf.cast(image, tf.float32))
        return self._normalize(x)

    def train_batch(self, images: tf.Tensor, seed, example_indices: tf.Tensor,
                    *, epochs: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
        """uint8 [B, H, W, C] -> float32 [B, image_size, image_size, C], a batch augmentation.

        'translate_altflip': each image translated by (dy, dx) uniform in
        [-translate, translate]^2 (the window of its reflect-padded self, drawn
        from (seed, position)), then mirrored by the alternating flip of
        (example index, epoch) (drawn from (seed, example index); no flip
        without `flip`), then normalized.

        Args:
          images: uint8 [B, H, W, C].
          seed: the run's int seed.
          example_indices: int [B], each example's index in the training split.
          epochs: int [B], the epoch each example is drawn in.
          positions: int [B], each example's position in the training stream.
        """
        if not self.batched:
            raise ValueError(f"--augmentation={self.augmentation} is per example: use "
                             f"Preprocessing.train")
        offsets = random_offsets(seed, positions, self.translate)
        if self.flip:
            flips = alternating_flips(seed, example_indices, epochs)
        else:
            flips = tf.zeros(tf.shape(example_indices), tf.bool)
        x = tf.cast(translate_and_flip(images, offsets, flips, pad=self.translate), tf.float32)
        if x.shape[1:3] != (self.image_size, self.image_size):
            x = self._fit(x)
        if self.normalization == "per_channel":
            return normalize_per_channel_batch(x, self.channel_mean, self.channel_std)
        return standardize(x)

    def evaluate(self, image: tf.Tensor) -> tf.Tensor:
        """uint8 [H, W, C] -> float32 [image_size, image_size, C], central window."""
        return self._normalize(self._fit(tf.cast(image, tf.float32)))
