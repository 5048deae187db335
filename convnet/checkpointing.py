"""Checkpoint restore with clear errors, and the run description kept beside it.

A train_dir holds `tf.train.CheckpointManager` checkpoints (`ckpt-<step>.*`
plus the `checkpoint` state file) and `run.json`, which records what the
checkpoints are of: model, dataset, number of classes, image size. Resuming or
evaluating with another model is refused with a message, before TensorFlow
would fail on a shape or silently restore nothing.
"""

import json
import os
from typing import Any, Dict, Optional

import tensorflow as tf

from convnet.errors import CheckpointError

RUN_FILE = "run.json"
# Fields that must match between a checkpoint and the code restoring it (each
# caller compares those it knows: evaluation has no optimizer).
IDENTITY_FIELDS = ("model", "dataset", "num_classes", "optimizer")


def read_run_config(directory: str) -> Optional[Dict[str, Any]]:
    """Returns the run description in `directory`, or None if there is none."""
    path = os.path.join(directory, RUN_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path} is unreadable ({e}); delete it to resume anyway.") from e


def write_run_config(directory: str, run_config: Dict[str, Any]) -> None:
    """Writes `run.json` atomically (a crash leaves the old or the new file, never half)."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, RUN_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(run_config, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def check_same_run(directory: str, expected: Dict[str, Any]) -> None:
    """Raises CheckpointError if `directory` holds a run of another model/dataset."""
    found = read_run_config(directory)
    if not found:
        return
    diffs = [f"{key}={found.get(key)!r} (asked for {expected[key]!r})"
             for key in IDENTITY_FIELDS if key in expected and found.get(key) != expected[key]]
    if diffs:
        raise CheckpointError(
            f"{directory} holds checkpoints of another run: {', '.join(diffs)}. Use a new "
            f"--train_dir/--checkpoint_dir, or pass the matching flags.")


def latest_checkpoint(directory: str) -> Optional[str]:
    return tf.train.latest_checkpoint(directory) if os.path.isdir(directory) else None


def restore(checkpoint: tf.train.Checkpoint, path: str, partial: bool = False) -> None:
    """Restores `path` into `checkpoint`, checking every object it has is matched.

    Args:
      checkpoint: the objects to fill.
      path: a checkpoint prefix (e.g. `train_dir/ckpt-3000`).
      partial: allow the file to hold objects `checkpoint` does not (eval skips
        the optimizer).

    Raises:
      CheckpointError naming the file, when it is unreadable or holds another model.
    """
    try:
        status = checkpoint.restore(path)
        status.assert_existing_objects_matched()
        if partial:
            status.expect_partial()
        else:
            status.assert_consumed()
    except (ValueError, AssertionError, IndexError, KeyError, tf.errors.OpError) as e:
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(
            f"cannot restore {path}: {detail[:400]}. The checkpoint is corrupt or was written "
            f"by a different model or number of classes; point --train_dir/--checkpoint_dir at "
            f"a checkpoint of this model, or start a new directory.") from e
