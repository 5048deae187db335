"""Classify image files with a trained checkpoint: the logic of `convnet.predict`.

Each image (PNG or JPEG, any size, grey or colour) is brought to the dataset's
native shape as `convnet.serving.loaded_model.load_image` documents, preprocessed as in
evaluation and classified with the checkpoint's EMA weights (or its raw
weights); `predict` prints and returns, per image, its k most probable classes.
"""

from collections.abc import Sequence

import numpy as np

from convnet.serving import image_files, loaded_model

# Images per forward pass (bounds memory when many files are given).
BATCH_SIZE = 256

Prediction = list[tuple[str, float]]  # (class name, probability), most probable first


def top_k(probabilities: np.ndarray, class_names: Sequence[str], k: int) -> list[Prediction]:
    """[N, classes] probabilities -> per row, the k most probable (name, probability)."""
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [[(class_names[c], float(row[c])) for c in best]
            for row, best in zip(probabilities, order, strict=True)]


def predict_files(loaded: loaded_model.InferenceModel, paths: Sequence[str],
                  log=print) -> np.ndarray:
    """float32 [len(paths), classes] class probabilities of the image files."""
    images = image_files.load_images(paths, loaded.image_shape, log)
    return np.concatenate([loaded.probabilities(images[i:i + BATCH_SIZE])
                           for i in range(0, len(images), BATCH_SIZE)])


def format_prediction(path: str, prediction: Prediction) -> str:
    """The path, then one line per class: rank, name and probability."""
    lines = [path]
    lines += [f"  {rank}. {name:<12s} {probability:.4f}"
              for rank, (name, probability) in enumerate(prediction, 1)]
    return "\n".join(lines)


def predict(checkpoint_dir: str, paths: Sequence[str], k: int = 5, *, use_ema: bool = True,
            checkpoint_path=None, log=print, restore_fallback: bool = True) -> list[Prediction]:
    """Loads the checkpoint, classifies `paths`, prints and returns the top-k per image."""
    if k <= 0:
        raise ValueError(f"--top_k must be positive, got {k}")
    loaded = loaded_model.load(checkpoint_dir, checkpoint_path, use_ema,
                               restore_fallback=restore_fallback)
    if k > loaded.num_classes:
        raise ValueError(f"--top_k={k} exceeds the {loaded.num_classes} classes")
    notes = []  # conversions, printed once every file has been read
    predictions = top_k(predict_files(loaded, paths, notes.append), loaded.class_names, k)
    weights = "EMA" if loaded.use_ema else "raw"
    log(f"{loaded.record.model} model on {loaded.info.name}, checkpoint "
        f"{loaded.checkpoint_path} (step {loaded.step}, {weights} weights)")
    for note in notes:
        log(note)
    for path, prediction in zip(paths, predictions, strict=True):
        log(format_prediction(path, prediction))
    return predictions
