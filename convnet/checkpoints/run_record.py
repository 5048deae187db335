"""The run record: what produced a train_dir's checkpoints, in `run.json`; its one reader and
writer.

`convnet.train` writes it when a run starts (and keeps it on resume); eval,
predict, export and inference rebuild the model, its preprocessing and its
dataset from it, and a resume checks it against its own flags. Besides the
identity of the run (model, dataset, label mode, classes, image shape, the
preprocessing with its channel statistics), it keeps everything that
reproduces the run: batch size, every training setting (`settings`: the
`TrainConfig` fields, optimizer, schedule, weight decay, seed, precision,
strategy ...) and the convnet version. `flags.txt` beside it holds the full
flag file of the command that started the run (`--flagfile=train_dir/flags.txt`
reruns it).

Files written by earlier releases (no label mode, batch size, settings or
version; perhaps no preprocessing) still load: the missing fields are None and
the consumers fall back as those releases did.
"""

import dataclasses
import json
import os
import time
from collections.abc import Sequence
from typing import Any

from convnet.checkpoints import disk
from convnet.checkpoints import files as checkpoint_files
from convnet.data import preprocess
from convnet.data.info import DATASETS, DEFAULT_DATASET, LABEL_MODES, DatasetInfo, dataset_info
from convnet.runtime import console
from convnet.runtime.errors import CheckpointError, DamagedFileError
from convnet.runtime.version import __version__

RUN_FILE = "run.json"
FLAGS_FILE = "flags.txt"
# What must match between a train_dir and the run that resumes it (evaluation,
# which has no optimizer or batch, compares the first three).
IDENTITY_FIELDS = ("model", "dataset", "num_classes", "optimizer", "batch_size")
# The fields that are also flags of the same name (the message names the matching flag).
FLAG_FIELDS = ("model", "dataset", "optimizer", "batch_size")
# The fields that hold a setting of the same name as it was given (`settings` leaves them out;
# max_steps is not one: the field is the resolved step budget, the setting the flag).
SETTINGS_IN_FIELDS = ("model", "dataset", "label_mode", "optimizer", "data_source",
                      "batch_size")


def own_dataset_fields(info: DatasetInfo) -> dict[str, Any]:
    """The record's class_names and image_shape for a dataset that is not built in (a folder,
    arrays, tfds): what eval, predict and export need to know of it; {} for a built-in one."""
    if info.name in DATASETS:
        return {}
    return {"class_names": list(info.class_names) if info.class_names else None,
            "image_shape": list(info.image_shape)}


