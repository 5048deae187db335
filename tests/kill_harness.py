"""Kill harness: SIGKILL a training run at random moments, rerun it, check that no work is lost.

Each "life" starts `python -m convnet.train` with the same command line and
SIGKILLs it at a moment drawn from a seeded `random.Random`:

  write    while the process writes a checkpoint (right after it logs a
           checkpoint step, as soon as the checkpoint's first file appears,
           plus a random few milliseconds);
  step     a random number of steps after its first step line;
  startup  before its first step (while it restores and traces).

After every kill it checks that each checkpoint the `checkpoint` state file
lists reads back whole (every tensor: the data files carry checksums), and
records which files a checkpoint save left half-done (a `ckpt-N_temp` shard
directory, a checkpoint merged but not yet recorded, a state-file temp file,
an old checkpoint half-deleted). The next life must print
`resumed from <the newest complete checkpoint> at step K` and then `step K+1`.
The last life runs to --max_steps; with --deterministic its final checkpoint
(weights, optimizer slots, EMA, step) must equal, bit for bit, that of an
uninterrupted run, and so must every loss it logged to TensorBoard.

Run it on its own (prints a report; exits 1 when a check fails):

    TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python tests/kill_harness.py --kills=10 --seed=5

or through pytest: `pytest -m kill_harness tests/test_resilience.py -s`.
"""

import argparse
import dataclasses
import glob
import os
import random
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_data import write_mnist  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The cheapest run that still trains for real: LeNet-5 on 64 tiny MNIST examples
# (8 steps an epoch, so lives cross epoch boundaries), a checkpoint every 3 steps.
SAVE_CHECKPOINT_STEPS = 3
TRAIN_FLAGS = ("--model=lenet5", "--dataset=mnist", "--data_source=files", "--nodownload",
               "--batch_size=8", "--num_parallel_calls=1", "--shuffle_buffer=64",
               "--log_frequency=1", f"--save_checkpoint_steps={SAVE_CHECKPOINT_STEPS}",
               "--deterministic", "--seed=1", "--optimizer=sgd", "--momentum=0.9")
TRAIN_EXAMPLES = 64
MAX_STEPS = 100
DEFAULT_SEED = 20240605
# Generous: TensorFlow's import and tracing take ~10 s a life on an idle 2-core machine.
LIFE_TIMEOUT_SECS = 600.0

STEP_LINE = re.compile(r": step (\d+), loss = ")
RESUMED_LINE = re.compile(r": resumed from (\S+) at step (\d+)$")
STEP_KEY = "step/.ATTRIBUTES/VARIABLE_VALUE"
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


class HarnessError(AssertionError):
    """A check of the harness failed; the message says which and shows the log."""


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    return tf


def write_data(data_dir: str) -> str:
    """Writes the tiny MNIST files the runs train on; returns --data_dir."""
    write_mnist(os.path.join(data_dir, "mnist"), train=TRAIN_EXAMPLES, test=16, compress=False)
    return data_dir


def train_command(train_dir: str, data_dir: str, max_steps: int = MAX_STEPS,
                  extra: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "-m", "convnet.train", *TRAIN_FLAGS, f"--data_dir={data_dir}",
            f"--train_dir={train_dir}", f"--max_steps={max_steps}", *extra]


def _env() -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO_ROOT, env.get("PYTHONPATH")) if p)
    return env


