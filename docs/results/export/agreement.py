"""The float TFLite (run in LiteRT) and ONNX (run in onnxruntime) exports of a checkpoint against
the checkpoint itself, on the 10,000 CIFAR-10 test images (no TTA: the exports serve one view).

Usage: python docs/results/export/agreement.py TRAIN_DIR EXPORT_ROOT DATA_DIR
(EXPORT_ROOT/tflite/model.tflite and EXPORT_ROOT/onnx/model.onnx, from `python -m convnet.export
--format=tflite|onnx`); prints JSON: the checkpoint's precision @ 1 and, per export, its top-1
agreement with the checkpoint, its own precision @ 1 and the largest logit difference.
"""
import json
import os
import sys

import numpy as np
import onnxruntime
import tensorflow as tf

from convnet.data.sources.spec import SourceSpec, make_source
from convnet.serving import formats, loaded_model

BATCH = 500


def main(train_dir: str, export_root: str, data_dir: str) -> dict:
    loaded = loaded_model.load(train_dir)
    source = make_source(SourceSpec("files", data_dir, download=False))
    pairs = [(image.numpy(), int(label)) for image, label in source.dataset("test")]
    images = np.stack([image for image, _ in pairs])
    labels = np.array([label for _, label in pairs])
    batches = range(0, len(images), BATCH)
    reference = np.concatenate([loaded.logits(tf.constant(images[i:i + BATCH])).numpy()
                                for i in batches])
    tflite = os.path.join(export_root, "tflite", formats.TFLITE_FILE)
    onnx = onnxruntime.InferenceSession(os.path.join(export_root, "onnx", formats.ONNX_FILE),
                                        providers=["CPUExecutionProvider"])
    served = {
        "tflite": np.concatenate([formats.run_tflite(tflite, images[i:i + BATCH])["logits"]
                                  for i in batches]),
        "onnx": np.concatenate([onnx.run(["logits"], {"images": images[i:i + BATCH]})[0]
                                for i in batches]),
    }
    result = {"examples": int(len(images)),
              "checkpoint_precision_at_1": float((reference.argmax(1) == labels).mean())}
    for name, logits in served.items():
        result[name] = {
            "top1_agreement": float((logits.argmax(1) == reference.argmax(1)).mean()),
            "precision_at_1": float((logits.argmax(1) == labels).mean()),
            "max_abs_logit_diff": float(np.abs(logits - reference).max())}
    return result


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4]), indent=2))
