"""Classify image files: `python -m convnet.predict --checkpoint_dir=DIR [--top_k=5] a.png b.jpg`.

Each image (PNG or JPEG, any size, grey or colour) is brought to the dataset's
native shape as `convnet.inference.load_image` documents, preprocessed as in
evaluation and classified with the checkpoint's EMA weights (--nouse_ema: the
raw weights). Prints, per image, its k most probable classes:

    /tmp/cat.png
      1. cat          0.6421
      2. dog          0.1873
"""

from typing import List, Sequence, Tuple

import numpy as np
from absl import flags as absl_flags

from convnet import cli, flags, inference

FLAGS = absl_flags.FLAGS
# Images per forward pass (bounds memory when many files are given).
BATCH_SIZE = 256

Prediction = List[Tuple[str, float]]  # (class name, probability), most probable first


def top_k(probabilities: np.ndarray, class_names: Sequence[str], k: int) -> List[Prediction]:
    """[N, classes] probabilities -> per row, the k most probable (name, probability)."""
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [[(class_names[c], float(row[c])) for c in best]
            for row, best in zip(probabilities, order)]


def predict_files(loaded: inference.InferenceModel, paths: Sequence[str],
                  log=print) -> np.ndarray:
    """float32 [len(paths), classes] class probabilities of the image files."""
    images = inference.load_images(paths, loaded.image_shape, log)
    return np.concatenate([loaded.probabilities(images[i:i + BATCH_SIZE])
                           for i in range(0, len(images), BATCH_SIZE)])


def format_prediction(path: str, prediction: Prediction) -> str:
    lines = [path]
    lines += [f"  {rank}. {name:<12s} {probability:.4f}"
              for rank, (name, probability) in enumerate(prediction, 1)]
    return "\n".join(lines)


def predict(checkpoint_dir: str, paths: Sequence[str], k: int = 5, use_ema: bool = True,
            checkpoint_path=None, log=print, restore_fallback: bool = True) -> List[Prediction]:
    """Loads the checkpoint, classifies `paths`, prints and returns the top-k per image."""
    if k <= 0:
        raise ValueError(f"--top_k must be positive, got {k}")
    loaded = inference.load(checkpoint_dir, checkpoint_path, use_ema, restore_fallback)
    if k > loaded.num_classes:
        raise ValueError(f"--top_k={k} exceeds the {loaded.num_classes} classes")
    notes = []  # conversions, printed once every file has been read
    predictions = top_k(predict_files(loaded, paths, notes.append), loaded.class_names, k)
    weights = "EMA" if use_ema else "raw"
    log(f"{loaded.run_config['model']} model on {loaded.info.name}, checkpoint "
        f"{loaded.checkpoint_path} (step {loaded.step}, {weights} weights)")
    for note in notes:
        log(note)
    for path, prediction in zip(paths, predictions):
        log(format_prediction(path, prediction))
    return predictions


def main(paths: List[str]) -> None:
    if not paths:
        raise ValueError("no image files given: python -m convnet.predict "
                         "--checkpoint_dir=DIR image.png [more.jpg ...]")
    predict(FLAGS.checkpoint_dir, paths, FLAGS.top_k, FLAGS.use_ema, FLAGS.checkpoint,
            restore_fallback=FLAGS.restore_fallback)


def run() -> None:
    absl_flags.DEFINE_string("checkpoint_dir", "/tmp/cifar10_train",
                             "Training directory (run.json and checkpoints) to predict with.")
    absl_flags.DEFINE_string("checkpoint", None, "A checkpoint prefix such as DIR/ckpt-2000 "
                             "(default: the latest in --checkpoint_dir).")
    absl_flags.DEFINE_integer("top_k", 5, "Classes listed per image, most probable first.",
                              lower_bound=1)
    absl_flags.DEFINE_boolean("use_ema", True, "Predict with the moving averages of the "
                              "weights (--nouse_ema: the raw weights).")
    flags.define_restore_flags()
    cli.run_main(main, takes_args=True)


if __name__ == "__main__":
    run()
