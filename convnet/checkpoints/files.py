"""The checkpoint files of a train_dir: which are there, which the state file names, and tidying.

A train_dir holds `tf.train.CheckpointManager` checkpoints (`ckpt-<step>.index`
and `.data-*` files) and the `checkpoint` state file naming the latest and the
kept ones. The latest checkpoint is the newest one whose files are there,
listed in the state file or not: a state file deleted (a sync tool, a clean-up,
a copy of the ckpt files elsewhere) or one step behind (a kill between a save's
last file and its record) never makes a run start again from step 0.
(`convnet.checkpoints.restore` restores them; this module only reads names and moves
files.)
"""

import glob
import json
import os
import re
import shutil
from collections.abc import Callable
from typing import TypeVar

import tensorflow as tf

from convnet.runtime import console
from convnet.runtime.errors import CheckpointError, tf_error_line

Parsed = TypeVar("Parsed")

STATE_FILE = "checkpoint"  # written by tf.train.CheckpointManager: the latest and kept checkpoints
CORRUPT_DIR = "corrupt"  # damaged checkpoints are moved here, never deleted


def step_of(prefix: str) -> int:
    number = re.search(r"-(\d+)$", prefix)
    return int(number.group(1)) if number else -1


def checkpoint_files(path: str) -> list[str]:
    """The files of checkpoint `path` that exist: its .index and .data-* shards."""
    prefix = glob.escape(path)
    return sorted(glob.glob(prefix + ".index") + glob.glob(prefix + ".data-*"))


def files_bytes(path: str) -> int:
    """The size in bytes of the files of checkpoint `path` (0 when it has none)."""
    return sum(os.path.getsize(name) for name in checkpoint_files(path))


def _existing(directory: str) -> list[str]:
    """Prefixes of the checkpoints in `directory` whose .index file exists."""
    return [path[:-len(".index")] for path in glob.glob(os.path.join(glob.escape(directory),
                                                                     "*.index"))]


def checkpoint_paths(directory: str) -> list[str]:
    """Prefixes of the checkpoints in `directory` that have an .index file, oldest first."""
    if not os.path.isdir(directory):
        return []
    return sorted(_existing(directory), key=step_of)


def _names(paths: list[str]) -> str:
    names = [os.path.basename(path) for path in paths]
    return ", ".join(names) if len(names) <= 4 else f"{names[0]} ... {names[-1]}"


def _read_state(directory: str):
    """(the parsed `checkpoint` state file of `directory` or None, what is wrong with it or
    None): (None, None) when there is no state file."""
    if not os.path.isfile(os.path.join(directory, STATE_FILE)):
        return None, None
    try:
        state = tf.train.get_checkpoint_state(directory)  # None (and a warning) when unparsable
        problem = "it names no checkpoint" if state else "not a CheckpointState text file"
    except UnicodeDecodeError as e:
        state, problem = None, f"not text: byte {e.object[e.start]:#04x} at offset {e.start}"
    except (ValueError, tf.errors.OpError) as e:
        state, problem = None, tf_error_line(e)
    if state is None or not state.model_checkpoint_path:
        return None, problem
    return state, None


def _state(directory: str):
    """The parsed `checkpoint` state file of `directory`, or None when it has none.

    Raises:
      CheckpointError: the state file exists but cannot be parsed.
    """
    state, problem = _read_state(directory)
    if problem:
        state_file = os.path.join(directory, STATE_FILE)
        prefixes = sorted(_existing(directory), key=step_of)
        newest = os.path.basename(prefixes[-1]) if prefixes else None
        fix = (f'rewrite it as the one line model_checkpoint_path: "{newest}" (the newest '
               f"checkpoint there)" if newest else "delete it")
        raise CheckpointError(f"{state_file} is unreadable ({problem}): rerun with "
                              f"--restore_fallback (the default), which sets it aside and "
                              f"rebuilds it; or {fix}; or use a new --train_dir/--checkpoint_dir.")
    return state


