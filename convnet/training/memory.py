"""Does a training batch fit? A cheap estimate, checked before the input pipeline is built.

A --batch_size far too large used to build for minutes and then die with a
ResourceExhaustedError traceback. `check_train_batch` refuses it at once, in
one line saying what fits, when:

- the batch is larger than the training split: the pipeline repeats the split
  endlessly and drops no example, so such a batch would run, but every batch
  would hold some examples more than once (an epoch is shorter than a step);
- the estimate of what one step must hold at once exceeds the memory available.

The estimate is meant as a lower bound, so that it never refuses a batch that
would fit (it lets through some that will not):

  input:        INPUT_BATCHES_HELD batches of float32 [batch, size, size, C]
                preprocessed images (`batch` assembling one, `prefetch` holding
                one, the step reading one);
  activations:  batch x the values one example's forward pass produces (each
                leaf layer's output, measured by running the model on one
                example), in the compute dtype; the backward pass needs them all.

Gradients, optimizer state, TensorFlow's workspace and the cached uint8 split
come on top. The memory available is MemAvailable of /proc/meminfo (else
`os.sysconf`); when it is unknown only the split is checked. With a GPU or TPU
the activations live in the accelerator's memory, which TensorFlow does not
report before it allocates: only the input batches are compared with host memory.
"""

import math
from collections.abc import Sequence

import tensorflow as tf

from convnet.models import layer_table as model_summary
from convnet.runtime.errors import BatchSizeError
from convnet.runtime.host_memory import available_bytes  # noqa: F401 (this module's checks, setup)

# Batches of preprocessed images alive at once: one being assembled by `batch`,
# one waiting in `prefetch`, one being read by the step.
INPUT_BATCHES_HELD = 3
_INPUT_BYTES_PER_VALUE = 4  # the pipeline's images are float32
_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def format_bytes(count: float) -> str:
    """E.g. '22.1 GiB', '512 bytes'."""
    unit = 0
    while count >= 1024 and unit < len(_UNITS) - 1:
        count /= 1024
        unit += 1
    return f"{count:,.0f} bytes" if unit == 0 else f"{count:,.1f} {_UNITS[unit]}"


def activation_values(model, input_shape: Sequence[int]) -> int:
    """Values one example's forward pass produces: the sum of its leaf layers' output sizes.

    Runs `model` (already built) once on one zero image of `input_shape` ([H, W, C]).
    """
    return sum(math.prod(shape[1:]) for _, _, shape, _ in
               model_summary.layer_table(model, input_shape))


def on_accelerator() -> bool:
    """Whether TensorFlow places the model on a GPU or TPU."""
    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def train_step_bytes(batch_size: int, input_shape: Sequence[int], activations_per_example: int,
                     *, activation_bytes_per_value: int = 4) -> dict:
    """The lower-bound estimate (see the module docstring) of what a step holds, in bytes.

    Returns:
      {'input': INPUT_BATCHES_HELD float32 batches of `input_shape` images,
       'activations': batch_size * activations_per_example values}.
    """
    return {"input": (INPUT_BATCHES_HELD * batch_size * math.prod(input_shape)
                      * _INPUT_BYTES_PER_VALUE),
            "activations": batch_size * activations_per_example * activation_bytes_per_value}


def check_train_batch(batch_size: int, model, input_shape: Sequence[int],
                      *, train_examples: int | None, dataset: str = "",
                      compute_dtype: tf.DType = tf.float32,
                      available: int | None = None,
                      accelerator: bool | None = None) -> None:
    """Refuses a `batch_size` larger than the training split or than memory can hold.

    Args:
      batch_size: the global batch (--batch_size).
      model: the built model (run once on one example to measure its activations).
      input_shape: [H, W, C] of the preprocessed images the model takes.
      train_examples: size of the training split; None or 0 when unknown.
      dataset: the dataset's name, for the message.
      compute_dtype: dtype of the activations (float16/bfloat16 with --precision).
      available: bytes of memory available; default `available_bytes()`.
      accelerator: whether the activations live on a GPU/TPU; default `on_accelerator()`.

    Raises:
      BatchSizeError: saying the split size and/or the estimate against the
        memory available, and the largest batch that passes both checks.
    """
    available = available_bytes() if available is None else available
    accelerator = on_accelerator() if accelerator is None else accelerator
    problems, limit = [], None
    if train_examples and batch_size > train_examples:
        problems.append(f"is larger than the {train_examples:,} examples of the "
                        f"{dataset + ' ' if dataset else ''}training split (each batch would "
                        f"hold some examples more than once)")
        limit = train_examples
    if available:
        per_value = 0 if accelerator else compute_dtype.size
        activations = activation_values(model, input_shape) if per_value else 0
        needed = train_step_bytes(batch_size, input_shape, activations,
                                  activation_bytes_per_value=per_value)
        total = sum(needed.values())
        if total > available:
            parts = [f"{INPUT_BATCHES_HELD} input batches {format_bytes(needed['input'])}"]
            if activations:
                parts.append(f"activations {format_bytes(needed['activations'])}, "
                             f"{activations:,} {compute_dtype.name} values an example")
            problems.append(f"needs about {format_bytes(total)} of memory "
                            f"({'; '.join(parts)}), but {format_bytes(available)} is available")
            per_example = sum(train_step_bytes(1, input_shape, activations,
                                               activation_bytes_per_value=per_value).values())
            fits = max(1, available // per_example)
            limit = min(limit or fits, fits)
    if problems:
        raise BatchSizeError(f"--batch_size={batch_size} {' and '.join(problems)}: use "
                             f"--batch_size={limit} or less.")
