"""Export a trained checkpoint: the logic of `convnet.export`.

format saved_model: a SavedModel whose `serving_default` signature takes
`images`, uint8 [N, H, W, C] at the dataset's native size with any N, applies the
run's evaluation preprocessing inside, and returns float32 `logits` and
`probabilities` [N, classes], and the k most probable `classes` (int32 [N, k])
with their `scores` (float32 [N, k]). format tflite / onnx: `model.tflite` /
`model.onnx`, converted from that same serving function (convnet.serving.formats;
tflite optionally with dynamic-range int8 weights, `quantize="dynamic"`).
format npz: `model.npz`, every model variable under its name without the `:0`,
plus `__metadata__`, a JSON string. All write `metadata.json`. The export is built
in a temporary sibling directory and renamed into place, so a failed export
leaves nothing behind.
"""

import dataclasses
import json
import os
import shutil
import tempfile
from typing import Any

import numpy as np
import tensorflow as tf

from convnet.nn import ops
from convnet.runtime import console, paths
from convnet.runtime.options import option
from convnet.serving import formats, loaded_model
from convnet.serving.formats import QUANTIZE_MODES

FORMATS = ("saved_model", "tflite", "onnx", "npz")
METADATA_FILE = "metadata.json"
NPZ_FILE = "model.npz"
NPZ_METADATA_KEY = "__metadata__"


@dataclasses.dataclass
class ExportConfig(loaded_model.InferenceConfig):
    """What `convnet.export` writes, and where; the checkpoint is InferenceConfig's."""
    export_dir: str | None = option(None, "Directory to create with the export (refused if "
                                       "it exists and is not empty).", required=True)
    format: str = option("saved_model", "saved_model: a uint8-in serving signature with "
                         "preprocessing inside; tflite: model.tflite of that signature; onnx: "
                         "model.onnx of it (needs tf2onnx); npz: the variables by name, for "
                         "other frameworks.", choices=FORMATS)
    quantize: str = option("none", "--format=tflite only: dynamic stores the weights as int8 "
                           "(dynamic-range quantization, about 4x smaller); none keeps float32.",
                           choices=QUANTIZE_MODES)


class ServingModule(tf.Module):
    """The model plus its evaluation preprocessing, as one uint8-in signature."""

    def __init__(self, loaded: loaded_model.InferenceModel, top_k: int):
        super().__init__(name="convnet_serving")
        self.model = loaded.model
        self._loaded = loaded
        self._top_k = top_k
        spec = tf.TensorSpec([None, *loaded.image_shape], tf.uint8, name="images")
        self.serve = tf.function(self._serve, input_signature=[spec])

    def _serve(self, images):
        logits = self._loaded.logits(images)
        probabilities = tf.nn.softmax(logits)
        scores, classes = tf.math.top_k(probabilities, k=self._top_k)
        return {"logits": logits, "probabilities": probabilities,
                "classes": tf.cast(classes, tf.int32), "scores": scores}


def metadata(loaded: loaded_model.InferenceModel, top_k: int, export_format: str = "saved_model",
             *, quantize: str = "none") -> dict[str, Any]:
    """metadata.json (and the npz's __metadata__): what the export holds, and from where."""
    return {"format": export_format, "quantize": quantize, "model": loaded.record.model,
            "dataset": loaded.info.name, "num_classes": loaded.num_classes,
            "class_names": loaded.class_names,
            "input_shape": list(loaded.image_shape), "input_dtype": "uint8",
            "preprocessing": dataclasses.asdict(loaded.preprocessing), "top_k": top_k,
            "step": loaded.step, "checkpoint": loaded.checkpoint_path,
            "weights": "ema" if loaded.use_ema else "raw"}