class Process:
    """A training subprocess whose merged stdout/stderr is read line by line without threads."""

    def __init__(self, command: Sequence[str], log_path: str | None = None,
                 env: dict[str, str] | None = None):
        self.command = list(command)
        self.lines: list[str] = []
        self.started = time.monotonic()
        self._log = open(log_path, "w", encoding="utf-8") if log_path else None  # noqa: SIM115
        self.popen = subprocess.Popen(self.command, cwd=REPO_ROOT, env={**_env(), **(env or {})},
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        os.set_blocking(self.popen.stdout.fileno(), False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.popen.stdout, selectors.EVENT_READ)
        self._buffer = b""
        self._eof = False

    def readline(self, deadline: float, timeout_ok: bool = False) -> str | None:
        """The next line; None at end of output. Past `deadline`: "" when `timeout_ok`,
        else HarnessError."""
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0 or (self._eof and self._buffer):
                end = newline + 1 if newline >= 0 else len(self._buffer)
                line = self._buffer[:end].decode("utf-8", "replace").rstrip("\n")
                self._buffer = self._buffer[end:]
                self.lines.append(line)
                if self._log:
                    self._log.write(line + "\n")
                    self._log.flush()
                return line
            if self._eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                if timeout_ok:
                    return ""
                raise HarnessError(f"timed out waiting for output\n{self.tail()}")
            if self._selector.select(timeout=min(left, 1.0)):
                chunk = os.read(self.popen.stdout.fileno(), 65536)
                if chunk:
                    self._buffer += chunk
                else:
                    self._eof = True

    def drain(self, timeout: float = LIFE_TIMEOUT_SECS) -> int:
        """Reads the rest of the output and waits for the exit status."""
        deadline = time.monotonic() + timeout
        while self.readline(deadline) is not None:
            pass
        return self.wait(max(1.0, deadline - time.monotonic()))

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired as e:
            raise HarnessError(f"the process did not exit\n{self.tail()}") from e

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()

    def close(self) -> None:
        self.kill()
        self._selector.close()
        self.popen.stdout.close()
        if self._log:
            self._log.close()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(["--- command: " + " ".join(self.command), *self.lines[-lines:]])


# --- what is on disk --------------------------------------------------------------


def step_of(prefix: str) -> int:
    match = re.search(r"-(\d+)$", prefix)
    return int(match.group(1)) if match else -1


def listed_checkpoints(train_dir: str) -> tuple[str | None, list[str]]:
    """(latest, all kept) checkpoint prefixes that the `checkpoint` state file names."""
    tf = _tf()
    state = tf.train.get_checkpoint_state(train_dir)
    if state is None:
        return None, []
    paths = [os.path.join(train_dir, p) for p in state.all_model_checkpoint_paths]
    return os.path.join(train_dir, state.model_checkpoint_path), paths


def read_checkpoint(prefix: str) -> dict[str, np.ndarray]:
    """Every tensor of checkpoint `prefix` (reading each checks its checksum)."""
    reader = _tf().train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name != OBJECT_GRAPH_KEY}


def check_checkpoints_readable(train_dir: str) -> str | None:
    """Reads every listed checkpoint whole; returns the newest complete checkpoint, the one a
    restart must resume from: the state file's latest, or a newer one a kill left merged but not
    yet recorded. Raises HarnessError if a listed checkpoint is missing or unreadable, or if
    convnet's latest is older than the state file's."""
    from convnet.checkpoints import files as checkpoint_files  # pylint: disable=import-outside-toplevel
    latest, kept = listed_checkpoints(train_dir)
    try:
        ours = checkpoint_files.latest_checkpoint(train_dir)
    except Exception as e:  # noqa: BLE001
        raise HarnessError(f"convnet cannot find the latest checkpoint of {train_dir}: {e}") from e
    if latest and (not ours or step_of(ours) < step_of(latest)):
        raise HarnessError(f"latest checkpoint: convnet says {ours}, the state file {latest}")
    for prefix in kept:
        try:
            tensors = read_checkpoint(prefix)
        except Exception as e:  # noqa: BLE001 -- the reader raises several types
            raise HarnessError(f"checkpoint {prefix} is unreadable: {e}") from e
        if int(tensors[STEP_KEY]) != step_of(prefix):
            raise HarnessError(f"{prefix} holds step {int(tensors[STEP_KEY])}")
    for prefix in reversed(checkpoint_files.checkpoint_paths(train_dir)):
        if latest and step_of(prefix) <= step_of(latest):
            return latest
        try:
            read_checkpoint(prefix)  # merged, not yet recorded: complete if every tensor reads
            return prefix
        except Exception:  # noqa: BLE001 -- half merged: the restart moves it aside
            continue
    return latest


