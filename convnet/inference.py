"""A trained model ready for inference, and image files turned into its inputs.

`load(train_dir)` reads `run.json`, builds the model, restores the latest (or a
given) checkpoint and, as evaluation does, copies the EMA weights into the
model by default. The result maps uint8 images at the dataset's native size
(e.g. [N, 32, 32, 3] for CIFAR) to logits, through the run's evaluation
preprocessing (central crop to the model's input size, normalization).

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

import dataclasses
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from convnet import checkpoint_dir as checkpoint_dir_lib
from convnet import checkpointing, run_record, state as state_lib, tta
from convnet.data import info as data_info
from convnet.data import preprocess
from convnet.errors import DataError, tf_error_line
from convnet.options import option

Log = Callable[[str], None]


@dataclasses.dataclass
class InferenceConfig:
    """The checkpoint to load and what to take from it (predict, export)."""
    checkpoint_dir: str = option("/tmp/cifar10_train", "Training directory (run.json and "
                                 "checkpoints) to predict with or export.")
    checkpoint: Optional[str] = option(None, "A checkpoint prefix such as DIR/ckpt-2000 "
                                       "(default: the latest in --checkpoint_dir).")
    top_k: int = option(5, "Classes per image, most probable first: listed by predict, "
                        "returned by the export's serving signature.", lower_bound=1)
    use_ema: bool = option(True, "Use the moving averages of the weights (--nouse_ema: the "
                           "raw weights).")
    restore_fallback: bool = checkpointing.fallback_option()


class InferenceModel:
    """A restored model with its evaluation preprocessing and class names.

    Attributes:
      model: the `convnet.layers.Layer`, holding EMA weights when `use_ema`.
      preprocessing: the run's `Preprocessing`; `evaluate` maps a native-size
        uint8 image to the model's float32 input.
      info: the dataset's `DatasetInfo` (native image shape, class names).
      step: the training step of the restored checkpoint.
      checkpoint_path: the checkpoint prefix restored.
      record: the run record (run.json) of the run that trained it.
      use_ema: whether the model holds the moving averages of the weights.
    """

    def __init__(self, model, preprocessing: preprocess.Preprocessing,
                 info: data_info.DatasetInfo, step: int, checkpoint_path: str,
                 record: run_record.RunRecord, use_ema: bool):
        self.model = model
        self.preprocessing = preprocessing
        self.info = info
        self.step = step
        self.checkpoint_path = checkpoint_path
        self.record = record
        self.use_ema = use_ema
        self._compiled_logits = tf.function(self.logits, reduce_retracing=True)

    @property
    def image_shape(self) -> Tuple[int, int, int]:
        """(height, width, channels) of the uint8 images `logits` takes."""
        return tuple(self.info.image_shape)

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    @property
    def class_names(self) -> List[str]:
        return [self.info.class_name(label) for label in range(self.info.num_classes)]

    def preprocess(self, images: tf.Tensor) -> tf.Tensor:
        """uint8 [N, H, W, C] -> float32 [N, size, size, C], each by `Preprocessing.evaluate`."""
        size, channels = self.preprocessing.image_size, self.image_shape[-1]
        return tf.map_fn(self.preprocessing.evaluate, images,
                         fn_output_signature=tf.TensorSpec([size, size, channels], tf.float32))

    def logits(self, images: tf.Tensor, tta_mode: str = "none") -> tf.Tensor:
        """uint8 [N, H, W, C] native-size images -> float32 [N, num_classes] logits, averaged
        over the views of test-time augmentation `tta_mode` (convnet.tta)."""
        return tf.cast(tta.tta_logits(lambda x: self.model(x, training=False),
                                      self.preprocess(images), tta_mode), tf.float32)

    def probabilities(self, images) -> np.ndarray:
        """uint8 [N, H, W, C] -> float32 [N, num_classes] softmax, computed in one compiled call."""
        images = tf.convert_to_tensor(images, tf.uint8)
        return tf.nn.softmax(self._compiled_logits(images)).numpy()


def load(checkpoint_dir: str, checkpoint_path: Optional[str] = None,
         use_ema: bool = True, restore_fallback: bool = True) -> InferenceModel:
    """Restores a train_dir's latest checkpoint (or `checkpoint_path`) for inference.

    Args:
      checkpoint_dir: a train_dir written by `convnet.train` (run.json + checkpoints).
      checkpoint_path: a checkpoint prefix such as `train_dir/ckpt-2000`; default: the latest.
      use_ema: copy the moving averages of the weights into the model (as `convnet.eval`).
      restore_fallback: when the latest checkpoint is damaged, skip it (moving its
        files aside) and restore the newest older one that reads.

    Raises:
      CheckpointError: no run.json, no checkpoint, or one of another model.
    """
    record = run_record.require(checkpoint_dir)
    if not checkpoint_path:
        checkpoint_dir_lib.require_latest_checkpoint(checkpoint_dir)  # say so before building
    state, preprocessing = state_lib.for_reading(record)
    checkpoint = state.checkpoint
    if checkpoint_path:
        checkpointing.restore(checkpoint, checkpoint_path, partial=True)
        path = checkpoint_path
    else:
        path = checkpointing.restore_latest(checkpoint, checkpoint_dir, partial=True,
                                            fallback=restore_fallback)
        if not path:  # every checkpoint deleted since the check above
            checkpoint_dir_lib.require_latest_checkpoint(checkpoint_dir)
    if use_ema:
        state.ema.copy_to(state.model.trainable_variables)
    return InferenceModel(state.model, preprocessing, record.dataset_info(), int(state.step),
                          path, record, use_ema)


# --- image files -------------------------------------------------------------

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
                   log: Optional[Log] = print) -> tf.Tensor:
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


def load_image(path: str, image_shape: Sequence[int], log: Optional[Log] = print) -> np.ndarray:
    """An image file as uint8 [H, W, C] of `image_shape` (the dataset's native shape)."""
    height, width, channels = image_shape
    image = match_channels(read_image(path), channels, path, log)
    return fit_size(image, height, width).numpy()


def load_images(paths: Sequence[str], image_shape: Sequence[int],
                log: Optional[Log] = print) -> np.ndarray:
    """Image files as one uint8 [N, H, W, C] batch (see `load_image`)."""
    if not paths:
        raise DataError("no image files given: pass one or more PNG or JPEG paths.")
    return np.stack([load_image(path, image_shape, log) for path in paths])
