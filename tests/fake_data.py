"""Tiny files in the official CIFAR-100 binary, CIFAR python and MNIST IDX formats, for tests
(and a crafted pickle that runs code, `RunsCode`).

Each writer returns the arrays it wrote, in file order, so tests can compare
the decoded examples exactly. Images are uint8 [n, H, W, C].
"""

import contextlib
import functools
import gzip
import http.server
import io
import os
import pickle
import struct
import threading

import numpy as np


def _planar_rows(images):
    """uint8 [n, H, W, C] -> [n, C*H*W] rows, channel planes one after another."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def write_cifar100_binary(directory, train=12, test=7, seed=0):
    """Writes train.bin and test.bin; returns {split: (images, coarse labels, fine labels)}."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    out = {}
    for split, count in (("train", train), ("test", test)):
        images = rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8)
        coarse = rng.integers(0, 20, size=count, dtype=np.uint8)
        fine = rng.integers(0, 100, size=count, dtype=np.uint8)
        records = np.concatenate([coarse[:, None], fine[:, None], _planar_rows(images)], axis=1)
        records.tofile(os.path.join(directory, f"{split}.bin"))
        out[split] = (images, coarse.astype(np.int64), fine.astype(np.int64))
    return out


class Py2Pickler(pickle._Pickler):  # pylint: disable=protected-access
    """Writes str and bytes as Python 2 `str` (BINSTRING), as the official CIFAR files do."""

    dispatch = dict(pickle._Pickler.dispatch)  # pylint: disable=protected-access

    def save_py2_str(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str


class RunsCode:
    """Unpickling an instance calls `function(*arguments)`: the classic pickle exploit."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


def write_pickle(path, obj, style="py2"):
    """style 'py2': as Python 2 wrote CIFAR (numpy.core names); else a protocol number."""
    if style == "py2":
        buffer = io.BytesIO()
        Py2Pickler(buffer, protocol=2).dump(obj)
        data = buffer.getvalue().replace(b"numpy._core.", b"numpy.core.")
    else:
        data = pickle.dumps(obj, protocol=style)
    with open(path, "wb") as f:
        f.write(data)


def write_cifar_python(directory, dataset="cifar10", per_file=6, seed=0, style="py2"):
    """Writes the python-format batch files; returns {split: (images, {label key: labels})}."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    if dataset == "cifar10":
        files = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
        label_classes = {"labels": 10}
    else:
        files = {"train": ["train"], "test": ["test"]}
        label_classes = {"fine_labels": 100, "coarse_labels": 20}
    key = (lambda name: name.encode()) if style == "py2" else (lambda name: name)
    out = {}
    for split, names in files.items():
        images, labels = [], {name: [] for name in label_classes}
        for name in names:
            batch_images = rng.integers(0, 256, size=(per_file, 32, 32, 3), dtype=np.uint8)
            batch = {key("data"): _planar_rows(batch_images), key("batch_label"): name}
            for label_key, classes in label_classes.items():
                batch_labels = [int(x) for x in rng.integers(0, classes, size=per_file)]
                batch[key(label_key)] = batch_labels
                labels[label_key].extend(batch_labels)
            write_pickle(os.path.join(directory, name), batch, style)
            images.append(batch_images)
        out[split] = (np.concatenate(images), {k: np.array(v) for k, v in labels.items()})
    return out


def idx_bytes(array, magic=None):
    """An unsigned-byte IDX file of `array` (magic 0x0800 | ndim unless given)."""
    magic = 0x0800 | array.ndim if magic is None else magic
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_file(path, content, compress=False):
    """Writes `content` to `path`, or gzipped to `path`.gz when `compress`."""
    if compress:
        path += ".gz"
        content = gzip.compress(content)
    with open(path, "wb") as f:
        f.write(content)
    return path


MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def write_mnist(directory, train=9, test=5, compress=True, seed=0):
    """Writes the four IDX files; returns {split: (images [n, 28, 28, 1], labels [n])}."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    out = {}
    for split, count in (("train", train), ("test", test)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=count, dtype=np.uint8)
        images_name, labels_name = MNIST_FILES[split]
        write_file(os.path.join(directory, images_name), idx_bytes(images), compress)
        write_file(os.path.join(directory, labels_name), idx_bytes(labels), compress)
        out[split] = (images[..., None], labels.astype(np.int64))
    return out


@contextlib.contextmanager
def http_server(directory):
    """Serves `directory` on 127.0.0.1; yields its base URL (ending in '/')."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


# The classes of `write_image_folder`.
CLASSES = ("cat", "dog", "emu")


def write_image_folder(root, per_class=5, size=(8, 8), channels=3, seed=0,
                       extensions=(".png",)):
    """root/<class>/<i>.png of random images, a folder a class of CLASSES; returns
    {path: (uint8 image, label)}."""
    from helpers import random_image, write_image  # TensorFlow: only when asked for
    written, index = {}, 0
    for label, name in enumerate(CLASSES):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            image = random_image([*size, channels], seed=seed + index)
            extension = extensions[i % len(extensions)]
            path = os.path.join(root, name, f"{i:03d}{extension}")
            written[path] = (image, label)
            if extension == ".png":
                write_image(path, image)
            index += 1
    return written
