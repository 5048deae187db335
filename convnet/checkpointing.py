"""Checkpoint restore with clear errors and recovery, and the run description kept beside it.

A train_dir holds `tf.train.CheckpointManager` checkpoints (`ckpt-<step>.index`
and `.data-*` files, plus the `checkpoint` state file naming the latest) and
`run.json`, which records what the checkpoints are of: model, dataset, number
of classes, image size. Resuming or evaluating with another model is refused
with a message, before TensorFlow would fail on a shape or silently restore
nothing.

What is restored is the newest checkpoint whose files are there, whether or
not the state file lists it: a state file deleted (a sync tool, a clean-up, a
copy of the ckpt files elsewhere) or one step behind (a kill between a save's
last file and its record) never makes a run start again from step 0 and
overwrite its checkpoints. A damaged checkpoint (truncated or missing data
file, corrupt index) is skipped with one line, its files moved to
`train_dir/corrupt/` (never deleted), and the next older one is restored
(`restore_fallback=False`: stop with a message instead). A checkpoint of
another model is never skipped: that is an error.
"""

import errno
import glob
import json
import os
import re
import shutil
from typing import Any, Dict, List, Optional

import tensorflow as tf

from convnet import console
from convnet.data import preprocess
from convnet.data.info import LABEL_MODES, dataset_info
from convnet.errors import CheckpointError, DamagedCheckpointError, DiskFullError

