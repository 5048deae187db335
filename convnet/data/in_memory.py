"""Sources whose splits are read whole into numpy arrays (CIFAR python files, IDX files)."""

from typing import Dict, Tuple

import numpy as np
import tensorflow as tf

from convnet.data.info import DatasetInfo


class InMemorySource:
    """Base of sources that decode a whole split at once.

    Subclasses set `info` and define `_read(split)`; this class reads each split
    once, keeps its arrays, and serves them with `from_tensor_slices`.
    """

    info: DatasetInfo

    def __init__(self):
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
