"""Download a dataset's files, check their MD5 and put them in place atomically.

Nothing is left half-done: downloads are written and MD5-checked in a
temporary directory beside the target (archives are extracted there), and the
target directory is renamed into place only when complete. On any failure the
partial files are removed. Progress is logged every few seconds.
"""

import errno
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping

from convnet.runtime import console
from convnet.runtime.errors import DataError

# The official addresses and published MD5s of the CIFAR archives
# (https://www.cs.toronto.edu/~kriz/cifar.html).
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"
CIFAR100_MD5 = "03b5dce01913d631647c71ecec9e9cb8"
CIFAR10_PYTHON_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_PYTHON_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR100_PYTHON_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR100_PYTHON_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"

# MNIST and Fashion-MNIST: one gzip file per array; base addresses and the published MD5s.
MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
MNIST_MD5S = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_MD5S = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

_CHUNK_BYTES = 1 << 20
_TIMEOUT_SECS = 60


# OSError numbers that mean the local disk refused the file, not the network.
_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS)


def fetch(url: str, path: str) -> str:
    """Downloads `url` to `path`, logging progress every few seconds; returns the MD5 hex digest.

    Raises:
      OSError (urllib.error.URLError included) or http.client.HTTPException:
        the download failed or stopped short of its Content-Length.
    """
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=_TIMEOUT_SECS) as response, open(path, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        progress = console.Progress(f"downloading {os.path.basename(url)}", total, unit="bytes")
        for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
            out.write(chunk)
            digest.update(chunk)
            progress.update(len(chunk))
        if total and progress.count != total:
            raise OSError(f"the connection closed after {progress.count:,} of {total:,} bytes")
        progress.done()
    return digest.hexdigest()


def fetch_checked(url: str, md5: str, path: str, *, how_to_get: str = "") -> None:
    """Downloads `url` to `path` and checks its MD5 (the caller deletes `path` on failure).

    Raises:
      DataError: the server refused (e.g. 404), there is no connection (e.g.
        offline), the transfer broke off, the file could not be written (e.g.
        disk full), or the MD5 does not match.
    """
    try:
        got = fetch(url, path)
    except urllib.error.HTTPError as e:
        raise DataError(f"could not download {url}: the server answered HTTP {e.code} "
                        f"({e.reason}). {how_to_get}") from e
    except OSError as e:
        if e.errno in _WRITE_ERRNOS:
            raise DataError(f"could not write {path} ({e.strerror}): free some space or pass a "
                            f"writable --data_dir. {how_to_get}") from e
        if isinstance(e, urllib.error.URLError):  # no connection at all
            raise DataError(f"could not download {url} ({e.reason}); are you offline? "
                            f"{how_to_get}") from e
        raise DataError(f"the download of {url} broke off ({e}); try again. {how_to_get}") from e
    except http.client.HTTPException as e:
        raise DataError(f"the download of {url} broke off ({type(e).__name__}: {e}); try again. "
                        f"{how_to_get}") from e
    if got != md5:
        raise DataError(f"the download of {url} has MD5 {got}, expected {md5}: the file is "
                        f"corrupt or not the official file, and was deleted. Try again. "
                        f"{how_to_get}")


def _staging_dir(target_dir: str) -> str:
    """A fresh temporary directory beside `target_dir` (same file system, so rename is atomic)."""
    parent = os.path.dirname(os.path.abspath(target_dir))
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix=".extract-", dir=parent)


def _move_into_place(complete: str, target_dir: str) -> None:
    """Renames the directory `complete` to `target_dir`.

    When `target_dir` exists and is not empty (files left after the user
    deleted the damaged ones, or another process's download), the files of
    `complete` are moved into it one by one, replacing those of the same name.
    """
    try:
        os.replace(complete, target_dir)
        return
    except OSError:
        if not os.path.isdir(target_dir):
            raise
    for name in os.listdir(complete):
        os.replace(os.path.join(complete, name), os.path.join(target_dir, name))


def download_and_extract(url: str, md5: str, archive_member: str, *, target_dir: str,
                         how_to_get: str = "") -> None:
    """Fetches a .tar.gz, checks its MD5 and moves `archive_member` to `target_dir`.

    Args:
      url: archive address (http(s):// or file://).
      md5: expected hex digest of the archive.
      archive_member: directory inside the archive that becomes `target_dir`.
      target_dir: final location; if it exists, the files are added to it.
      how_to_get: sentence appended to errors telling the user how to place the files.

    Raises:
      DataError: the download failed (e.g. offline), the MD5 does not match,
        extraction failed (e.g. disk full) or the archive lacks `archive_member`.
        No partial file or directory is left.
    """
    staging = _staging_dir(target_dir)
    part = os.path.join(staging, os.path.basename(url) + ".part")
    try:
        console.log(f"downloading {url} to {os.path.dirname(staging)}")
        fetch_checked(url, md5, part, how_to_get=how_to_get)
        try:
            with tarfile.open(part, "r:gz") as archive:
                archive.extractall(staging, filter="data")
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            cause = ("free some space or pass another --data_dir"
                     if getattr(e, "errno", None) in _WRITE_ERRNOS
                     else "the archive is damaged or holds unsafe paths")
            raise DataError(f"could not extract {url} in {os.path.dirname(staging)} ({e}): "
                            f"{cause}. {how_to_get}") from e
        extracted = os.path.join(staging, archive_member)
        if not os.path.isdir(extracted):
            raise DataError(f"{url} does not contain {archive_member}/. {how_to_get}")
        _move_into_place(extracted, target_dir)
        console.log(f"extracted {url} to {target_dir}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download_files(files: Mapping[str, tuple[str, str]], target_dir: str,
                   how_to_get: str = "") -> None:
    """Fetches several files, checks each MD5, and creates `target_dir` holding all of them.

    Args:
      files: {file name in target_dir: (url, md5)}.
      target_dir: final location; if it exists, the files are added to it.
      how_to_get: sentence appended to errors telling the user how to place the files.

    Raises:
      DataError: a download failed or an MD5 does not match. `target_dir` is
        created only when every file arrived intact; nothing partial is left.
    """
    staging = _staging_dir(target_dir)
    complete = os.path.join(staging, "files")
    try:
        os.mkdir(complete)  # unlike the staging directory, made with the user's default permissions
        for name, (url, md5) in files.items():
            console.log(f"downloading {url} to {target_dir}")
            fetch_checked(url, md5, os.path.join(complete, name), how_to_get=how_to_get)
        _move_into_place(complete, target_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
