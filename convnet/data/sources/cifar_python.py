"""CIFAR-10 and CIFAR-100 in their official python layout (`cifar-1*0-python.tar.gz`).

Each file is a pickled dict (written by Python 2; keys read as bytes): b'data'
is uint8 [N, 3072], rows laid out like the binary records' pixels (red, green,
blue planes of 32x32); the labels are N ints under b'labels' (CIFAR-10) or
b'fine_labels' and b'coarse_labels' (CIFAR-100). Files are unpickled with
`safe_pickle.load`, which runs no code from the file. `batches.meta` / `meta`
(the class names) are not needed: DatasetInfo holds them.
"""

import math
from typing import Any

import numpy as np

from convnet.data.info import DatasetInfo
from convnet.data.sources import download, layout, safe_pickle
from convnet.data.sources.cifar_binary import planes_to_images
from convnet.data.sources.in_memory import InMemorySource
from convnet.runtime import console
from convnet.runtime.errors import DataError

CIFAR10_PYTHON = layout.FileLayout(
    dataset="cifar10", title="CIFAR-10", file_format="python", dirname="cifar-10-batches-py",
    split_files={"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
    downloads={"cifar-10-python.tar.gz": (download.CIFAR10_PYTHON_URL,
                                          download.CIFAR10_PYTHON_MD5)})
CIFAR100_PYTHON = layout.FileLayout(
    dataset="cifar100", title="CIFAR-100", file_format="python", dirname="cifar-100-python",
    split_files={"train": ("train",), "test": ("test",)},
    downloads={"cifar-100-python.tar.gz": (download.CIFAR100_PYTHON_URL,
                                           download.CIFAR100_PYTHON_MD5)})
LAYOUTS: dict[str, layout.FileLayout] = layout.register(CIFAR10_PYTHON, CIFAR100_PYTHON)

# The dict key holding each label mode's labels.
LABEL_KEYS: dict[str, dict[str, str]] = {
    "cifar10": {"fine": "labels"},
    "cifar100": {"fine": "fine_labels", "coarse": "coarse_labels"},
}


def _field(batch: dict[Any, Any], key: str, path: str, *, how_to_replace: str) -> Any:
    """batch[b'key'] (as Python 2 wrote it) or batch['key'] (as Python 3 writes it)."""
    for candidate in (key.encode(), key):
        if candidate in batch:
            return batch[candidate]
    raise DataError(f"{path} has no {key!r} entry (it has {sorted(map(repr, batch))}): "
                    f"this is not a CIFAR python file. {how_to_replace}")


def read_batch(path: str, file_layout: layout.FileLayout, info: DatasetInfo,
               *, label_mode: str = "fine") -> tuple[np.ndarray, np.ndarray]:
    """Reads one pickled batch file.

    Returns:
      (uint8 [N, C*H*W] channel-planar pixel rows, int32 [N] labels of `label_mode`).

    Raises:
      DataError naming the file: missing, not a safe pickle of a dict, pixel
      data of the wrong type or row size, label count or range wrong.
    """
    file_layout.check_present(path)
    how_to_replace = file_layout.how_to_replace(path)
    batch = safe_pickle.load(path, how_to_replace=how_to_replace)
    if not isinstance(batch, dict):
        raise DataError(f"{path} holds a pickled {type(batch).__name__}, not the dict of a "
                        f"{file_layout.description} file. {how_to_replace}")
    pixels = _field(batch, "data", path, how_to_replace=how_to_replace)
    row_bytes = math.prod(info.image_shape)
    if (not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 2
            or pixels.shape[1] != row_bytes):
        described = (f"{pixels.dtype} {list(pixels.shape)} array" if isinstance(pixels, np.ndarray)
                     else type(pixels).__name__)
        raise DataError(f"{path}: 'data' is a {described}, expected uint8 [N, {row_bytes}] "
                        f"({file_layout.description}); the file is corrupt or not CIFAR. "
                        f"{how_to_replace}")
    key = LABEL_KEYS[file_layout.dataset][label_mode]
    try:
        labels = np.asarray(_field(batch, key, path, how_to_replace=how_to_replace), dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise DataError(f"{path}: {key!r} is not a list of integer labels ({e}). "
                        f"{how_to_replace}") from e
    if labels.shape != (len(pixels),):
        raise DataError(f"{path} holds {len(pixels):,} images but {key!r} has shape "
                        f"{list(labels.shape)}: the file is corrupt. {how_to_replace}")
    file_layout.check_labels(path, labels, info.num_classes, what=key.rstrip("s"))
    return pixels, labels.astype(np.int32)


class CifarPythonSource(InMemorySource):
    """CIFAR-10 or CIFAR-100 python files as a source of (uint8 [32, 32, 3], int32) examples.

    Args:
      data_dir: the archive's directory (`cifar-10-batches-py`, `cifar-100-python`) or its parent.
      allow_download: fetch the official archive when the files are absent.
      dataset: 'cifar10' (the default) or 'cifar100'.
      label_mode: 'fine' or (CIFAR-100 only) 'coarse'.
      located: see FileSource.
    """

    LAYOUTS = LAYOUTS
    FORMAT = "CIFAR python"

    def _read(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        files = self.files(split)
        batches = []
        with console.Progress(f"reading the {self.layout.description} {split} split",
                              len(files), unit="files") as progress:
            for path in files:
                batches.append(read_batch(path, self.layout, self.info, label_mode=self.label_mode))
                progress.update()
        pixels = np.concatenate([pixels for pixels, _ in batches])
        labels = np.concatenate([labels for _, labels in batches])
        return planes_to_images(pixels, self.info.image_shape).numpy(), labels
