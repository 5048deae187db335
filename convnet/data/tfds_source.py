"""Any TensorFlow Datasets image-classification dataset as a source.

`tensorflow_datasets` is imported only when this source is used (it is slow to
import). Images and labels are taken through `as_supervised=True` and cast to
(uint8 [H, W, C], int32).
"""

from typing import Optional

import tensorflow as tf

from convnet.data.info import DatasetInfo
from convnet.data.source import Source
from convnet.errors import DataError


class TfdsSource(Source):
    """`tfds.load(name, split=..., data_dir=tfds_data_dir, as_supervised=True)`."""

    def __init__(self, name: str, data_dir: Optional[str] = None, allow_download: bool = True):
        import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
        self._tfds = tfds
        self.name, self.data_dir, self.allow_download = name, data_dir, allow_download
        try:
            builder = tfds.builder(name, data_dir=data_dir)
        except Exception as e:  # tfds raises DatasetNotFoundError and others
            raise DataError(f"tfds has no dataset {name!r} ({e}).") from e
        features = builder.info.features
        image_shape = tuple(features["image"].shape)
        label = features["label"]
        splits = {split: info.num_examples for split, info in builder.info.splits.items()}
        self.info = DatasetInfo(name=name, image_shape=image_shape, num_classes=label.num_classes,
                                class_names=tuple(label.names), num_examples=splits)

    def num_examples(self, split: str) -> int:
        return self.info.num_examples.get(split, 0)

    def dataset(self, split: str) -> tf.data.Dataset:
        try:
            ds = self._tfds.load(self.name, split=split, data_dir=self.data_dir,
                                 as_supervised=True, download=self.allow_download)
        except Exception as e:
            raise DataError(
                f"could not load tfds dataset {self.name!r} split {split!r} from "
                f"{self.data_dir or 'the default tfds directory'} ({e}). Prepare it with "
                f"`tfds build {self.name} --data_dir=...` on a machine with internet access, "
                f"or allow --download.") from e
        return ds.map(lambda image, label: (tf.cast(image, tf.uint8), tf.cast(label, tf.int32)),
                      num_parallel_calls=tf.data.AUTOTUNE)
