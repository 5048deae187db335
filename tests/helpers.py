"""Helpers several test files share: hand-written train_dirs, image files, the mains in a
subprocess, and independent numpy references (tests/ is on sys.path through conftest.py)."""

import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from convnet import models
from convnet.data import info as data_info
from convnet.data import preprocess
from convnet.nn import ops
from convnet.optim.ema import WeightEMA

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A main's environment: TensorFlow's C++ lines down to errors, no GPU.
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


# --- train_dirs and image files ------------------------------------------------------------

def write_train_dir(directory, dataset="cifar10", step=7):
    """A train_dir of the tutorial model: raw weights, EMA = raw / 2, run.json."""
    info = data_info.dataset_info(dataset)
    model = models.build_model("cifar10", info.num_classes)
    preprocessing = preprocess.Preprocessing("tutorial", 24, "per_image")
    model(tf.zeros([1, 24, 24, info.image_shape[-1]]))
    ema = WeightEMA()
    ema.build(model.trainable_variables)
    for shadow in ema.shadows:
        shadow.assign(shadow * 0.5)
    checkpoint = tf.train.Checkpoint(step=tf.Variable(step, dtype=tf.int64), model=model, ema=ema)
    tf.train.CheckpointManager(checkpoint, str(directory), 1).save(checkpoint_number=step)
    (directory / "run.json").write_text(json.dumps({
        "model": "cifar10", "dataset": info.name, "num_classes": info.num_classes,
        "image_size": 24, "image_channels": info.image_shape[-1],
        "preprocessing": {"augmentation": "tutorial", "image_size": 24,
                          "normalization": "per_image", "channel_mean": None,
                          "channel_std": None, "flip": True}}))  # an earlier release's fields
    return str(directory), model, ema, preprocessing


def write_image(path, image: np.ndarray) -> str:
    encode = tf.io.encode_png if str(path).endswith(".png") else tf.io.encode_jpeg
    tf.io.write_file(str(path), encode(image))
    return str(path)


def assert_same_batches(expected, got):
    """Two lists of (images, labels) numpy batches are equal, batch for batch, bitwise."""
    assert len(expected) == len(got), (len(expected), len(got))
    for (images, labels), (their_images, their_labels) in zip(expected, got, strict=True):
        np.testing.assert_array_equal(images, their_images)
        np.testing.assert_array_equal(labels, their_labels)


def random_image(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


# --- the mains -------------------------------------------------------------------------

def run_main(module, *args, timeout=300, env=None):
    """`python -m module args...` as a user runs it: a CompletedProcess with text output."""
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV if env is None else env)


def check_run_derives_its_flags_from(monkeypatch, main_module, main, *config_classes,
                                     **options):
    """`main_module.run()` is `cli.run(main, *config_classes, **options)`: its flags are those
    of the config classes. (The global FLAGS are left alone: another main's flags may share
    their names.)"""
    calls = []
    monkeypatch.setattr(main_module.cli, "run",
                        lambda *args, **kwargs: calls.append((args, kwargs)))
    main_module.run()
    assert calls == [((main, *config_classes), options)]


# --- independent references -------------------------------------------------------------

def all_examples(ds):
    """(uint8 [N, H, W, C] images, int32 [N] labels): every example of a source's `ds`."""
    images, labels = zip(*[(i.numpy(), lab.numpy()) for i, lab in ds], strict=True)
    return np.stack(images), np.array(labels)


def numpy_translate_and_flip(images, offsets, flips, pad):
    height, width = images.shape[1:3]
    out = []
    for image, (row, column), flip in zip(images, offsets, flips, strict=True):
        padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
        window = padded[row:row + height, column:column + width]
        out.append(window[:, ::-1] if flip else window)
    return np.stack(out)


def train_steps(model, images, labels, optimizer, steps):
    """Losses of `steps` optimizer steps on one batch (cross-entropy + weight decay)."""

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
            loss += ops.weight_decay_loss(model)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return [float(step()) for _ in range(steps)]


def xla_compiled_calls(function, *args) -> int:
    """The calls marked for XLA compilation (`jit_compile=True`) in the graph of `function`
    traced on `args` (tensors or TensorSpecs)."""
    graph = tf.function(function, autograph=False).get_concrete_function(*args).graph
    return sum(op.node_def.attr["_XlaMustCompile"].b for op in graph.get_operations())
