"""A trained model ready for inference.

`load(train_dir)` reads `run.json`, builds the model, restores the latest (or a
given) checkpoint and, as evaluation does, copies the EMA weights into the
model by default. The result maps uint8 images at the dataset's native size
(e.g. [N, 32, 32, 3] for CIFAR) to logits, through the run's evaluation
preprocessing (central crop to the model's input size, normalization). Image
files become such inputs through `convnet.serving.image_files`.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from convnet.checkpoints import files as checkpoint_files
from convnet.checkpoints import restore, run_record
from convnet.checkpoints import state as state_lib
from convnet.data import info as data_info
from convnet.data import preprocess
from convnet.evaluation import tta
from convnet.runtime.options import option


@dataclasses.dataclass
class InferenceConfig:
    """The checkpoint to load and what to take from it (predict, export)."""
    checkpoint_dir: str = option("/tmp/cifar10_train", "Training directory (run.json and "
                                 "checkpoints) to predict with or export.")
    checkpoint: str | None = option(None, "A checkpoint prefix such as DIR/ckpt-2000 "
                                       "(default: the latest in --checkpoint_dir).")
    top_k: int = option(5, "Classes per image, most probable first: listed by predict, "
                        "returned by the export's serving signature.", lower_bound=1)
    use_ema: bool = option(True, "Use the moving averages of the weights (--nouse_ema: the "
                           "raw weights; always the raw weights for a run trained with "
                           "--moving_average_decay=0).")
    restore_fallback: bool = restore.fallback_option()


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
                 info: data_info.DatasetInfo, *, step: int, checkpoint_path: str,
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
    def image_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of the uint8 images `logits` takes."""
        return tuple(self.info.image_shape)

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    @property
    def class_names(self) -> list[str]:
        return [self.info.class_name(label) for label in range(self.info.num_classes)]

    def preprocess(self, images: tf.Tensor) -> tf.Tensor:
        """uint8 [N, H, W, C] -> float32 [N, size, size, C], each by `Preprocessing.evaluate`."""
        size, channels = self.preprocessing.image_size, self.image_shape[-1]
        return tf.map_fn(self.preprocessing.evaluate, images,
                         fn_output_signature=tf.TensorSpec([size, size, channels], tf.float32))

    def logits(self, images: tf.Tensor, tta_mode: str = "none") -> tf.Tensor:
        """uint8 [N, H, W, C] native-size images -> float32 [N, num_classes] logits, averaged
        over the views of test-time augmentation `tta_mode` (convnet.evaluation.tta)."""
        return tf.cast(tta.tta_logits(lambda x: self.model(x, training=False),
                                      self.preprocess(images), tta_mode), tf.float32)

    def probabilities(self, images) -> np.ndarray:
        """uint8 [N, H, W, C] -> float32 [N, num_classes] softmax, computed in one compiled call."""
        images = tf.convert_to_tensor(images, tf.uint8)
        return tf.nn.softmax(self._compiled_logits(images)).numpy()


def load(checkpoint_dir: str, checkpoint_path: str | None = None,
         use_ema: bool = True, *, restore_fallback: bool = True) -> InferenceModel:
    """Restores a train_dir's latest checkpoint (or `checkpoint_path`) for inference.

    Args:
      checkpoint_dir: a train_dir written by `convnet.train` (run.json + checkpoints).
      checkpoint_path: a checkpoint prefix such as `train_dir/ckpt-2000`; default: the latest.
      use_ema: copy the moving averages of the weights into the model (as `convnet.eval`);
        not for a run trained with `--moving_average_decay=0` (its raw weights are used).
      restore_fallback: when the latest checkpoint is damaged, skip it (moving its
        files aside) and restore the newest older one that reads.

    Raises:
      CheckpointError: no run.json, no checkpoint, or one of another model.
    """
    record = run_record.require(checkpoint_dir)
    if not checkpoint_path:
        checkpoint_files.require_latest_checkpoint(checkpoint_dir)  # say so before building
    state, preprocessing = state_lib.for_reading(record)
    checkpoint = state.checkpoint
    if checkpoint_path:
        restore.restore(checkpoint, checkpoint_path, partial=True)
        path = checkpoint_path
    else:
        path = restore.restore_latest(checkpoint, checkpoint_dir, partial=True,
                                            fallback=restore_fallback)
        if not path:  # every checkpoint deleted since the check above
            checkpoint_files.require_latest_checkpoint(checkpoint_dir)
    use_ema = use_ema and record.kept_weight_average()
    if use_ema:
        state.ema.copy_to(state.model.trainable_variables)
    return InferenceModel(state.model, preprocessing, record.dataset_info(), step=int(state.step),
                          checkpoint_path=path, record=record, use_ema=use_ema)