def _norm(path: str | None) -> str | None:
    return os.path.abspath(path) if path else None


def save_residue(train_dir: str) -> dict[tuple[str, str], int]:
    """The files an unfinished checkpoint save leaves: {(phase, file): mtime_ns}.

    A file whose (phase, name, mtime) is new after a kill was being written when
    it landed. The `ckpt-N_temp` directories themselves are left out: a later
    save of N may leave them behind, empty, without being interrupted.
    """
    latest, kept = listed_checkpoints(train_dir)
    latest_step = step_of(latest) if latest else -1
    kept_names = {os.path.basename(p) for p in kept}
    found = {}

    def add(phase, path):
        try:
            found[(phase, os.path.relpath(path, train_dir))] = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            pass

    for path in glob.glob(os.path.join(train_dir, "ckpt-*_temp", "*")):
        add("writing the shards", path)
    for path in glob.glob(os.path.join(train_dir, "checkpoint.tmp*")):
        add("updating the state file", path)
    for path in glob.glob(os.path.join(train_dir, "ckpt-*.*")):
        prefix = re.sub(r"\.(index|data-\d+-of-\d+)$", "", path)
        if prefix == path:
            continue
        has_index = os.path.exists(prefix + ".index")
        if step_of(prefix) > latest_step:
            add("merged, not yet recorded" if has_index else "merging the shards", path)
        elif os.path.basename(prefix) not in kept_names:
            add("deleting an old checkpoint", path)
    return found


def read_scalars(train_dir: str, tag: str = "loss") -> dict[int, list[bytes]]:
    """{step: [float32 bytes of each value logged]} over all event files of `train_dir`.

    A killed run can leave a truncated last record: reading stops there.
    """
    tf = _tf()
    values: dict[int, list[bytes]] = {}
    for path in sorted(glob.glob(os.path.join(train_dir, "events.out.tfevents.*"))):
        try:
            for record in tf.data.TFRecordDataset(path):
                event = tf.compat.v1.Event.FromString(record.numpy())
                for value in event.summary.value:
                    if value.tag == tag:
                        number = np.float32(tf.make_ndarray(value.tensor))
                        values.setdefault(event.step, []).append(number.tobytes())
        except tf.errors.DataLossError:
            pass
    return values


def final_state(train_dir: str) -> tuple[str, dict[str, np.ndarray], dict[int, list[bytes]]]:
    latest = check_checkpoints_readable(train_dir)
    if latest is None:
        raise HarnessError(f"{train_dir} has no checkpoint")
    return latest, read_checkpoint(latest), read_scalars(train_dir)


