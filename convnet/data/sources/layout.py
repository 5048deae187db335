"""Where a dataset's files live on disk, and how to get them there.

A `FileLayout` names the files of each split, the directory the official
download creates and the official downloads. `--data_dir` may be that
directory itself or its parent (the tutorial's `--data_dir=/tmp/cifar10_data`
holds `cifar-10-batches-bin/`); when neither holds any of the files, they are
downloaded (MD5-checked) if allowed, and otherwise the error says how to get them.

Each format module `register`s its layouts in KNOWN_LAYOUTS, so that a
`--data_dir` that is a file, or that holds another dataset's (or format's)
files, is refused with a message naming what is there and the flag that reads
it, before anything is downloaded into it.
"""

import dataclasses
import os
from collections.abc import Mapping

import numpy as np

from convnet.data.sources import download
from convnet.runtime.errors import DataError


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
    split_files: Mapping[str, tuple[str, ...]]
    downloads: Mapping[str, tuple[str, str]]
    archive: bool = True
    suffixes: tuple[str, ...] = ("",)

    @property
    def description(self) -> str:
        """E.g. 'CIFAR-100 binary'."""
        return f"{self.title} {self.file_format}"

    @property
    def file_names(self) -> tuple[str, ...]:
        return tuple(name for names in self.split_files.values() for name in names)

    def _variants(self, directory: str, name: str) -> list[str]:
        return [os.path.join(directory, name + suffix) for suffix in self.suffixes]

    def find(self, data_dir: str | None) -> str | None:
        """`data_dir` or `data_dir/dirname`, whichever holds any of the files; else None."""
        if not data_dir:
            return None
        data_dir = os.path.expanduser(data_dir)
        for candidate in (data_dir, os.path.join(data_dir, self.dirname)):
            if any(os.path.isfile(path) for name in self.file_names
                   for path in self._variants(candidate, name)):
                return candidate
        return None

    def files(self, directory: str, split: str) -> list[str]:
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
                     *, what: str = "label") -> None:
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


# Every layout of every reader (filled by `register`), to recognise what a --data_dir holds.
KNOWN_LAYOUTS: list[FileLayout] = []


def register(*layouts: FileLayout) -> dict[str, FileLayout]:
    """Adds `layouts` to KNOWN_LAYOUTS; returns them by dataset name (a reader's LAYOUTS)."""
    KNOWN_LAYOUTS.extend(layouts)
    return {layout.dataset: layout for layout in layouts}


def _same(a: FileLayout, b: FileLayout) -> bool:
    return (a.dataset, a.file_format) == (b.dataset, b.file_format)


def _flag_for(other: FileLayout, wanted: FileLayout) -> str:
    """The flag that makes convnet read `other`'s files instead of `wanted`'s."""
    if other.dataset != wanted.dataset:
        return f"--dataset={other.dataset}"
    return "--data_source=files"  # same dataset, other format: 'files' reads any format


def other_layouts_in(data_dir: str, wanted: FileLayout) -> list[tuple[FileLayout, str]]:
    """(layout, directory) of each known layout other than `wanted` whose files are in
    `data_dir` itself or in its `layout.dirname` subdirectory."""
    return [(other, found) for other in KNOWN_LAYOUTS
            if not _same(other, wanted) and (found := other.find(data_dir))]


def _check_is_a_directory(data_dir: str, wanted: FileLayout) -> None:
    """Raises DataError when `data_dir`, or the nearest ancestor that exists, is not a directory."""
    path = os.path.abspath(data_dir)
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    if not os.path.lexists(path) or os.path.isdir(path):
        return
    name = os.path.basename(path)
    if any(name in (f + suffix for suffix in known.suffixes) for known in KNOWN_LAYOUTS
           for f in known.file_names):
        way_out = f"pass the directory holding it, --data_dir={os.path.dirname(path)}"
    else:
        way_out = (f"pass the directory holding the {wanted.description} files (or its parent), "
                   f"or a new directory to download them into")
    what = ("is a file" if path == os.path.abspath(data_dir)
            else f"is inside {path}, which is a file")
    raise DataError(f"--data_dir={data_dir} {what}, not a directory: {way_out}.")


def _check_not_another_dataset(data_dir: str, wanted: FileLayout) -> None:
    """Raises DataError when `data_dir` itself holds the files of another known layout."""
    here = os.path.normpath(data_dir)
    others = [other for other, found in other_layouts_in(data_dir, wanted)
              if os.path.normpath(found) == here]
    if not others:
        return
    what = " or ".join(other.description for other in others)
    flags = " or ".join(dict.fromkeys(_flag_for(other, wanted) for other in others))
    raise DataError(f"{data_dir} holds {what} files, not {wanted.description}: pass {flags} to "
                    f"read them, or a --data_dir holding the {wanted.description} files (or a "
                    f"new directory to download them into).")


def resolve_data_dir(data_dir: str, layout: FileLayout, allow_download: bool = True) -> str:
    """Returns the directory holding `layout`'s files, downloading them if allowed:
    `layout.find(data_dir)`, or else `obtain(data_dir, layout, allow_download)`."""
    return layout.find(data_dir) or obtain(data_dir, layout, allow_download)


def obtain(data_dir: str, layout: FileLayout, allow_download: bool = True) -> str:
    """Downloads `layout`'s files, which `layout.find(data_dir)` did not find, if allowed.

    A `data_dir` that holds none of them but another known layout's files
    (another dataset, or the other format) is refused rather than downloaded
    into; when those are in a subdirectory (`data_dir` is a parent of several
    datasets), the download goes beside them.

    Returns:
      The directory now holding the files (`data_dir/dirname`, or `data_dir`
      when it is named `dirname`).

    Raises:
      DataError: `data_dir` is empty or a file; it holds another dataset's
        files; or download is not allowed (the message says how to get the
        files) or failed.
    """
    if not data_dir:
        raise DataError(f"--data_dir is empty: pass the directory holding the "
                        f"{layout.description} files.")
    data_dir = os.path.expanduser(data_dir)
    _check_is_a_directory(data_dir, layout)
    _check_not_another_dataset(data_dir, layout)
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
            others = other_layouts_in(data_dir, layout)
            if others:
                state += " (" + "; ".join(f"{other.description} files are in {found}: "
                                          f"{_flag_for(other, layout)} reads them"
                                          for other, found in others) + ")"
        raise DataError(f"{layout.title} data not found: {data_dir} {state}. "
                        f"{layout.how_to_get()} Or rerun with --download to let convnet fetch it.")
    try:
        layout.fetch(target)
    except OSError as e:  # e.g. the directory cannot be created
        raise DataError(f"cannot download the {layout.description} files into {target}: "
                        f"{e}. Pass a --data_dir you can write to. {layout.how_to_get()}") from e
    return target
