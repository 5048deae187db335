"""Sources whose splits are read whole into numpy arrays (CIFAR python files, IDX files)."""

from typing import Dict, Tuple

import numpy as np
import tensorflow as tf

from convnet.data import layout
from convnet.data.info import DatasetInfo, dataset_info


class InMemorySource:
    """Base of sources that decode a whole split at once.

    Subclasses set `LAYOUTS` ({dataset: FileLayout}) and `FORMAT` (a name for
    errors) and define `_read(split)`; this class finds (or downloads) the files,
    reads each split once, keeps its arrays, and serves them with `from_tensor_slices`.
    """

    LAYOUTS: Dict[str, "layout.FileLayout"] = {}
    FORMAT = ""

    def __init__(self, data_dir: str, allow_download: bool, dataset: str, label_mode: str):
        if dataset not in self.LAYOUTS:
            raise ValueError(f"{self.FORMAT} files hold {' or '.join(self.LAYOUTS)}, "
                             f"not {dataset!r}")
        self.info: DatasetInfo = dataset_info(dataset, label_mode)
        self.label_mode = label_mode
        self.layout = self.LAYOUTS[dataset]
        self.data_dir = layout.resolve_data_dir(data_dir, self.layout, allow_download)
        self._arrays: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}

    def _read(self, split: str) -> Tuple[np.ndarray, np.ndarray]:
        """Reads and checks `split`: (uint8 [N, H, W, C] images, int32 [N] labels)."""
        raise NotImplementedError

    def arrays(self, split: str) -> Tuple[np.ndarray, np.ndarray]:
        """(uint8 [N, H, W, C] images, int32 [N] labels) of `split`, read on first use."""
        if split not in self._arrays:
            self._arrays[split] = self._read(split)
        return self._arrays[split]

    def num_examples(self, split: str) -> int:
        return len(self.arrays(split)[1])

    def dataset(self, split: str) -> tf.data.Dataset:
        """All examples of `split` in file order: (uint8 [H, W, C], int32 [])."""
        return tf.data.Dataset.from_tensor_slices(self.arrays(split))
