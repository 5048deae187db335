"""Sources whose splits are read whole into numpy arrays (CIFAR python files, IDX files)."""

import abc

import numpy as np
import tensorflow as tf

from convnet.data.sources.base import FileSource


class InMemorySource(FileSource):
    """Base of the readers that decode a whole split at once.

    Subclasses set `LAYOUTS` and `FORMAT` (see FileSource) and define
    `_read(split)`; this class reads each split once, keeps its arrays, and
    serves them with `from_tensor_slices`.
    """

    @abc.abstractmethod
    def _read(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Reads and checks `split`: (uint8 [N, H, W, C] images, int32 [N] labels)."""

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 [N, H, W, C] images, int32 [N] labels) of `split`, read on first use."""
        return self._once(split, lambda: self._read(split))

    def num_examples(self, split: str) -> int:
        return len(self.arrays(split)[1])

    def dataset(self, split: str) -> tf.data.Dataset:
        """All examples of `split` in file order: (uint8 [H, W, C], int32 [])."""
        return tf.data.Dataset.from_tensor_slices(self.arrays(split))
