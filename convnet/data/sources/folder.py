"""Your own images in class folders: `--data_source=folder --data_dir=ROOT`.

The layout of `tf.keras.utils.image_dataset_from_directory`: one folder a class, its images
inside (PNG, JPEG, BMP or GIF; nested folders are searched), the class names the folder names in
sorted order, label i the i-th of them:

    ROOT/cat/001.png            ROOT/train/cat/001.png   ROOT/test/cat/900.png
    ROOT/dog/002.jpg     or     ROOT/train/dog/002.jpg   ROOT/test/dog/901.jpg

With `train/` and `test/` folders of the same classes those are the splits; otherwise the
images of each class are split: a shuffle of its sorted files (seed `split_seed`, by default
0 in every process, so that training and evaluation hold out the same files), the last
`test_fraction` of it the test split. Every image is decoded
once, when its split is first read, to uint8 [H, W, C] (C = 3, or 1 with `color_mode=grayscale`);
all images must have one size unless `image_size` is given (each is then resized to
image_size x image_size, bilinear, antialiased, as keras does), or `any_size` (each keeps its
own size, decoded as it is read: wrap the source in `AnySizeSource`, `--image_size`).
"""

import math
import os

import numpy as np
import tensorflow as tf

from convnet.data.info import DatasetInfo
from convnet.data.sources.base import Source
from convnet.runtime import host_memory
from convnet.runtime.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
COLOR_MODES = {"rgb": 3, "grayscale": 1}
# keras' default share of a single tree held out for validation.
TEST_FRACTION = 0.2
# A split whose decoded images take more than this share of the memory available streams.
HOLD_FRACTION = 0.5


class FolderSource(Source):
    """Images in class folders (see the module's docstring).

    Raises:
      DataError: `root` missing or holding no class folder, a class without images, train/
        and test/ with other classes, an image that does not decode, or images of several
        sizes without `image_size` or `any_size`; the message names the folder or file.
    """

    def __init__(self, root: str, image_size: int | None = None,
                 test_fraction: float = TEST_FRACTION, *, split_seed: int = 0,
                 color_mode: str = "rgb", any_size: bool = False):
        if color_mode not in COLOR_MODES:
            raise ValueError(f"unknown color_mode {color_mode!r}: choose from "
                             f"{', '.join(COLOR_MODES)}")
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
        if not os.path.isdir(root):
            raise DataError(f"--data_dir={root} is not a directory: pass the folder holding one "
                            f"folder of images a class (ROOT/cat/*.png, ROOT/dog/*.png), or "
                            f"train/ and test/ folders of them.")
        self.root, self.image_size, self.channels = root, image_size, COLOR_MODES[color_mode]
        split_dirs = {split: os.path.join(root, split) for split in ("train", "test")}
        if all(os.path.isdir(path) for path in split_dirs.values()):
            classes = {split: _class_dirs(path) for split, path in split_dirs.items()}
            if classes["train"] != classes["test"]:
                raise DataError(f"{root}: train/ holds the classes {classes['train']} but test/ "
                                f"holds {classes['test']}: give both the same class folders.")
            self.class_names = tuple(classes["train"])
            self._files = {split: _labelled_files(path, self.class_names)
                           for split, path in split_dirs.items()}
        else:
            self.class_names = tuple(_class_dirs(root))
            self._files = _split(_labelled_files(root, self.class_names), test_fraction,
                                 split_seed)
        if len(self.class_names) < 2:
            raise DataError(f"{root} holds {len(self.class_names)} class folder(s): a "
                            f"classifier needs at least 2 (one folder of images a class).")
        self.any_size = any_size and not image_size
        first = self._files["train"][0][0] if self._files["train"] else self._files["test"][0][0]
        if image_size:
            height, width = image_size, image_size
        elif self.any_size:
            height = width = None
        else:
            height, width = _decode(first, self.channels).shape[:2]
        self.info = DatasetInfo(os.path.basename(os.path.normpath(root)) or root,
                                (height, width, self.channels), len(self.class_names),
                                self.class_names,
                                {split: len(files) for split, files in self._files.items()})
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._streams: dict[str, bool] = {}

    def num_examples(self, split: str) -> int:
        return len(self._split_files(split))

    def dataset(self, split: str) -> tf.data.Dataset:
        """Every image of `split` in file order (class by class, sorted within one):
        (uint8 [H, W, C], int32 []). Decoded once into memory (`arrays`), or, with `any_size`
        or a split whose images would take more than HOLD_FRACTION of the memory available,
        each decoded when it is read (`streams`)."""
        if not self.streams(split):
            return tf.data.Dataset.from_tensor_slices(self.arrays(split))
        return self.read_shards(split, np.arange(self.num_examples(split))).map(
            lambda index, example: example)

    def streams(self, split: str) -> bool:
        """Whether `split` is decoded as it is read rather than held (see `dataset`); decided
        at the first call for `split`, from the memory then available, and kept."""
        if self.any_size:
            return True
        if split not in self._streams:
            available = host_memory.available_bytes()
            size = self.num_examples(split) * math.prod(self.info.image_shape)
            self._streams[split] = available is not None and size > HOLD_FRACTION * available
        return self._streams[split]

    def shard_sizes(self, split: str) -> list[int] | None:
        """When `split` streams, each image file is a shard of one example (a streamed run
        reads them in a new order each epoch); None when it is held in memory."""
        return [1] * self.num_examples(split) if self.streams(split) else None

    def read_shards(self, split: str, order, skip=0) -> tf.data.Dataset:
        """The images `order` (int [n], indices into `files(split)`) of `split`, decoded as
        they are read: (split index int64 [], (uint8 [H, W, C], int32 [])). `skip` is 0 (a
        shard is one image). A bad file stops the reading with the DataError of `arrays`."""
        del skip
        files = self._split_files(split)
        height, width, _ = self.info.image_shape

        def examples(indices):
            for index in indices:
                path, label = files[index]
                yield index, (self._read(path), label)

        return tf.data.Dataset.from_generator(
            examples, args=(tf.cast(order, tf.int64),), output_signature=(
                tf.TensorSpec([], tf.int64),
                (tf.TensorSpec([height, width, self.channels], tf.uint8),
                 tf.TensorSpec([], tf.int32))))

    def files(self, split: str) -> list[tuple[str, int]]:
        """(path, label) of every image of `split`, in reading order."""
        return list(self._split_files(split))

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 [N, H, W, C], int32 [N]) of `split`, decoded on first use (not with
        `any_size`: its images differ in size)."""
        if self.any_size:
            raise ValueError(f"the images of {self.root} keep their own sizes (any_size): "
                             f"read them with dataset(split)")
        if split not in self._arrays:
            height, width, _ = self.info.image_shape
            files = self._split_files(split)
            self._arrays[split] = (
                np.stack([self._read(path) for path, _ in files]) if files
                else np.zeros((0, height, width, self.channels), np.uint8),
                np.array([label for _, label in files], np.int32))
        return self._arrays[split]

    def _read(self, path: str) -> np.ndarray:
        """The image at `path` as the split holds it: decoded, resized with `image_size`,
        else of the folder's size (DataError otherwise) unless `any_size`."""
        image = _decode(path, self.channels)
        if self.image_size:
            return _resize(image, self.image_size)
        height, width, _ = self.info.image_shape
        if not self.any_size and image.shape[:2] != (height, width):
            raise DataError(f"{path} is {image.shape[0]}x{image.shape[1]}, but the "
                            f"images of {self.root} are {height}x{width}: resize "
                            f"every image to NxN with --folder_image_size=N, or "
                            f"keep their sizes with --image_size=N (random-resized "
                            f"crops to NxN in training, resize and central crop in "
                            f"evaluation).")
        return image

    def _split_files(self, split: str):
        if split not in self._files:
            raise ValueError(f"unknown split {split!r}: choose from train, test")
        return self._files[split]


