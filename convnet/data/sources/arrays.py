"""Your own data as numpy arrays: `ArraySource(train=(images, labels), test=(images, labels))`.

Images are uint8 [N, H, W, C] (C = 1 or 3), labels integers in [0, num_classes) of shape [N],
as every source gives them (docs/design.md, section 3). Any split names work; training reads 'train'
and evaluation 'test' (or `--eval_data`). Everything downstream is the same as for the
built-in datasets: every example counted once, channel statistics of 'train', the run's
augmentation, and a resumed run continuing the same data stream (the order and distortions are
functions of the seed and the position).
"""

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from convnet.data.info import DatasetInfo
from convnet.data.sources.base import Source
from convnet.runtime.errors import DataError


class ArraySource(Source):
    """Examples held in numpy arrays, split by split.

    Args:
      name: the dataset's name (run.json and the logs use it).
      class_names: one name per class (predictions and the per-class table show them);
        default: the labels as numbers.
      num_classes: the number of classes; default: len(class_names), else the largest label
        + 1.
      **splits: split name -> (uint8 [N, H, W, C] images, int [N] labels).

    Raises:
      DataError: arrays of the wrong type, rank or shape, labels out of range, or splits whose
        images differ in shape; the message names the split.
    """

    def __init__(self, name: str = "arrays", class_names: Sequence[str] | None = None,
                 num_classes: int | None = None, **splits):
        if not splits:
            raise DataError("ArraySource needs at least one split, e.g. "
                            "ArraySource(train=(images, labels), test=(images, labels))")
        self._arrays = {split: _checked(split, *pair) for split, pair in splits.items()}
        shapes = {images.shape[1:] for images, _ in self._arrays.values()}
        if len(shapes) > 1:
            raise DataError(f"the splits' images differ in shape ({sorted(shapes)}): every "
                            f"split of a dataset must hold images of one [H, W, C] shape")
        largest = max((int(labels.max()) for _, labels in self._arrays.values() if len(labels)),
                       default=0)
        if num_classes is None:
            num_classes = len(class_names) if class_names else largest + 1
        if class_names is not None and len(class_names) != num_classes:
            raise DataError(f"{len(class_names)} class names for {num_classes} classes")
        if largest >= num_classes:
            raise DataError(f"a label is {largest}, but there are {num_classes} classes "
                            f"(labels must be in [0, {num_classes}))")
        if num_classes < 2:
            raise DataError(f"a classifier needs at least 2 classes, got {num_classes}")
        height, width, channels = shapes.pop()
        self.info = DatasetInfo(name, (height, width, channels), num_classes,
                                tuple(class_names) if class_names else None,
                                {split: len(labels) for split, (_, labels) in
                                 self._arrays.items()})

    def num_examples(self, split: str) -> int:
        return len(self._split(split)[1])

    def dataset(self, split: str) -> tf.data.Dataset:
        """Every example of `split` in array order: (uint8 [H, W, C], int32 [])."""
        return tf.data.Dataset.from_tensor_slices(self._split(split))

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 [N, H, W, C], int32 [N]) of `split`, as given."""
        return self._split(split)

    def _split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        if split not in self._arrays:
            raise ValueError(f"unknown split {split!r}: this ArraySource holds "
                             f"{', '.join(sorted(self._arrays))}")
        return self._arrays[split]


def _checked(split: str, images, labels) -> tuple[np.ndarray, np.ndarray]:
    """The split's arrays as uint8 [N, H, W, C] and int32 [N], or DataError saying what is
    wrong with them."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8:
        raise DataError(f"split {split!r}: images are {images.dtype}, not uint8 in [0, 255] "
                        f"(convert them, e.g. with (x * 255).round().astype(np.uint8))")
    if images.ndim == 3:
        raise DataError(f"split {split!r}: images of shape {images.shape} have no channel "
                        f"axis: pass [N, H, W, C] (images[..., None] for grey ones)")
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise DataError(f"split {split!r}: images of shape {images.shape} are not "
                        f"[N, H, W, C] with 1 or 3 channels")
    if not np.issubdtype(labels.dtype, np.integer) or labels.ndim != 1:
        raise DataError(f"split {split!r}: labels must be integers of shape [N], got "
                        f"{labels.dtype} {labels.shape}")
    if len(labels) != len(images):
        raise DataError(f"split {split!r}: {len(images)} images but {len(labels)} labels")
    if len(labels) and labels.min() < 0:
        raise DataError(f"split {split!r}: a label is {labels.min()}: labels start at 0")
    return images, labels.astype(np.int32)
