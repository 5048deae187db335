"""convnet.serving.formats through convnet.serving.checkpoint_export: TFLite (float and
dynamic-range int8) and ONNX files run by their own runtimes against the checkpoint's logits."""

import importlib.util
import json
import os
import sys
import warnings

import numpy as np
import pytest
import tensorflow as tf

from convnet.serving import checkpoint_export as export
from convnet.serving import formats, loaded_model

from helpers import write_train_dir


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory):
    """The tutorial model with He-scaled random weights (logits of a few units, several
    classes predicted), EMA = raw, as checkpoint 8 over write_train_dir's step 7."""
    directory, model, ema, _ = write_train_dir(tmp_path_factory.mktemp("train"))
    rng = np.random.default_rng(1)
    for variable in model.trainable_variables:
        shape = variable.shape.as_list()
        if len(shape) > 1:
            variable.assign(rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[:-1])), shape))
        else:
            variable.assign(rng.normal(0.0, 0.1, shape))
    for shadow, variable in zip(ema.shadows, model.trainable_variables, strict=True):
        shadow.assign(variable)
    checkpoint = tf.train.Checkpoint(step=tf.Variable(8, dtype=tf.int64), model=model, ema=ema)
    tf.train.CheckpointManager(checkpoint, directory, 2).save(checkpoint_number=8)
    return directory


@pytest.fixture(scope="module")
def images():
    """16 images of 4x4 random colour blocks, 8x8 pixels each (uint8 [16, 32, 32, 3])."""
    blocks = np.random.default_rng(2).integers(0, 256, size=[16, 4, 4, 3], dtype=np.uint8)
    return blocks.repeat(8, axis=1).repeat(8, axis=2)


@pytest.fixture(scope="module")
def reference(train_dir, images):
    loaded = loaded_model.load(train_dir)
    return loaded.logits(images).numpy(), loaded.probabilities(images)


def _margins(logits):
    ordered = np.sort(logits, axis=1)
    return ordered[:, -1] - ordered[:, -2]


