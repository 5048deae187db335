"""The download path, against an HTTP server on 127.0.0.1 serving an archive the test builds.

`cifar_binary.resolve_data_dir(url=..., md5=...)` replaces the official
address and MD5, so nothing here reaches the internet.
"""

import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading

import numpy as np
import pytest

from convnet.data import pipeline
from convnet.data.sources import cifar_binary
from convnet.data.sources.spec import SourceSpec, make_source
from convnet.runtime.errors import DataError

from conftest import write_cifar_files
from fake_data import http_server

ARCHIVE = "cifar-10-binary.tar.gz"


@pytest.fixture
def www(tmp_path):
    """tmp_path/www holding a tiny cifar-10-binary.tar.gz; yields (www, md5, arrays)."""
    source = tmp_path / "src" / "cifar-10-batches-bin"
    arrays = write_cifar_files(str(source), train_per_file=2, test=3)
    (source / "readme.html").write_text("<html></html>")  # as in the official archive
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(str(source), arcname="cifar-10-batches-bin")
    www = tmp_path / "www"
    www.mkdir()
    (www / ARCHIVE).write_bytes(buffer.getvalue())
    return www, hashlib.md5(buffer.getvalue()).hexdigest(), arrays


def test_download_checks_md5_extracts_and_the_data_loads(tmp_path, www, capsys):
    directory, md5, arrays = www
    data_dir = tmp_path / "data"
    with http_server(directory) as base_url:
        path = cifar_binary.resolve_data_dir(str(data_dir), True, url=base_url + ARCHIVE, md5=md5)
    assert path == str(data_dir / "cifar-10-batches-bin")
    split_files = cifar_binary.CIFAR10_BINARY.split_files
    assert sorted(os.listdir(path)) == sorted(split_files["train"] + split_files["test"] +
                                              ("readme.html",))
    assert os.listdir(data_dir) == ["cifar-10-batches-bin"]  # no .part, no staging dir left
    assert f"downloading {ARCHIVE}: done, 0.0 MB in " in capsys.readouterr().out
    # The files are found again without a download (the server is gone), and they load.
    source = make_source(SourceSpec("files", str(data_dir), download=False))
    assert source.num_examples("train") == 10
    images, labels = next(iter(pipeline.eval_dataset(source, "test", batch_size=3)))
    np.testing.assert_array_equal(labels.numpy(), arrays["test"][1])
    assert images.shape == (3, 24, 24, 3)
    images, labels = next(iter(pipeline.train_dataset(
        source, batch_size=4, settings=pipeline.InputSettings(shuffle_buffer=4))))
    assert images.shape == (4, 24, 24, 3) and labels.shape == (4,)


def test_a_damaged_file_is_replaced_as_the_error_says(tmp_path, www):
    directory, md5, _ = www
    data_dir = tmp_path / "data"
    with http_server(directory) as base_url:
        url = base_url + ARCHIVE
        path = cifar_binary.resolve_data_dir(str(data_dir), True, url=url, md5=md5)
        with open(os.path.join(path, "test_batch.bin"), "r+b") as f:
            f.truncate(100)
        with pytest.raises(DataError) as error:
            cifar_binary.check_files([os.path.join(path, "test_batch.bin")])
        assert (f"To replace it, delete the CIFAR-10 binary files in {path} and rerun with "
                f"--download") in str(error.value)
        for name in cifar_binary.CIFAR10_BINARY.file_names:  # readme.html stays
            os.remove(os.path.join(path, name))
        assert cifar_binary.resolve_data_dir(str(data_dir), True, url=url, md5=md5) == path
    assert cifar_binary.check_files([os.path.join(path, "test_batch.bin")]) == 3


def test_md5_mismatch_names_both_md5s_and_leaves_nothing_behind(tmp_path, www):
    directory, md5, _ = www
    data_dir = tmp_path / "data"
    with http_server(directory) as base_url, pytest.raises(DataError) as error:
        cifar_binary.resolve_data_dir(str(data_dir), True, url=base_url + ARCHIVE, md5="0" * 32)
    assert (f"the download of {base_url + ARCHIVE} has MD5 {md5}, expected {'0' * 32}: the file "
            f"is corrupt or not the official file, and was deleted. Try again. Download "
            f"{base_url + ARCHIVE} (MD5 {'0' * 32}) and extract it") in str(error.value)
    assert os.listdir(data_dir) == []  # no partial archive, no half-extracted directory


def test_missing_file_on_the_server_says_how_to_download_by_hand(tmp_path, www):
    with http_server(www[0]) as base_url, pytest.raises(DataError) as error:
        cifar_binary.resolve_data_dir(str(tmp_path / "data"), True, url=base_url + "moved.tar.gz")
    assert (f"could not download {base_url}moved.tar.gz: the server answered HTTP 404 "
            f"(File not found). Download {base_url}moved.tar.gz (MD5 "
            f"{cifar_binary.download.CIFAR10_MD5}) and extract it, which creates "
            f"cifar-10-batches-bin/") in str(error.value)
    assert "--data_dir" in str(error.value) and os.listdir(tmp_path / "data") == []


def test_offline_download_says_so_and_how_to_place_files(tmp_path):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match="Connection refused.*are you offline?") as error:
        cifar_binary.resolve_data_dir(str(tmp_path / "d"), True,
                                      url=f"http://127.0.0.1:{port}/cifar-10-binary.tar.gz")
    assert "data_batch_1.bin" in str(error.value) and "--data_dir" in str(error.value)


class _CutShort(http.server.BaseHTTPRequestHandler):
    """Promises 10,000 bytes, sends 100, and closes the connection."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", "10000")
        self.end_headers()
        self.wfile.write(b"x" * 100)
        self.close_connection = True

    def log_message(self, *args):
        pass


def test_transfer_cut_short_is_reported(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutShort)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{ARCHIVE}"
        with pytest.raises(DataError) as error:
            cifar_binary.resolve_data_dir(str(tmp_path / "data"), True, url=url, md5="0" * 32)
    finally:
        server.shutdown()
        server.server_close()
    message = str(error.value)
    assert (f"the download of {url} broke off (the connection closed after 100 of 10,000 bytes); "
            f"try again. Download {url}") in message
    assert os.listdir(tmp_path / "data") == []
