"""Directories convnet writes to (--train_dir, --eval_dir, --export_dir), checked up front.

`ensure_writable_dir` creates the directory and proves it can be written by
creating and deleting a temporary file in it, so that a directory that cannot
be created (under /proc, under a regular file, on a read-only file system) or
written fails in one line naming the flag, the path and the OS error, before
minutes of data and model building, instead of a traceback at the first save.
Paths with a scheme (`gs://...`) are left to TensorFlow's file systems.
"""

import os
import tempfile

from convnet.runtime.errors import OutputDirError

# Prefix of the probe file; it is deleted at once (a crash may leave one, harmless).
PROBE_PREFIX = ".convnet-write-test-"


def _os_error(error: OSError) -> str:
    """`[Errno 2] No such file or directory`, without the file name Python appends."""
    if error.errno is None:
        return str(error)
    return f"[Errno {error.errno}] {error.strerror}"


def _file_in_the_way(path: str) -> str | None:
    """`path` or its nearest existing ancestor when that is not a directory, else None."""
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    return None if os.path.isdir(path) else path


def ensure_writable_dir(path: str, flag_name: str, what: str | None = None) -> str:
    """Creates directory `path` if needed and checks that files can be written in it.

    Args:
      path: the directory.
      flag_name: the flag it comes from, e.g. '--train_dir', for the message.
      what: how messages name the directory; default `{flag_name}={path}`.

    Returns:
      `path`.

    Raises:
      OutputDirError: `path` (or an ancestor) is a regular file, the directory
        cannot be created, or a file cannot be written in it; the message
        names the path and the OS error.
    """
    if "://" in path:
        return path
    what = what or f"{flag_name}={path}"
    blocker = _file_in_the_way(path)
    if blocker:
        where = "it is" if os.path.abspath(blocker) == os.path.abspath(path) else f"{blocker} is"
        raise OutputDirError(f"cannot create {what}: {where} a file, not a directory. Pass "
                             f"another {flag_name} (a directory; it is created if missing).")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise OutputDirError(f"cannot create {what}: {_os_error(e)}. Pass a {flag_name} in a "
                             f"place you can write to.") from e
    try:
        handle, probe = tempfile.mkstemp(prefix=PROBE_PREFIX, dir=path)
        os.close(handle)
        os.remove(probe)
    except OSError as e:
        raise OutputDirError(f"cannot write in {what}: {_os_error(e)}. Pass a {flag_name} in a "
                             f"place you can write to.") from e
    return path
