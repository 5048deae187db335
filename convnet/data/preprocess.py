"""Preprocessing: the tutorial's distortions and evaluation crop, and batch augmentations.

Inputs are uint8 [H, W, C] images; outputs are float32 [crop, crop, C]. Images of
any size (a source whose images differ in size, `--image_size`) get Inception's
preprocessing: `random_resized_crop` in training, `resize_and_center_crop` in evaluation.
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

AUGMENTATIONS = ("tutorial", "pad_crop", "none", "translate_altflip", "random_resized_crop")
# Applied to whole batches by `Preprocessing.train_batch`, not example by example.
BATCH_AUGMENTATIONS = ("translate_altflip",)
NORMALIZATIONS = ("per_image", "per_channel")
# Zero padding of the ResNet / DenseNet papers' augmentation: pad 4, crop back, flip.
PAD_PIXELS = 4

# airbench (K. Jordan, "94% on CIFAR-10 in 3.29 seconds on a single GPU", arXiv 2404.00498):
# random translation by up to 2 pixels a direction, of the reflect-padded image.
TRANSLATE_PIXELS = 2

# Images of any size (Inception's preprocessing, Szegedy et al. 2015, as torchvision and
# Keras keep it): a random crop of at least RANDOM_CROP_AREA of the image's area, its aspect
# ratio in CROP_ASPECT_RATIOS, resized to the model's size; evaluation resizes the shorter
# side to size / CROP_FRACTION and takes the central window (224 of 256 on ImageNet).
RANDOM_CROP_AREA = 0.08
CROP_ASPECT_RATIOS = (3 / 4, 4 / 3)
CROP_FRACTION = 0.875
# Tries of the crop's sampler before it falls back to the whole image.
CROP_ATTEMPTS = 100

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


def _resize(image: tf.Tensor, height, width) -> tf.Tensor:
    """float32 [H, W, C] -> [height, width, C]: bilinear, antialiased when shrinking."""
    return tf.image.resize(image, tf.stack([height, width]), antialias=True)


def random_resized_crop(image: tf.Tensor, seed: tf.Tensor, size: int,
                        *, min_area: float = RANDOM_CROP_AREA, flip: bool = True) -> tf.Tensor:
    """A random crop of `image` resized to [size, size], randomly flipped (Inception's).

    The crop covers a share of the image's area uniform in [min_area, 1] and has an aspect
    ratio (width / height) in CROP_ASPECT_RATIOS, drawn by
    `tf.image.stateless_sample_distorted_bounding_box` (the whole image after
    CROP_ATTEMPTS failed draws).

    Args:
      image: uint8 or float32 [H, W, C], any H and W.
      seed: int [2] stateless seed, distinct per example.

    Returns:
      float32 [size, size, C] on the [0, 255] scale.
    """
    box_seed, flip_seed = _split_seed(seed, 2)
    begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), tf.zeros([1, 0, 4], tf.float32), box_seed, min_object_covered=0.0,
        aspect_ratio_range=CROP_ASPECT_RATIOS, area_range=(min_area, 1.0),
        max_attempts=CROP_ATTEMPTS, use_image_if_no_bounding_boxes=True)
    x = _resize(tf.cast(tf.slice(image, begin, extent), tf.float32), size, size)
    if flip:
        x = tf.image.stateless_random_flip_left_right(x, flip_seed)
    return x


def resize_and_center_crop(image: tf.Tensor, size: int,
                           crop_fraction: float = CROP_FRACTION) -> tf.Tensor:
    """`image` (uint8 or float32 [H, W, C], any H and W) with its shorter side resized to
    round(size / crop_fraction), aspect kept, then its central [size, size] window: float32."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = round(size / crop_fraction) / tf.reduce_min(shape)
    height, width = (tf.maximum(size, tf.cast(tf.round(side * scale), tf.int32))
                     for side in tf.unstack(shape))
    x = _resize(tf.cast(image, tf.float32), height, width)
    return tf.image.resize_with_crop_or_pad(x, size, size)


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


def check_share(name: str, value: float) -> None:
    """ValueError naming --`name` unless 0 < `value` <= 1 (a share of an image's side or area)."""
    if not 0 < value <= 1:
        raise ValueError(f"--{name} must be in (0, 1], got {value}")


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How examples become model inputs, in training and in evaluation.

    Attributes:
      augmentation: 'tutorial' (random crop to image_size, flip, brightness,
        contrast), 'pad_crop' (pad 4, crop back, flip), 'random_resized_crop'
        (`random_resized_crop`: images of any size), 'none', or
        'translate_altflip' (airbench: a batch augmentation, see `train_batch`).
      image_size: model input height and width; evaluation takes the central
        window (or pads) to this size.
      normalization: 'per_image' (per-image standardization) or 'per_channel'
        ((x - channel_mean) / channel_std, both on the [0, 255] scale).
      flip: random left-right flips in training (off for digits).
      translate: 'translate_altflip' only: the largest translation, in pixels
        a direction (reflect padding); 0 turns translation off.
      crop_fraction: images of any size: evaluation (and training without a random
        crop) resizes the shorter side to image_size / crop_fraction and takes the
        central window (`resize_and_center_crop`). None: the central window (or
        padding) of the image as it is.
      random_crop_area: 'random_resized_crop' only: the smallest share of the image's
        area a crop covers.
    """
    augmentation: str = "tutorial"
    image_size: int = CROP_SIZE
    normalization: str = "per_image"
    channel_mean: tuple[float, ...] | None = None
    channel_std: tuple[float, ...] | None = None
    flip: bool = True
    translate: int = TRANSLATE_PIXELS
    crop_fraction: float | None = None
    random_crop_area: float = RANDOM_CROP_AREA

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
        if self.crop_fraction is not None:
            check_share("crop_fraction", self.crop_fraction)
        check_share("random_crop_area", self.random_crop_area)

    @property
    def batched(self) -> bool:
        """Whether training augments whole batches (`train_batch`) rather than examples."""
        return self.augmentation in BATCH_AUGMENTATIONS

    def _normalize(self, x: tf.Tensor) -> tf.Tensor:
        if self.normalization == "per_image":
            return standardize(x)
        return normalize_per_channel(x, self.channel_mean, self.channel_std)

    def _fit(self, x: tf.Tensor) -> tf.Tensor:
        if self.crop_fraction is not None:
            return resize_and_center_crop(x, self.image_size, self.crop_fraction)
        return tf.image.resize_with_crop_or_pad(x, self.image_size, self.image_size)

    def train(self, image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """uint8 [H, W, C] -> float32 [image_size, image_size, C], randomly augmented."""
        if self.batched:
            raise ValueError(f"--augmentation={self.augmentation} augments whole batches: "
                             f"use Preprocessing.train_batch (pipeline.train_dataset does)")
        if self.augmentation == "tutorial":
            x = tutorial_distortions(image, seed, self.image_size, flip=self.flip)
        elif self.augmentation == "random_resized_crop":
            x = random_resized_crop(image, seed, self.image_size,
                                    min_area=self.random_crop_area, flip=self.flip)
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
