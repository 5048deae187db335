"""Any TensorFlow Datasets image-classification dataset as a source.

`tensorflow_datasets` is imported only when this source is used (it is slow to
import). Images and labels are taken through `as_supervised=True` and cast to
(uint8 [H, W, C], int32). Its TFRecord files are shards (`shard_sizes`, `read_shards`): a
streamed run (--cache=none) reads them in a new order each epoch and resumes where it stopped.

When tfds fails (opening the builder, downloading and preparing, reading), the
DataError names the underlying exception, its type and message (and, for a
module tfds imports lazily that is not installed, the `pip install` that
mends it), not only that loading failed.
"""

import dataclasses
import os

import tensorflow as tf

from convnet.data.info import DatasetInfo
from convnet.data.sources.base import Source
from convnet.data.sources.shards import read_record_shards
from convnet.runtime.errors import DataError

# A missing module whose pip distribution is named differently.
_PIP_NAMES = {"PIL": "Pillow", "cv2": "opencv-python", "skimage": "scikit-image",
              "yaml": "pyyaml", "google.protobuf": "protobuf", "tree": "dm-tree"}
_NETWORK_WORDS = ("connection", "resolve", "network", "timed out", "urlopen", "http")


def _root_cause(error: BaseException) -> BaseException:
    """The innermost exception `error` was raised from (or during)."""
    seen = {id(error)}
    while True:
        inner = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
        if inner is None or id(inner) in seen:
            return error
        seen.add(id(inner))
        error = inner


def describe_failure(error: BaseException) -> str:
    """`Type: message` of `error`, then `caused by Type: message` of its root cause when that
    says more; for a missing module, the `pip install` that mends it."""
    text = f"{type(error).__name__}: {error}"
    root = _root_cause(error)
    if root is not error and str(root) not in str(error):
        text += f"; caused by {type(root).__name__}: {root}"
    missing = next((e for e in (root, error) if isinstance(e, ModuleNotFoundError) and e.name),
                   None)
    if missing is not None:
        package = _PIP_NAMES.get(missing.name, _PIP_NAMES.get(missing.name.split(".")[0],
                                                              missing.name.split(".")[0]))
        text += (f". tfds (or the dataset's builder) imports the Python module "
                 f"{missing.name!r}, which is not installed: `pip install {package}`")
    return text


def _is_missing_module(error: BaseException) -> bool:
    return isinstance(error, ImportError) or isinstance(_root_cause(error), ImportError)


def _looks_like_network(error: BaseException) -> bool:
    errors = (error, _root_cause(error))
    if any(isinstance(e, (ConnectionError, TimeoutError)) for e in errors):
        return True
    text = " ".join(f"{type(e).__name__} {e}" for e in errors).lower()
    return any(word in text for word in _NETWORK_WORDS)


class TfdsSource(Source):
    """A tfds dataset: `tfds.builder(name, data_dir=data_dir)`, prepared (downloaded and
    written) once when it is not yet and `allow_download`, read with `as_supervised=True`.

    Split sizes are the builder's; a dataset not prepared yet knows them once it is, so
    `num_examples` of a split not known yet prepares it (as `dataset` does).
    """

    def __init__(self, name: str, data_dir: str | None = None, allow_download: bool = True):
        import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
        self.name, self.data_dir, self.allow_download = name, data_dir, allow_download
        self._prepared = False
        try:
            self._builder = tfds.builder(name, data_dir=data_dir)
        except tfds.core.registered.DatasetNotFoundError as e:
            # Its message lists every tfds dataset (thousands of lines): the gist, the guess.
            lines = str(e).splitlines()
            gist = " ".join(lines[:1] + [line for line in lines if line.startswith("Did you")])
            raise DataError(f"tfds has no dataset {name!r} ({type(e).__name__}: {gist}; "
                            f"`tfds.list_builders()` names them all).") from e
        except Exception as e:  # a builder that fails to construct, a module it lacks, ...
            raise DataError(f"could not open tfds dataset {name!r} in {self._where()} "
                            f"({describe_failure(e)}).") from e
        features = self._builder.info.features
        label = features["label"]
        self.info = DatasetInfo(name=name, image_shape=tuple(features["image"].shape),
                                num_classes=label.num_classes, class_names=tuple(label.names),
                                num_examples=self._split_sizes())

    def _where(self) -> str:
        return self.data_dir or "the default tfds directory"

    def _split_sizes(self):
        return {split: info.num_examples for split, info in self._builder.info.splits.items()}

    def _prepare(self) -> None:
        """`download_and_prepare` once, when the data is not there and downloading is allowed."""
        if self._prepared:
            return
        if self.allow_download and not self._builder.is_prepared():
            try:
                self._builder.download_and_prepare()
            except Exception as e:
                raise DataError(f"could not prepare tfds dataset {self.name!r} in "
                                f"{self._where()} ({describe_failure(e)}). {self._advice(e)}"
                                ) from e
            self.info = dataclasses.replace(self.info, num_examples=self._split_sizes())
        self._prepared = True

    def num_examples(self, split: str) -> int:
        if split not in self.info.num_examples:
            self._prepare()
        return self.info.num_examples.get(split, 0)

    def shard_sizes(self, split: str) -> list[int] | None:
        """The examples of each of tfds's TFRecord files of `split`, in its order; None for
        another file format (the split is then read through `as_dataset` only)."""
        import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
        self._prepare()
        if self._builder.info.file_format != tfds.core.FileFormat.TFRECORD:
            return None
        return list(self._split_info(split).shard_lengths)

    def read_shards(self, split: str, order, skip=0) -> tf.data.Dataset:
        """tfds's files of `split` in the order `order` (indices into `shard_sizes`), the
        first `skip` examples of the first dropped: (split index int64 [], (uint8 [H, W, C],
        int32 [])), the split index that of `dataset`'s order (`shards.read_record_shards`)."""
        files = [os.fspath(path) for path in self._split_info(split).filepaths]
        features = self._builder.info.features
        image_key, label_key = self._builder.info.supervised_keys

        def decode(record):
            example = features.deserialize_example(record)
            return (tf.cast(example[image_key], tf.uint8),
                    tf.cast(example[label_key], tf.int32))

        return read_record_shards(files, self.shard_sizes(split), order, skip=skip,
                                  decode=decode)

    def _split_info(self, split: str):
        self._prepare()
        if split not in self._builder.info.splits:
            raise ValueError(f"tfds dataset {self.name!r} has no split {split!r} (it has "
                             f"{', '.join(self._builder.info.splits)})")
        return self._builder.info.splits[split]

    def dataset(self, split: str) -> tf.data.Dataset:
        self._prepare()
        try:
            ds = self._builder.as_dataset(split=split, as_supervised=True)
        except Exception as e:
            raise DataError(
                f"could not load tfds dataset {self.name!r} split {split!r} from "
                f"{self._where()} ({describe_failure(e)}). {self._advice(e)}") from e
        return ds.map(lambda image, label: (tf.cast(image, tf.uint8), tf.cast(label, tf.int32)),
                      num_parallel_calls=tf.data.AUTOTUNE)

    def _advice(self, error: BaseException) -> str:
        build = f"`tfds build {self.name} --data_dir=...` on a machine with internet access"
        if _is_missing_module(error):
            return "Install the missing module, then run the same command again."
        if not self.allow_download:
            return f"Prepare it with {build}, or allow --download."
        if _looks_like_network(error):
            return (f"Downloading it failed: check the network, or prepare it with {build} "
                    f"and point --tfds_data_dir at it.")
        return f"Mend the cause and run again, or prepare it with {build}."
