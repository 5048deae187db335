"""convnet.runtime.paths: output directories created and proven writable up front, or one clear
line.

(Through the mains, before any data or model is built: test_bad_input.py.)"""

import errno
import os

import pytest

from convnet.runtime import paths
from convnet.runtime.errors import OutputDirError


def test_missing_directories_are_created_and_no_probe_is_left(tmp_path):
    target = tmp_path / "a" / "b" / "train"
    assert paths.ensure_writable_dir(str(target), "--train_dir") == str(target)
    assert target.is_dir() and os.listdir(target) == []
    (target / "kept.txt").write_text("x")
    assert paths.ensure_writable_dir(str(target), "--train_dir") == str(target)  # exists: fine
    assert os.listdir(target) == ["kept.txt"]


def test_a_file_in_the_way_is_named(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(OutputDirError) as error:
        paths.ensure_writable_dir(str(a_file), "--eval_dir")
    assert str(error.value) == (f"cannot create --eval_dir={a_file}: it is a file, not a "
                                f"directory. Pass another --eval_dir (a directory; it is created "
                                f"if missing).")
    with pytest.raises(OutputDirError) as error:
        paths.ensure_writable_dir(str(a_file / "x" / "eval"), "--eval_dir", what="the eval dir")
    assert str(error.value) == (f"cannot create the eval dir: {a_file} is a file, not a "
                                f"directory. Pass another --eval_dir (a directory; it is created "
                                f"if missing).")
    assert a_file.read_text() == ""


def test_a_directory_that_cannot_be_created_gives_the_os_error_without_the_path(tmp_path,
                                                                                 monkeypatch):
    target = tmp_path / "locked" / "train"

    def refused(path, exist_ok=False):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

    monkeypatch.setattr(paths.os, "makedirs", refused)
    with pytest.raises(OutputDirError) as error:
        paths.ensure_writable_dir(str(target), "--train_dir")
    assert str(error.value) == (f"cannot create --train_dir={target}: [Errno 13] Permission "
                                f"denied. Pass a --train_dir in a place you can write to.")


def test_a_directory_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    def refused(prefix, dir):  # pylint: disable=redefined-builtin
        assert prefix == paths.PROBE_PREFIX and dir == str(tmp_path)
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.path.join(dir, prefix))

    monkeypatch.setattr(paths.tempfile, "mkstemp", refused)
    with pytest.raises(OutputDirError) as error:
        paths.ensure_writable_dir(str(tmp_path), "--export_dir")
    assert str(error.value) == (f"cannot write in --export_dir={tmp_path}: [Errno 30] Read-only "
                                f"file system. Pass a --export_dir in a place you can write to.")

    def no_errno(prefix, dir):  # pylint: disable=redefined-builtin
        raise OSError("the share went away")

    monkeypatch.setattr(paths.tempfile, "mkstemp", no_errno)
    with pytest.raises(OutputDirError, match=r": the share went away\. Pass a --export_dir "):
        paths.ensure_writable_dir(str(tmp_path), "--export_dir")


def test_a_path_with_a_scheme_is_left_to_tensorflow(monkeypatch):
    def touched(*args, **kwargs):
        raise AssertionError("looked at the local file system")

    monkeypatch.setattr(paths.os, "makedirs", touched)
    monkeypatch.setattr(paths.os.path, "lexists", touched)
    assert paths.ensure_writable_dir("gs://bucket/run", "--train_dir") == "gs://bucket/run"
