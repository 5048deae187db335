"""The confusion matrix of an evaluation, for people: a TensorBoard heat map and a CSV file.

`confusion[true, predicted]` counts (convnet.evaluation.counting). The image shades each
cell by the fraction of its row (the true class's examples predicted as that
class), from white (none) to dark blue (all), so the diagonal is the per-class
recall and off-diagonal cells the mistakes; rows top to bottom and columns left
to right follow the class indices. With matplotlib (the `plots` extra) and at
most LABELED_CLASSES classes it is a labeled figure (`plots.confusion_figure`:
class names on the axes, the count in each cell); otherwise the bare heat map
(`heat_map`, plain TensorFlow ops). `write` puts it in TensorBoard as the image
`confusion_matrix` and beside it `confusion_matrix_step_<N>.csv` with the counts,
the class names as header and first column.
"""

import csv
import io
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from convnet.runtime import plots
from convnet.runtime.errors import ConvnetError

# The colour of a full cell (a whole row in it): the dark end of a white-to-blue map.
FULL = (0.03, 0.19, 0.42)
# The heat map's side in pixels, at most (each cell a square of whole pixels, at least one).
MAX_SIDE = 320
# More classes than this (CIFAR-100's fine labels) make names and counts unreadable: bare heat map.
LABELED_CLASSES = 20


def heat_map(confusion) -> tf.Tensor:
    """float32 [1, side, side, 3] in [0, 1]: each cell shaded by its share of its row."""
    counts = tf.cast(tf.convert_to_tensor(confusion), tf.float32)
    classes = int(counts.shape[0])
    shares = counts / tf.maximum(tf.reduce_sum(counts, axis=1, keepdims=True), 1.0)
    colour = 1.0 - shares[..., None] * (1.0 - tf.constant(FULL))
    cell = max(1, MAX_SIDE // max(classes, 1))
    image = tf.repeat(tf.repeat(colour, cell, axis=0), cell, axis=1)
    return image[None]


def image(confusion, class_names: Sequence[str]) -> tf.Tensor:
    """[1, height, width, 3] for tf.summary.image: the labeled figure (uint8) where matplotlib
    is installed and there are at most LABELED_CLASSES classes, else `heat_map` (float32)."""
    if len(class_names) <= LABELED_CLASSES:
        try:
            figure = plots.confusion_figure(confusion, class_names)
        except ConvnetError:  # no matplotlib: the plots extra is optional
            pass
        else:
            return tf.io.decode_png(plots.png_bytes(figure), channels=3)[None]
    return heat_map(confusion)


def csv_text(confusion, class_names: Sequence[str]) -> str:
    """The counts as CSV: a header of the class names (predicted), one row a true class."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["true\\predicted", *class_names])
    for name, row in zip(class_names, np.asarray(confusion), strict=True):
        writer.writerow([name, *(int(v) for v in row)])
    return out.getvalue()


def read_csv(path: str) -> tuple:
    """(class names, int64 counts [true, predicted]) of a file `write` wrote."""
    with tf.io.gfile.GFile(path) as f:
        rows = list(csv.reader(f))
    return rows[0][1:], np.array([[int(v) for v in row[1:]] for row in rows[1:]], np.int64)


def csv_path(directory: str, step: int) -> str:
    return os.path.join(directory, f"confusion_matrix_step_{step}.csv")


def write(writer, directory: str, step: int, *, confusion, class_names: Sequence[str],
          is_chief: bool = True) -> str:
    """Writes the `image` (`confusion_matrix`, under `writer` at `step`) and the CSV
    file in `directory`; returns the CSV's path."""
    with writer.as_default(step=step):
        tf.summary.image("confusion_matrix", image(confusion, class_names), max_outputs=1)
    path = csv_path(directory, step)
    if is_chief:
        with tf.io.gfile.GFile(path, "w") as f:
            f.write(csv_text(confusion, class_names))
    return path