RUN_FILE = "run.json"
STATE_FILE = "checkpoint"  # written by tf.train.CheckpointManager: the latest and kept checkpoints
CORRUPT_DIR = "corrupt"  # damaged checkpoints are moved here, never deleted
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
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(run_config, f, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if is_disk_full(e):
            raise disk_full_error(path, directory, 1 << 16) from e
        raise


# --- a full disk ----------------------------------------------------------------------------

def is_disk_full(error: BaseException) -> bool:
    """True for an OSError or TensorFlow error that says the disk (or quota) is full."""
    if getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(text in str(error) for text in ("No space left on device", "Disk quota exceeded"))


def disk_full_error(what: str, directory: str, needed_bytes: int,
                    previous: Optional[str] = None) -> DiskFullError:
    """The error for `what` that could not be written to `directory` for lack of space."""
    try:
        free = f"{shutil.disk_usage(directory).free / 2**20:,.1f} MB free"
    except OSError:
        free = "free space unknown"
    kept = (f"; the previous checkpoint, {previous}, is intact" if previous else "")
    return DiskFullError(
        f"no space left on the device of {directory} to write {what} (it needs about "
        f"{needed_bytes / 2**20:,.1f} MB; {free}): its partial files were removed{kept}. Free "
        f"some space and rerun the same command to resume.")


def files_bytes(path: str) -> int:
    """The size in bytes of the files of checkpoint `path` (0 when it has none)."""
    return sum(os.path.getsize(name) for name in checkpoint_files(path))


def remove_failed_save(directory: str, step: int) -> None:
    """Deletes what a failed save of `ckpt-<step>` left in `directory`: its shard directory,
    its files unless the state file lists it as the latest, and state-file temp files."""
    prefix = os.path.join(directory, f"ckpt-{step}")
    shutil.rmtree(prefix + "_temp", ignore_errors=True)
    listed = listed_latest(directory)
    if not (listed and os.path.abspath(listed) == os.path.abspath(prefix)):
        for name in checkpoint_files(prefix):
            os.remove(name)
    for name in glob.glob(os.path.join(glob.escape(directory), STATE_FILE + ".tmp*")):
        os.remove(name)


def _label_mode_of(dataset: Any, num_classes: Any) -> Optional[str]:
    """The --label_mode giving `dataset` `num_classes` classes, if a built-in one does."""
    for label_mode in LABEL_MODES:
        try:
            if dataset_info(dataset, label_mode).num_classes == num_classes:
                return label_mode
        except ValueError:
            continue
    return None


def check_same_run(directory: str, expected: Dict[str, Any]) -> None:
    """Raises CheckpointError if `directory` holds a run of another model/dataset."""
    found = read_run_config(directory)
    if not found:
        return
    different = [key for key in IDENTITY_FIELDS
                 if key in expected and found.get(key) != expected[key]]
    if not different:
        return
    diffs = [f"{key}={found.get(key)!r} (asked for {expected[key]!r})" for key in different]
    flags = [f"--{key}={found[key]}" for key in ("model", "dataset", "optimizer")
             if key in different and found.get(key) is not None]
    if "num_classes" in different:
        label_mode = _label_mode_of(found.get("dataset"), found.get("num_classes"))
        if label_mode:
            flags.append(f"--label_mode={label_mode}")
    matching = f" ({' '.join(flags)})" if flags else ""
    raise CheckpointError(
        f"{directory} holds checkpoints of another run: {', '.join(diffs)}. Pass the matching "
        f"flags{matching} to use that run, or a new --train_dir/--checkpoint_dir for this one.")


def _state(directory: str):
    """The parsed `checkpoint` state file of `directory`, or None when it has none.

    Raises:
      CheckpointError: the state file exists but cannot be parsed.
    """
    state_file = os.path.join(directory, STATE_FILE)
    if not os.path.isfile(state_file):
        return None
    try:
        state = tf.train.get_checkpoint_state(directory)  # None (and a warning) when unparsable
        problem = "it names no checkpoint" if state else "not a CheckpointState text file"
    except (ValueError, tf.errors.OpError) as e:
        state, problem = None, _detail(e)
    if state is None or not state.model_checkpoint_path:
        prefixes = sorted(_existing(directory), key=step_of)
        newest = os.path.basename(prefixes[-1]) if prefixes else None
        fix = (f'rewrite it as the one line model_checkpoint_path: "{newest}" (the newest '
               f"checkpoint there)" if newest else "delete it")
        raise CheckpointError(f"{state_file} is unreadable ({problem}): {fix}, or use a new "
                              f"--train_dir/--checkpoint_dir.")
    return state


def _existing(directory: str) -> List[str]:
    """Prefixes of the checkpoints in `directory` whose .index file exists."""
    return [path[:-len(".index")] for path in glob.glob(os.path.join(glob.escape(directory),
                                                                     "*.index"))]


def step_of(prefix: str) -> int:
    number = re.search(r"-(\d+)$", prefix)
    return int(number.group(1)) if number else -1


def run_preprocessing(run_config: Dict[str, Any], model_image_size: Optional[int],
                      native_size: int) -> preprocess.Preprocessing:
    """The preprocessing recorded in run.json; for runs written before it was recorded,
    the tutorial crop (models with a fixed `image_size`) or none, with per-image
    standardization."""
    stored = dict(run_config.get("preprocessing") or {})
    if stored:
        for key in ("channel_mean", "channel_std"):
            if stored.get(key) is not None:
                stored[key] = tuple(stored[key])
        return preprocess.Preprocessing(**stored)
    if model_image_size:
        return preprocess.Preprocessing("tutorial", model_image_size, "per_image")
    return preprocess.Preprocessing("none", native_size, "per_image")


def require_latest_checkpoint(directory: str) -> str:
    """`latest_checkpoint`, or a CheckpointError saying how to get one."""
    path = latest_checkpoint(directory)
    if not path:
        raise CheckpointError(
            f"no checkpoint found in {directory}: train first (python -m convnet.train "
            f"--train_dir={directory}) or point --checkpoint_dir at a train_dir.")
    return path


def checkpoint_paths(directory: str) -> List[str]:
    """Prefixes of the checkpoints in `directory` that have an .index file, oldest first."""
    if not os.path.isdir(directory):
        return []
    return sorted(_existing(directory), key=step_of)


def listed_latest(directory: str) -> Optional[str]:
    """The checkpoint the `checkpoint` state file names as latest (its files may be gone),
    or None when the state file is missing or unreadable."""
    try:
        state = tf.train.get_checkpoint_state(directory) if os.path.isdir(directory) else None
    except (ValueError, tf.errors.OpError):
        return None
    if state is None or not state.model_checkpoint_path:
        return None
    return os.path.join(directory, state.model_checkpoint_path)  # kept as is when absolute


def latest_checkpoint(directory: str, strict: bool = False) -> Optional[str]:
    """The prefix of the latest checkpoint in `directory` (e.g. `dir/ckpt-3000`), or None.

    By default the newest checkpoint with an .index file, listed in the state
    file or not. With `strict`, the one the state file names, as
    `tf.train.latest_checkpoint` reads it, and an error when that is not usable.

    Raises:
      CheckpointError (strict only): the state file is unreadable, names a
        checkpoint whose files are missing, or is missing while checkpoints are
        there (a resumed run would otherwise silently start over).
    """
    if not strict:
        paths = checkpoint_paths(directory)
        listed = listed_latest(directory)
        if listed and os.path.isfile(listed + ".index") and listed not in paths:
            paths.append(listed)  # an absolute path written by another tool
        return max(paths, key=step_of) if paths else None
    if not os.path.isdir(directory):
        return None
    state = _state(directory)
    if state is None:
        found = checkpoint_paths(directory)
        if found:
            raise CheckpointError(
                f"{directory} holds checkpoints ({_names(found)}) but no {STATE_FILE} state file "
                f"naming the latest: rerun with --restore_fallback (the default) to resume from "
                f"the newest that reads, or use a new --train_dir/--checkpoint_dir.")
        return None
    path = os.path.join(directory, state.model_checkpoint_path)  # kept as is when absolute
    if not os.path.isfile(path + ".index"):
        raise CheckpointError(f"{os.path.join(directory, STATE_FILE)} names {path}, but "
                              f"{path}.index is missing. {_how_to_recover(path)}")
    return path


def _names(paths: List[str]) -> str:
    names = [os.path.basename(path) for path in paths]
    return ", ".join(names) if len(names) <= 4 else f"{names[0]} ... {names[-1]}"


def restore_latest(checkpoint: tf.train.Checkpoint, directory: str, partial: bool = False,
                   fallback: bool = True, move_damaged: bool = True) -> Optional[str]:
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
        try:
            restore(checkpoint, path, partial)
            return path
        except DamagedCheckpointError as e:
            if not checkpoint_files(path):  # deleted under us (a trainer's max_to_keep)
                continue
            skipped.append(skip_damaged(path, e.damage, move_damaged))
    if skipped:
        raise CheckpointError(
            f"no checkpoint in {directory} reads: {'; '.join(skipped)}. Use a new "
            f"--train_dir/--checkpoint_dir (or delete the damaged files to start over there).")
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


def move_aside(path: str) -> str:
    """Moves the files of checkpoint `path` into `corrupt/` beside it (a name already taken
    there gets a numbered suffix); returns that directory."""
    target = os.path.join(os.path.dirname(path), CORRUPT_DIR)
    os.makedirs(target, exist_ok=True)
    for name in checkpoint_files(path):
        destination, copy = os.path.join(target, os.path.basename(name)), 1
        while os.path.exists(destination):
            destination = os.path.join(target, f"{os.path.basename(name)}.{copy}")
            copy += 1
        os.replace(name, destination)
    return target


def write_state(directory: str, latest: str) -> None:
    """Rewrites the `checkpoint` state file to name `latest`, and the checkpoints up to it as
    the kept ones, with their files' times (what `CheckpointManager` reads for the latest and
    for max_to_keep; without the times it would forget them). Written atomically."""
    kept = [path for path in checkpoint_paths(directory) if step_of(path) <= step_of(latest)]
    lines = [f"model_checkpoint_path: {json.dumps(os.path.basename(latest))}"]
    lines += [f"all_model_checkpoint_paths: {json.dumps(os.path.basename(path))}" for path in kept]
    lines += [f"all_model_checkpoint_timestamps: {os.path.getmtime(path + '.index')}"
              for path in kept]
    path = os.path.join(directory, STATE_FILE)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def remove_unfinished_saves(directory: str) -> None:
    """Deletes the `<prefix>_temp` shard directories a save killed midway leaves behind
    (never part of a complete checkpoint; each can be as large as one)."""
    for path in glob.glob(os.path.join(glob.escape(directory), "*_temp")):
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)


