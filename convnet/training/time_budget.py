"""--time_budget: a run's schedule fitted to a wall-time budget.

A budget run first measures its step time: a probe (a `TrainingSetup` of the same
settings on the same data, whose steps are then thrown away) times its first call (tracing
and compiling) and then enough steps to last `probe_seconds`. The horizon H is the number of
steps that fit in what is left of the budget after start-up, the probe and a second build
of the same cost, times SAFETY (checkpoints and logs take the rest). Every step and epoch
count of the run's settings (--max_steps, --epochs, the schedule's boundaries and decays,
--lookahead_start_epoch, the train_epochs of --variable_groups, --progressive_resizing) is
then scaled by one factor, H / (the steps the run would take without a budget): the recipe
keeps its shape and ends within the budget.

The probe's steps are the run's first steps: under --progressive_resizing they are of the
first stage's size, so the horizon of a run whose later stages are slower overshoots the
budget by what they cost more (the run says how long it took; give a smaller budget).

The horizon goes to train_dir/horizon.json before the first step, and a resume keeps it
(one line says so, also when it is given another budget or none). The budget counts what time
to accuracy counts (convnet.runtime.timing: wall time from process start, evaluations
after each epoch left out) up to the end of training; the final evaluation is outside it.
"""

import dataclasses
import json
import math
import os
import re
from collections.abc import Callable

from convnet.checkpoints import files as checkpoint_files
from convnet.checkpoints import run_record
from convnet.runtime.errors import DamagedFileError

HORIZON_FILE = "horizon.json"
# Of the time left for training, the fraction planned for steps.
SAFETY = 0.97
# The probe's timed steps last this fraction of the budget, within [MIN, MAX] seconds.
PROBE_FRACTION, MIN_PROBE_SECONDS, MAX_PROBE_SECONDS = 0.02, 1.0, 20.0
MAX_PROBE_STEPS = 10000
UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds of a duration: '90s', '15m', '1.5h', or a plain number of seconds.

    Raises:
      ValueError: not such a duration, or not positive.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*", text or "")
    if not match or not float(match.group(1)) > 0:
        raise ValueError(f"--time_budget={text!r}: give a positive duration such as 90s, 15m "
                         f"or 1.5h (a plain number is seconds)")
    return float(match.group(1)) * UNITS[match.group(2) or "s"]


def probe_seconds(budget_seconds: float) -> float:
    """How long the probe's timed steps last: PROBE_FRACTION of the budget, clipped."""
    return min(MAX_PROBE_SECONDS, max(MIN_PROBE_SECONDS, PROBE_FRACTION * budget_seconds))


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What the probe measured: its first call, the seconds a step after it, the steps timed."""
    first_call_seconds: float
    step_seconds: float
    steps_timed: int


def measure(run_steps: Callable[[int], object], now: Callable[[], float],
            seconds: float) -> Measurement:
    """Times `run_steps(n)` (n steps, synchronously): a first call of one step (tracing),
    one more step, then as many as last about `seconds` by that step's time."""
    began = now()
    run_steps(1)
    first = now() - began
    began = now()
    run_steps(1)
    one = max(now() - began, 1e-9)
    count = int(min(MAX_PROBE_STEPS, max(1, seconds // one)))
    began = now()
    run_steps(count)
    return Measurement(first, (now() - began) / count, count)


@dataclasses.dataclass(frozen=True)
class Horizon:
    """A budget run's plan, as horizon.json holds it.

    budget_seconds: the budget; spent_seconds: counted when the horizon was set (start-up,
    data, the probe); build_seconds: the probe's build and first call (the run pays them
    again); step_seconds: the probe's step time; unbudgeted_steps: the run's steps without
    a budget; steps: the run's steps under it (its --max_steps).
    """
    budget_seconds: float
    spent_seconds: float
    build_seconds: float
    step_seconds: float
    unbudgeted_steps: int
    steps: int

    @property
    def scale(self) -> float:
        """The factor on every step and epoch count of the run's settings."""
        return self.steps / self.unbudgeted_steps


def plan(budget_seconds: float, spent_seconds: float, build_seconds: float,
         *, step_seconds: float, unbudgeted_steps: int) -> Horizon:
    """The horizon: floor(SAFETY x (budget - spent - build) / step_seconds) steps.

    Raises:
      ValueError: nothing of the budget is left for steps.
    """
    left = budget_seconds - spent_seconds - build_seconds
    steps = math.floor(SAFETY * left / step_seconds) if left > 0 else 0
    if steps < 1:
        raise ValueError(
            f"--time_budget of {budget_seconds:.0f} s leaves no time for training: start-up "
            f"and the probe took {spent_seconds:.1f} s, building and compiling the step "
            f"{build_seconds:.1f} s, and a step {step_seconds:.3f} s; give a larger budget")
    return Horizon(budget_seconds, spent_seconds, build_seconds, step_seconds,
                   unbudgeted_steps, steps)


def read(train_dir: str) -> Horizon | None:
    """train_dir's horizon.json, or None when it has none.

    Raises:
      DamagedFileError: it does not read as a horizon (it is left where it is: the run's
        schedule depends on it).
    """
    path = os.path.join(train_dir, HORIZON_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as f:
            fields = json.loads(f.read().decode("utf-8"))
        horizon = Horizon(**fields)
        if horizon.steps < 1 or horizon.unbudgeted_steps < 1:
            raise ValueError(f"steps {horizon.steps}, unbudgeted_steps "
                             f"{horizon.unbudgeted_steps}")
        return horizon
    except (ValueError, TypeError) as e:  # not UTF-8, not JSON, other fields
        problem = str(e).splitlines()[0][:200]
        raise DamagedFileError(
            f"{path} is damaged ({problem}); the run's learning-rate schedule was fitted to "
            f"its time budget by it. Restore it from a copy, or move it aside with "
            f"{checkpoint_files.CORRUPT_DIR}/ and train in a new --train_dir (a new horizon "
            f"would change the schedule of the steps already taken).", path, problem) from None


def write(train_dir: str, horizon: Horizon) -> None:
    """Writes horizon.json atomically."""
    run_record.write_text(train_dir, HORIZON_FILE,
                          json.dumps(dataclasses.asdict(horizon), indent=2, sort_keys=True))