def different_tensors(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[str]:
    """Names of the tensors that differ, bit for bit (or exist in only one)."""
    names = sorted(set(a) | set(b))
    return [n for n in names if n not in a or n not in b or a[n].dtype != b[n].dtype
            or a[n].shape != b[n].shape or a[n].tobytes() != b[n].tobytes()]


# --- runs ----------------------------------------------------------------------------


def start_quietly(command: Sequence[str], log_path: str) -> subprocess.Popen:
    """Starts `command` with its output going to `log_path` only."""
    with open(log_path, "w", encoding="utf-8") as out:
        return subprocess.Popen(list(command), cwd=REPO_ROOT, env=_env(), stdout=out,
                                stderr=subprocess.STDOUT)


@dataclasses.dataclass
class Kill:
    life: int
    mode: str
    last_step_seen: int | None  # the last step line read before the kill
    latest_after: str | None  # the latest complete checkpoint after it
    during_write: list[str]  # phases of a checkpoint save the kill interrupted

    def describe(self) -> str:
        where = (f"after step line {self.last_step_seen}" if self.last_step_seen
                 else "before the first step")
        phases = (f"; DURING A CHECKPOINT WRITE ({', '.join(self.during_write)})"
                  if self.during_write else "")
        latest = os.path.basename(self.latest_after) if self.latest_after else "none"
        return (f"  life {self.life:2d}: {self.mode} kill {where}; latest complete checkpoint "
                f"{latest}{phases}")


@dataclasses.dataclass
class Report:
    seed: int
    max_steps: int
    kills: list[Kill] = dataclasses.field(default_factory=list)
    # (life, latest checkpoint before it, checkpoint it resumed from, its first step), for
    # each life that got as far as saying.
    resumes: list[tuple[int, str | None, str | None, int | None]] = dataclasses.field(
        default_factory=list)
    final_step: int | None = None
    final_checkpoint: str | None = None
    weights_equal: bool | None = None
    different: list[str] = dataclasses.field(default_factory=list)
    tensors_compared: int = 0
    loss_steps_compared: int = 0
    loss_values_compared: int = 0
    loss_mismatches: list[int] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def kills_during_write(self) -> list[Kill]:
        return [kill for kill in self.kills if kill.during_write]

    def summary(self) -> str:
        lines = [f"kill harness: seed {self.seed}, --max_steps={self.max_steps}, "
                 f"{len(self.kills)} SIGKILLs, {len(self.kills_during_write)} during a "
                 f"checkpoint write, {self.seconds:.0f} s"]
        lines.extend(kill.describe() for kill in self.kills)
        resumed = ", ".join(f"{life}: {_name(resumed) if expected else 'scratch'}"
                            f"{'' if first is None else f'->{first}'}"
                            for life, expected, resumed, first in self.resumes)
        lines.append(f"  resumes (life: checkpoint->its first step): {resumed}")
        lines.append(f"  final step {self.final_step} ({self.final_checkpoint}); final checkpoint "
                     f"equal to the uninterrupted run's: {self.weights_equal} "
                     f"({self.tensors_compared} tensors"
                     f"{', differing: ' + ', '.join(self.different) if self.different else ''}); "
                     f"losses compared at {self.loss_steps_compared} steps "
                     f"({self.loss_values_compared} values, "
                     f"{len(self.loss_mismatches)} mismatches)")
        return "\n".join(lines)


def _name(path: str | None) -> str:
    return os.path.basename(path) if path else "none"


def kill_plan(rng: random.Random, kills: int) -> list[str]:
    """Modes of the kills in order: about half during a write, one or two at startup."""
    startup = max(1, kills // 8)
    write = (kills - startup + 1) // 2
    modes = ["write"] * write + ["step"] * (kills - startup - write) + ["startup"] * startup
    rng.shuffle(modes)
    return modes


def _kill_during_write(process: Process, train_dir: str, rng: random.Random,
                       deadline: float, saves_to_skip: int, state: dict) -> None:
    """Reads lines until the (saves_to_skip+1)-th checkpoint step, waits for that save's
    first file, sleeps a random few milliseconds, and kills."""
    while True:
        line = _next(process, deadline, state)
        step = state["last_step"]
        if line is None:
            return
        if STEP_LINE.search(line) and step % SAVE_CHECKPOINT_STEPS == 0:
            if saves_to_skip:
                saves_to_skip -= 1
                continue
            # Wait for the save's shard directory (or its merged index) to appear: files of
            # this save, not those an earlier life left (file times are coarse: some slack).
            since = time.time() - 0.05
            suffix = rng.choice(["_temp", "_temp", ".index"])
            delay = rng.choice([0.0, 0.0, rng.uniform(0.0, 0.005), rng.uniform(0.0, 0.03)])
            trigger = os.path.join(train_dir, f"ckpt-{step}{suffix}")
            give_up = time.monotonic() + 2.0
            while _mtime(trigger) <= since and time.monotonic() < give_up:
                time.sleep(0.0002)
            time.sleep(delay)
            process.kill()
            return


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return 0.0


def _next(process: Process, deadline: float, state: dict,
          timeout_ok: bool = False) -> str | None:
    """The next line (see Process.readline), noting the steps and the resume in `state`."""
    line = process.readline(deadline, timeout_ok)
    if not line:
        return line
    match = STEP_LINE.search(line)
    resumed = RESUMED_LINE.search(line)
    if resumed:
        state["resumed"] = (resumed.group(1), int(resumed.group(2)))
    if match:
        step = int(match.group(1))
        if state["first_step"] is None:
            state["first_step"] = step
        state["last_step"] = step
    return line


def run_harness(workdir: str, kills: int = 10, seed: int = DEFAULT_SEED,
                max_steps: int = MAX_STEPS, log=print) -> Report:
    """Runs the uninterrupted baseline, then the killed-and-restarted run; returns the report.

    Raises HarnessError as soon as a check fails."""
    began = time.monotonic()
    rng = random.Random(seed)
    report = Report(seed=seed, max_steps=max_steps)
    data_dir = write_data(os.path.join(workdir, "data"))
    # The uninterrupted run goes on beside the killed one (the machine may have 2 cores).
    baseline_dir = os.path.join(workdir, "uninterrupted")
    baseline_log = os.path.join(workdir, "uninterrupted.log")
    baseline_run = start_quietly(train_command(baseline_dir, data_dir, max_steps), baseline_log)
    try:
        _kill_and_restart(workdir, data_dir, rng, kills, max_steps, report, log)
        status = baseline_run.wait(LIFE_TIMEOUT_SECS)
    finally:
        if baseline_run.poll() is None:
            baseline_run.kill()
            baseline_run.wait()
    if status != 0:
        with open(baseline_log, encoding="utf-8") as f:
            raise HarnessError(f"the uninterrupted run exited with {status}\n{f.read()[-4000:]}")
    baseline_ckpt, baseline, baseline_losses = final_state(baseline_dir)
    train_dir = os.path.join(workdir, "killed")
    report.final_checkpoint, final, losses = final_state(train_dir)
    if step_of(report.final_checkpoint) != max_steps or int(final[STEP_KEY]) != max_steps:
        raise HarnessError(f"final checkpoint {report.final_checkpoint} holds step "
                           f"{int(final[STEP_KEY])}, not {max_steps}")
    if step_of(baseline_ckpt) != max_steps:
        raise HarnessError(f"the uninterrupted run's last checkpoint is {baseline_ckpt}")
    report.different = different_tensors(baseline, final)
    report.tensors_compared = len(set(baseline) | set(final))
    report.weights_equal = not report.different
    for step, values in sorted(losses.items()):
        report.loss_steps_compared += 1
        report.loss_values_compared += len(values)
        if any(value not in baseline_losses.get(step, []) for value in values):
            report.loss_mismatches.append(step)
    report.seconds = time.monotonic() - began
    return report


def _kill_and_restart(workdir: str, data_dir: str, rng: random.Random, kills: int,
                      max_steps: int, report: Report, log) -> None:
    """The lives of the killed run: `kills` SIGKILLs, then one that runs to max_steps."""
    train_dir = os.path.join(workdir, "killed")
    command = train_command(train_dir, data_dir, max_steps)
    modes = kill_plan(rng, kills) + ["none"]
    life = 0
    while True:
        mode = modes[min(life, len(modes) - 1)]
        expected = check_checkpoints_readable(train_dir) if os.path.isdir(train_dir) else None
        residue_before = save_residue(train_dir) if os.path.isdir(train_dir) else {}
        process = Process(command, os.path.join(workdir, f"life-{life:02d}.log"))
        state = {"first_step": None, "last_step": None, "resumed": None}
        deadline = time.monotonic() + LIFE_TIMEOUT_SECS
        try:
            if mode == "startup":
                # Somewhere in the startup (import, restore, tracing), before the first step.
                kill_at = time.monotonic() + rng.uniform(2.0, 10.0)
                while state["first_step"] is None:
                    line = _next(process, kill_at, state, timeout_ok=True)
                    if not line:
                        break
                process.kill()
            elif mode == "write":
                _kill_during_write(process, train_dir, rng, deadline, rng.choice([0, 0, 1]),
                                   state)
            elif mode == "step":
                target = None
                while True:
                    line = _next(process, deadline, state)
                    if line is None:
                        break
                    if state["first_step"] is not None and target is None:
                        target = min(state["first_step"] + rng.randint(0, 10), max_steps - 1)
                    if target is not None and state["last_step"] >= target:
                        time.sleep(rng.uniform(0.0, 0.02))
                        process.kill()
                        break
            # Whatever is left of the output (all of it for the last life).
            while _next(process, deadline, state) is not None:
                pass
            status = process.wait(max(1.0, deadline - time.monotonic()))
        finally:
            process.close()
        _check_resume(process, expected, state)
        if state["resumed"] is not None or state["first_step"] is not None:
            resumed = state["resumed"][0] if state["resumed"] else None
            report.resumes.append((life, expected, resumed, state["first_step"]))
        if status == -signal.SIGKILL:
            latest = check_checkpoints_readable(train_dir)
            new = sorted({key[0] for key, mtime in save_residue(train_dir).items()
                          if residue_before.get(key) != mtime})
            report.kills.append(Kill(life, mode, state["last_step"], latest, new))
            log(report.kills[-1].describe())
            life += 1
            continue
        if status != 0:
            raise HarnessError(f"life {life} exited with {status}\n{process.tail()}")
        if state["last_step"] != max_steps:
            raise HarnessError(f"the last life ended at step {state['last_step']}, not "
                               f"{max_steps}\n{process.tail()}")
        report.final_step = state["last_step"]
        return


def _check_resume(process: Process, expected: str | None, state: dict) -> None:
    """The life resumed from `expected` (or from scratch) and went on at the next step."""
    resumed, first = state["resumed"], state["first_step"]
    if expected is None:
        if resumed is not None:
            raise HarnessError(f"resumed from {resumed[0]} though there was no checkpoint\n"
                               f"{process.tail()}")
        if first is not None and first != 1:
            raise HarnessError(f"started from scratch at step {first}\n{process.tail()}")
        return
    if resumed is None:
        if first is not None:
            raise HarnessError(f"did not resume from {expected}\n{process.tail()}")
        return  # killed before it said
    if _norm(resumed[0]) != _norm(expected) or resumed[1] != step_of(expected):
        raise HarnessError(f"resumed from {resumed[0]} at step {resumed[1]}, but the latest "
                           f"complete checkpoint was {expected}\n{process.tail()}")
    if first is not None and first != resumed[1] + 1:
        raise HarnessError(f"resumed at step {resumed[1]} but went on at step {first}\n"
                           f"{process.tail()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--max_steps", type=int, default=MAX_STEPS)
    parser.add_argument("--workdir", default=None, help="kept afterwards (default: a temp dir)")
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="kill_harness_")
    sys.path.insert(0, REPO_ROOT)
    print(f"work directory: {workdir}", flush=True)
    try:
        report = run_harness(workdir, args.kills, args.seed, args.max_steps,
                             log=lambda line: print(line, flush=True))
    except HarnessError as e:
        print(f"FAILED: {e}", flush=True)
        return 1
    print(report.summary(), flush=True)
    ok = (report.weights_equal and not report.loss_mismatches
          and report.final_step == args.max_steps and len(report.kills) >= args.kills)
    print("OK" if ok else "FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
