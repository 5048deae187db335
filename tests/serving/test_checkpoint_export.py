"""convnet.serving.checkpoint_export: a Trainer's checkpoint as a SavedModel (reloaded without
convnet, and as a Keras 3 layer) and npz; TFLite and ONNX: tests/serving/test_formats.py."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from convnet import training
from convnet.serving import checkpoint_export as export
from convnet.serving import loaded_model

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")

# Runs in a fresh interpreter: plain TensorFlow, no convnet import.
RELOAD = """
import sys
import numpy as np
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
images = np.load(sys.argv[2])
outputs = {}
for n in (1, 5):
    for key, value in serve(images=tf.constant(images[:n])).items():
        outputs[f"{key}_{n}"] = value.numpy()
assert not any(name.startswith("convnet") for name in sys.modules)
np.savez(sys.argv[3], **outputs)
"""


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    """Two Adam steps of the tutorial model on synthetic data (24x24 crops of 32x32 images)."""
    config = training.TrainConfig.from_settings(
        train_dir=str(tmp_path_factory.mktemp("run") / "train"), data_source="synthetic",
        max_steps=2, batch_size=8, optimizer="adam", shuffle_buffer=16, log_frequency=2,
        save_checkpoint_steps=2, num_parallel_calls=2)
    training.Trainer(config).train()
    return config.train_dir


@pytest.mark.slow
def test_saved_model_reloaded_in_a_fresh_process_matches_the_checkpoint(train_dir, tmp_path):
    out = export.export(train_dir, str(tmp_path / "export"), top_k=3)
    images = np.random.default_rng(0).integers(0, 256, size=[5, 32, 32, 3], dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    done = subprocess.run([sys.executable, "-c", RELOAD, out, str(tmp_path / "images.npy"),
                           str(tmp_path / "outputs.npz")], capture_output=True, text=True,
                          timeout=300, env=ENV, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    served = np.load(tmp_path / "outputs.npz")

    loaded = loaded_model.load(train_dir)
    logits = loaded.logits(images).numpy()
    probabilities = loaded.probabilities(images)
    np.testing.assert_allclose(served["logits_5"], logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(served["probabilities_5"], probabilities, rtol=1e-5, atol=1e-6)
    assert served["classes_5"].shape == (5, 3) and served["classes_5"].dtype == np.int32
    np.testing.assert_array_equal(served["classes_5"], np.argsort(-probabilities, axis=1)[:, :3])
    np.testing.assert_allclose(served["scores_5"],
                               np.take_along_axis(probabilities, served["classes_5"], 1),
                               rtol=1e-6)
    assert served["probabilities_1"].shape == (1, 10)
    np.testing.assert_allclose(served["probabilities_1"][0], served["probabilities_5"][0],
                               rtol=1e-5, atol=1e-6)

    meta = json.load(open(os.path.join(out, export.METADATA_FILE), encoding="utf-8"))
    assert meta["class_names"][0] == "airplane" and meta["input_shape"] == [32, 32, 3]
    assert meta["step"] == 2 and meta["weights"] == "ema"
    assert meta["preprocessing"]["image_size"] == 24
    assert not [name for name in os.listdir(tmp_path) if ".tmp-" in name]


def test_npz_holds_every_variable_by_name_and_the_metadata(train_dir, tmp_path):
    out = export.export(train_dir, str(tmp_path / "npz"), export_format="npz")
    arrays = np.load(os.path.join(out, export.NPZ_FILE))
    loaded = loaded_model.load(train_dir)
    names = {v.name[:-2]: v for v in loaded.model.variables}
    assert set(arrays.files) == set(names) | {export.NPZ_METADATA_KEY}
    assert "cifar10/conv1/kernel" in names
    for name, variable in names.items():
        np.testing.assert_array_equal(arrays[name], variable.numpy())
    meta = json.loads(str(arrays[export.NPZ_METADATA_KEY]))
    assert meta["model"] == "cifar10" and len(meta["class_names"]) == 10
    assert meta["preprocessing"]["normalization"] == "per_image"

    raw = np.load(os.path.join(export.export(train_dir, str(tmp_path / "raw"), "npz",
                                                use_ema=False), export.NPZ_FILE))
    assert any(not np.array_equal(raw[name], arrays[name]) for name in names)


def test_an_occupied_export_dir_is_refused_and_a_failed_export_leaves_nothing(
        train_dir, tmp_path, monkeypatch):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="already exists and is not empty"):
        export.export(train_dir, str(occupied), export_format="npz")
    assert os.listdir(occupied) == ["keep.txt"]

    def fail(loaded, top_k, directory):
        open(os.path.join(directory, "half.bin"), "wb").close()
        raise OSError("disk full")

    monkeypatch.setattr(export, "_write_npz", fail)
    with pytest.raises(OSError, match="disk full"):
        export.export(train_dir, str(tmp_path / "failed"), export_format="npz")
    assert sorted(os.listdir(tmp_path)) == ["occupied"]
    with pytest.raises(ValueError, match="--top_k=11 exceeds the 10 classes"):
        export.export(train_dir, str(tmp_path / "k"), top_k=11)
    with pytest.raises(ValueError, match="unknown --format='coreml'"):
        export.export(train_dir, str(tmp_path / "k"), export_format="coreml")


def test_the_saved_model_is_a_keras_3_layer_through_tfsmlayer(train_dir, tmp_path):
    out = export.export(train_dir, str(tmp_path / "export"), top_k=3)
    images = np.random.default_rng(1).integers(0, 256, size=[4, 32, 32, 3], dtype=np.uint8)
    served = tf.saved_model.load(out).signatures["serving_default"](images=tf.constant(images))

    layer = keras.layers.TFSMLayer(out, call_endpoint="serving_default")
    inputs = keras.Input(shape=(32, 32, 3), dtype="uint8", name="images")
    outputs = layer(inputs)  # the signature's dict of outputs
    assert sorted(outputs) == ["classes", "logits", "probabilities", "scores"]
    model = keras.Model(inputs, outputs["probabilities"])
    np.testing.assert_array_equal(model.predict(images, verbose=0),
                                  served["probabilities"].numpy())
    assert len(layer.trainable_weights) == 10  # the export's variables: fine-tunable
    frozen = keras.layers.TFSMLayer(out, call_endpoint="serving_default", trainable=False)
    assert not frozen.trainable_weights and len(frozen.non_trainable_weights) == 10

    sequential = keras.Sequential([keras.Input(shape=(32, 32, 3), dtype="uint8"), layer])
    for key, value in sequential(images).items():
        np.testing.assert_array_equal(np.asarray(value), served[key].numpy())

    head = keras.layers.Dense(2)  # a new head on the exported logits, as for transfer
    with_head = keras.Model(inputs, head(outputs["logits"]))
    np.testing.assert_allclose(with_head(images), head(served["logits"]), rtol=1e-5, atol=1e-6)
