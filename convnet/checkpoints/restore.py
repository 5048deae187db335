"""Checkpoint restore with clear errors and recovery from damaged checkpoints.

What is restored is the newest checkpoint of a train_dir that reads
(`convnet.checkpoints.files.latest_checkpoint`). A damaged checkpoint (truncated
or missing data file, corrupt index) is skipped with one line, its files moved
to `train_dir/corrupt/` (never deleted), and the next older one is restored
(`fallback=False`: stop with a message instead). A checkpoint of another model
is never skipped: that is an error. What the checkpoints are of is the run
record's (`convnet.checkpoints.run_record`).
"""

import itertools
import os

import tensorflow as tf

from convnet.checkpoints.files import (
    checkpoint_files,
    checkpoint_paths,
    how_to_recover,
    latest_checkpoint,
    listed_latest,
    move_aside,
)
from convnet.runtime import console
from convnet.runtime.errors import CheckpointError, DamagedCheckpointError, tf_error_line
from convnet.runtime.options import option


def fallback_option():
    """The --restore_fallback field of a config that restores a checkpoint
    (convnet.runtime.options)."""
    return option(True, "When the newest checkpoint is damaged (truncated or missing data "
                  "file, corrupt index), skip it with a line, move its files to "
                  "<train_dir>/corrupt/ and restore the newest older one that reads; "
                  "--norestore_fallback stops with an error instead.")


def restore(checkpoint: tf.train.Checkpoint, path: str, partial: bool = False) -> None:
    """Restores `path` into `checkpoint`, checking every object it has is matched.

    Args:
      checkpoint: the objects to fill.
      path: a checkpoint prefix (e.g. `train_dir/ckpt-3000`).
      partial: allow the file to hold objects `checkpoint` does not (eval skips
        the optimizer).

    Raises:
      CheckpointError: a file of the checkpoint is missing or damaged (the
        message names it and the previous checkpoint), or the checkpoint holds
        another model.
    """
    status = None
    try:
        # read(), not restore(), for partial readers: it leaves the Checkpoint's save_counter
        # out (restore() creates it, and beside a training thread it was left unbound).
        status = checkpoint.read(path) if partial else checkpoint.restore(path)
        status.assert_existing_objects_matched()
        if partial:
            status.expect_partial()
        else:
            status.assert_consumed()
    except (ValueError, AssertionError, IndexError, KeyError, tf.errors.OpError) as e:
        _expect_partial(e, status)
        damage = diagnose(path)
        if damage:
            raise DamagedCheckpointError(f"cannot restore {path}: {damage}. "
                                         f"{how_to_recover(path)}", path, damage) from e
        differences = model_differences(checkpoint, path, partial)
        if differences:
            raise CheckpointError(
                f"cannot restore {path}: it does not fit the model built here ({differences}). "
                f"It was written by a different model or number of classes, or with another "
                f"optimizer: pass the --model, --dataset, --label_mode and --optimizer it was "
                f"trained with, point --train_dir/--checkpoint_dir at a checkpoint of this "
                f"model, or start a new directory.") from e
        raise CheckpointError(
            f"cannot restore {path} ({tf_error_line(e)}), although its files read whole and "
            f"hold the variables of the model built here: rerun the command; if it fails "
            f"again, move {os.path.basename(path)}'s files out of {os.path.dirname(path)} to "
            f"restore the checkpoint before it.") from e


# Keys of every checkpoint that are not variables of the objects restored.
_BOOKKEEPING_KEYS = ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter/.ATTRIBUTES/VARIABLE_VALUE")
_scratch_ids = itertools.count()


def model_differences(checkpoint: tf.train.Checkpoint, path: str, partial: bool = False) -> str:
    """How the variables of checkpoint `path` differ from those `checkpoint` holds (names and
    shapes), in words; "" when they are the same. `partial`: the file may hold more.

    The objects' own keys come from writing them to TensorFlow's in-memory file system.
    """
    stored = tf.train.load_checkpoint(path).get_variable_to_shape_map()
    scratch = f"ram://convnet_model_differences/{next(_scratch_ids)}/ckpt"
    try:
        built = tf.compat.v1.train.NewCheckpointReader(
            checkpoint.write(scratch)).get_variable_to_shape_map()
    finally:
        for name in tf.io.gfile.glob(scratch + "*"):
            tf.io.gfile.remove(name)
    stored = {key: shape for key, shape in stored.items() if key not in _BOOKKEEPING_KEYS}
    built = {key: shape for key, shape in built.items() if key not in _BOOKKEEPING_KEYS}
    missing = sorted(set(built) - set(stored))
    extra = [] if partial else sorted(set(stored) - set(built))
    reshaped = sorted(key for key in set(built) & set(stored) if built[key] != stored[key])
    parts = []
    for what, keys, show in (("missing from it", missing, lambda k: ""),
                             ("not in the model built here", extra, lambda k: ""),
                             ("of another shape", reshaped,
                              lambda k: f" {stored[k]} (here {built[k]})")):
        if keys:
            shown = ", ".join(key.replace("/.ATTRIBUTES/VARIABLE_VALUE", "") + show(key)
                              for key in keys[:3])
            parts.append(f"{len(keys)} variable{'s' * (len(keys) > 1)} {what}: {shown}"
                         f"{' ...' if len(keys) > 3 else ''}")
    return "; ".join(parts)


