"""The export formats that leave TensorFlow: TFLite and ONNX (used by
convnet.serving.checkpoint_export).

Both are converted from the SavedModel's own serving function (a `tf.function`
taking `images`, uint8 [N, H, W, C] with any N, preprocessing inside, returning
`logits`, `probabilities`, `classes` and `scores`), so they take and return the
same tensors as the SavedModel's `serving_default` signature.

tflite: `model.tflite`, one signature `serving_default` (input `images`,
shape [1, H, W, C] by default, resizable to any N; the interpreter's
signature runner resizes it to the batch it is given). `quantize="dynamic"`
stores the weights as int8 with float activations (dynamic-range
quantization: about 4x smaller, outputs close to, not equal to, the float
model's).

onnx: `model.onnx` through tf2onnx (an optional dependency, `pip install
'tf2onnx>=1.17' onnxruntime`: 1.16 pins protobuf 3.20, which TensorFlow 2.21
cannot use), opset ONNX_OPSET, input `images` uint8 [N, H, W, C],
outputs named as the signature's.
"""

import importlib.util
import os
import warnings

import numpy as np
import tensorflow as tf

from convnet.runtime import converter_output
from convnet.runtime.errors import ConvnetError

TFLITE_FILE = "model.tflite"
ONNX_FILE = "model.onnx"
ONNX_OPSET = 17
QUANTIZE_MODES = ("none", "dynamic")
TFLITE_SIGNATURE = "serving_default"


class MissingDependencyError(ConvnetError, ImportError):
    """An optional package that the requested format needs is not installed."""


class UnsupportedOpError(ConvnetError, ValueError):
    """The model holds an op that the format's converter cannot convert."""


def require_onnx() -> None:
    """Raises MissingDependencyError (one line, before any model is built) without tf2onnx."""
    if importlib.util.find_spec("tf2onnx") is None:
        raise MissingDependencyError("--format=onnx needs tf2onnx (and onnxruntime to run the "
                                     "model): pip install 'tf2onnx>=1.17' onnxruntime")


def check_quantize(quantize: str, export_format: str) -> None:
    """Raises ValueError for an unknown mode, or a quantization of a format other than tflite."""
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"unknown --quantize={quantize!r}: choose from "
                         f"{', '.join(QUANTIZE_MODES)}")
    if quantize != "none" and export_format != "tflite":
        raise ValueError(f"--quantize={quantize} applies to --format=tflite only, not "
                         f"--format={export_format}")


def tflite_bytes(serve, trackable: tf.Module, quantize: str = "none") -> bytes:
    """The TFLite flatbuffer of `serve` (a tf.function with an input_signature) and the
    variables `trackable` holds; dynamic-range int8 weights when quantize='dynamic'."""
    check_quantize(quantize, "tflite")
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [serve.get_concrete_function()], trackable)
    if quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # no dataset: dynamic range
    with converter_output.held():
        return converter.convert()


def write_tflite(serve, trackable: tf.Module, directory: str, *, quantize: str = "none") -> str:
    """Writes `directory/model.tflite`; returns its path."""
    path = os.path.join(directory, TFLITE_FILE)
    with open(path, "wb") as f:
        f.write(tflite_bytes(serve, trackable, quantize))
    return path


def _erfc_as_one_minus_erf(ctx, node, name, args):  # noqa: PLR0917 (tf2onnx calls a handler by position)
    """tf2onnx handler: TF's Erfc (exact GELU, `tf.nn.gelu`) as 1 - Erf(x), which ONNX has;
    tf2onnx 1.17 converts Erf but leaves Erfc, an op no ONNX runtime knows."""
    from tf2onnx import utils
    dtype = ctx.get_dtype(node.input[0])
    node.type = "Erf"
    one = ctx.make_const(utils.make_name(f"{name}_one"),
                         np.array(1, utils.map_onnx_to_numpy_type(dtype)))
    sub = ctx.insert_new_node_on_output("Sub", node.output[0], name=utils.make_name(f"{name}_c"),
                                        inputs=[one.output[0], node.output[0]])
    ctx.set_dtype(sub.output[0], dtype)
    ctx.copy_shape(node.output[0], sub.output[0])


ONNX_OP_HANDLERS = {"Erfc": (_erfc_as_one_minus_erf, [])}


def write_onnx(serve, directory: str, opset: int = ONNX_OPSET) -> str:
    """Writes `directory/model.onnx` through tf2onnx; returns its path.

    Raises:
      MissingDependencyError: tf2onnx is not installed (the message says what to install).
      UnsupportedOpError: the converted graph is not valid ONNX (an op tf2onnx
        cannot convert), so that no runtime would load it.
    """
    require_onnx()
    import onnx  # optional, as tf2onnx (which requires it)
    import tf2onnx

    with converter_output.held():
        proto, _ = tf2onnx.convert.from_function(serve, input_signature=serve.input_signature,
                                                 opset=opset, custom_op_handlers=ONNX_OP_HANDLERS)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UnsupportedOpError(f"--format=onnx: tf2onnx {tf2onnx.__version__} made an invalid "
                                 f"ONNX model ({first[:300]}); use --format=saved_model or "
                                 f"tflite for this model.") from e
    path = os.path.join(directory, ONNX_FILE)
    onnx.save(proto, path)
    return path


def tflite_interpreter(path: str):
    """An interpreter of the .tflite file `path`: LiteRT's (`ai_edge_litert`, which replaces
    `tf.lite.Interpreter`) where it is installed, else TensorFlow's (the same API)."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # pylint: disable=import-outside-toplevel
    except ImportError:
        with warnings.catch_warnings():  # tf.lite.Interpreter warns that LiteRT replaces it
            warnings.simplefilter("ignore", UserWarning)
            return tf.lite.Interpreter(model_path=path)
    return Interpreter(model_path=path)


def run_tflite(path: str, images) -> dict[str, np.ndarray]:
    """Runs `model.tflite`'s serving signature on uint8 [N, H, W, C] images (any N):
    {output name: array}, with `tflite_interpreter`."""
    interpreter = tflite_interpreter(path)
    runner = interpreter.get_signature_runner(TFLITE_SIGNATURE)
    return runner(images=np.asarray(images, np.uint8))
