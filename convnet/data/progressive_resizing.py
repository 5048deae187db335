"""Progressive resizing: the first epochs of a run on smaller images, for fewer FLOPs a step.

A convolution costs in proportion to the pixels it outputs, so a step on images resized
from 32x32 to 25x25 costs about (24/31)^2 = 0.6 of a full one in fast93's first group
(2.7-2.8 s against 3.4-3.7 s, about 0.76, for the whole float32 fast93_muon step at batch
2,000 on this project's 2-core CPU: its update and small late layers shrink less). The training
images of the first epochs are resized down, the last ones are the full size the model is
evaluated at, so its filters and BatchNorm statistics end on the test images' scale
(fast.ai's progressive resizing; FFCV's ImageNet recipes grow the resolution the same way).

Written `--progressive_resizing='SIZE:EPOCHS[,SIZE:EPOCHS...]'`: stage after stage, EPOCHS
epochs on images resized to SIZE x SIZE (`tf.image.resize`, bilinear, antialiased: each
output pixel averages the input pixels it covers), then the full size for the rest of the
run. '25:4' = 4 epochs at 25x25, then 32x32. The batches are resized inside the training
step (convnet.training.step), after augmentation and normalization; the size is a
function of the step, so a resumed run trains exactly as an uninterrupted one.
"""

import dataclasses
import math
from collections.abc import Sequence

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Stage:
    """`epochs` epochs (> 0, fractional allowed) of training images resized to `size` x `size`."""
    size: int
    epochs: float

    def __post_init__(self):
        if self.size < 1:
            raise ValueError(f"--progressive_resizing: a size must be >= 1 pixel, got {self.size}")
        if not self.epochs > 0:
            raise ValueError(f"--progressive_resizing: a stage's epochs must be > 0, got "
                             f"{self.epochs}")


def parse(text: str) -> tuple[Stage, ...]:
    """'SIZE:EPOCHS,SIZE:EPOCHS' -> its stages, in order; '' -> () (off)."""
    stages = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        size, sep, epochs = part.partition(":")
        try:
            if not sep:
                raise ValueError
            stage_size, stage_epochs = int(size), float(epochs)
        except ValueError:
            raise ValueError(f"--progressive_resizing: {part!r} is not SIZE:EPOCHS (e.g. '25:4': "
                             f"4 epochs on 25x25 images)") from None
        stages.append(Stage(stage_size, stage_epochs))
    return tuple(stages)


def stage_ends(stages: Sequence[Stage], steps_per_epoch: float) -> tuple[tuple[int, int], ...]:
    """((size, end step), ...): stage i trains steps [end of stage i-1, end of stage i); an end
    is its cumulative epochs in steps, rounded up (as a variable group's `train_epochs`)."""
    ends, epochs = [], 0.0
    for stage in stages:
        epochs += stage.epochs
        ends.append((stage.size, math.ceil(epochs * steps_per_epoch)))
    return tuple(ends)


def size_at(ends: Sequence[tuple[int, int]], step: int) -> int | None:
    """The image size of the update after `step` steps under `stage_ends`' schedule, or None
    (the full size) once the stages are over."""
    for size, end in ends:
        if step < end:
            return size
    return None


def resize(images: tf.Tensor, size: int) -> tf.Tensor:
    """float [B, H, W, C] -> [B, size, size, C] of the same dtype: bilinear, antialiased."""
    resized = tf.image.resize(images, [size, size], method="bilinear", antialias=True)
    return tf.cast(resized, images.dtype)
