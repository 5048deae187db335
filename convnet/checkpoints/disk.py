"""A full disk: recognising it in OS and TensorFlow errors, and the one-line error that says so."""

import errno
import shutil

from convnet.runtime.errors import DiskFullError


def is_disk_full(error: BaseException) -> bool:
    """True for an OSError or TensorFlow error that says the disk (or quota) is full."""
    if getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(text in str(error) for text in ("No space left on device", "Disk quota exceeded"))


def disk_full_error(what: str, directory: str, needed_bytes: int,
                    *, previous: str | None = None) -> DiskFullError:
    """The error for `what` that could not be written to `directory` for lack of space."""
    try:
        free = f"{shutil.disk_usage(directory).free / 2**20:,.1f} MB free"
    except OSError:
        free = "free space unknown"
    kept = (f"; the previous checkpoint, {previous}, is intact" if previous else "")
    return DiskFullError(
        f"no space left on the device of {directory} to write {what} (it needs about "
        f"{needed_bytes / 2**20:,.1f} MB; {free}): its partial files were removed{kept}. Free "
        f"some space and rerun the same command to resume.")
