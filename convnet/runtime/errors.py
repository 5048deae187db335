"""Errors that name the problem and the way out.

Each is a `ValueError` or `RuntimeError` subclass so that callers who do not
know convnet can still catch them; the mains print the message without a
traceback and exit non-zero.
"""

import re
import signal


class ConvnetError(Exception):
    """Base class of the errors convnet raises for problems a user can fix."""


class DataError(ConvnetError, ValueError):
    """Missing, truncated or malformed input data."""


class CheckpointError(ConvnetError, ValueError):
    """A checkpoint that is missing or does not match the model asked for."""


class LossError(ConvnetError, RuntimeError):
    """Training stopped on a bad loss; `last_checkpoint` (or None) is intact."""

    def __init__(self, step: int, loss: float, learning_rate: float, last_checkpoint,  # noqa: PLR0917 (exceptions are rebuilt from args: positional)
                 problem: str, advice: str):
        self.step, self.loss, self.learning_rate = step, loss, learning_rate
        self.last_checkpoint = last_checkpoint
        where = (f"the last good checkpoint, {last_checkpoint}, is intact"
                 if last_checkpoint else "no checkpoint had been written yet")
        super().__init__(f"loss is {problem} at step {step} (learning rate {learning_rate:g})"
                         f"{advice.format(where=where)}")


class NonFiniteLossError(LossError):
    """Training produced a NaN or infinite loss; the bad update was not applied."""

    def __init__(self, step: int, loss: float, learning_rate: float, last_checkpoint):  # noqa: PLR0917 (exceptions are rebuilt from args: positional)
        super().__init__(step, loss, learning_rate, last_checkpoint, f"{loss}",
                         "; training stopped before applying that update and {where}. Lower "
                         "--learning_rate, check the input data, or resume from the checkpoint "
                         "with a different --seed.")


class DamagedCheckpointError(CheckpointError):
    """A checkpoint whose files are missing, truncated or corrupt; `damage` says which."""

    def __init__(self, message: str, path: str, damage: str):
        self.path, self.damage = path, damage
        super().__init__(message)


class DamagedFileError(ConvnetError, ValueError):
    """A file convnet wrote that no longer reads (not text, not JSON, ...); `path` and
    `problem` say which and how."""

    def __init__(self, message: str, path: str, problem: str):
        self.path, self.problem = path, problem
        super().__init__(message)


class DivergedLossError(LossError):
    """Training produced a finite but absurd loss (above --max_loss) under --nan_policy=stop;
    the checkpoints hold no diverged weights."""

    def __init__(self, step: int, loss: float, threshold: float, learning_rate: float,  # noqa: PLR0917 (exceptions are rebuilt from args: positional)
                 last_checkpoint):
        self.threshold = threshold
        super().__init__(step, loss, learning_rate, last_checkpoint, f"{loss:.4g}",
                         f", above --max_loss={threshold:g}: training diverged and stopped; "
                         "{where}. Lower --learning_rate and resume from the checkpoint, or "
                         "raise --max_loss if such a loss is expected.")


class DiskFullError(ConvnetError, OSError):
    """A file could not be written for lack of space; nothing earlier was lost."""


class OutputDirError(ConvnetError, ValueError):
    """A directory to write to (--train_dir, --eval_dir, --export_dir) that cannot be
    created or written; the message names the path and the OS error."""


class TrainDirInUseError(ConvnetError, RuntimeError):
    """Another process holds the train_dir's writer lock (convnet.checkpoints.writer_lock)."""


class BatchSizeError(ConvnetError, ValueError):
    """A --batch_size larger than the training split, or than memory can hold."""


class Interrupted(Exception):
    """Training stopped on a signal after saving a checkpoint; `signum` says which."""

    def __init__(self, signum: int, step: int, path: str | None):
        self.signum, self.step, self.path = signum, step, path
        name = signal.Signals(signum).name
        super().__init__(f"{name} received: stopped at step {step} after saving {path}; run the "
                         f"same command to resume.")


def data_error_inside(error: BaseException) -> DataError | None:
    """The DataError a TensorFlow error carries, when a source raised it inside tf.data (a
    generator decoding a file as it is read): TensorFlow keeps only its text; None if none."""
    match = re.search(r"(?:convnet\.runtime\.errors\.)?DataError: (.+)", str(error))
    return DataError(match.group(1).strip()) if match else None


def tf_error_line(error: BaseException, limit: int = 400) -> str:
    """The first line of a (TensorFlow) error, without its `{{function_node ...}}` and
    `[Op:...]` decorations, at most `limit` characters."""
    text = str(getattr(error, "message", None) or error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    line = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", line)
    line = re.sub(r"\s*\[Op:\w+\].*$", "", line)
    return line.rstrip(".").strip()[:limit]
