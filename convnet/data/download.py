"""Download a dataset archive, check its MD5 and extract it atomically.

Nothing is left half-done: the archive is written to a `.part` file, checked,
extracted into a temporary directory beside the target, and only then renamed
into place. On any failure the partial files are removed.
"""

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request

from convnet import console
from convnet.errors import DataError

# The official address and published MD5 of the CIFAR-10 binary archive.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"

_CHUNK_BYTES = 1 << 20
_TIMEOUT_SECS = 60


def md5_of(path: str) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url: str, path: str) -> str:
    """Downloads `url` to `path`, logging progress every 10%; returns the MD5 hex digest."""
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=_TIMEOUT_SECS) as response, open(path, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done, next_report = 0, 0.1
        for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if total and done / total >= next_report:
                console.log(f"downloading {url}: {100 * done // total}% "
                            f"({done / 1e6:.1f} of {total / 1e6:.1f} MB)")
                next_report += 0.1
    return digest.hexdigest()


def download_and_extract(url: str, md5: str, archive_member: str, target_dir: str,
                         how_to_get: str = "") -> None:
    """Fetches a .tar.gz, checks its MD5 and moves `archive_member` to `target_dir`.

    Args:
      url: archive address (http(s):// or file://).
      md5: expected hex digest of the archive.
      archive_member: directory inside the archive that becomes `target_dir`.
      target_dir: final location; must not exist yet.
      how_to_get: sentence appended to errors telling the user how to place the files.

    Raises:
      DataError: the download failed (e.g. offline), the MD5 does not match, or
        the archive lacks `archive_member`. No partial file or directory is left.
    """
    parent = os.path.dirname(os.path.abspath(target_dir))
    os.makedirs(parent, exist_ok=True)
    part = os.path.join(parent, os.path.basename(url) + ".part")
    staging = tempfile.mkdtemp(prefix=".extract-", dir=parent)
    try:
        console.log(f"downloading {url} to {parent}")
        try:
            got = fetch(url, part)
        except (urllib.error.URLError, OSError) as e:
            raise DataError(f"could not download {url} ({e}); are you offline? {how_to_get}") from e
        if got != md5:
            raise DataError(f"the download of {url} has MD5 {got}, expected {md5}: the file is "
                            f"corrupt or not the official archive, and was deleted. Try again; "
                            f"{how_to_get}")
        with tarfile.open(part, "r:gz") as archive:
            archive.extractall(staging, filter="data")
        extracted = os.path.join(staging, archive_member)
        if not os.path.isdir(extracted):
            raise DataError(f"{url} does not contain {archive_member}/. {how_to_get}")
        os.replace(extracted, target_dir)
        console.log(f"extracted {url} to {target_dir}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if os.path.exists(part):
            os.remove(part)
