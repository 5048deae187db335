"""Export a trained model: `python -m convnet.export --checkpoint_dir=DIR --export_dir=OUT`.

--format=saved_model (default): a SavedModel whose `serving_default` signature
takes `images`, uint8 [N, H, W, C] at the dataset's native size (32x32x3 for
CIFAR) with any N, applies the run's evaluation preprocessing inside, and
returns float32 `logits` and `probabilities` [N, classes], and the k most
probable `classes` (int32 [N, k]) with their `scores` (float32 [N, k]). Load it
without convnet:

    serve = tf.saved_model.load(OUT).signatures["serving_default"]
    serve(images=tf.constant(uint8_batch))["probabilities"]

--format=tflite: OUT/model.tflite, converted from that same serving function
(signature `serving_default`, the same input and outputs; [1, H, W, C] by default,
resizable to any N); --quantize=dynamic stores its weights as int8.
--format=onnx: OUT/model.onnx through tf2onnx (pip install 'tf2onnx>=1.17' onnxruntime),
the same input and outputs, any N.

--format=npz: OUT/model.npz, every model variable under its name without the
`:0` (e.g. `cifar10/conv1/kernel`), plus `__metadata__`, a JSON string.

All write OUT/metadata.json (model, dataset, class names, input shape,
preprocessing, step, weights). The export is built in a temporary sibling
directory and renamed into place, so a failed export leaves nothing at OUT;
an existing non-empty OUT is refused, never overwritten. (The logic:
`convnet.serving.checkpoint_export`.)
"""

from convnet.runtime import quiet_start  # noqa: F401  (first, before TensorFlow: hides its lines)

# isort: split
from convnet.runtime import cli
from convnet.serving import checkpoint_export as export


def main(config: export.ExportConfig) -> None:
    export.export(config.checkpoint_dir, config.export_dir, config.format, top_k=config.top_k,
                  use_ema=config.use_ema, checkpoint_path=config.checkpoint,
                  restore_fallback=config.restore_fallback,
                  quantize=config.quantize)


def run() -> None:
    cli.run(main, export.ExportConfig)


if __name__ == "__main__":
    run()
