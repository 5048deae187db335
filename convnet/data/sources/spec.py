"""The data settings of a run (`SourceSpec`, validated once) and the source they name:
`make_source(SourceSpec(...))`."""

import dataclasses

from convnet.data.info import DEFAULT_DATASET, DEFAULT_LABEL_MODE, dataset_info
from convnet.data.sources import layout
from convnet.data.sources.any_size import AnySizeSource, check_sizes
from convnet.data.sources.base import FileSource, Source
from convnet.data.sources.cifar_binary import CifarBinarySource
from convnet.data.sources.cifar_python import CifarPythonSource
from convnet.data.sources.folder import TEST_FRACTION, FolderSource
from convnet.data.sources.mnist_idx import IdxSource
from convnet.data.sources.shards import ShardSource
from convnet.data.sources.synthetic import SyntheticSource
from convnet.data.sources.tfds import TfdsSource

# 'files': the official files in --data_dir, in whichever format is there;
# 'cifar_binary': the CIFAR binary files only, never the python batches; 'folder': your own
# images, one folder a class (convnet.data.sources.folder); 'shards': TFRecord shards written by
# convnet.make_shards (convnet.data.sources.shards).
DATA_SOURCES = ("files", "cifar_binary", "folder", "tfds", "synthetic", "shards")
# Readers of 'files', in order of preference; the first downloads when nothing is found.
FILE_READERS = (CifarBinarySource, CifarPythonSource, IdxSource)


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    """Which examples a run reads, and from where.

    Attributes:
      data_source: one of DATA_SOURCES.
      data_dir: directory of the dataset's files, or its parent ('files', 'cifar_binary');
        the root of the class folders ('folder').
      tfds_data_dir: tfds data directory ('tfds'; None: tfds's default).
      download: fetch missing data from its official address.
      dataset: a built-in dataset (info.DATASETS), or any tfds name with 'tfds'.
      label_mode: 'fine', or 'coarse' for CIFAR-100's 20 superclasses.
      seed: seed of the 'synthetic' examples.
      folder_image_size: 'folder': resize every image to this size (None: they must agree).
      folder_test_fraction: 'folder' without train/ and test/ folders: the share of each
        class's images held out as the test split.
      image_size: the images keep their own sizes, any sizes, and the model sees them as
        image_size x image_size (AnySizeSource). None: the source's size, one for all.

    Raises:
      ValueError (when made): unknown data source, dataset or label mode, or a
        combination that does not exist (e.g. 'cifar_binary' with 'mnist').
    """
    data_source: str = "files"
    data_dir: str | None = None
    tfds_data_dir: str | None = None
    download: bool = True
    dataset: str = DEFAULT_DATASET
    label_mode: str = DEFAULT_LABEL_MODE
    seed: int = 0
    folder_image_size: int | None = None
    folder_test_fraction: float = TEST_FRACTION
    image_size: int | None = None

    def __post_init__(self):
        if self.data_source not in DATA_SOURCES:
            raise ValueError(f"unknown --data_source={self.data_source!r}: choose from "
                             f"{', '.join(DATA_SOURCES)}")
        if self.data_source == "tfds":
            if self.label_mode != "fine":
                raise ValueError(f"--label_mode={self.label_mode} is not supported with "
                                 f"--data_source=tfds (it reads the dataset's 'label'); use "
                                 f"--data_source=files.")
            return
        if self.data_source == "folder":
            if not self.data_dir:
                raise ValueError("--data_source=folder needs --data_dir, the folder holding "
                                 "one folder of images a class")
            return
        if self.data_source == "shards":
            if not self.data_dir:
                raise ValueError("--data_source=shards needs --data_dir, the directory of the "
                                 "shards and their manifest.json")
            return
        dataset_info(self.dataset, self.label_mode)  # ValueError listing the choices
        if self.data_source == "cifar_binary" and self.dataset not in CifarBinarySource.LAYOUTS:
            raise ValueError(f"--data_source=cifar_binary reads "
                             f"{' and '.join(CifarBinarySource.LAYOUTS)} only, got "
                             f"--dataset={self.dataset}; use --data_source=files.")


def make_source(spec: SourceSpec) -> Source:
    """The source `spec` names: its `.info`, `.num_examples(split)`, `.dataset(split)`;
    an AnySizeSource of it with `spec.image_size`.

    Raises:
      DataError: the data is missing (and not downloaded) or damaged, or its images differ
        in size without `image_size`.
    """
    source = _source(spec)
    if spec.image_size:
        return AnySizeSource(source, spec.image_size)
    check_sizes(source)
    return source


def _source(spec: SourceSpec) -> Source:
    if spec.data_source == "tfds":
        return TfdsSource(spec.dataset, spec.tfds_data_dir, spec.download)
    if spec.data_source == "folder":
        return FolderSource(spec.data_dir, spec.folder_image_size, spec.folder_test_fraction,
                            any_size=spec.image_size is not None)
    if spec.data_source == "shards":
        return ShardSource(spec.data_dir)
    if spec.data_source == "synthetic":
        return SyntheticSource(dataset_info(spec.dataset, spec.label_mode), spec.seed)
    if spec.data_source == "cifar_binary":
        return CifarBinarySource(spec.data_dir, spec.download, spec.dataset,
                                 label_mode=spec.label_mode)
    return file_source(spec.data_dir, spec.dataset, spec.label_mode, allow_download=spec.download)


def file_source(data_dir: str | None, dataset: str = DEFAULT_DATASET,
                label_mode: str = DEFAULT_LABEL_MODE,
                *, allow_download: bool = True) -> FileSource:
    """The reader of the files of `dataset` found in `data_dir` (looked at once).

    CIFAR-10/100: the binary layout if present, else the python layout if
    present, else the binary one (downloaded, or an error saying how to get
    it). MNIST and Fashion-MNIST: IDX files, gzipped or not.
    """
    dataset_info(dataset, label_mode)  # ValueError listing the choices
    readers = [reader for reader in FILE_READERS if dataset in reader.LAYOUTS]
    if not readers:
        raise ValueError(f"no reader of files holds --dataset={dataset}: add one to "
                         f"source_spec.FILE_READERS, or use --data_source=tfds")
    for reader in readers:
        found = reader.LAYOUTS[dataset].find(data_dir)
        if found:
            return reader(found, dataset=dataset, label_mode=label_mode, located=True)
    directory = layout.obtain(data_dir, readers[0].LAYOUTS[dataset], allow_download)
    return readers[0](directory, dataset=dataset, label_mode=label_mode, located=True)
