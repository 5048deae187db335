"""Where a dataset's files live on disk, and how to get them there.

A `FileLayout` names the files of each split, the directory the official
download creates and the official downloads. `--data_dir` may be that
directory itself or its parent (the tutorial's `--data_dir=/tmp/cifar10_data`
holds `cifar-10-batches-bin/`); when neither holds any of the files, they are
downloaded (MD5-checked) if allowed, and otherwise the error says how to get them.
"""

import dataclasses
import os
from typing import List, Mapping, Optional, Tuple

import numpy as np

from convnet.data import download
from convnet.errors import DataError


@dataclasses.dataclass(frozen=True)
class FileLayout:
    """The files of one built-in dataset in one format.

    Attributes:
      dataset: name of the dataset's DatasetInfo, e.g. 'cifar100'.
      title: what messages call the dataset, e.g. 'CIFAR-100'.
      file_format: what messages call the format, e.g. 'binary'.
      dirname: directory the official download creates, e.g. 'cifar-100-binary'.
      split_files: file names of each split, in reading order.
      downloads: {downloaded file name: (url, md5)}.
      archive: True when `downloads` is one .tar.gz holding `dirname/`; False
        when the downloads are the data files themselves.
      suffixes: accepted variants of each file name, preferred first (IDX
        files may be stored as is or gzipped: ('', '.gz')).
    """
    dataset: str
    title: str
    file_format: str
    dirname: str
    split_files: Mapping[str, Tuple[str, ...]]
    downloads: Mapping[str, Tuple[str, str]]
    archive: bool = True
    suffixes: Tuple[str, ...] = ("",)

    @property
    def description(self) -> str:
        """E.g. 'CIFAR-100 binary'."""
        return f"{self.title} {self.file_format}"

    @property
    def file_names(self) -> Tuple[str, ...]:
        return tuple(name for names in self.split_files.values() for name in names)

    def _variants(self, directory: str, name: str) -> List[str]:
        return [os.path.join(directory, name + suffix) for suffix in self.suffixes]

    def find(self, data_dir: Optional[str]) -> Optional[str]:
        """`data_dir` or `data_dir/dirname`, whichever holds any of the files; else None."""
        if not data_dir:
            return None
        data_dir = os.path.expanduser(data_dir)
        for candidate in (data_dir, os.path.join(data_dir, self.dirname)):
            if any(os.path.isfile(path) for name in self.file_names
                   for path in self._variants(candidate, name)):
                return candidate
        return None

    def files(self, directory: str, split: str) -> List[str]:
        """Paths of the files of `split` in `directory` (the first variant that exists)."""
        if split not in self.split_files:
            raise ValueError(f"unknown split {split!r}: choose from {sorted(self.split_files)}")
        paths = []
        for name in self.split_files[split]:
            variants = self._variants(directory, name)
            paths.append(next((path for path in variants if os.path.isfile(path)), variants[0]))
        return paths

    def check_present(self, path: str) -> None:
        """Raises DataError naming `path` and the expected files when it does not exist."""
        if os.path.isfile(path):
            return
        variants = " or ".join(f"*{suffix}" for suffix in self.suffixes if suffix)
        also = f" (or {variants})" if variants else ""
        raise DataError(f"{self.description} file missing: {path}{also}. Expected "
                        f"{', '.join(self.file_names)} in {os.path.dirname(path)}. "
                        f"{self.how_to_get()}")

    def check_labels(self, path: str, labels: np.ndarray, num_classes: int,
                     what: str = "label") -> None:
        """Raises DataError naming `path` when a label is outside [0, num_classes)."""
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            bad = labels.max() if labels.max() >= num_classes else labels.min()
            raise DataError(f"{path} holds a {what} of {bad}, but {self.description} {what}s are "
                            f"0..{num_classes - 1}: this is not {self.description} data. "
                            f"{self.how_to_replace(path)}")

    def how_to_get(self) -> str:
        """A sentence saying where the official files are and where to put them."""
        sources = "; ".join(f"{url} (MD5 {md5})" for url, md5 in self.downloads.values())
        placed = (f"and extract it, which creates {self.dirname}/ holding "
                  f"{', '.join(self.file_names)}" if self.archive
                  else f"into a directory {self.dirname}/ (gzipped or not)")
        return (f"Download {sources} {placed}; then pass that directory or its parent as "
                f"--data_dir.")

    def how_to_replace(self, path: str) -> str:
        """A sentence saying how to replace the damaged or foreign file `path` by the official."""
        checks = "its MD5" if len(self.downloads) == 1 else "their MD5s"
        return (f"To replace it, delete the {self.description} files in {os.path.dirname(path)} "
                f"and rerun with --download, which fetches {', '.join(self.downloads)} and checks "
                f"{checks}; or by hand: {self.how_to_get()}")

    def fetch(self, target_dir: str) -> None:
        """Downloads the official files so that `target_dir` holds them (MD5-checked, atomic)."""
        if self.archive:
            (url, md5), = self.downloads.values()
            download.download_and_extract(url, md5, archive_member=self.dirname,
                                          target_dir=target_dir, how_to_get=self.how_to_get())
        else:
            download.download_files(self.downloads, target_dir, how_to_get=self.how_to_get())


def resolve_data_dir(data_dir: str, layout: FileLayout, allow_download: bool = True) -> str:
    """Returns the directory holding `layout`'s files, downloading them if allowed.

    Raises:
      DataError: `data_dir` is empty; or the files are absent and download is
        not allowed (the message says how to get them) or failed.
    """
    if not data_dir:
        raise DataError(f"--data_dir is empty: pass the directory holding the "
                        f"{layout.description} files.")
    found = layout.find(data_dir)
    if found:
        return found
    data_dir = os.path.expanduser(data_dir)
    if os.path.basename(os.path.normpath(data_dir)) == layout.dirname:
        target = os.path.normpath(data_dir)
    else:
        target = os.path.join(data_dir, layout.dirname)
    if not allow_download:
        if not os.path.isdir(data_dir):
            state = "does not exist"
        elif not os.listdir(data_dir):
            state = "is empty"
        else:
            state = f"holds no {layout.description} files"
        raise DataError(f"{layout.title} data not found: {data_dir} {state}. "
                        f"{layout.how_to_get()} Or rerun with --download to let convnet fetch it.")
    layout.fetch(target)
    return target