def restore_latest(checkpoint: tf.train.Checkpoint, directory: str, partial: bool = False,
                   *, fallback: bool = True, move_damaged: bool = True) -> str | None:
    """Restores the newest checkpoint of `directory` that reads; returns it (None: none there).

    Args:
      checkpoint: the objects to fill.
      directory: a train_dir.
      partial: as in `restore`.
      fallback: skip damaged checkpoints (one line each) and restore the newest
        older one that reads; False: the strict `latest_checkpoint` or an error.
      move_damaged: move a skipped checkpoint's files to `directory/corrupt/`
        (False for readers that must not change the directory).

    Raises:
      CheckpointError: a checkpoint of another model; or (with fallback) every
        checkpoint there is damaged; or (without) the latest is.
    """
    if not fallback:
        path = latest_checkpoint(directory, strict=True)
        if path:
            restore(checkpoint, path, partial)
        return path
    listed = listed_latest(directory)
    if listed and not os.path.isfile(listed + ".index") and checkpoint_files(listed):
        skip_damaged(listed, f"its index {listed}.index is missing", move_damaged)
    skipped = []
    for path in reversed(checkpoint_paths(directory)):
        # Checked before restoring: a restore that fails halfway has written some variables
        # and left others waiting on the damaged files.
        damage = diagnose(path)
        if damage is None:
            try:
                restore(checkpoint, path, partial)
                return path
            except DamagedCheckpointError as e:
                damage = e.damage
        if not checkpoint_files(path):  # deleted under us (a trainer's max_to_keep)
            continue
        skipped.append(skip_damaged(path, damage, move_damaged))
    if skipped:
        raise CheckpointError(
            f"no checkpoint in {directory} reads: {'; '.join(skipped)}. Use a new "
            f"--train_dir/--checkpoint_dir (or delete the damaged files to start over there).")
    return None


def diagnose(path: str) -> str | None:
    """Names the damaged file of checkpoint `path`, or returns None if every file reads intact.

    Reads every tensor (the data files carry a checksum of each), so it is only
    called once a restore has failed.
    """
    index = path + ".index"
    if not os.path.isfile(index):
        return f"{index} is missing"
    try:
        reader = tf.train.load_checkpoint(path)
    except Exception as e:  # noqa: BLE001 -- the reader raises several types on a damaged file
        return f"{index} is corrupt ({tf_error_line(e)})"
    data = [name for name in checkpoint_files(path) if name != index]
    if not data:
        return f"its data file {path}.data-00000-of-00001 is missing"
    try:
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as e:  # noqa: BLE001 -- e.g. IndexError for a truncated file
        return f"{' or '.join(data)} is truncated or corrupt ({tf_error_line(e)})"
    return None


def skip_damaged(path: str, damage: str, move: bool = True) -> str:
    """Logs that damaged checkpoint `path` is skipped (moving its files aside); returns why."""
    where = ""
    if move:
        try:
            where = f"; its files were moved to {move_aside(path)}"
        except OSError as e:
            where = f"; its files could not be moved aside ({e})"
    console.log(f"skipped checkpoint {path}: {damage}{where}")
    return f"{os.path.basename(path)}: {damage}"


def _expect_partial(error: BaseException, status) -> None:
    """Marks the failed restore as partial, so that TensorFlow does not log a warning for each
    value left unrestored (a page of them, after the error) when the objects are deleted.

    When `checkpoint.restore` itself raised there is no status: its restore
    coordinator is found among the locals of the traceback's frames.
    """
    if status is not None:
        status.expect_partial()
        return
    traceback = error.__traceback__
    while traceback is not None:
        for value in list(traceback.tb_frame.f_locals.values()):
            if type(value).__name__ == "_CheckpointRestoreCoordinator":
                value.expect_partial = True
        traceback = traceback.tb_next