def repair_state_file(directory: str) -> str | None:
    """Sets a damaged `checkpoint` state file of `directory` aside (into `corrupt/`) and
    rebuilds it from the ckpt-N files there, as if it had been missing; returns the line
    saying so, or None when the state file is missing or reads."""
    _, problem = _read_state(directory)
    if not problem:
        return None
    moved = set_aside(os.path.join(directory, STATE_FILE))
    found = checkpoint_paths(directory)
    if found:
        write_state(directory, found[-1])
    rebuilt = (f"rebuilt it from the checkpoints there ({_names(found)})" if found
               else "no checkpoint is there to rebuild it from")
    return (f"{os.path.join(directory, STATE_FILE)} was damaged ({problem}): set it aside as "
            f"{moved} and {rebuilt}")


def listed_latest(directory: str) -> str | None:
    """The checkpoint the `checkpoint` state file names as latest (its files may be gone),
    or None when the state file is missing or unreadable."""
    state, _ = _read_state(directory) if os.path.isdir(directory) else (None, None)
    if state is None:
        return None
    return os.path.join(directory, state.model_checkpoint_path)  # kept as is when absolute


def latest_checkpoint(directory: str, strict: bool = False) -> str | None:
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
                              f"{path}.index is missing. {how_to_recover(path)}")
    return path


def require_latest_checkpoint(directory: str) -> str:
    """`latest_checkpoint`, or a CheckpointError saying how to get one."""
    path = latest_checkpoint(directory)
    if not path:
        raise CheckpointError(
            f"no checkpoint found in {directory}: train first (python -m convnet.train "
            f"--train_dir={directory}) or point --checkpoint_dir at a train_dir.")
    return path


def how_to_recover(path: str) -> str:
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


def set_aside(path: str) -> str:
    """Moves file `path` into `corrupt/` beside it, never deleting anything (a name already
    taken there gets a numbered suffix); returns its new path."""
    target = os.path.join(os.path.dirname(path), CORRUPT_DIR)
    os.makedirs(target, exist_ok=True)
    destination, copy = os.path.join(target, os.path.basename(path)), 1
    while os.path.exists(destination):
        destination = os.path.join(target, f"{os.path.basename(path)}.{copy}")
        copy += 1
    os.replace(path, destination)
    return destination


def read_json_or_set_aside(path: str, parse: Callable[[object], Parsed],
                           consequence: str) -> Parsed | None:
    """`parse` of the JSON value in the small file `path`; None when the file is damaged.

    `parse` raises ValueError or TypeError, with a one-line message, for a value of the wrong
    form. A damaged file (not UTF-8 JSON text, or a value `parse` refuses) is set aside into
    corrupt/ (`set_aside`) with one line: "PATH was damaged (PROBLEM): set it aside as NEW;
    CONSEQUENCE".
    """
    try:
        with open(path, "rb") as f:
            value = json.loads(f.read().decode("utf-8"))
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError
        problem = f"not JSON text: {str(e).splitlines()[0][:200]}"
    else:
        try:
            return parse(value)
        except (ValueError, TypeError) as e:
            problem = str(e).splitlines()[0][:200]
    moved = set_aside(path)
    console.log(f"{path} was damaged ({problem}): set it aside as {moved}; {consequence}")
    return None


def move_aside(path: str) -> str:
    """Moves the files of checkpoint `path` into `corrupt/` beside it (`set_aside`); returns
    that directory."""
    for name in checkpoint_files(path):
        set_aside(name)
    return os.path.join(os.path.dirname(path), CORRUPT_DIR)


def remove_unfinished_saves(directory: str) -> None:
    """Deletes the `<prefix>_temp` shard directories a save killed midway leaves behind
    (never part of a complete checkpoint; each can be as large as one)."""
    for path in glob.glob(os.path.join(glob.escape(directory), "*_temp")):
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)


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