def checkpoint_files(path: str) -> List[str]:
    """The files of checkpoint `path` that exist: its .index and .data-* shards."""
    prefix = glob.escape(path)
    return sorted(glob.glob(prefix + ".index") + glob.glob(prefix + ".data-*"))


def _detail(error: BaseException) -> str:
    """The first line of a TensorFlow error, without its op and function decorations."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    line = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", line)
    line = re.sub(r"\s*\[Op:\w+\]$", "", line)
    return line.rstrip(".")[:400]


def diagnose(path: str) -> Optional[str]:
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
        return f"{index} is corrupt ({_detail(e)})"
    data = [name for name in checkpoint_files(path) if name != index]
    if not data:
        return f"its data file {path}.data-00000-of-00001 is missing"
    try:
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as e:  # noqa: BLE001 -- e.g. IndexError for a truncated file
        return f"{' or '.join(data)} is truncated or corrupt ({_detail(e)})"
    return None


def _how_to_recover(path: str) -> str:
    """A sentence saying how to go back to the checkpoint before the damaged `path`."""
    directory = os.path.dirname(path)
    state_file = os.path.join(directory, STATE_FILE)
    files = " and ".join(os.path.basename(name) for name in checkpoint_files(path))
    remove = f"delete (or move away) {files} and " if files else ""
    target, step = os.path.abspath(path), step_of(path)
    previous = sorted((prefix for prefix in _existing(directory)
                       if os.path.abspath(prefix) != target
                       and (step < 0 or step_of(prefix) < step)), key=step_of)
    if previous:
        name = os.path.basename(previous[-1])
        return (f"To resume from the previous checkpoint, {remove}set model_checkpoint_path: "
                f'"{name}" in {state_file}; or use a new --train_dir/--checkpoint_dir.')
    return (f"There is no earlier checkpoint: {remove}delete {state_file} to start over in "
            f"{directory}, or use a new --train_dir/--checkpoint_dir.")


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
        status = checkpoint.restore(path)
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
                                         f"{_how_to_recover(path)}", path, damage) from e
        raise CheckpointError(
            f"cannot restore {path}: it does not fit the model built here ({_detail(e)}). It was "
            f"written by a different model or number of classes, or with another optimizer: pass "
            f"the --model, --dataset, --label_mode and --optimizer it was trained with, point "
            f"--train_dir/--checkpoint_dir at a checkpoint of this model, or start a new "
            f"directory.") from e


def require_run_config(directory: str) -> Dict[str, Any]:
    """The run.json of train_dir `directory` (what its checkpoints are of).

    Raises:
      CheckpointError: `directory` holds no checkpoint either (the message of
        `require_latest_checkpoint`: train first); or it holds checkpoints but
        no run.json (deleted, or not written by convnet.train), so the model
        they are of is unknown.
    """
    run_config = read_run_config(directory)
    if run_config:
        return run_config
    require_latest_checkpoint(directory)
    raise CheckpointError(
        f"no {RUN_FILE} in {directory}: point --checkpoint_dir at a train_dir written by "
        f"convnet.train (it records the model and dataset there).")