def _class_dirs(root: str) -> list[str]:
    return sorted(name for name in os.listdir(root)
                  if os.path.isdir(os.path.join(root, name)) and not name.startswith("."))


def _labelled_files(root: str, class_names) -> list[tuple[str, int]]:
    """(path, label) of every image under each class folder of `root`, class by class, each
    class's files sorted."""
    found = []
    for label, name in enumerate(class_names):
        folder = os.path.join(root, name)
        files = sorted(os.path.join(directory, file)
                       for directory, _, files in os.walk(folder) for file in files
                       if file.lower().endswith(IMAGE_EXTENSIONS))
        if not files:
            raise DataError(f"{folder} holds no image ({', '.join(IMAGE_EXTENSIONS)}): put the "
                            f"class's images in it, or remove the folder.")
        found += [(path, label) for path in files]
    return found


def _split(files: list[tuple[str, int]], test_fraction: float, seed: int):
    """Each class's files shuffled by `seed`; its last `test_fraction` (at least one, when it
    has two or more) for 'test', the rest for 'train', both in file order."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    labels = sorted({label for _, label in files})
    for label in labels:
        mine = [item for item in files if item[1] == label]
        order = rng.permutation(len(mine))
        count = min(len(mine) - 1, max(1, round(test_fraction * len(mine)))) if len(mine) > 1 \
            else 0
        held = set(order[len(mine) - count:].tolist())
        test += [item for i, item in enumerate(mine) if i in held]
        train += [item for i, item in enumerate(mine) if i not in held]
    return {"train": train, "test": test}


def _decode(path: str, channels: int) -> np.ndarray:
    try:
        contents = tf.io.read_file(path)
        image = tf.io.decode_image(contents, channels=channels, expand_animations=False,
                                   dtype=tf.uint8)
    except tf.errors.OpError as e:
        line = str(getattr(e, "message", e)).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"{path} is not an image TensorFlow can decode ({line.rstrip('.')}). "
                        f"Remove it or replace it with a PNG or JPEG file.") from e
    return image.numpy()


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    resized = tf.image.resize(tf.cast(image, tf.float32), [size, size], antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8).numpy()