def variable_arrays(model) -> dict[str, np.ndarray]:
    """{variable name without ':0': value} of every model variable (trainable or not)."""
    arrays = {}
    for variable in model.variables:
        name = variable.name[:-2] if variable.name.endswith(":0") else variable.name
        if name in arrays:
            raise ValueError(f"two model variables are named {name}: cannot export them by name")
        arrays[name] = variable.numpy()
    return arrays


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_saved_model(loaded, top_k: int, directory: str) -> None:
    module = ServingModule(loaded, top_k)
    tf.saved_model.save(module, directory, signatures={"serving_default": module.serve})


def _write_tflite(loaded, top_k: int, directory: str, *, quantize: str = "none") -> None:
    module = ServingModule(loaded, top_k)
    formats.write_tflite(module.serve, module, directory, quantize=quantize)


def _write_onnx(loaded, top_k: int, directory: str) -> None:
    formats.write_onnx(ServingModule(loaded, top_k).serve, directory)


def _write_npz(loaded, top_k: int, directory: str) -> None:
    arrays = variable_arrays(loaded.model)
    if NPZ_METADATA_KEY in arrays:
        raise ValueError(f"a model variable is named {NPZ_METADATA_KEY}")
    arrays[NPZ_METADATA_KEY] = np.array(json.dumps(metadata(loaded, top_k, "npz")))
    np.savez(os.path.join(directory, NPZ_FILE), **arrays)


def _write(loaded, top_k: int, directory: str, *, export_format: str, quantize: str) -> None:
    # Traced with plain ops: converters cannot read an XLA-compiled call (ops.plain_ops).
    with ops.plain_ops():
        if export_format == "tflite":
            _write_tflite(loaded, top_k, directory, quantize=quantize)
        else:
            writers = {"saved_model": _write_saved_model, "onnx": _write_onnx,
                       "npz": _write_npz}
            writers[export_format](loaded, top_k, directory)


def export(checkpoint_dir: str, export_dir: str, export_format: str = "saved_model",
           *, top_k: int = 5, use_ema: bool = True, checkpoint_path=None,
           restore_fallback: bool = True, quantize: str = "none") -> str:
    """Exports the checkpoint into `export_dir` (which must not exist, or be empty).

    Returns `export_dir`. Raises ValueError for a bad format, quantize mode (or a
    quantized format other than tflite), top_k or an occupied export_dir;
    CheckpointError for a missing checkpoint; MissingDependencyError for onnx
    without tf2onnx.
    """
    if export_format not in FORMATS:
        raise ValueError(f"unknown --format={export_format!r}: choose from {', '.join(FORMATS)}")
    formats.check_quantize(quantize, export_format)
    if export_format == "onnx":
        formats.require_onnx()
    if top_k <= 0:
        raise ValueError(f"--top_k must be positive, got {top_k}")
    export_dir = os.path.abspath(export_dir)
    if os.path.exists(export_dir) and (not os.path.isdir(export_dir) or os.listdir(export_dir)):
        raise ValueError(f"--export_dir={export_dir} already exists and is not empty: choose a "
                         f"new directory or delete that one.")
    paths.ensure_writable_dir(os.path.dirname(export_dir), "--export_dir",
                              f"the directory of --export_dir={export_dir}")
    loaded = loaded_model.load(checkpoint_dir, checkpoint_path, use_ema,
                               restore_fallback=restore_fallback)
    if top_k > loaded.num_classes:
        raise ValueError(f"--top_k={top_k} exceeds the {loaded.num_classes} classes")
    parent = os.path.dirname(export_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(export_dir)}.tmp-", dir=parent)
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would survive the rename
    try:
        _write(loaded, top_k, staging, export_format=export_format, quantize=quantize)
        with open(os.path.join(staging, METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(metadata(loaded, top_k, export_format, quantize=quantize), f, indent=2)
        if os.path.isdir(export_dir):
            os.rmdir(export_dir)  # empty, checked above
        os.rename(staging, export_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    weights = "EMA" if loaded.use_ema else "raw"
    kind = export_format + (f" ({quantize}-quantized)" if quantize != "none" else "")
    console.log(f"exported {loaded.checkpoint_path} (step {loaded.step}, {weights} weights) as "
                f"{kind} to {export_dir}")
    return export_dir
