"""Test-time augmentation: logits averaged over mirrored and translated views of a batch.

The airbench recipe (K. Jordan, arXiv 2404.00498) evaluates each test image
through several views and averages the logits:

  none            logits(x)
  flip            (logits(x) + logits(mirror(x))) / 2
  flip_translate  flip(x) / 2 + (flip(up_left(x)) + flip(down_right(x))) / 4

where mirror is the left-right flip and up_left / down_right are the windows
[0:H, 0:W] and [2:H+2, 2:W+2] of the image REFLECT-padded by one pixel (a
translation by one pixel each way, the one-pixel version of the training
augmentation 'translate_altflip'). Each view is a separate call of the model
on the whole batch (memory as for one batch; the cost is 1, 2 or 6 forward
passes). Any model works: views keep the batch's shape.
"""

from collections.abc import Callable

import tensorflow as tf

from convnet.runtime.options import option

TTA_MODES = ("none", "flip", "flip_translate")
# The translation of 'flip_translate', in pixels (airbench's).
TRANSLATE_PIXELS = 1


def tta_mode_option():
    """The --tta field of a config that evaluates (convnet.runtime.options)."""
    return option("none", "Test-time augmentation: none; flip (the mean of the logits of the "
                  "image and its mirror); flip_translate (half that, half the mean of the same "
                  "for the image translated by one pixel up-left and down-right, "
                  "reflect-padded).", choices=TTA_MODES)


def check_mode(mode: str) -> str:
    """`mode`, or a ValueError listing TTA_MODES."""
    if mode not in TTA_MODES:
        raise ValueError(f"unknown --tta={mode!r}: choose from {', '.join(TTA_MODES)}")
    return mode


def mirror(images: tf.Tensor) -> tf.Tensor:
    """Left-right mirror of a [B, H, W, C] batch."""
    return tf.reverse(images, axis=[2])


def translations(images: tf.Tensor, pad: int = TRANSLATE_PIXELS):
    """(up_left, down_right): the [0:H, 0:W] and [2 pad:, 2 pad:] windows of the batch
    REFLECT-padded by `pad` pixels a side (the content moved by `pad` pixels
    down-right, and up-left)."""
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
    shape = tf.shape(images)
    return (padded[:, :shape[1], :shape[2]], padded[:, 2 * pad:, 2 * pad:])


def tta_logits(model_fn: Callable[[tf.Tensor], tf.Tensor], images: tf.Tensor,
               mode: str = "none") -> tf.Tensor:
    """Logits of `images` [B, H, W, C] through the views of `mode` (see the module doc).

    Args:
      model_fn: images -> logits [B, classes] (e.g. `lambda x: model(x, training=False)`).
      images: the batch, already preprocessed as for the model.
      mode: one of TTA_MODES.

    Returns:
      'none': model_fn(images) unchanged (its dtype). Otherwise float32 [B, classes]:
      each view's logits are cast to float32 before they are averaged.
    """
    check_mode(mode)
    if mode == "none":
        return model_fn(images)

    def logits(x):
        return tf.cast(model_fn(x), tf.float32)

    def flip_logits(x):
        return 0.5 * logits(x) + 0.5 * logits(mirror(x))

    if mode == "flip":
        return flip_logits(images)
    up_left, down_right = translations(images)
    return 0.5 * flip_logits(images) + 0.25 * (flip_logits(up_left) + flip_logits(down_right))
