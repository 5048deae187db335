"""The download path, against an HTTP server on 127.0.0.1 serving an archive the test builds."""

import functools
import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading

import pytest

from convnet.data import cifar_binary
from convnet.errors import DataError
from conftest import write_cifar_files


@pytest.fixture
def archive_server(tmp_path):
    """Serves cifar-10-binary.tar.gz (tiny) from tmp_path/www; yields (url, md5)."""
    source = tmp_path / "src" / "cifar-10-batches-bin"
    write_cifar_files(str(source), train_per_file=2, test=3)
    www = tmp_path / "www"
    www.mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(str(source), arcname="cifar-10-batches-bin")
    (www / "cifar-10-binary.tar.gz").write_bytes(buffer.getvalue())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/cifar-10-binary.tar.gz"
    yield url, hashlib.md5(buffer.getvalue()).hexdigest()
    server.shutdown()
    server.server_close()


def test_download_checks_md5_and_extracts(tmp_path, archive_server):
    url, md5 = archive_server
    data_dir = tmp_path / "data"
    path = cifar_binary.resolve_data_dir(str(data_dir), True, url=url, md5=md5)
    assert path == str(data_dir / "cifar-10-batches-bin")
    split_files = cifar_binary.CIFAR10_BINARY.split_files
    assert sorted(os.listdir(path)) == sorted(split_files["train"] + split_files["test"])
    assert os.listdir(data_dir) == ["cifar-10-batches-bin"]  # no .part, no staging dir left
    # A second call finds the files and does not download again.
    assert cifar_binary.resolve_data_dir(str(data_dir), True, url="http://127.0.0.1:9/x",
                                         md5=md5) == path


def test_md5_mismatch_leaves_nothing_behind(tmp_path, archive_server):
    url, _ = archive_server
    data_dir = tmp_path / "data"
    with pytest.raises(DataError, match="MD5"):
        cifar_binary.resolve_data_dir(str(data_dir), True, url=url, md5="0" * 32)
    assert os.listdir(data_dir) == []


def test_offline_download_says_so_and_how_to_place_files(tmp_path):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match="offline") as info:
        cifar_binary.resolve_data_dir(str(tmp_path / "d"), True,
                                      url=f"http://127.0.0.1:{port}/cifar-10-binary.tar.gz")
    assert "data_batch_1.bin" in str(info.value)
