"""MNIST and Fashion-MNIST in their official IDX files, gzipped or not.

An IDX file is a big-endian header, then the data: a 4-byte magic number (two
zero bytes, the type code 0x08 for unsigned bytes, the number of dimensions),
one int32 size per dimension, then the product of the sizes in bytes, row-major.
Images files have magic 0x00000803 and sizes [N, 28, 28]; labels files
0x00000801 and [N]. A file may be stored as is or gzipped (`*.gz`, as
downloaded); gzip is recognised by its content. Both datasets use the same file
names, so keep each in its own directory (`mnist/`, `fashion_mnist/`).
"""

import gzip
import math
import zlib
from collections.abc import Mapping

import numpy as np

from convnet.data.sources import download, layout
from convnet.data.sources.in_memory import InMemorySource
from convnet.runtime.errors import DataError

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_MAGIC_BYTES = 4
_SIZE_BYTES = 4
_GZIP_MAGIC = b"\x1f\x8b"

SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _idx_layout(dataset: str, title: str, base_url: str,
                *, md5s: Mapping[str, str]) -> layout.FileLayout:
    return layout.FileLayout(
        dataset=dataset, title=title, file_format="IDX", dirname=dataset, split_files=SPLIT_FILES,
        downloads={name: (base_url + name, md5) for name, md5 in md5s.items()},
        archive=False, suffixes=("", ".gz"))


MNIST_IDX = _idx_layout("mnist", "MNIST", download.MNIST_URL, md5s=download.MNIST_MD5S)
FASHION_MNIST_IDX = _idx_layout("fashion_mnist", "Fashion-MNIST", download.FASHION_MNIST_URL,
                                md5s=download.FASHION_MNIST_MD5S)
LAYOUTS: dict[str, layout.FileLayout] = layout.register(MNIST_IDX, FASHION_MNIST_IDX)


def _read_bytes(path: str, how_to_replace: str) -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic."""
    with open(path, "rb") as f:
        content = f.read()
    if not content.startswith(_GZIP_MAGIC):
        return content
    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is a damaged gzip file ({e}): the download was truncated or "
                        f"corrupted. {how_to_replace}") from e


def read_idx(path: str, magic: int, how_to_replace: str = "Download it again.") -> np.ndarray:
    """Reads an unsigned-byte IDX file whose magic number must be `magic`.

    `how_to_replace` ends the errors (FileLayout.how_to_replace says where the
    official file is).

    Returns:
      uint8 array of the sizes the header states.

    Raises:
      DataError naming the file: wrong magic number (not this kind of IDX
      file), header cut short, or data size not the product of the sizes.
    """
    content = _read_bytes(path, how_to_replace)
    ndim = magic & 0xFF
    header_bytes = _MAGIC_BYTES + _SIZE_BYTES * ndim
    found = int.from_bytes(content[:_MAGIC_BYTES], "big")
    if len(content) < _MAGIC_BYTES or found != magic:
        raise DataError(f"{path} starts with magic number 0x{found:08x}, expected 0x{magic:08x} "
                        f"(unsigned bytes, {ndim} dimension{'s' * (ndim > 1)}): it is not an IDX "
                        f"{'images' if magic == IMAGES_MAGIC else 'labels'} file. "
                        f"{how_to_replace}")
    if len(content) < header_bytes:
        raise DataError(f"{path} is {len(content)} bytes, shorter than its {header_bytes}-byte "
                        f"IDX header: the file is truncated. {how_to_replace}")
    shape = tuple(int(size) for size in np.frombuffer(content, ">i4", ndim, _MAGIC_BYTES))
    data_bytes = len(content) - header_bytes
    if min(shape) < 0 or data_bytes != math.prod(shape):
        raise DataError(f"{path} holds {data_bytes:,} bytes after its header, but the header's "
                        f"sizes {list(shape)} need {math.prod(shape):,}: the file is truncated "
                        f"or corrupt. {how_to_replace}")
    return np.frombuffer(content, np.uint8, offset=header_bytes).reshape(shape)


class IdxSource(InMemorySource):
    """MNIST or Fashion-MNIST IDX files as a source of (uint8 [28, 28, 1], int32) examples.

    Args:
      data_dir: the directory holding the four files (gzipped or not), or its
        parent holding it as `mnist/` or `fashion_mnist/`.
      allow_download: fetch the official files when absent.
      dataset: 'mnist' (the default) or 'fashion_mnist'.
      label_mode: 'fine' (the only labels these datasets have).
      located: see FileSource.

    `files(split)` is [images file, labels file].
    """

    LAYOUTS = LAYOUTS
    FORMAT = "IDX"

    def _read(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        images_path, labels_path = self.files(split)
        for path in (images_path, labels_path):
            self.layout.check_present(path)
        images = read_idx(images_path, IMAGES_MAGIC, self.layout.how_to_replace(images_path))
        labels = read_idx(labels_path, LABELS_MAGIC, self.layout.how_to_replace(labels_path))
        height, width, channels = self.info.image_shape
        if images.shape[1:] != (height, width):
            raise DataError(f"{images_path} holds {images.shape[1]}x{images.shape[2]} images, "
                            f"but {self.layout.description} images are {height}x{width}. "
                            f"{self.layout.how_to_replace(images_path)}")
        if len(images) != len(labels):
            raise DataError(f"{images_path} holds {len(images):,} images but {labels_path} holds "
                            f"{len(labels):,} labels: the files do not belong together, or one "
                            f"is damaged. {self.layout.how_to_replace(images_path)}")
        self.layout.check_labels(labels_path, labels, self.info.num_classes)
        return images.reshape(-1, height, width, channels), labels.astype(np.int32)
