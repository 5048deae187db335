"""The seconds a run had counted at each of its checkpoints, in train_dir/time_counted.json.

Time to accuracy (convnet.runtime.timing) counts from process start. A run stopped and
resumed reports it as one figure: the seconds counted up to the checkpoint it resumed from
(its earlier launches), plus this launch's. The work a stopped launch did after its last
checkpoint is lost, and not counted.

The chief writes the file after each save: {"STEP": seconds}, for the checkpoints on disk
(atomically: convnet.checkpoints.run_record.write_text). A checkpoint without an entry
(written by an earlier release, or by a launch killed between the save and this write)
carries nothing, and the run says so in one line; a damaged file is set aside into
corrupt/ (one line) and counted as empty.
"""

import json
import os

from convnet.checkpoints import files as checkpoint_files
from convnet.checkpoints import run_record

COUNTED_FILE = "time_counted.json"


def _entries(value: object) -> dict[int, float]:
    if not isinstance(value, dict):
        raise ValueError("not an object of step: seconds")
    return {int(step): float(seconds) for step, seconds in value.items()}


def read(train_dir: str) -> dict[int, float]:
    """{step: seconds counted when its checkpoint was saved} ({} when there is no file; a
    damaged file is set aside, one line)."""
    path = os.path.join(train_dir, COUNTED_FILE)
    if not os.path.exists(path):
        return {}
    return checkpoint_files.read_json_or_set_aside(
        path, _entries, "the seconds of earlier launches are not counted") or {}


def record(train_dir: str, step: int, seconds: float) -> None:
    """Adds `step`'s entry and drops those of checkpoints no longer on disk."""
    kept = {checkpoint_files.step_of(path) for path in checkpoint_files.checkpoint_paths(train_dir)}
    entries = {s: value for s, value in read(train_dir).items() if s in kept}
    entries[step] = round(seconds, 3)
    run_record.write_text(train_dir, COUNTED_FILE, json.dumps(
        {str(s): entries[s] for s in sorted(entries)}, indent=0))


def carried(train_dir: str, step: int) -> float | None:
    """The seconds counted when the checkpoint of `step` was saved; None when unknown."""
    return read(train_dir).get(step)
