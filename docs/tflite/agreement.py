"""TFLite (float and dynamic int8) vs the checkpoint on the 10,000 CIFAR-10 test images.

Usage: python docs/tflite/agreement.py TRAIN_DIR EXPORT_ROOT DATA_DIR (EXPORT_ROOT/float and
EXPORT_ROOT/dynamic hold the two exports); prints JSON."""
import json
import os
import sys

import numpy as np
import tensorflow as tf

from convnet.data.sources.spec import SourceSpec, make_source
from convnet.serving import formats, loaded_model

train_dir, export_root, data_dir = sys.argv[1:4]
loaded = loaded_model.load(train_dir)
source = make_source(SourceSpec("files", data_dir, download=False))
images, labels = [], []
for image, label in source.dataset("test"):
    images.append(image.numpy())
    labels.append(int(label))
images, labels = np.stack(images), np.array(labels)
batch = 500
ckpt_logits = np.concatenate([loaded.logits(tf.constant(images[i:i + batch])).numpy()
                              for i in range(0, len(images), batch)])
result = {"examples": int(len(images)),
          "checkpoint_accuracy": float((ckpt_logits.argmax(1) == labels).mean())}
for name in ("float", "dynamic"):
    path = os.path.join(export_root, name, "model.tflite")
    runner = formats.tflite_interpreter(path).get_signature_runner("serving_default")
    logits = np.concatenate([runner(images=images[i:i + batch])["logits"]
                             for i in range(0, len(images), batch)])
    result[name] = {"file_bytes": os.path.getsize(path),
                    "top1_agreement": float((logits.argmax(1) == ckpt_logits.argmax(1)).mean()),
                    "accuracy": float((logits.argmax(1) == labels).mean()),
                    "max_abs_logit_diff": float(np.abs(logits - ckpt_logits).max())}
print(json.dumps(result, indent=2))
