"""CIFAR-10 in its official binary layout (`cifar-10-binary.tar.gz`).

Each record is 3,073 bytes: one label byte, then 3,072 pixel bytes (1,024 red,
1,024 green, 1,024 blue, each a 32x32 row-major plane). Records are read with
`tf.data.FixedLengthRecordDataset`, decoded in blocks and cached in memory as
uint8 (50,000 training images are 154 MB).
"""

import os
from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from convnet.data import download
from convnet.data.info import CIFAR10, DatasetInfo
from convnet.errors import DataError

HEIGHT, WIDTH, CHANNELS = 32, 32, 3
LABEL_BYTES = 1
IMAGE_BYTES = HEIGHT * WIDTH * CHANNELS
RECORD_BYTES = LABEL_BYTES + IMAGE_BYTES  # 3,073

SPLIT_FILES: Dict[str, List[str]] = {
    "train": [f"data_batch_{i}.bin" for i in range(1, 6)],
    "test": ["test_batch.bin"],
}
ARCHIVE_DIRNAME = "cifar-10-batches-bin"

# Records decoded together; decoding a block is much cheaper than one record at a time.
_DECODE_BLOCK = 1000

_HOW_TO_GET = (
    "Download {url} (MD5 {md5}) and extract it so that the directory holds "
    "data_batch_1.bin ... data_batch_5.bin and test_batch.bin, then pass that directory "
    "as --data_dir; or rerun with --download to let convnet fetch it.")


def _has_cifar_files(path: str) -> bool:
    return any(os.path.exists(os.path.join(path, name))
               for names in SPLIT_FILES.values() for name in names)


def resolve_data_dir(data_dir: str, allow_download: bool = True,
                     url: str = download.CIFAR10_URL, md5: str = download.CIFAR10_MD5) -> str:
    """Returns the directory holding the .bin files, downloading them if allowed.

    `data_dir` may be the `cifar-10-batches-bin` directory itself or its parent
    (the tutorial's `--data_dir=/tmp/cifar10_data`).
    """
    if not data_dir:
        raise DataError("--data_dir is empty: pass the directory holding the CIFAR-10 .bin files.")
    data_dir = os.path.expanduser(data_dir)
    for candidate in (data_dir, os.path.join(data_dir, ARCHIVE_DIRNAME)):
        if os.path.isdir(candidate) and _has_cifar_files(candidate):
            return candidate
    if os.path.basename(os.path.normpath(data_dir)) == ARCHIVE_DIRNAME:
        target = os.path.normpath(data_dir)
    else:
        target = os.path.join(data_dir, ARCHIVE_DIRNAME)
    how = _HOW_TO_GET.format(url=url, md5=md5)
    if not allow_download:
        state = "is empty" if os.path.isdir(data_dir) else "does not exist"
        raise DataError(f"CIFAR-10 data not found: {data_dir} {state}. {how}")
    download.download_and_extract(url, md5, archive_member=ARCHIVE_DIRNAME, target_dir=target,
                                  how_to_get=how)
    return target


def check_files(files: Sequence[str], num_classes: int = 10) -> int:
    """Checks that every file exists and holds whole records with valid labels.

    Returns:
      The total number of records.

    Raises:
      DataError naming the file: missing, empty, truncated (size not a multiple
      of 3,073 bytes) or with labels outside [0, num_classes) (not CIFAR data).
    """
    total = 0
    for path in files:
        if not os.path.isfile(path):
            raise DataError(f"CIFAR-10 file missing: {path}. Expected {', '.join(SPLIT_FILES['train'])}"
                            f" and test_batch.bin in {os.path.dirname(path)}.")
        size = os.path.getsize(path)
        if size == 0 or size % RECORD_BYTES:
            raise DataError(
                f"{path} is {size:,} bytes, not a whole number of {RECORD_BYTES:,}-byte CIFAR-10 "
                f"records ({size // RECORD_BYTES:,} records and {size % RECORD_BYTES:,} bytes over): "
                f"the file is truncated or not CIFAR-10 binary data. Download it again.")
        records = np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, RECORD_BYTES)
        max_label = int(records[:, 0].max())
        if max_label >= num_classes:
            raise DataError(f"{path} holds a label byte of {max_label}, but CIFAR-10 labels are "
                            f"0..{num_classes - 1}: this is not CIFAR-10 binary data.")
        total += size // RECORD_BYTES
    return total


def _decode_block(records: tf.Tensor):
    """[n] string records -> (uint8 [n, 32, 32, 3], int32 [n])."""
    raw = tf.io.decode_raw(records, tf.uint8)
    labels = tf.cast(raw[:, 0], tf.int32)
    images = tf.reshape(raw[:, LABEL_BYTES:], [-1, CHANNELS, HEIGHT, WIDTH])
    return tf.transpose(images, [0, 2, 3, 1]), labels


class CifarBinarySource:
    """CIFAR-10 binary files as a source of (uint8 [32,32,3], int32) examples."""

    def __init__(self, data_dir: str, allow_download: bool = True):
        self.data_dir = resolve_data_dir(data_dir, allow_download)
        self._counts: Dict[str, int] = {}
        self.info: DatasetInfo = CIFAR10

    def files(self, split: str) -> List[str]:
        if split not in SPLIT_FILES:
            raise ValueError(f"unknown split {split!r}: choose from {sorted(SPLIT_FILES)}")
        return [os.path.join(self.data_dir, name) for name in SPLIT_FILES[split]]

    def num_examples(self, split: str) -> int:
        if split not in self._counts:
            self._counts[split] = check_files(self.files(split), self.info.num_classes)
        return self._counts[split]

    def dataset(self, split: str) -> tf.data.Dataset:
        """All examples of `split` in file order, decoded and cached in memory."""
        self.num_examples(split)  # validates the files before TensorFlow reads them
        records = tf.data.FixedLengthRecordDataset(self.files(split), RECORD_BYTES)
        return (records.batch(_DECODE_BLOCK)
                .map(_decode_block, num_parallel_calls=tf.data.AUTOTUNE)
                .unbatch()
                .cache())