def test_float_tflite_matches_the_checkpoint_on_one_image_and_a_batch(
        train_dir, images, reference, tmp_path):
    logits, probabilities = reference
    assert len(set(logits.argmax(axis=1))) >= 3  # the images are told apart
    out = export.export(train_dir, str(tmp_path / "tflite"), "tflite", top_k=3)
    assert sorted(os.listdir(out)) == [export.METADATA_FILE, formats.TFLITE_FILE]
    path = os.path.join(out, formats.TFLITE_FILE)
    served = formats.run_tflite(path, images)
    np.testing.assert_allclose(served["logits"], logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(served["probabilities"], probabilities, rtol=1e-4, atol=1e-5)
    assert served["classes"].shape == (16, 3) and served["classes"].dtype == np.int32
    np.testing.assert_array_equal(served["classes"][:, 0], logits.argmax(axis=1))
    np.testing.assert_allclose(served["scores"],
                               np.take_along_axis(served["probabilities"], served["classes"], 1))
    one = formats.run_tflite(path, images[:1])  # the file's default shape, [1, H, W, C]
    np.testing.assert_allclose(one["logits"], logits[:1], rtol=1e-4, atol=1e-4)

    interpreter = formats.tflite_interpreter(path)
    (spec,) = interpreter.get_input_details()
    assert spec["dtype"] == np.uint8 and list(spec["shape_signature"]) == [-1, 32, 32, 3]
    meta = json.load(open(os.path.join(out, export.METADATA_FILE), encoding="utf-8"))
    assert meta["format"] == "tflite" and meta["quantize"] == "none" and meta["step"] == 8


def test_the_interpreter_is_litert_where_installed_and_tensorflows_elsewhere(
        train_dir, monkeypatch, tmp_path):
    path = os.path.join(export.export(train_dir, str(tmp_path / "float"), "tflite"),
                        formats.TFLITE_FILE)
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = None
    if Interpreter is not None:
        assert type(formats.tflite_interpreter(path)) is Interpreter
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # not installed
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # TensorFlow's deprecation warning stays hidden
        fallback = formats.tflite_interpreter(path)
    assert type(fallback) is tf.lite.Interpreter


def test_dynamic_range_tflite_is_smaller_and_agrees_on_the_top_class(
        train_dir, images, reference, tmp_path):
    logits, _ = reference
    float_dir = export.export(train_dir, str(tmp_path / "float"), "tflite")
    out = export.export(train_dir, str(tmp_path / "dynamic"), "tflite", quantize="dynamic")
    path = os.path.join(out, formats.TFLITE_FILE)
    float_size = os.path.getsize(os.path.join(float_dir, formats.TFLITE_FILE))
    assert os.path.getsize(path) < float_size / 3  # int8 weights

    served = formats.run_tflite(path, images)["logits"]
    error = np.abs(served - logits)
    assert error.max() < 0.1 * (logits.max() - logits.min())  # close, not equal
    agree = served.argmax(axis=1) == logits.argmax(axis=1)
    # Measured: 15 of 16 agree, the other's top two float logits 0.004 apart; max error 0.11.
    clear = _margins(logits) > 0.25  # the float top class leads by twice that error
    assert clear.sum() >= 8 and agree[clear].all()
    assert agree.mean() >= 0.8
    meta = json.load(open(os.path.join(out, export.METADATA_FILE), encoding="utf-8"))
    assert meta["quantize"] == "dynamic"


def test_quantize_applies_to_tflite_only_and_is_checked_before_loading(tmp_path):
    missing = str(tmp_path / "no_train_dir")
    with pytest.raises(ValueError, match="--quantize=dynamic applies to --format=tflite only"):
        export.export(missing, str(tmp_path / "x"), "saved_model", quantize="dynamic")
    with pytest.raises(ValueError, match="unknown --quantize='int4'"):
        export.export(missing, str(tmp_path / "x"), "tflite", quantize="int4")
    assert os.listdir(tmp_path) == []


def test_onnx_without_tf2onnx_is_one_clear_error(tmp_path, monkeypatch):
    real = formats.importlib.util.find_spec
    monkeypatch.setattr(formats.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    with pytest.raises(formats.MissingDependencyError,
                       match=r"pip install 'tf2onnx>=1\.17'"):
        export.export(str(tmp_path / "no_train_dir"), str(tmp_path / "x"), "onnx")
    assert os.listdir(tmp_path) == []


def test_onnx_run_by_onnxruntime_matches_the_checkpoint(train_dir, images, reference, tmp_path):
    pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    logits, probabilities = reference
    out = export.export(train_dir, str(tmp_path / "onnx"), "onnx", top_k=3)
    assert sorted(os.listdir(out)) == [export.METADATA_FILE, formats.ONNX_FILE]
    session = ort.InferenceSession(os.path.join(out, formats.ONNX_FILE),
                                   providers=["CPUExecutionProvider"])
    (spec,) = session.get_inputs()
    assert spec.name == "images" and spec.type == "tensor(uint8)" and spec.shape[1:] == [32, 32, 3]
    names = [output.name for output in session.get_outputs()]
    assert sorted(names) == ["classes", "logits", "probabilities", "scores"]
    for n in (1, 16):
        served = dict(zip(names, session.run(None, {"images": images[:n]}), strict=True))
        np.testing.assert_allclose(served["logits"], logits[:n], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(served["probabilities"], probabilities[:n], rtol=1e-4,
                                   atol=1e-5)
        np.testing.assert_array_equal(served["classes"][:, 0], logits[:n].argmax(axis=1))
        assert served["classes"].dtype == np.int32 and served["scores"].shape == (n, 3)


def _gelu_function():
    return tf.function(lambda x: tf.nn.gelu(x, approximate=False),
                       input_signature=[tf.TensorSpec([None, 8], tf.float32)])


def test_onnx_converts_exact_gelu_whose_erfc_tf2onnx_leaves_alone(tmp_path, monkeypatch):
    """fast93/fast94 use tf.nn.gelu: TF's graph holds Erfc, which ONNX has not (1 - Erf)."""
    pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    gelu = _gelu_function()
    x = np.linspace(-4.0, 4.0, 24, dtype=np.float32).reshape(3, 8)
    path = formats.write_onnx(gelu, str(tmp_path))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (served,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(served, gelu(x).numpy(), rtol=1e-5, atol=1e-6)

    monkeypatch.setattr(formats, "ONNX_OP_HANDLERS", {})  # as tf2onnx alone does
    with pytest.raises(formats.UnsupportedOpError, match="No Op registered for Erfc"):
        formats.write_onnx(gelu, str(tmp_path / "plain"))


@pytest.mark.slow
def test_a_fast93_export_holds_plain_ops_and_leaves_tensorflow_as_tflite_and_onnx(tmp_path):
    """fast93 fuses each GELU into an XLA-compiled call in training and evaluation; the
    exporters trace with plain ops (ops.plain_ops) and the portable normal CDF (no Erf, which
    TFLite and ONNX have no kernel for): no function of the SavedModel is compiled, and the
    SavedModel, TFLite (LiteRT) and ONNX (onnxruntime) files serve the checkpoint's logits."""
    from convnet import training

    config = training.TrainConfig.from_settings(
        train_dir=str(tmp_path / "train"), data_source="synthetic", model="fast93",
        normalization="per_channel", augmentation="none", max_steps=1, batch_size=8,
        shuffle_buffer=16, log_frequency=1, save_checkpoint_steps=1, num_parallel_calls=1)
    training.Trainer(config).train()
    images = np.random.default_rng(3).integers(0, 256, size=[4, 32, 32, 3], dtype=np.uint8)
    logits = loaded_model.load(config.train_dir).logits(images).numpy()
    out = export.export(config.train_dir, str(tmp_path / "saved"), top_k=3)
    serve = tf.saved_model.load(out).signatures["serving_default"]
    library = serve.graph.as_graph_def().library.function
    # The custom gradients are saved too (their backward is compiled); the serving path is not.
    assert sum(node.attr["_XlaMustCompile"].b for function in library for node in function.node_def
               if "grad_fn" not in function.signature.name) == 0
    served = serve(tf.constant(images))
    np.testing.assert_allclose(served["logits"].numpy(), logits, rtol=1e-4, atol=1e-4)
    tflite = export.export(config.train_dir, str(tmp_path / "tflite"), "tflite", top_k=3)
    served = formats.run_tflite(os.path.join(tflite, formats.TFLITE_FILE), images)
    np.testing.assert_allclose(served["logits"], logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(served["classes"][:, 0], logits.argmax(axis=1))
    if importlib.util.find_spec("tf2onnx") and importlib.util.find_spec("onnxruntime"):
        import onnxruntime as ort
        onnx = export.export(config.train_dir, str(tmp_path / "onnx"), "onnx", top_k=3)
        session = ort.InferenceSession(os.path.join(onnx, formats.ONNX_FILE),
                                       providers=["CPUExecutionProvider"])
        (served_logits,) = session.run(["logits"], {"images": images})
        np.testing.assert_allclose(served_logits, logits, rtol=1e-4, atol=1e-4)
