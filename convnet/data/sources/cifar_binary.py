"""CIFAR-10 and CIFAR-100 in their official binary layout (`cifar-1*0-binary.tar.gz`).

Each record is its label bytes, then 3,072 pixel bytes (1,024 red, 1,024 green,
1,024 blue, each a 32x32 row-major plane). CIFAR-10 records have one label byte
(3,073 bytes a record); CIFAR-100 records have two, the coarse label (0-19)
then the fine label (0-99) (3,074 bytes). Records are read with
`tf.data.FixedLengthRecordDataset` and decoded in blocks to uint8 (50,000 training
images are 154 MB). They are not cached here: the training pipeline caches the
whole split itself, and a cache that a reader leaves early (an evaluation of
`--num_examples`, a held-out part of train) would be thrown away with a warning.
"""

import dataclasses
import math
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from convnet.data.info import dataset_info
from convnet.data.sources import download, layout
from convnet.data.sources.base import FileSource
from convnet.runtime.errors import DataError

CIFAR10_BINARY = layout.FileLayout(
    dataset="cifar10", title="CIFAR-10", file_format="binary", dirname="cifar-10-batches-bin",
    split_files={"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
                 "test": ("test_batch.bin",)},
    downloads={"cifar-10-binary.tar.gz": (download.CIFAR10_URL, download.CIFAR10_MD5)})
CIFAR100_BINARY = layout.FileLayout(
    dataset="cifar100", title="CIFAR-100", file_format="binary", dirname="cifar-100-binary",
    split_files={"train": ("train.bin",), "test": ("test.bin",)},
    downloads={"cifar-100-binary.tar.gz": (download.CIFAR100_URL, download.CIFAR100_MD5)})
LAYOUTS: dict[str, layout.FileLayout] = layout.register(CIFAR10_BINARY, CIFAR100_BINARY)

# The label bytes that start each record, in order, named by label mode.
RECORD_LABELS: dict[str, tuple[str, ...]] = {"cifar10": ("fine",), "cifar100": ("coarse", "fine")}

# Records decoded together; decoding a block is much cheaper than one record at a time.
_DECODE_BLOCK = 1000


def record_bytes(dataset: str = "cifar10") -> int:
    """Bytes of one record: the label bytes plus height * width * channels pixel bytes."""
    return len(RECORD_LABELS[dataset]) + math.prod(dataset_info(dataset).image_shape)


def planes_to_images(pixels: tf.Tensor, image_shape: Sequence[int]) -> tf.Tensor:
    """uint8 [n, C*H*W] channel-planar rows (all red, then green, ...) -> uint8 [n, H, W, C].

    The planes are stacked on a new last axis rather than transposed: oneDNN's uint8
    Transpose logs an E-level "oneDNN supports DT_UINT8 only on platforms with AVX-512"
    line at every start on some AVX-512 CPUs (and falls back to Eigen anyway).
    """
    height, width, channels = image_shape
    planes = tf.reshape(pixels, [-1, channels, height, width])
    return tf.stack(tf.unstack(planes, num=channels, axis=1), axis=-1)


def resolve_data_dir(data_dir: str, allow_download: bool = True, url: str | None = None,
                     *, md5: str | None = None, dataset: str = "cifar10") -> str:
    """Returns the directory holding the .bin files of `dataset`, downloading them if allowed.

    `data_dir` may be the archive's directory (`cifar-10-batches-bin`,
    `cifar-100-binary`) or its parent. `url` and `md5` replace the official
    archive's (tests serve their own).
    """
    file_layout = LAYOUTS[dataset]
    if url or md5:
        (official_url, official_md5), = file_layout.downloads.values()
        url, md5 = url or official_url, md5 or official_md5
        file_layout = dataclasses.replace(file_layout,
                                          downloads={os.path.basename(url): (url, md5)})
    return layout.resolve_data_dir(data_dir, file_layout, allow_download)


def check_files(files: Sequence[str], dataset: str = "cifar10") -> int:
    """Checks that every file exists and holds whole records with valid labels.

    Returns:
      The total number of records.

    Raises:
      DataError naming the file: missing, empty, truncated (size not a multiple
      of the record size) or with labels out of range (not CIFAR data).
    """
    file_layout, size_of_record = LAYOUTS[dataset], record_bytes(dataset)
    label_modes = RECORD_LABELS[dataset]
    total = 0
    for path in files:
        file_layout.check_present(path)
        size = os.path.getsize(path)
        if size == 0 or size % size_of_record:
            raise DataError(
                f"{path} is {size:,} bytes, not a whole number of {size_of_record:,}-byte "
                f"{file_layout.description} records ({size // size_of_record:,} records and "
                f"{size % size_of_record:,} bytes over): the file is truncated or not "
                f"{file_layout.description} data. {file_layout.how_to_replace(path)}")
        records = np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, size_of_record)
        for column, label_mode in enumerate(label_modes):
            what = f"{label_mode} label byte" if len(label_modes) > 1 else "label byte"
            file_layout.check_labels(path, records[:, column],
                                     dataset_info(dataset, label_mode).num_classes, what=what)
        total += size // size_of_record
    return total


def _decode_block(records: tf.Tensor, label_column: int, label_bytes: int,
                  *, image_shape: Sequence[int]):
    """[n] string records -> (uint8 [n, H, W, C], int32 [n] labels from `label_column`)."""
    raw = tf.io.decode_raw(records, tf.uint8)
    labels = tf.cast(raw[:, label_column], tf.int32)
    return planes_to_images(raw[:, label_bytes:], image_shape), labels


class CifarBinarySource(FileSource):
    """CIFAR-10 or CIFAR-100 binary files as a source of (uint8 [32, 32, 3], int32) examples.

    Args:
      data_dir: the archive's directory or its parent.
      allow_download: fetch the official archive when the files are absent.
      dataset: 'cifar10' (the default) or 'cifar100'.
      label_mode: 'fine' (CIFAR-100: 100 classes) or 'coarse' (CIFAR-100 only: 20 superclasses).
      located: see FileSource.
    """

    LAYOUTS = LAYOUTS
    FORMAT = "CIFAR binary"

    def num_examples(self, split: str) -> int:
        """The number of records of `split`, once its files are checked (`check_files`)."""
        return self._once(split, lambda: check_files(self.files(split), self.layout.dataset))

    def dataset(self, split: str) -> tf.data.Dataset:
        """All examples of `split` in file order, decoded (each iteration reads the files)."""
        self.num_examples(split)  # validates the files before TensorFlow reads them
        record_labels = RECORD_LABELS[self.layout.dataset]
        label_column, label_bytes = record_labels.index(self.label_mode), len(record_labels)
        records = tf.data.FixedLengthRecordDataset(self.files(split),
                                                   record_bytes(self.layout.dataset))
        return (records.batch(_DECODE_BLOCK)
                .map(lambda block: _decode_block(block, label_column, label_bytes,
                                                 image_shape=self.info.image_shape),
                     num_parallel_calls=tf.data.AUTOTUNE)
                .unbatch())
