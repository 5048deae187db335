"""Image files turned into a model's inputs: uint8 [H, W, C] at the dataset's native shape.

Image files of any size and colour layout are brought to that native shape by
`load_image`:
- channels: grey -> RGB for colour models, colour -> grey for 1-channel models,
  alpha dropped; each conversion is reported in one line.
- size: when it differs, the shorter side is resized (bilinear, antialiased)
  to the native size and the central window cut out. Aspect ratio is kept,
  nothing is padded: the edges of a non-square image are lost, as in the
  usual resize-then-center-crop evaluation of ImageNet models. Only then does
  `Preprocessing.evaluate` take its crop (24x24 for the tutorial model).
"""

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from convnet.runtime.errors import DataError, tf_error_line

Log = Callable[[str], None]  # where conversion notes go (print, or a list's append)


def read_image(path: str) -> tf.Tensor:
    """Decodes a PNG, JPEG, GIF (first frame) or BMP file: uint8 [H, W, C], C in 1..4.

    Raises:
      DataError naming the file when it is missing or not an image.
    """
    if not tf.io.gfile.exists(path):
        raise DataError(f"image file {path} does not exist.")
    if tf.io.gfile.isdir(path):
        raise DataError(f"{path} is a directory: pass image files.")
    try:
        contents = tf.io.read_file(path)
    except tf.errors.OpError as e:
        raise DataError(f"cannot read {path}: {tf_error_line(e, 200)}") from e
    try:
        image = tf.io.decode_image(contents, expand_animations=False, dtype=tf.uint8)
    except tf.errors.OpError as e:
        raise DataError(f"{path} is not an image TensorFlow can decode: {tf_error_line(e, 200)}. "
                        f"Pass PNG or JPEG files.") from e
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise DataError(f"{path} is an empty image ({image.shape[0]}x{image.shape[1]}).")
    return image


def match_channels(image: tf.Tensor, channels: int, name: str = "image",
                   *, log: Log | None = print) -> tf.Tensor:
    """uint8 [H, W, any C] -> uint8 [H, W, channels]; alpha is dropped, grey <-> RGB converted.

    Each conversion is reported through `log` as one line naming `name`.
    """
    found = image.shape[-1]
    notes = []
    if found in (2, 4):
        image = image[..., :found - 1]
        notes.append("dropped its alpha channel")
    if image.shape[-1] == 1 and channels == 3:
        image = tf.image.grayscale_to_rgb(image)
        notes.append("converted grayscale to RGB for a 3-channel model")
    elif image.shape[-1] == 3 and channels == 1:
        image = tf.image.rgb_to_grayscale(image)
        notes.append("converted RGB to grayscale for a 1-channel model")
    if image.shape[-1] != channels:
        raise DataError(f"{name} has {found} channels; the model takes {channels}.")
    if notes and log:
        log(f"note: {name}: {'; '.join(notes)}")
    return image


def fit_size(image: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """uint8 [h, w, C] -> uint8 [height, width, C]: unchanged at that size; else the shorter
    side resized (bilinear, antialiased, aspect kept) and the central window cut out."""
    h, w = int(image.shape[0]), int(image.shape[1])
    if (h, w) == (height, width):
        return image
    scale = max(height / h, width / w)
    size = [max(height, round(h * scale)), max(width, round(w * scale))]
    resized = tf.image.resize(tf.cast(image, tf.float32), size, antialias=True)
    top, left = (size[0] - height) // 2, (size[1] - width) // 2
    window = resized[top:top + height, left:left + width]
    return tf.cast(tf.clip_by_value(tf.round(window), 0.0, 255.0), tf.uint8)


def load_image(path: str, image_shape: Sequence[int], log: Log | None = print) -> np.ndarray:
    """An image file as uint8 [H, W, C] of `image_shape` (the dataset's native shape)."""
    height, width, channels = image_shape
    image = match_channels(read_image(path), channels, path, log=log)
    return fit_size(image, height, width).numpy()


def load_images(paths: Sequence[str], image_shape: Sequence[int],
                log: Log | None = print) -> np.ndarray:
    """Image files as one uint8 [N, H, W, C] batch (see `load_image`)."""
    if not paths:
        raise DataError("no image files given: pass one or more PNG or JPEG paths.")
    return np.stack([load_image(path, image_shape, log) for path in paths])
