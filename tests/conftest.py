"""Shared fixtures: quiet TensorFlow, tiny CIFAR-10 binary files written by the tests, a
snippet run in a fresh Python."""

import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import convnet  # noqa: E402, F401  (before tensorflow: the tests run the kernels users get)

# isort: split
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so tf.distribute tests can mirror across them; the
# default strategy still runs everything on the first. Must precede any TF op.
LOGICAL_CPUS = ["/cpu:0", "/cpu:1"]
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)

RECORD_BYTES = 3073


def run_python(code, *args, **env):
    """`python -c code args...` in a fresh process, its environment this one's plus `env`:
    a CompletedProcess with text stdout and stderr (300 s at most)."""
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env})


def write_cifar_files(directory, train_per_file=8, test=10, seed=0, num_files=5):
    """Writes data_batch_1..num_files.bin and test_batch.bin of random records.

    Returns {split: (images uint8 [n, 32, 32, 3], labels int [n])} in file order.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    out = {}
    for split, names, count in (("train", [f"data_batch_{i}.bin" for i in range(1, num_files + 1)],
                                 train_per_file), ("test", ["test_batch.bin"], test)):
        images, labels = [], []
        for name in names:
            planes = rng.integers(0, 256, size=(count, 3, 32, 32), dtype=np.uint8)
            label = rng.integers(0, 10, size=count, dtype=np.uint8)
            records = np.concatenate([label[:, None], planes.reshape(count, -1)], axis=1)
            records.tofile(os.path.join(directory, name))
            images.append(planes.transpose(0, 2, 3, 1))
            labels.append(label.astype(np.int64))
        out[split] = (np.concatenate(images), np.concatenate(labels))
    return out


@pytest.fixture
def cifar_dir(tmp_path):
    """A tiny cifar-10-batches-bin directory: 5 x 8 training and 10 test records."""
    path = tmp_path / "cifar-10-batches-bin"
    arrays = write_cifar_files(str(path))
    return str(path), arrays


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes over ~30 s (e.g. a two-process cluster); run by default, "
        "deselect with -m 'not slow'")
    config.addinivalue_line(
        "markers", "kill_harness: SIGKILLs a training subprocess at random moments and checks "
        "that every restart resumes without losing work (tests/kill_harness.py; a few minutes)")
