"""What every source of examples gives (`Source`), and the base of readers of files (`FileSource`).

A source is a dataset's examples, split by split, with nothing done to them:

- `info`: its DatasetInfo (image shape, classes, split sizes when known);
- `num_examples(split)`: how many examples `split` holds, 0 when unknown;
- `dataset(split)`: every example of `split` once, in the same order on every
  call, as (uint8 [H, W, C], int32 []) pairs (docs/design.md, section 3).

A source stored as shards (files of examples) may also give, for streaming:

- `shard_sizes(split)`: the examples of each shard in its order (None: not sharded);
- `read_shards(split, order, skip=0)`: the shards `order` (indices into that list) in that
  order, the first `skip` examples of the first dropped, as (split index int64 [],
  (image, label)), the split index that of `dataset`'s order.

A streamed run (--cache=none) then reads the shards in a new order each epoch and resumes at
the shard where it stopped (ShardSource, TfdsSource's TFRecord files, FolderSource's files
of any size).

Bad data raises DataError naming the file and the way out; an unknown split,
ValueError. `pipeline` batches and augments what a source gives; it needs
nothing else from it (any object with these three members will do).

Adding a dataset:

- in a format already read (CIFAR binary or python, IDX): its DatasetInfo in
  info.py (`_BUILT_IN`), and its FileLayout (file names, directory, official
  download) in the reader's module, added to that module's `layout.register`;
  the reader, `--data_source=files` and the error messages then know it.
- in a new file format: also one module holding its FileLayouts and a
  `FileSource` subclass, which sets `LAYOUTS` and `FORMAT` and defines
  `_read(split)` (subclass `InMemorySource`: whole splits read into arrays) or
  `num_examples` and `dataset` (e.g. `CifarBinarySource`, read by tf.data);
  then its class in `source_spec.FILE_READERS`, and tests/test_data_<module>.py.
- not from files: a `Source` subclass (see `SyntheticSource`) and its name in
  `source_spec.DATA_SOURCES` / `make_source`.
"""

import abc
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from convnet.data.info import DatasetInfo, dataset_info
from convnet.data.sources import layout


class Source(abc.ABC):
    """A dataset's examples, split by split: see the module's docstring."""

    info: DatasetInfo

    @abc.abstractmethod
    def num_examples(self, split: str) -> int:
        """The number of examples of `split`; 0 when the source does not know it."""

    @abc.abstractmethod
    def dataset(self, split: str) -> tf.data.Dataset:
        """Every example of `split` once, in a fixed order: (uint8 [H, W, C], int32 [])."""


class FileSource(Source):
    """Base of the readers of a built-in dataset's files in one format.

    Subclasses set `LAYOUTS` ({dataset: FileLayout}, from `layout.register`)
    and `FORMAT` (what errors call the format), and define `num_examples` and
    `dataset` (or `_read`, through InMemorySource). This class checks the
    dataset, finds (or downloads) the directory holding its files once, and
    keeps what each split's first reading found (`_once`).

    Args:
      data_dir: the directory the official download creates, or its parent.
      allow_download: fetch the official files when absent.
      dataset: a dataset of LAYOUTS; None: the first.
      label_mode: 'fine', or 'coarse' (CIFAR-100's 20 superclasses).
      located: `data_dir` is the directory holding the files, as
        `FileLayout.find` or `layout.obtain` returned it: taken as is, not
        looked at again.
    """

    LAYOUTS: dict[str, layout.FileLayout] = {}
    FORMAT = ""

    def __init__(self, data_dir: str | None, allow_download: bool = True,
                 dataset: str | None = None, *, label_mode: str = "fine",
                 located: bool = False):
        dataset = dataset or next(iter(self.LAYOUTS))
        if dataset not in self.LAYOUTS:
            raise ValueError(f"{self.FORMAT} files hold {' or '.join(self.LAYOUTS)}, "
                             f"not {dataset!r}")
        self.info: DatasetInfo = dataset_info(dataset, label_mode)
        self.label_mode = label_mode
        self.layout = self.LAYOUTS[dataset]
        self.data_dir = (data_dir if located
                         else layout.resolve_data_dir(data_dir, self.layout, allow_download))
        self._per_split: dict[str, Any] = {}

    def files(self, split: str) -> list[str]:
        """Paths of the files of `split`, in reading order (ValueError for an unknown split)."""
        return self.layout.files(self.data_dir, split)

    def _once(self, split: str, compute: Callable[[], Any]) -> Any:
        """`compute()` on the first call for `split`; what it returned on later ones."""
        if split not in self._per_split:
            self._per_split[split] = compute()
        return self._per_split[split]