def settings_of(config) -> dict[str, Any]:
    """A TrainConfig's settings (flat, by flag name: `config.settings()`) for
    `RunRecord.settings`: those not in the record's own fields."""
    return {name: value for name, value in config.settings().items()
            if name not in SETTINGS_IN_FIELDS}


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One training run's identity and settings (the fields of run.json)."""
    model: str
    dataset: str = DEFAULT_DATASET  # files of release 0.1.0 name no dataset: CIFAR-10
    num_classes: int = 10
    label_mode: str | None = None  # None in files of earlier releases
    image_size: int | None = None  # the model's input, pixels a side
    image_channels: int | None = None
    max_steps: int | None = None
    optimizer: str | None = None
    data_source: str | None = None
    batch_size: int | None = None  # the global batch; the data position depends on it
    preprocessing: preprocess.Preprocessing | None = None
    # A dataset of your own (not a built-in one): its class names and stored image shape.
    class_names: list[str] | None = None
    image_shape: list[int] | None = None
    # The other TrainConfig fields (the flags of the run); `training_settings()` gives them all.
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    version: str | None = __version__

    def training_settings(self) -> dict[str, Any]:
        """Every setting of the run by its flag's name: `settings` and the fields above that
        are flags too (model, dataset, label_mode, optimizer, data_source, batch_size)."""
        own = {name: getattr(self, name) for name in SETTINGS_IN_FIELDS
               if getattr(self, name) is not None}
        return {**self.settings, **own}

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.preprocessing is None:
            del data["preprocessing"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], path: str = RUN_FILE) -> "RunRecord":
        """Reads the dict of a run.json (this release's or an earlier one's)."""
        if not isinstance(data, dict) or "model" not in data or "num_classes" not in data:
            raise CheckpointError(f"{path} has no 'model' or 'num_classes': it was not written "
                                  f"by convnet.train. Delete it to start a new run there.")
        known = {field.name for field in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values.setdefault("version", None)
        stored = values.get("preprocessing")
        if stored:
            stored = dict(stored)
            for key in ("channel_mean", "channel_std"):
                if stored.get(key) is not None:
                    stored[key] = tuple(stored[key])
            values["preprocessing"] = preprocess.Preprocessing(**stored)
        else:
            values["preprocessing"] = None
        return cls(**values)

    def preprocessing_for(self, model_image_size: int | None,
                          native_size: int) -> preprocess.Preprocessing:
        """The recorded preprocessing; for runs of releases that did not record it, the
        tutorial crop (models with a fixed `image_size`) or none, with per-image
        standardization, as those releases did."""
        if self.preprocessing is not None:
            return self.preprocessing
        if model_image_size:
            return preprocess.Preprocessing("tutorial", model_image_size, "per_image")
        return preprocess.Preprocessing("none", native_size, "per_image")

    def kept_weight_average(self) -> bool:
        """False for a run trained with `--moving_average_decay=0`: its EMA shadows only
        follow the weights, so eval, predict and export use the raw weights and say so.
        True when the record does not say (files of earlier releases)."""
        return self.settings.get("moving_average_decay", None) != 0

    def resolved_label_mode(self) -> str | None:
        """The recorded label mode; for earlier files, the built-in one giving the
        dataset `num_classes` classes (None for datasets convnet does not know)."""
        if self.label_mode:
            return self.label_mode
        for label_mode in LABEL_MODES:
            try:
                if dataset_info(self.dataset, label_mode).num_classes == self.num_classes:
                    return label_mode
            except ValueError:
                continue
        return None

    def dataset_info(self) -> DatasetInfo:
        """The run's DatasetInfo: a built-in dataset's (with its class names); a dataset of
        your own, as recorded (its image shape and class names); else (tfds datasets, runs of
        earlier releases) one shaped like the model input, without class names."""
        label_mode = self.resolved_label_mode()
        if self.dataset in DATASETS and label_mode:
            info = dataset_info(self.dataset, label_mode)
            if info.num_classes == self.num_classes:
                return info
        if self.image_shape:
            return DatasetInfo(self.dataset, tuple(int(v) for v in self.image_shape),
                               self.num_classes,
                               tuple(self.class_names) if self.class_names else None)
        size = int(self.image_size or 32)
        return DatasetInfo(self.dataset, (size, size, int(self.image_channels or 3)),
                           self.num_classes)


def read(directory: str) -> RunRecord | None:
    """The run record of train_dir `directory`, or None when it has no run.json.

    Raises:
      CheckpointError: run.json is unreadable or not convnet's.
    """
    path = os.path.join(directory, RUN_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise _damaged(path, f"not text: byte {e.object[e.start]:#04x} at offset "
                             f"{e.start}") from e
    except ValueError as e:
        raise _damaged(path, f"not JSON: {e}") from e
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e}") from e
    return RunRecord.from_json(data, path)


def _damaged(path: str, problem: str) -> DamagedFileError:
    directory = os.path.dirname(path)
    return DamagedFileError(
        f"{path} is damaged ({problem}). Training writes it again: rerun the run's training "
        f"command (python -m convnet.train --flagfile={os.path.join(directory, FLAGS_FILE)}), "
        f"which sets the damaged file aside into {os.path.join(directory, 'corrupt')}/ and "
        f"resumes.", path, problem)


def read_for_training(directory: str) -> RunRecord | None:
    """`read`, for the trainer: a damaged run.json is set aside (into `corrupt/`, one line)
    and treated as missing, so that training resumes and writes a new one."""
    try:
        return read(directory)
    except DamagedFileError as e:
        moved = checkpoint_files.set_aside(e.path)
        console.log(f"{e.path} was damaged ({e.problem}): set it aside as {moved}; this run "
                    f"writes a new one")
        return None


def require(directory: str) -> RunRecord:
    """The run record of `directory`, for readers that cannot guess the model.

    Raises:
      CheckpointError: there is no checkpoint (train first), or checkpoints but
        no run.json (deleted, or not written by convnet.train).
    """
    record = read(directory)
    if record:
        return record
    checkpoint_files.require_latest_checkpoint(directory)
    raise CheckpointError(
        f"no {RUN_FILE} in {directory}: point --checkpoint_dir at a train_dir written by "
        f"convnet.train (it records the model and dataset there).")


def write(directory: str, record: RunRecord) -> None:
    """Writes run.json atomically (a crash leaves the old or the new file, never half)."""
    write_text(directory, RUN_FILE, json.dumps(record.to_json(), indent=2, sort_keys=True))


def write_flags(directory: str, flags_text: str) -> None:
    """Writes `flags.txt`: the full flag file of the command that started the run."""
    write_text(directory, FLAGS_FILE, flags_text)


def write_text(directory: str, name: str, text: str) -> None:
    """Writes `directory/name` atomically (a crash leaves the old or the new file, never
    half); a full disk is a DiskFullError."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if disk.is_disk_full(e):
            raise disk.disk_full_error(path, directory, 1 << 16) from e
        raise


def check_same_run(directory: str, expected: RunRecord,
                   fields: Sequence[str] = IDENTITY_FIELDS) -> None:
    """Raises CheckpointError if `directory` holds a run whose `fields` differ from
    `expected`'s (a field None on either side is not compared: earlier files)."""
    found = read(directory)
    if not found:
        return
    different = [key for key in fields if getattr(found, key) is not None
                 and getattr(expected, key) is not None
                 and getattr(found, key) != getattr(expected, key)]
    if not different:
        return
    diffs = [f"{key}={getattr(found, key)!r} (asked for {getattr(expected, key)!r})"
             for key in different]
    flags = [f"--{key}={getattr(found, key)}" for key in different if key in FLAG_FIELDS]
    if "num_classes" in different and found.resolved_label_mode():
        flags.append(f"--label_mode={found.resolved_label_mode()}")
    matching = f" ({' '.join(flags)})" if flags else ""
    why = (" (a resumed run's place in the data stream and its schedule count batches of the "
           "recorded size)" if "batch_size" in different else "")
    raise CheckpointError(
        f"{directory} holds checkpoints of another run: {', '.join(diffs)}{why}. Pass the "
        f"matching flags{matching} to use that run, or a new --train_dir/--checkpoint_dir for "
        f"this one.")


def wait_for(directory: str, interval_secs: float) -> RunRecord:
    """Returns the run record of `directory` once there is one, saying once that it waits."""
    record = read(directory)
    if record:
        return record
    console.log(f"waiting for {os.path.join(directory, RUN_FILE)} (written by convnet.train "
                f"when it starts)")
    while not record:
        time.sleep(interval_secs or 1)
        record = read(directory)
    return record
