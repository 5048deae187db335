"""convnet.export, the main: its flags, the files it writes, errors as one line.

The export itself (SavedModel reloaded without convnet, npz, staging):
tests/serving/test_checkpoint_export.py.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from convnet.runtime import quiet_start
from convnet.serving import checkpoint_export as export
from convnet.serving import formats

from helpers import write_train_dir

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    """A tutorial-model train_dir written directly (step 7), without training."""
    return write_train_dir(tmp_path_factory.mktemp("train"))[0]


def _export(*args, env=ENV):
    return subprocess.run([sys.executable, "-m", "convnet.export", *args],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_the_main_exports_npz_of_the_raw_weights_of_a_checkpoint(train_dir, tmp_path):
    out = tmp_path / "npz"
    done = _export(f"--checkpoint_dir={train_dir}", f"--checkpoint={train_dir}/ckpt-7",
                   f"--export_dir={out}", "--format=npz", "--top_k=3", "--nouse_ema",
                   "--norestore_fallback")
    assert done.returncode == 0, done.stderr
    assert "(step 7, raw weights) as npz to " in done.stdout
    assert sorted(os.listdir(out)) == [export.METADATA_FILE, export.NPZ_FILE]
    meta = json.load(open(out / export.METADATA_FILE, encoding="utf-8"))
    assert meta["top_k"] == 3 and meta["weights"] == "raw" and meta["checkpoint"].endswith(
        "ckpt-7")
    assert export.NPZ_METADATA_KEY in np.load(out / export.NPZ_FILE).files


@pytest.mark.slow
def test_the_main_exports_a_dynamic_range_quantized_tflite_quietly(train_dir, tmp_path):
    out = tmp_path / "tflite"
    quiet = {k: v for k, v in ENV.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "CONVNET_TF_LOGS")}
    done = _export(f"--checkpoint_dir={train_dir}", f"--export_dir={out}", "--format=tflite",
                   "--quantize=dynamic", env=quiet)
    assert done.returncode == 0, done.stderr
    # The converter's C++ lines (SavedModel reader and loader, MLIR, "Ignored output_format.")
    # are held back (convnet.runtime.quiet_start.converter_lines_held).
    noise = [line for line in done.stderr.splitlines()
             if quiet_start.CONVERTER_NOISE.match(line.encode())]
    assert noise == [], done.stderr
    assert "(step 7, EMA weights) as tflite (dynamic-quantized) to " in done.stdout
    assert sorted(os.listdir(out)) == [export.METADATA_FILE, formats.TFLITE_FILE]
    meta = json.load(open(out / export.METADATA_FILE, encoding="utf-8"))
    assert meta["format"] == "tflite" and meta["quantize"] == "dynamic"


@pytest.mark.slow
def test_quantizing_another_format_is_one_error_line(train_dir, tmp_path):
    done = _export(f"--checkpoint_dir={train_dir}", f"--export_dir={tmp_path / 'out'}",
                   "--format=npz", "--quantize=dynamic")
    assert done.returncode == 1
    assert ("error: --quantize=dynamic applies to --format=tflite only, not --format=npz"
            in done.stderr)
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_an_occupied_export_dir_is_one_error_line(train_dir, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    done = _export(f"--checkpoint_dir={train_dir}", f"--export_dir={tmp_path}")
    assert done.returncode == 1
    assert f"error: --export_dir={tmp_path} already exists and is not empty" in done.stderr
    assert os.listdir(tmp_path) == ["keep.txt"]

